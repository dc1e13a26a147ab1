"""The class report: a CSV gradebook and one self-contained HTML page. Instructor's guide.

Messages can come from a hostile submission (an exception's text), so the HTML
escapes them and the CSV defuses cells that a spreadsheet would run as a formula.
The page speaks the grader's language (`utils.i18n`); the CSV's header and
statuses stay the English keys a script reads, its messages are in that language.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from utils.i18n import N_, _, language
from utils.teaching.grade import STATUSES, ExerciseGrade

__all__ = ["pass_rates", "write_gradebook", "write_html_report"]

_COLOURS = {"passed": "#d9f0d3", "failed": "#f4cccc", "not attempted": "#eeeeee",
            "crashed": "#f9d9a8", "timed out": "#d9d2e9", "tampered": "#e06666"}
_FONTS = ["DejaVu Sans", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
          "SimHei", "Microsoft YaHei", "PingFang SC"]  # matplotlib falls back along the list
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_STATUS_NAMES = {"passed": N_("passed"), "failed": N_("failed"),
                 "not attempted": N_("not attempted"), "crashed": N_("crashed"),
                 "timed out": N_("timed out"), "tampered": N_("tampered")}


def _status(status: str) -> str:
    """A status as the page names it, in the grader's language."""
    return _(_STATUS_NAMES[status])


def _cell_text(value: str) -> str:
    """A CSV field a spreadsheet shows as text, never evaluates (``=HYPERLINK(...)``)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_gradebook(rows: Sequence[ExerciseGrade], path: str | Path) -> Path:
    """One line per student and exercise: student_id, lab, exercise, status, handed_out, hidden,
    message (how the handed-out and the hidden cases went, and the first failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "lab", "exercise", "status", "handed_out", "hidden",
                         "message"])
        for r in rows:
            writer.writerow([_cell_text(str(v)) for v in (r.student_id, r.lab, r.exercise,
                                                            r.status, r.handed_out, r.hidden,
                                                            r.message)])
    return path


def pass_rates(rows: Sequence[ExerciseGrade]) -> dict[tuple[str, str], float]:
    """Share of students who passed, per ``(lab, exercise)``."""
    total, passed = Counter(), Counter()
    for r in rows:
        total[r.lab, r.exercise] += 1
        passed[r.lab, r.exercise] += r.status == "passed"
    return {key: passed[key] / total[key] for key in total}


def _axis_label() -> str:
    """The axis's label in the report's language, if a font can draw it (else in English)."""
    from matplotlib import font_manager

    english = "students who passed (%)"  # a machine without a CJK font cannot draw the Chinese
    label = _("students who passed (%)")
    if label.isascii():
        return label
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return label if installed & set(_FONTS[1:]) else english


def _chart(rates: dict[tuple[str, str], float]) -> str:
    """A horizontal bar chart of pass rates as an inline PNG (no file, no network)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{lab}: {ex}" for lab, ex in rates]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1))
    ax.barh(labels[::-1], [100 * v for v in list(rates.values())[::-1]], color="#0072B2")
    ax.set_xlim(0, 100)
    ax.set_xlabel(_axis_label(), fontfamily=_FONTS)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _grade_rows(rows: Sequence[ExerciseGrade], exercises: list[tuple[str, str]],
                students: list[str]) -> list[str]:
    """One table row per student: each exercise's status, coloured, its message on hover."""
    e = html.escape
    cell = {(r.student_id, r.lab, r.exercise): r for r in rows}
    body = []
    for s in students:
        tds = []
        for lab, ex in exercises:
            r = cell.get((s, lab, ex))
            status = r.status if r else "not attempted"
            title = e(_("handed-out cases: {handed_out}, hidden cases: {hidden}. {message}").format(
                handed_out=_status(r.handed_out) if r.handed_out else "-",
                hidden=_status(r.hidden) if r.hidden else "-", message=r.message)) if r else ""
            style = f"background:{_COLOURS[status]}"
            tds.append(f'<td style="{style}" title="{title}">{e(_status(status))}</td>')
        body.append(f"<tr><th>{e(s)}</th>{''.join(tds)}</tr>")
    return body


def _items(texts: Sequence[str]) -> str:
    """An HTML list's items, escaped; "none" when there are none."""
    return "".join(f"<li>{html.escape(t)}</li>" for t in texts or [_("none")])


def _common_failures(rows: Sequence[ExerciseGrade], exercises: list[tuple[str, str]],
                     rates: dict[tuple[str, str], float], top: int) -> str:
    """Per exercise, its pass rate and its ``top`` commonest failure messages."""
    failures: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        if r.status in ("failed", "crashed", "timed out", "tampered"):
            failures[r.lab, r.exercise][_("{status}: {message}").format(
                status=_status(r.status), message=r.message)] += 1
    sections, no_failures = [], [_("no failures")]
    for lab, ex in exercises:
        passed = _("{lab}: {exercise} ({percent:.0f} % passed)").format(
            lab=lab, exercise=ex, percent=100 * rates[lab, ex])
        items = [f"{n} × {m}" for m, n in failures[lab, ex].most_common(top)]
        sections.append(f"<h3>{html.escape(passed)}</h3>"
                        f"<ul>{_items(items or no_failures)}</ul>")
    return "".join(sections)


def write_html_report(rows: Sequence[ExerciseGrade], path: str | Path, *, top: int = 3) -> Path:
    """Per student and exercise, the class's pass rates and the commonest failure messages."""
    path = Path(path)
    exercises = list(dict.fromkeys((r.lab, r.exercise) for r in rows))
    students = list(dict.fromkeys(r.student_id for r in rows))
    rates = pass_rates(rows)
    e = html.escape
    head = "".join(f"<th>{e(lab)}<br>{e(ex)}</th>" for lab, ex in exercises)
    counts = Counter(r.status for r in rows)
    summary = _(", ").join(_("{count} {status}").format(count=counts[s], status=_status(s))
                           for s in STATUSES)
    tampered = dict.fromkeys(f"{r.student_id}, {r.lab}: {r.message}" for r in rows
                             if r.status == "tampered")
    only_seen = Counter((r.lab, r.exercise) for r in rows
                        if r.handed_out == "passed" and r.hidden == "failed")
    text = {key: e(value) for key, value in {
        "title": _("Class report"), "student": _("student"),
        "intro": _("{students} students, {exercises} exercises: {summary}. Hover a cell for the "
                   "check's message.").format(students=len(students), exercises=len(exercises),
                                              summary=summary),
        "tampering": _("Tampering"),
        "tampering_intro": _("Submissions whose sandbox sent back something no honest run "
                             "writes (forged or malformed results, a flood of output). Nothing "
                             "of theirs was judged; look at the notebook yourself."),
        "hidden": _("Passed the handed-out cases, failed the hidden ones"),
        "hidden_intro": _("Answers that work on the inputs the student saw and not on fresh "
                          "ones (hard-coded results, or a bug those inputs miss), per exercise:"),
        "rates": _("Pass rate per exercise"), "chart": _("pass rate per exercise"),
        "common": _("Most common failures")}.items()}
    page = f"""<!DOCTYPE html>
<html lang="{language().replace("_", "-")}"><head><meta charset="utf-8">
<title>{text["title"]}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;font-size:90%}}</style></head><body>
<h1>{text["title"]}</h1>
<p>{text["intro"]}</p>
<table><tr><th>{text["student"]}</th>{head}</tr>{''.join(_grade_rows(rows, exercises, students))}
</table>
<h2>{text["tampering"]}</h2>
<p>{text["tampering_intro"]}</p>
<ul>{_items(list(tampered))}</ul>
<h2>{text["hidden"]}</h2>
<p>{text["hidden_intro"]}</p>
<ul>{_items([f"{lab}: {ex}: {n}" for (lab, ex), n in only_seen.items()])}</ul>
<h2>{text["rates"]}</h2>
<img alt="{text["chart"]}" src="data:image/png;base64,{_chart(rates)}">
<h2>{text["common"]}</h2>
{_common_failures(rows, exercises, rates, top)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
