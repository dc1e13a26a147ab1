"""The execution report's second table: the models each notebook trained, its cold and warm time.

A Sphinx extension (``_config.yml``, ``local_extensions``). Before a page is
read, and so before myst-nb executes it, the extension names the page in the
environment variable ``COURSE_RUN_DOC`` with a fresh execution id; the kernel
inherits it, and every ``cached_run`` in the notebook appends a line to the
build's run log (``utils.runtime.run_log``). Once every page is read, the
``course-run-table`` directive becomes a table built from that log and from
myst-nb's execution data.

A notebook ran *cold* when it trained a model and *warm* when it only loaded
cached ones. The build measures the one it ran; the other is estimated from
the log: warm is the run minus the time spent in the runs it trained, cold is
the run plus the training time recorded with the models it loaded (recorded on
whatever machine trained them). Estimates are marked with "≈".
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections import Counter
from pathlib import Path

from docutils import nodes
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from utils.runtime.run_log import DOC_VARIABLE, LOG_VARIABLE, read_run_log

METADATA_KEY = "has_run_table"
HEADERS = ("Page", "Run (s)", "Cold (s)", "Warm (s)", "Models trained", "Models loaded")


def setup(app: Sphinx) -> dict:
    app.add_node(RunTableNode)
    app.add_directive("course-run-table", RunTable)
    app.add_post_transform(RunTablePostTransform)
    app.connect("builder-inited", start_run_log)
    app.connect("source-read", name_the_page_being_read)
    app.connect("env-updated", pages_with_a_run_table)
    return {"parallel_read_safe": False, "parallel_write_safe": True}


def run_log_path(app: Sphinx) -> Path:
    """The log lives beside the HTML (``_build/``), so a clean build starts it anew."""
    return Path(app.outdir).parent / ".course-runs.jsonl"


def start_run_log(app: Sphinx) -> None:
    os.environ[LOG_VARIABLE] = str(run_log_path(app))


def name_the_page_being_read(app: Sphinx, docname: str, source: list[str]) -> None:
    os.environ[DOC_VARIABLE] = f"{docname}|{uuid.uuid4().hex[:12]}"


def pages_with_a_run_table(app: Sphinx, env) -> list[str]:
    """Rewrite the pages with the table on every build: the log may have grown."""
    return [doc for doc, data in NbMetadataCollector.get_doc_data(env).items()
            if data.get(METADATA_KEY)]


class RunTableNode(nodes.General, nodes.Element):
    """Where the table goes, filled in once every page has been executed."""


class RunTable(SphinxDirective):
    """``course-run-table``: the models each executed notebook trained, cold and warm time."""

    def run(self) -> list[nodes.Node]:
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, METADATA_KEY, True)
        return [RunTableNode()]


class RunTablePostTransform(SphinxPostTransform):
    default_priority = 8  # before the reference resolvers, which turn the page links into links

    def run(self, **kwargs) -> None:
        for node in self.document.findall(RunTableNode):
            node.replace_self(self.table())

    def table(self) -> nodes.table:
        by_execution = latest_runs(run_log_path(self.app))
        table = nodes.table(classes=["colwidths-auto"])
        group = nodes.tgroup(cols=len(HEADERS))
        table += group
        for _ in HEADERS:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        head += row_of([nodes.paragraph(text=h) for h in HEADERS])
        body = nodes.tbody()
        group += head
        group += body
        for doc, data in sorted(NbMetadataCollector.get_doc_data(self.env).items()):
            runtime = (data.get("exec_data") or {}).get("runtime")
            if runtime is None:
                continue
            link = pending_xref(refdoc=self.env.docname, refdomain="std", reftype="doc",
                                reftarget=posixpath.relpath(
                                    doc, posixpath.dirname(self.env.docname)),
                                refexplicit=False)
            link += nodes.inline(text=doc)
            texts = row_texts(runtime, by_execution.get(doc))
            cells = [link, *(nodes.Text(text) for text in texts)]
            body += row_of([nodes.paragraph("", "", cell) for cell in cells])
        return table


def row_of(cells: list[nodes.Node]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        row += nodes.entry("", cell)
    return row


def latest_runs(log: Path) -> dict[str, list[dict]]:
    """For each page, the runs of its latest execution that used ``cached_run``."""
    executions: dict[str, dict[str, list[dict]]] = {}
    for entry in read_run_log(log):
        runs = executions.setdefault(entry["doc"], {})
        runs.setdefault(entry["execution"], []).append(entry)
    # Dicts keep insertion order; an execution's first line fixes its place, so the last is latest.
    return {doc: list(runs.values())[-1] for doc, runs in executions.items() if runs}


def row_texts(runtime: float, runs: list[dict] | None) -> list[str]:
    """Run, cold, warm, trained and loaded columns for one page's latest execution.

    Cold adds, to the run, the recorded training time of each model the page loaded
    but did not train itself, once per model however often it was loaded; warm takes
    away the time of the models it trained. A column is exact (no ≈) when it is the run.
    """
    if not runs:
        return [f"{runtime:.1f}", f"{runtime:.1f}", f"{runtime:.1f}", "none", "none"]
    trained = [r for r in runs if r["trained"]]
    loaded = [r for r in runs if not r["trained"]]
    trained_models = {model_of(r) for r in trained}
    elsewhere = {model_of(r): max(r["train_time_s"] - r["seconds"], 0.0) for r in loaded
                 if model_of(r) not in trained_models}
    extra = sum(elsewhere.values())
    cold = f"≈ {runtime + extra:.1f}" if extra > 0 else f"{runtime:.1f}"
    warm = (f"≈ {max(runtime - sum(r['seconds'] for r in trained), 0.0):.1f}" if trained
            else f"{runtime:.1f}")
    return [f"{runtime:.1f}", cold, warm, names(trained), names(loaded)]


def model_of(run: dict) -> tuple:
    """Which model a run is: its cache key (logs written before keys: name and training time)."""
    return (run["key"],) if run.get("key") else (run["name"], run["train_time_s"])


def names(runs: list[dict]) -> str:
    """``lstm ×3, ngram``: each run's name once, with how many configurations it had."""
    if not runs:
        return "none"
    counts = Counter(r["name"] for r in runs)
    return ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())
