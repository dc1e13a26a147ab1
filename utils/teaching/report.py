"""The class report: a CSV gradebook and one self-contained HTML page. Instructor's guide.

Messages can come from a hostile submission (an exception's text), so the HTML
escapes them and the CSV defuses cells that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from utils.teaching.grade import STATUSES, ExerciseGrade

__all__ = ["pass_rates", "write_gradebook", "write_html_report"]

_COLOURS = {"passed": "#d9f0d3", "failed": "#f4cccc", "not attempted": "#eeeeee",
            "crashed": "#f9d9a8", "timed out": "#d9d2e9", "tampered": "#e06666"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def _chart(rates: dict[tuple[str, str], float]) -> str:
    """A horizontal bar chart of pass rates as an inline PNG (no file, no network)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{lab}: {ex}" for lab, ex in rates]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1))
    ax.barh(labels[::-1], [100 * v for v in list(rates.values())[::-1]], color="#0072B2")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed (%)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def write_html_report(rows: Sequence[ExerciseGrade], path: str | Path, *, top: int = 3) -> Path:
    """Per student and exercise, the class's pass rates and the commonest failure messages."""
    path = Path(path)
    exercises = list(dict.fromkeys((r.lab, r.exercise) for r in rows))
    students = list(dict.fromkeys(r.student_id for r in rows))
    cell = {(r.student_id, r.lab, r.exercise): r for r in rows}
    rates = pass_rates(rows)
    failures: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        if r.status in ("failed", "crashed", "timed out", "tampered"):
            failures[r.lab, r.exercise][f"{r.status}: {r.message}"] += 1
    e = html.escape
    head = "".join(f"<th>{e(lab)}<br>{e(ex)}</th>" for lab, ex in exercises)
    body = []
    for s in students:
        tds = []
        for lab, ex in exercises:
            r = cell.get((s, lab, ex))
            status = r.status if r else "not attempted"
            title = e(f"handed-out cases: {r.handed_out or '-'}, hidden cases: "
                      f"{r.hidden or '-'}. {r.message}") if r else ""
            style = f"background:{_COLOURS[status]}"
            tds.append(f'<td style="{style}" title="{title}">{e(status)}</td>')
        body.append(f"<tr><th>{e(s)}</th>{''.join(tds)}</tr>")
    common = []
    for lab, ex in exercises:
        items = "".join(f"<li>{n} × {e(m)}</li>" for m, n in failures[lab, ex].most_common(top))
        common.append(f"<h3>{e(lab)}: {e(ex)} ({100 * rates[lab, ex]:.0f} % passed)</h3>"
                      f"<ul>{items or '<li>no failures</li>'}</ul>")
    counts = Counter(r.status for r in rows)
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    tampered = dict.fromkeys((r.student_id, r.lab, r.message) for r in rows
                             if r.status == "tampered")
    tampering = "".join(f"<li>{e(s)}, {e(lab)}: {e(m)}</li>" for s, lab, m in tampered)
    only_seen = Counter((r.lab, r.exercise) for r in rows
                        if r.handed_out == "passed" and r.hidden == "failed")
    hidden = "".join(f"<li>{e(lab)}: {e(ex)}: {n}</li>" for (lab, ex), n in only_seen.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Class report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;font-size:90%}}</style></head><body>
<h1>Class report</h1>
<p>{len(students)} students, {len(exercises)} exercises: {summary}. Hover a cell for the
check's message.</p>
<table><tr><th>student</th>{head}</tr>{''.join(body)}</table>
<h2>Tampering</h2>
<p>Submissions whose sandbox sent back something no honest run writes (forged or
malformed results, a flood of output). Nothing of theirs was judged; look at the
notebook yourself.</p>
<ul>{tampering or '<li>none</li>'}</ul>
<h2>Passed the handed-out cases, failed the hidden ones</h2>
<p>Answers that work on the inputs the student saw and not on fresh ones (hard-coded
results, or a bug those inputs miss), per exercise:</p>
<ul>{hidden or '<li>none</li>'}</ul>
<h2>Pass rate per exercise</h2>
<img alt="pass rate per exercise" src="data:image/png;base64,{_chart(rates)}">
<h2>Most common failures</h2>
{''.join(common)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
