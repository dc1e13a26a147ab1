"""One name per topic, from chapter to notebook, lab, package, checks and tests (ARCHITECTURE.md).

A chapter ``book/NN_slug.md`` has its notebook ``notebooks/NN_slug.ipynb``; its
lab, where it has one, is ``labs/NN_slug.ipynb`` (source ``labs/source/NN_slug.py``,
solution ``labs/solutions/NN_slug.ipynb``), checked by ``utils/checks/slug.py``
and tested by ``tests/test_checks_slug.py``. Chapters 5 to 10 have a package
``utils/slug/`` with tests ``tests/test_slug*.py``; every other subpackage is a
shared layer named by its role. The warm-up lab ``00_warmup`` is the one lab
without a chapter of its name (it goes with chapter 1).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

NAME = re.compile(r"(\d\d)_([a-z0-9]+(?:_[a-z0-9]+)*)")
WARMUP = "00_warmup"
FIRST_CHAPTER_WITH_A_PACKAGE = 5
SHARED_LAYERS = {"i18n", "params", "runtime", "data", "lm", "evaluate", "notebook", "checks",
                 "teaching"}


def _stems(folder: str, pattern: str) -> list[str]:
    return sorted(p.name.split(".")[0] for p in (ROOT / folder).glob(pattern)
                  if NAME.fullmatch(p.name.split(".")[0]))


CHAPTERS = _stems("book", "*.md")
LABS = _stems("labs/source", "*.py")


def _slug(stem: str) -> str:
    return NAME.fullmatch(stem).group(2)


def test_the_scheme_sees_the_course():
    # Guards the tests below against passing on an empty tree.
    assert len(CHAPTERS) >= 10 and len(LABS) >= 8 and WARMUP in LABS


def test_every_file_in_a_numbered_folder_follows_the_scheme():
    for folder, pattern in [("book", "[0-9]*.md"), ("notebooks", "*.ipynb"),
                            ("labs", "*.ipynb"), ("labs/solutions", "*.ipynb"),
                            ("labs/source", "*.py")]:
        for path in (ROOT / folder).glob(pattern):
            assert NAME.fullmatch(path.name.split(".")[0]), (
                f"{folder}/{path.name}: name it NN_slug (two digits, lower-case words)")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_has_its_notebook(chapter):
    assert (ROOT / "notebooks" / f"{chapter}.ipynb").exists(), (
        f"book/{chapter}.md has no notebooks/{chapter}.ipynb")


def test_each_notebook_has_its_chapter():
    for notebook in _stems("notebooks", "*.ipynb"):
        assert notebook in CHAPTERS, f"notebooks/{notebook}.ipynb has no book/{notebook}.md"


@pytest.mark.parametrize("lab", LABS)
def test_each_lab_has_its_chapter_notebooks_checks_and_tests(lab):
    slug = _slug(lab)
    expected = [f"labs/{lab}.ipynb", f"labs/solutions/{lab}.ipynb",
                f"utils/checks/{slug}.py", f"tests/test_checks_{slug}.py"]
    if lab != WARMUP:
        expected.append(f"book/{lab}.md")
    missing = [path for path in expected if not (ROOT / path).exists()]
    assert not missing, f"lab {lab}: missing {missing}"


def test_each_check_module_and_its_tests_have_a_lab():
    slugs = {_slug(lab) for lab in LABS}
    modules = {p.stem for p in (ROOT / "utils" / "checks").glob("*.py")
               if not p.stem.startswith("_")}
    tests = {p.stem.removeprefix("test_checks_") for p in (ROOT / "tests").glob("test_checks_*.py")}
    # tests/test_checks_core.py tests the machinery every lab's checks share (utils/checks/_core.py)
    tests -= {p.stem.removeprefix("_") for p in (ROOT / "utils" / "checks").glob("_*.py")}
    assert modules <= slugs, f"check modules without a lab of that name: {modules - slugs}"
    assert tests <= slugs, f"tests/test_checks_*.py without a lab of that name: {tests - slugs}"


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS
                                     if int(c[:2]) >= FIRST_CHAPTER_WITH_A_PACKAGE])
def test_chapters_from_five_on_have_a_package_and_its_tests(chapter):
    slug = _slug(chapter)
    # A section page (a second page with its chapter's number) may keep its code in a
    # subpackage of its chapter's package, as utils/outlook/multimodal/ does.
    homes = [ROOT / "utils" / slug, *(ROOT / "utils").glob(f"*/{slug}")]
    assert any((home / "__init__.py").exists() for home in homes), (
        f"book/{chapter}.md: its code belongs in utils/{slug}/")
    assert list((ROOT / "tests").glob(f"test_{slug}*.py")), f"no tests/test_{slug}*.py"


def test_every_subpackage_is_a_shared_layer_or_a_chapter():
    chapters = {_slug(c) for c in CHAPTERS if int(c[:2]) >= FIRST_CHAPTER_WITH_A_PACKAGE}
    parts = {p.parent.name for p in (ROOT / "utils").glob("*/__init__.py")}
    parts |= {p.stem for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"}
    strays = parts - SHARED_LAYERS - chapters
    assert not strays, (f"utils/{sorted(strays)}: name a package after its chapter's slug or "
                        "add it as a shared layer in ARCHITECTURE.md and here")
