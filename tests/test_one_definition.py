"""One definition per idea in ``utils`` (ARCHITECTURE.md): one name, one meaning, one home.

A second definition tends to come back as a helper with the same name in
another chapter's package, or as the same formula under a new name. The first
is caught by scanning every module's top-level definitions and every
subpackage's exports; the second, for the ideas that were once written twice
(ROC, AUROC, per-sentence loss and perplexity, exposure, sentence encoding),
by a list of where each lives.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict

from tests.conftest import ROOT

# Where each idea that several chapters use is defined, and the pattern of the names
# a second definition of it would likely carry.
HOMES = {
    r"(^|_)(roc|auc|auroc)(_|$)": "utils/evaluate/roc.py",
    r"^(perplexity|sentence_losses?)$": "utils/evaluate/sentence_loss.py",
    r"^exposure$": "utils/privacy/exposure.py",
    r"^encode_with_": "utils/data/padding.py",
}
# Entry points of commands (``python -m ...``), which are meant to share a name.
COMMAND_ENTRY_POINTS = {"main"}


def _top_level_definitions() -> dict[str, list[str]]:
    """Public function and class name -> the modules of ``utils`` that define it."""
    found = defaultdict(list)
    for path in sorted((ROOT / "utils").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (isinstance(node, ast.FunctionDef | ast.ClassDef)
                    and not node.name.startswith("_")):
                found[node.name].append(str(path.relative_to(ROOT)))
    return found


def test_no_public_name_is_defined_twice():
    twice = {name: paths for name, paths in _top_level_definitions().items()
             if len(paths) > 1 and name not in COMMAND_ENTRY_POINTS}
    assert not twice, f"defined in more than one module: {twice}; keep one, import it elsewhere"


def test_each_shared_idea_is_defined_in_its_home_only():
    for pattern, home in HOMES.items():
        for name, paths in _top_level_definitions().items():
            if re.search(pattern, name) and not name.startswith("check_"):  # a lab's check
                assert paths == [home], (
                    f"{name} is defined in {paths}; {pattern!r} belongs in {home} "
                    "(use that one, or change ARCHITECTURE.md and this test)")


def test_a_name_exported_by_several_packages_is_one_object():
    # A re-export is fine (utils.privacy re-exports utils.evaluate.roc_curve); the same
    # name for two different things is not.
    holders = defaultdict(list)
    for init in sorted((ROOT / "utils").glob("*/__init__.py")):
        package = importlib.import_module(f"utils.{init.parent.name}")
        for name in getattr(package, "__all__", []):
            holders[name].append((package.__name__, getattr(package, name)))
    clashes = {name: [p for p, _ in owners] for name, owners in holders.items()
               if len({id(obj) for _, obj in owners}) > 1}
    assert not clashes, f"one name, several meanings: {clashes}"


def test_the_scan_sees_the_definitions():
    # Guards the scans above against passing because they read nothing.
    found = _top_level_definitions()
    assert found["roc_curve"] == ["utils/evaluate/roc.py"]
    assert found["encode_with_lengths"] == ["utils/data/padding.py"]
    assert len(found) > 200
