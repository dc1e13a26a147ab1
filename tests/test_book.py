"""The book builds with warnings as errors, and executed notebooks show their figures."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def built_book():
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return HTML


@pytest.mark.slow
def test_book_builds_without_warnings(built_book):
    assert (built_book / "index.html").exists()


@pytest.mark.slow
def test_executed_notebook_shows_its_figures(built_book):
    page = (built_book / "notebooks" / "01_model_scale.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert len(images) >= 2, "the model-scale page should show its two plots"
    for src in images:
        assert (built_book / "notebooks" / src).resolve().is_file(), f"missing image {src}"
    assert "3.14e+23" in page, "the executed GPT-3 compute check is missing from the page"


@pytest.mark.slow
def test_every_toc_entry_has_a_page(built_book):
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for entry in re.findall(r"file:\s*(\S+)", toc):
        assert (built_book / f"{entry}.html").is_file(), f"no page for {entry}"
