"""Build each lab's student and solution notebooks from its one source.

A lab's source is a py:percent file in `labs/source/`. Inside a code cell, a
solution sits between two marker comments:

    def softmax(logits):
        # BEGIN SOLUTION softmax
        z = logits - logits.max(-1, keepdim=True).values
        return z.exp() / z.exp().sum(-1, keepdim=True)
        # END SOLUTION

The solution notebook (`labs/solutions/NAME.ipynb`) keeps the code, drops the
markers and collapses the cell in the book (tag `hide-input`). The student
notebook (`labs/NAME.ipynb`) replaces it with a stub that stops with a
friendly "not implemented yet" message. Markdown cells tagged
`solution-only` appear only in the solution notebook.

    python -m utils.teaching build      # regenerate every lab
    python -m utils.teaching check      # exit 1 when a generated notebook is stale
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

LABS_DIR = Path(__file__).resolve().parents[2] / "labs"
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<name>\w+)\s*$")
_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")


class LabSourceError(ValueError):
    """A lab source has unbalanced or unnamed solution markers."""


def split_solution(source: str, student: bool) -> tuple[str, bool]:
    """Return one cell's code for the student or solution version, and whether it had markers."""
    out: list[str] = []
    inside: str | None = None
    found = False
    for line in source.splitlines():
        begin = _BEGIN.match(line)
        if begin:
            if inside is not None:
                raise LabSourceError(f"nested BEGIN SOLUTION inside '{inside}'")
            inside, found = begin["name"], True
            if student:
                indent = begin["indent"]
                out.append(f"{indent}# Your code here.")
                out.append(f'{indent}not_implemented("{inside}")')
            continue
        if _END.match(line):
            if inside is None:
                raise LabSourceError("END SOLUTION without BEGIN SOLUTION")
            inside = None
            continue
        if "BEGIN SOLUTION" in line:
            raise LabSourceError(f"a BEGIN SOLUTION marker needs an exercise name: {line!r}")
        if inside is None or not student:
            out.append(line)
    if inside is not None:
        raise LabSourceError(f"BEGIN SOLUTION '{inside}' is never closed")
    return "\n".join(out), found


def build_notebook(source_path: Path, student: bool):
    """Read a lab source and return its student or solution notebook (outputs empty)."""
    import jupytext
    import nbformat

    notebook = jupytext.read(source_path)
    cells = []
    for cell in notebook.cells:
        tags = list(cell.metadata.get("tags", []))
        if "solution-only" in tags and student:
            continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.source, has_solution = split_solution(cell.source, student)
            if has_solution and not student and "hide-input" not in tags:
                tags.append("hide-input")
            cell.outputs, cell.execution_count = [], None
        tags = [t for t in tags if t != "solution-only"]
        # Keep figure captions (myst-nb's `mystnb` metadata); drop editor state.
        metadata = {"mystnb": cell.metadata["mystnb"]} if "mystnb" in cell.metadata else {}
        cell.metadata = {**metadata, **({"tags": tags} if tags else {})}
        cell.id = f"cell-{len(cells)}"
        cells.append(cell)
        if not student and len(cells) == 1:
            cells.append(_student_version_note(source_path.stem, cell_id=f"cell-{len(cells)}"))
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return notebook


def _student_version_note(stem: str, cell_id: str):
    """A note under the solution notebook's title pointing to the student version."""
    import nbformat

    from utils.notebook.colab import REPOSITORY_URL

    colab = REPOSITORY_URL.replace("https://github.com/",
                                   "https://colab.research.google.com/github/")
    cell = nbformat.v4.new_markdown_cell(
        f"*This is the lab with its solutions. To do it yourself, open the student version: "
        f"[in Colab]({colab}/blob/main/labs/{stem}.ipynb), or `labs/{stem}.ipynb` in "
        f"JupyterLab (`make lab`).*"
    )
    cell.id = cell_id
    return cell


def targets(source_path: Path) -> dict[str, Path]:
    """Where a lab source's student and solution notebooks live."""
    stem = source_path.stem
    return {
        "student": source_path.parent.parent / f"{stem}.ipynb",
        "solution": source_path.parent.parent / "solutions" / f"{stem}.ipynb",
    }


def rendered(source_path: Path) -> dict[Path, str]:
    """The text of both generated notebooks of one lab source, keyed by path."""
    import nbformat

    result = {}
    for kind, path in targets(source_path).items():
        notebook = build_notebook(source_path, student=(kind == "student"))
        result[path] = nbformat.writes(notebook) + "\n"
    return result


def sources(labs_dir: Path = LABS_DIR) -> list[Path]:
    """Every lab source file."""
    return sorted((labs_dir / "source").glob("*.py"))


def stale(labs_dir: Path = LABS_DIR) -> list[Path]:
    """Generated notebooks that are missing or differ from their source."""
    return [
        path
        for source in sources(labs_dir)
        for path, text in rendered(source).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def build(labs_dir: Path = LABS_DIR) -> list[Path]:
    """Write every lab's student and solution notebooks; return the paths written."""
    written = []
    for source in sources(labs_dir):
        for path, text in rendered(source).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                written.append(path)
    return written
