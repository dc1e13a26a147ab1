"""Keep the Chinese catalogue in step with the code: extract, update, compile.

    python -m utils.i18n.catalogue           update course.po from the code, compile course.mo
    python -m utils.i18n.catalogue --check   exit 1 when either is behind the code, or a
                                             message is untranslated or fuzzy

Extraction reads every ``_("...")`` and ``N_("...")`` in ``utils/`` with Babel's
Python extractor. The update works as ``pybabel update`` (and ``sphinx-intl
update``) do: a message whose English changed becomes fuzzy, keeping its old
Chinese as a draft; a new message arrives untranslated; a message gone from the
code is dropped. Locations name the file, not the line, so moving code does not
touch the catalogue. The header's dates are kept, so an unchanged catalogue is
rewritten byte for byte, and `course.mo` is the compile of `course.po` and
nothing else (gettext ignores fuzzy messages; so does the compile).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from utils.i18n import DOMAIN, LOCALE_DIR

__all__ = ["PO_PATH", "MO_PATH", "SOURCE_DIR", "brought_up_to_date", "compile_mo", "extract",
           "problems", "updated"]

SOURCE_DIR = Path(__file__).resolve().parents[1]  # utils/
PO_PATH = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO_PATH = PO_PATH.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None}


def extract(source_dir: Path = SOURCE_DIR) -> Catalog:
    """Every marked message of ``source_dir``'s Python files, with the files it is in."""
    template = Catalog(domain=DOMAIN)
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            source_dir, method_map=[("**.py", "python")], keywords=KEYWORDS):
        location = (f"{source_dir.name}/{Path(filename).as_posix()}", None)
        if message in template:
            if location not in template[message].locations:
                template[message].locations.append(location)
        else:
            template.add(message, locations=[location])
    return template


def _read(text: str) -> Catalog:
    return read_po(io.StringIO(text), locale="zh_CN", domain=DOMAIN)


def _write(catalog: Catalog) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_lineno=False, sort_output=True,
             ignore_obsolete=True)
    return out.getvalue().decode("utf-8")


def brought_up_to_date(catalog: Catalog, template: Catalog) -> Catalog:
    """`catalog` updated to `template`'s messages as ``pybabel update`` does it: changed ->
    fuzzy (the old translation kept as a draft), new -> empty, removed -> gone; its date kept."""
    template.creation_date = catalog.creation_date  # no new date when nothing changed
    catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
    catalog.obsolete.clear()
    return catalog


def updated(po_text: str, template: Catalog) -> str:
    """``po_text`` brought up to ``template``: changed -> fuzzy, new -> empty, removed -> gone."""
    catalog = brought_up_to_date(_read(po_text), template)
    catalog.fuzzy = False  # the header is this tool's; a fuzzy one makes `msgfmt` skip the file
    return _write(catalog)


def compile_mo(po_text: str) -> bytes:
    """The ``.mo`` gettext reads: translated, non-fuzzy messages only, in a fixed order."""
    out = io.BytesIO()
    write_mo(out, _read(po_text), use_fuzzy=False)
    return out.getvalue()


def problems(po_text: str) -> list[str]:
    """The messages a Chinese reader would see in English (untranslated) or half-done (fuzzy)."""
    found = []
    for message in _read(po_text):
        if not message.id:
            continue
        if message.fuzzy:
            found.append(f"fuzzy: {message.id!r}")
        elif not message.string:
            found.append(f"untranslated: {message.id!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.i18n.catalogue",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when the catalogue is behind the code")
    args = parser.parse_args(argv)
    current = PO_PATH.read_text(encoding="utf-8")
    new = updated(current, extract())
    mo = compile_mo(new)
    if args.check:
        stale = [path for path, same in ((PO_PATH, new == current),
                                         (MO_PATH, MO_PATH.exists() and MO_PATH.read_bytes() == mo))
                 if not same]
        todo = [f"out of date: {path} (run `make course-messages`)" for path in stale]
        todo += problems(new)
        print("\n".join(todo) or "the catalogue is up to date and fully translated")
        return 1 if todo else 0
    PO_PATH.write_text(new, encoding="utf-8")
    MO_PATH.write_bytes(mo)
    todo = problems(new)
    print(f"{PO_PATH.relative_to(SOURCE_DIR.parent)}: {len(_read(new))} messages, "
          f"{len(todo)} to translate")
    for line in todo:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
