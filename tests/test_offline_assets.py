"""The book's JavaScript is pinned, vendored, and the built pages load nothing from outside.

These checks read files only; tests/test_browser.py checks the same in a browser.
"""

import importlib.util
import json
import os
import re
import subprocess

import pytest

from tests.conftest import ROOT
from tests.test_book import build_book_once

VENDOR = ROOT / "book" / "vendor"
_spec = importlib.util.spec_from_file_location("book_assets", VENDOR / "assets.py")
assets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(assets)

# Tags whose URL the browser loads by itself (links in <a> are only followed on a click).
_LOADED = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=["']([^"']+)"""
    r"""|<link\b[^>]*\bhref=["']([^"']+)"""
    r"""|\bimport\s+\w*\s*(?:from\s+)?["']([^"']+)["']""", re.IGNORECASE)


def _external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url))


def test_npm_packages_are_pinned_by_the_lock():
    declared = json.loads((VENDOR / "package.json").read_text())["dependencies"]
    lock = json.loads((VENDOR / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2
    for name, version in declared.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"pin {name} exactly, not {version}"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version, f"package-lock.json has {name} {locked['version']}"
        assert locked["integrity"].startswith("sha512-"), f"{name} has no integrity hash"
    assert declared["mathjax"].startswith("3."), "MathJax 4 fetches its fonts from a CDN; keep 3"


def test_vendored_files_stay_out_of_git():
    for path in ("book/vendor/node_modules/x", "book/vendor/static/x"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 0, f"{path} is not ignored by .gitignore"


def test_every_file_the_pages_load_is_vendored():
    if not assets.STAMP.is_file():
        pytest.skip("book/vendor/static is missing: run `make book` (needs npm)")
    referenced = [assets.MATHJAX, assets.MERMAID, *assets.WIDGETS_JS]
    for path in referenced:
        assert (assets.STATIC / path).is_file(), f"{path} is referenced but not vendored"
    fonts = list((assets.STATIC / "vendor" / "mathjax" / "output").rglob("*.woff"))
    assert fonts, "MathJax's CHTML fonts are not vendored"


def test_the_link_scanner_finds_a_cdn_script():
    page = ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
            '<a href="https://github.com/fm-hands-on/course">repo</a>'
            '<script type="module">import mermaid from "https://cdn.jsdelivr.net/npm/m.mjs";</script>')
    found = [u for groups in _LOADED.findall(page) for u in groups if u and _external(u)]
    assert found == ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
                     "https://cdn.jsdelivr.net/npm/m.mjs"]


@pytest.mark.slow
def test_built_pages_load_nothing_from_outside():
    if not assets.local_assets_available():
        message = "the book was built without the vendored assets (no npm): pages use CDNs"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    html = build_book_once()
    offenders = {}
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        urls = {u for groups in _LOADED.findall(text) for u in groups if u and _external(u)}
        if urls:
            offenders[str(page.relative_to(html))] = sorted(urls)
    assert not offenders, f"pages that load from outside the book: {offenders}"
