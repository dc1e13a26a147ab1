"""The English-Chinese glossary: complete in both languages, rendered from its data, linked.

Catches: an entry with no Chinese (or no English) name; a duplicate term; the
page edited by hand or not regenerated after the data changed; a chapter label
that does not exist; a term its defining chapter never links; a {term} link
anywhere in the book to a term the glossary lacks (which fails the -W build).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from utils.outlook.glossary import (
    DATA,
    PAGE,
    GlossaryEntry,
    read_glossary,
    render_glossary,
)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# {term}`target` or {term}`shown text <target>`
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<([^`>]+)>|([^`]+))`")
ENTRIES = read_glossary()


def _sources() -> dict[str, str]:
    """Every text the book renders: its pages, notebook twins and lab sources."""
    paths = [*ROOT.glob("book/*.md"), *ROOT.glob("notebooks_py/*.py"),
             *ROOT.glob("labs/source/*.py")]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def _linked_terms(text: str) -> set[str]:
    return {(a or b).strip().lower() for a, b in TERM_ROLE.findall(text)}


def _chapter_files() -> dict[str, str]:
    """Chapter label -> the text of the page that defines the label."""
    found = {}
    for path in ROOT.glob("book/*.md"):
        text = path.read_text(encoding="utf-8")
        for label in re.findall(r"^\(([\w-]+)\)=\s*$", text, flags=re.MULTILINE):
            found[label] = text
    return found


def test_the_glossary_has_entries_for_every_part_of_the_course():
    chapters = {e.chapter for e in ENTRIES}
    assert len(ENTRIES) >= 25
    assert {"ch-foundation-models", "ch-maximum-likelihood", "ch-lstm", "ch-adapt",
            "ch-outlook"} <= chapters


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.term for e in ENTRIES])
def test_every_entry_has_an_english_and_a_chinese_name(entry: GlossaryEntry):
    assert re.search(r"[A-Za-z]", entry.term) and not CJK.search(entry.term), entry.term
    assert CJK.search(entry.chinese), f"{entry.term}: {entry.chinese!r} has no Chinese characters"
    assert "\n" not in entry.definition and entry.definition.endswith("."), entry.definition


def test_terms_and_chinese_names_are_unique():
    for names in ([e.term.lower() for e in ENTRIES], [e.chinese for e in ENTRIES]):
        duplicates = {n for n in names if names.count(n) > 1}
        assert not duplicates, f"listed twice: {duplicates}"


def test_the_page_is_the_rendered_data_file():
    assert PAGE.read_text(encoding="utf-8") == render_glossary(read_glossary(DATA)), (
        "book/glossary.md differs from book/glossary.csv: run `python -m utils.outlook.glossary`")


def test_the_page_gives_both_names_of_each_entry_before_its_definition():
    page = PAGE.read_text(encoding="utf-8")
    for e in ENTRIES:
        assert f"\n{e.term}\n{e.chinese}\n  {e.definition}" in page


def test_a_bad_data_file_is_refused(tmp_path):
    bad = tmp_path / "glossary.csv"
    bad.write_text("term,chinese,definition,chapter\nperplexity,,The exp.,ch-lstm\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="empty chinese"):
        read_glossary(bad)
    bad.write_text("term,definition\nperplexity,The exp.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        read_glossary(bad)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.term for e in ENTRIES])
def test_the_defining_chapter_exists_and_links_the_term(entry: GlossaryEntry):
    chapters = _chapter_files()
    assert entry.chapter in chapters, f"{entry.term}: no page defines the label {entry.chapter}"
    assert entry.term.lower() in _linked_terms(chapters[entry.chapter]), (
        f"{entry.term}: its chapter ({entry.chapter}) has no {{term}} link to it")


def test_every_term_link_in_the_book_has_an_entry():
    known = {e.term.lower() for e in ENTRIES} | {e.chinese.lower() for e in ENTRIES}
    unknown = {name: sorted(_linked_terms(text) - known) for name, text in _sources().items()}
    unknown = {name: terms for name, terms in unknown.items() if terms}
    assert not unknown, f"{{term}} links to terms the glossary lacks: {unknown}"


def test_the_role_pattern_reads_both_forms():
    text = "a {term}`perplexity` and {term}`nats <nat>` and {term}`熵率`"
    assert _linked_terms(text) == {"perplexity", "nat", "熵率"}
