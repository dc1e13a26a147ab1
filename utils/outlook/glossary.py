"""The English-Chinese glossary: one data file, rendered as the book's glossary page.

Reference pages of the book. ``book/glossary.csv`` holds one row per term
(``term``, ``chinese``, ``definition``, ``chapter``: the label of the chapter
that defines it). ``render_glossary`` turns the rows into a MyST page with a
``{glossary}`` directive, in which each entry answers to both its English and
its Chinese name, so a page in either language can link it with
``{term}`...```. Regenerate the page after editing the data::

    python -m utils.outlook.glossary
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GlossaryEntry", "read_glossary", "render_glossary", "write_glossary_page"]

BOOK = Path(__file__).resolve().parents[2] / "book"
DATA = BOOK / "glossary.csv"
PAGE = BOOK / "glossary.md"
FIELDS = ("term", "chinese", "definition", "chapter")

_HEADER = """\
(glossary)=
# Glossary 术语表

Each term of the course with its Chinese name, a one-line definition and the
chapter that explains it. Chapters link a term where they define it; the
Chinese name is an anchor too, for the Chinese edition. This page is generated
from `book/glossary.csv` by `python -m utils.outlook.glossary`: edit the data
file, not this page.

:::{glossary}
:sorted:
"""


@dataclass(frozen=True)
class GlossaryEntry:
    """One row of the glossary: the English term, its Chinese name, a definition, a chapter."""

    term: str
    chinese: str
    definition: str
    chapter: str


def read_glossary(path: str | Path = DATA) -> list[GlossaryEntry]:
    """The glossary's rows; raises ValueError on a missing column or an empty field."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path}: the columns must be {FIELDS}; got {reader.fieldnames}")
        entries = []
        for line, row in enumerate(reader, start=2):
            values = {k: (row[k] or "").strip() for k in FIELDS}
            empty = [k for k, v in values.items() if not v]
            if empty:
                raise ValueError(f"{path}, line {line}: empty {', '.join(empty)}")
            entries.append(GlossaryEntry(**values))
    return entries


def render_glossary(entries: list[GlossaryEntry]) -> str:
    """The glossary page as MyST Markdown: both names of each entry, then its definition."""
    blocks = []
    for e in entries:
        blocks.append(f"{e.term}\n{e.chinese}\n  {e.definition} See {{numref}}`{e.chapter}`.\n")
    return _HEADER + "\n".join(blocks) + ":::\n"


def write_glossary_page(data: str | Path = DATA, page: str | Path = PAGE) -> Path:
    """Render ``data`` into ``page`` and return the page's path."""
    page = Path(page)
    page.write_text(render_glossary(read_glossary(data)), encoding="utf-8")
    return page


if __name__ == "__main__":
    print(f"wrote {write_glossary_page()}", file=sys.stderr)
