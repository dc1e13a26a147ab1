"""Teaching tools: per-student variants, the grader against hostile submissions, Dask, the report.

The end-to-end test builds a class of eleven submissions to the warm-up lab
(utils.teaching.demo.KINDS) and expects exactly one grade per exercise:
correct work passes; a partly correct one gets passed / failed / not attempted;
an untouched notebook is not attempted; a syntax error, a memory hog, a
`sys.exit` and a missing import crash only the exercise whose cell they are in;
an infinite loop times out; a submission that deletes the files around it is
graded normally and deletes nothing of the grader's; a submission that
monkeypatches its check, or prints a fake "passed" line, still fails.
"""

import csv

import nbformat
import pytest

from tests.conftest import ROOT
from utils.teaching.demo import EXPECTED, KINDS, make_class
from utils.teaching.grade import Limits, as_dicts, grade_submissions, lab_spec
from utils.teaching.report import pass_rates, write_gradebook, write_html_report
from utils.teaching.variants import assign, derive_seed, read_manifest, read_roster

SECRET = b"an instructor's secret, 32 bytes"


def test_seeds_differ_between_students_and_labs_and_need_the_secret():
    seeds = {derive_seed(f"s{i}", SECRET, "00_warmup") for i in range(200)}
    assert len(seeds) == 200
    other_lab = derive_seed("ada", SECRET, "03_maximum_likelihood")
    assert derive_seed("ada", SECRET, "00_warmup") != other_lab
    assert derive_seed("ada", SECRET) != derive_seed("ada", SECRET[::-1])
    assert all(0 <= s < 2**31 for s in seeds)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        derive_seed("ada", b"short")


@pytest.mark.parametrize("text, problem", [
    ("name\nAda\n", "header"),
    ("student_id,name\nada,Ada\nada,Again\n", "appears twice"),
    ("student_id,name\n../evil,Eve\n", "letters, digits"),
])
def test_bad_rosters_are_rejected_with_the_line(tmp_path, text, problem):
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    with pytest.raises(ValueError, match=problem):
        read_roster(roster)


def test_variants_carry_injected_seeds_unexecuted_and_a_manifest(tmp_path):
    roster = [("ada", "Ada"), ("alan", "Alan")]
    variants = assign(roster, ROOT / "labs" / "00_warmup.ipynb", tmp_path, SECRET,
                      parameters={"temperature": 0.5})
    manifest = read_manifest(tmp_path / "manifest.csv")
    for v in variants:
        assert manifest[v.student_id, "00_warmup"] == v
        assert v.parameters == {"temperature": 0.5,
                                "seed": derive_seed(v.student_id, SECRET, "00_warmup")}
        notebook = nbformat.read(tmp_path / v.notebook, as_version=4)
        injected = [c for c in notebook.cells
                    if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and f"seed = {v.parameters['seed']}" in injected[0].source
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")


def test_lab_spec_reads_checks_from_the_course_source():
    spec = lab_spec("00_warmup")
    assert [e["exercise"] for e in spec["exercises"]] == list(EXPECTED["correct"])
    assert spec["checks_module"] == "utils.checks.warmup"
    assert spec["defaults"]["seed"] == 0
    adapt = {e["exercise"]: e["needs"] for e in lab_spec("05_adapt_and_evaluate")["exercises"]}
    assert "pretrained" in adapt["classify"]


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    submissions, manifest, kinds = make_class(folder, list(KINDS), SECRET)
    (folder / "sentinel.txt").write_text("the grader's own file")
    return folder, submissions, read_manifest(manifest), kinds


@pytest.mark.slow
def test_every_kind_of_submission_gets_exactly_its_expected_grades(demo_class):
    folder, submissions, manifest, kinds = demo_class
    before = sorted(p.relative_to(folder) for p in submissions.rglob("*"))
    rows = grade_submissions(submissions, manifest, workers=2, limits=Limits(timeout_s=45))
    got = {}
    for r in rows:
        got.setdefault(kinds[r.student_id], {})[r.exercise] = r.status
    assert got == EXPECTED
    assert (folder / "sentinel.txt").exists()
    assert sorted(p.relative_to(folder) for p in submissions.rglob("*")) == before
    messages = {(kinds[r.student_id], r.exercise): r.message for r in rows}
    assert "SyntaxError" in messages["syntax_error", "softmax"]
    assert "MemoryError" in messages["memory_hog", "softmax"]
    assert "sum to" in messages["monkeypatched_check", "softmax"]


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_gradebook_as_the_pool(demo_class):
    distributed = pytest.importorskip("distributed")
    _, submissions, manifest, kinds = demo_class
    few = {k: v for k, v in manifest.items()
           if kinds[k[0]] in ("correct", "partly_correct", "monkeypatched_check")}
    pool = grade_submissions(submissions, few, workers=2, limits=Limits(timeout_s=300))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = grade_submissions(submissions, few, scheduler=cluster.scheduler_address,
                                    limits=Limits(timeout_s=300))
    assert as_dicts(on_dask) == as_dicts(pool)


def test_report_files(tmp_path):
    from utils.teaching.grade import ExerciseGrade

    rows = [ExerciseGrade("ada", "00_warmup", "softmax", "passed", ""),
            ExerciseGrade("alan", "00_warmup", "softmax", "failed", "softmax: sums to 2 <b>"),
            ExerciseGrade("ada", "00_warmup", "log_softmax", "timed out", "ran longer than 1 s"),
            ExerciseGrade("alan", "00_warmup", "log_softmax", "passed", "")]
    assert pass_rates(rows) == {("00_warmup", "softmax"): 0.5, ("00_warmup", "log_softmax"): 0.5}
    with open(write_gradebook(rows, tmp_path / "g.csv"), newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["status"] for r in table] == ["passed", "failed", "timed out", "passed"]
    page = write_html_report(rows, tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.replace("http-equiv", "")
    assert "softmax: sums to 2 &lt;b&gt;" in page  # messages are escaped
    assert "50 % passed" in page
