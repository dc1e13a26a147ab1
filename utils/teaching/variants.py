"""Per-student variants of a lab: the same exercises, each student's own numbers.

Explained in the instructor's guide (``book/instructors_guide.md``). A variant is
the student notebook with its parameters injected by papermill (not executed).
Its seed is derived from the student's id and an instructor's secret with
HMAC-SHA256, so classmates get different numbers and, without the secret, no
student can work out another's seed. A manifest records who got what; the
grader reads it back so each submission is checked against its own seed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Variant", "assign", "derive_seed", "read_manifest", "read_roster", "read_secret"]

MANIFEST = "manifest.csv"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class Variant:
    """One student's copy of one lab."""

    student_id: str
    name: str
    lab: str  # the lab's stem, e.g. "00_warmup"
    notebook: str  # path of the variant, relative to the manifest's folder
    parameters: Mapping[str, object] = field(default_factory=dict)


def derive_seed(student_id: str, secret: bytes, lab: str = "") -> int:
    """A seed in [0, 2**31) from a student id and the instructor's secret (HMAC-SHA256).

    >>> derive_seed("ada", b"0123456789abcdef") == derive_seed("ada", b"0123456789abcdef")
    True
    >>> derive_seed("ada", b"0123456789abcdef") != derive_seed("alan", b"0123456789abcdef")
    True
    """
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {_MIN_SECRET_BYTES} bytes long")
    digest = hmac.new(secret, f"{lab}\x00{student_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 2**31


def read_secret(path: str | Path) -> bytes:
    """The instructor's secret: the bytes of a file kept out of the students' reach."""
    secret = Path(path).read_bytes().strip()
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"{path}: the secret must be at least {_MIN_SECRET_BYTES} bytes "
                         "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > FILE`)")
    return secret


def read_roster(path: str | Path) -> list[tuple[str, str]]:
    """``(student_id, name)`` pairs from a CSV with a header ``student_id,name``."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "student_id" not in rows[0]:
        raise ValueError(f"{path}: expected a CSV with a header line 'student_id,name'")
    roster, seen = [], set()
    for line, row in enumerate(rows, start=2):
        sid = (row.get("student_id") or "").strip()
        if not _ID_RE.match(sid):
            raise ValueError(f"{path}, line {line}: student_id {sid!r} must be 1-64 letters, "
                             "digits, '.', '_' or '-' (it becomes a file name)")
        if sid in seen:
            raise ValueError(f"{path}, line {line}: student_id {sid!r} appears twice")
        seen.add(sid)
        roster.append((sid, (row.get("name") or sid).strip()))
    return roster


def assign(roster: Sequence[tuple[str, str]], lab_notebook: str | Path, out_dir: str | Path,
           secret: bytes, *, parameters: Mapping[str, object] | None = None) -> list[Variant]:
    """Write one variant of ``lab_notebook`` per student into ``out_dir`` and its manifest.

    ``parameters`` are set for every student (e.g. a harder setting for the
    whole class); the seed is always each student's own.
    """
    import papermill as pm  # an authoring dependency: imported only when variants are made

    lab_notebook, out_dir = Path(lab_notebook), Path(out_dir)
    lab = lab_notebook.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = []
    for student_id, name in roster:
        values = {**(parameters or {}), "seed": derive_seed(student_id, secret, lab)}
        target = out_dir / student_id / f"{lab}.ipynb"
        target.parent.mkdir(exist_ok=True)
        pm.execute_notebook(str(lab_notebook), str(target), parameters=values,
                            prepare_only=True, progress_bar=False)
        variants.append(Variant(student_id, name, lab, str(target.relative_to(out_dir)), values))
    _write_manifest(out_dir / MANIFEST, variants)
    return variants


def _write_manifest(path: Path, variants: Sequence[Variant]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "name", "lab", "notebook", "parameters"])
        for v in variants:
            writer.writerow([v.student_id, v.name, v.lab, v.notebook,
                             json.dumps(dict(v.parameters), sort_keys=True)])


def read_manifest(path: str | Path) -> dict[tuple[str, str], Variant]:
    """The manifest written by `assign`, keyed by ``(student_id, lab)``."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {(r["student_id"], r["lab"]): Variant(r["student_id"], r["name"], r["lab"],
                                                 r["notebook"], json.loads(r["parameters"]))
            for r in rows}
