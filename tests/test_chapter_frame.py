"""Every chapter page, and every section page with a companion notebook, has the chapter frame.

The frame: an "At a glance" box at the top (what you will learn, what you need
first, the time it takes), a summary and concept questions whose answers are
folded, at the end. A page that loses one of them fails here, not in review.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

PAGES = sorted(p for p in (ROOT / "book").glob("[0-9][0-9]_*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_page_has_the_chapter_frame(page):
    text = page.read_text(encoding="utf-8")
    head = text[:1500]
    assert ":::{admonition} At a glance" in head, f"{page.name}: no 'At a glance' box at the top"
    for item in ("**You will learn:**", "**You need first:**", "**Time:**"):
        assert item in head, f"{page.name}: the 'At a glance' box lacks {item}"
    assert re.search(r"^## Summary$", text, re.MULTILINE), f"{page.name}: no Summary section"
    questions = text.split("## Concept questions", 1)
    assert len(questions) == 2, f"{page.name}: no Concept questions section"
    asked = len(re.findall(r"^\d+\. ", questions[1], re.MULTILINE))
    answered = questions[1].count(":class: dropdown")
    assert asked >= 3, f"{page.name}: only {asked} concept questions"
    assert answered == asked, f"{page.name}: {asked} questions but {answered} folded answers"
