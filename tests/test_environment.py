"""The pinned sets agree: requirements-lock.txt, environment.yml and pyproject's ranges."""

import re
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def environment_pins() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    return {_norm(n): v for n, v in re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_mirrors_the_lock_file():
    lock, env = lock_pins(), environment_pins()
    assert env, "environment.yml pins nothing"
    disagree = {n: (v, lock.get(n)) for n, v in env.items() if lock.get(n) != v}
    assert not disagree, f"environment.yml and requirements-lock.txt disagree: {disagree}"


def test_torch_is_pinned_to_the_cpu_build_available_here():
    assert lock_pins()["torch"] == "2.13.0"


def test_package_ranges_admit_the_locked_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = lock_pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        assert "==" not in str(requirement.specifier), f"{spec}: use a range, not a pin"
        locked = lock[_norm(requirement.name)]
        assert requirement.specifier.contains(Version(locked)), f"{spec} excludes {locked}"
