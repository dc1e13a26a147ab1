"""The Chinese copies of every companion notebook and lab, from the Chinese catalogues.

    python -m utils.teaching.translate            # update parameters.po, write every copy
    python -m utils.teaching.translate --check    # exit 1 when a copy or parameters.po is stale
    python -m utils.teaching.translate --out DIR  # write the copies under DIR instead

Each English notebook gets a copy one folder down, named after the language:
``notebooks/X.ipynb`` -> ``notebooks/zh_CN/X.ipynb``, ``labs/X.ipynb`` ->
``labs/zh_CN/X.ipynb``, ``labs/solutions/X.ipynb`` -> ``labs/zh_CN/solutions/X.ipynb``.
A Markdown cell is translated block by block from its page's catalogue
(``locales/zh_CN/LC_MESSAGES/<page>.po``, the book's; a student lab uses its
solution page's, since its Markdown is the solution notebook's less the
solution-only cells), and its relative links are rewritten to resolve from the
new folder, to the Chinese copy of a notebook where there is one. Code cells
are the English ones but for two lines of intent: the set-up cell's
``set_language("zh_CN")`` and the parameters' help comments, which come from
``parameters.po`` (kept up to date here: a changed help becomes a fuzzy or an
untranslated message, as ``sphinx-intl update`` does for the pages).

A message without a translation (missing, empty or fuzzy) stays English and is
reported; on a page that ``locales/zh_CN/translated.txt`` declares translated
it is an error, and nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import posixpath
import re
import sys
from pathlib import Path

from utils.i18n import MANIFEST, translated_pages
from utils.notebook.colab import LANGUAGE_LINES, REPOSITORY_URL
from utils.teaching.markdown_messages import translate_markdown
from utils.teaching.parameter_catalogue import (
    catalogue_text,
    parameter_help,
    read_catalogue,
    translate_parameters,
    updated_catalogue,
)

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = "zh_CN"
CATALOGUES = Path("locales") / LANGUAGE / "LC_MESSAGES"
PARAMETERS_CATALOGUE = CATALOGUES / "parameters.po"
ENGLISH_FOLDERS = ("notebooks", "labs", "labs/solutions")
# Where a notebook opens from GitHub: a link to one of the course's notebooks
# there points to its Chinese copy in the Chinese notebooks.
HOSTED = re.compile(r"((?:" + re.escape(REPOSITORY_URL) + r"|https://colab\.research\.google\.com/"
                    r"github/" + re.escape(REPOSITORY_URL.split("github.com/")[1]) +
                    r")/blob/[\w.-]+/)([\w/.-]+\.ipynb)")
LINK = re.compile(r"(\]\(<?)([^)\s>]+)")
CODE_PATH = re.compile(r"`((?:notebooks|labs)/[\w/.-]+\.ipynb)`")


class TranslationMissing(RuntimeError):
    """A page declared translated has a message without a translation."""


def english_notebooks(root: Path = ROOT) -> list[Path]:
    """Every English notebook and lab, relative to the repository root."""
    return [path.relative_to(root) for folder in ENGLISH_FOLDERS
            for path in sorted((root / folder).glob("*.ipynb"))]


def chinese_path(english: Path) -> Path:
    """Where the Chinese copy of an English notebook lives: its folder's zh_CN/ subfolder."""
    top, *rest = english.parts
    return Path(top, LANGUAGE, *rest)


def page_of(english: Path) -> str:
    """The book page whose catalogue translates a notebook: a student lab's is its solution's."""
    if english.parent == Path("labs"):
        return f"labs/solutions/{english.stem}"
    return english.with_suffix("").as_posix()


def translations(catalogue) -> dict[str, str]:
    """A catalogue's usable translations: not empty and not fuzzy, as Sphinx compiles them."""
    return {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}


def relink(text: str, english: Path, copies: set[Path]) -> str:
    """`text`'s links, rewritten to resolve from the Chinese copy of `english`.

    A link to one of the course's notebooks, relative or on GitHub or Colab, and
    a notebook's path in code (`labs/00_warmup.ipynb`) lead to its Chinese copy.
    """
    here, there = english.parent.as_posix(), chinese_path(english).parent.as_posix()

    def target(path: str) -> str:
        return chinese_path(Path(path)).as_posix() if Path(path) in copies else path

    def relative(match: re.Match) -> str:
        link = match[2]
        if re.match(r"[a-z][\w+.-]*:|#|/", link):
            return match[0]
        path, hash_, anchor = link.partition("#")
        resolved = target(posixpath.normpath(posixpath.join(here, path)))
        return match[1] + posixpath.relpath(resolved, there) + hash_ + anchor

    text = HOSTED.sub(lambda m: m[1] + target(m[2]), text)
    text = CODE_PATH.sub(lambda m: f"`{target(m[1])}`", text)
    return LINK.sub(relative, text)


def translate_setup(source: str) -> str:
    """The set-up cell with the Chinese language line in place of the English one."""
    english, chinese = LANGUAGE_LINES["en"], LANGUAGE_LINES[LANGUAGE]
    if source.count(english) != 1:
        raise ValueError(f"the set-up cell does not end with the language line {english!r}")
    return source.replace(english, chinese)


def is_parameters(cell) -> bool:
    return cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])


def translate_notebook(notebook, english: Path, page: dict[str, str], parameters: dict[str, str],
                       copies: set[Path]):
    """The Chinese copy of one English notebook (outputs empty); and its untranslated messages."""
    import nbformat

    chinese, untranslated = copy.deepcopy(notebook), []
    code = [cell for cell in chinese.cells if cell.cell_type == "code"]
    if code:
        code[0].source = translate_setup(code[0].source)
    for cell in chinese.cells:
        if cell.cell_type == "markdown":
            cell.source, missing = translate_markdown(cell.source, page.get)
            cell.source = relink(cell.source, english, copies)
            untranslated += missing
        elif is_parameters(cell):
            cell.source, missing = translate_parameters(cell.source, parameters.get)
            untranslated += [f"parameter help: {help_text}" for help_text in missing]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # The kernel as the English notebook's; no jupytext pairing: the copy is generated.
    chinese.metadata = {key: notebook.metadata[key] for key in ("kernelspec", "language_info")
                        if key in notebook.metadata}
    nbformat.validate(chinese)
    return chinese, untranslated


def parameter_helps(notebooks: dict[Path, object]) -> dict[str, list[str]]:
    """Every help comment of the English notebooks' parameters cells, and where it appears."""
    helps: dict[str, list[str]] = {}
    for path, notebook in notebooks.items():
        for cell in filter(is_parameters, notebook.cells):
            for _, _, help_text in parameter_help(cell.source):
                helps.setdefault(help_text, []).append(path.as_posix())
    return helps


def chinese_copies(root: Path = ROOT) -> tuple[dict[Path, str], dict[str, list[str]]]:
    """Every file this writes, by path (the Chinese copies and parameters.po); and the report.

    The report maps each page to its messages left in English. Raises
    `TranslationMissing` when a page the manifest declares translated has any.
    """
    import nbformat

    english = english_notebooks(root)
    notebooks = {path: nbformat.read(root / path, as_version=4) for path in english}
    parameters = updated_catalogue(root / PARAMETERS_CATALOGUE, parameter_helps(notebooks))
    files = {PARAMETERS_CATALOGUE: catalogue_text(parameters)}
    helps, strict = translations(parameters), set(translated_pages(root))
    report: dict[str, list[str]] = {}
    for path, notebook in notebooks.items():
        page = page_of(path)
        catalogue = root / CATALOGUES / f"{page}.po"
        known = translations(read_catalogue(catalogue)) if catalogue.exists() else {}
        chinese, missing = translate_notebook(notebook, path, known, helps, set(english))
        files[chinese_path(path)] = nbformat.writes(chinese) + "\n"
        if missing:
            report[chinese_path(path).as_posix()] = missing
            if page in strict:
                shown = "\n".join(f"  {message[:120]!r}" for message in missing)
                raise TranslationMissing(
                    f"{page} is declared translated ({MANIFEST}) but {path} has "
                    f"{len(missing)} message(s) without a translation in "
                    f"{catalogue.relative_to(root)} or {PARAMETERS_CATALOGUE.as_posix()}:\n{shown}")
    return files, report


def stale_copies(root: Path = ROOT) -> list[Path]:
    """The files `chinese_copies` would change."""
    files, _ = chinese_copies(root)
    return [path for path, text in files.items()
            if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text]


def write(root: Path = ROOT, out: Path | None = None) -> tuple[list[Path], dict[str, list[str]]]:
    """Write every Chinese copy (under `out` if given) and parameters.po; the paths changed."""
    files, report = chinese_copies(root)
    written = []
    for path, text in files.items():
        target = (out or root) / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(path)
    return written, report


def summary(report: dict[str, list[str]]) -> str:
    if not report:
        return "every message of every Chinese notebook is translated"
    lines = [f"{path}: {len(missing)} message(s) left in English (page not yet translated)"
             for path, missing in report.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.teaching.translate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a copy or parameters.po is stale")
    parser.add_argument("--out", type=Path, help="write the copies and parameters.po under DIR")
    parser.add_argument("--quiet", action="store_true", help="do not list the untranslated pages")
    args = parser.parse_args(argv)
    try:
        if args.check:
            changed = stale_copies(ROOT)
            for path in changed:
                print(f"stale: {path} (run python -m utils.teaching.translate)")
            return 1 if changed else 0
        written, report = write(ROOT, args.out)
    except TranslationMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not args.quiet:
        print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
