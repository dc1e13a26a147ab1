"""Teaching tools: per-student variants, the demonstration class, the report, Dask over TLS.

The end-to-end test grades the demonstration class of lab 03
(utils.teaching.demo.KINDS) and expects exactly one grade per exercise:
correct work passes; a partly correct one gets passed / failed / not attempted;
an untouched notebook is not attempted; a syntax error, a memory hog, a
`sys.exit` and a missing import crash only the exercise whose cell they are in;
an infinite loop times out; patching the checks, hard-coding the handed-out
answers or editing an input in place fails; a forged result line is
"tampered". The red-team suite (tests/test_grader_redteam.py) goes further.
"""

import csv

import nbformat
import pytest

from tests.conftest import ROOT
from utils.teaching.cluster import InsecureCluster, check_security
from utils.teaching.demo import EXPECTED, KINDS, LAB, make_class
from utils.teaching.grade import (
    ExerciseGrade,
    Limits,
    as_dicts,
    checks_module,
    grade_submissions,
    hidden_seed,
    lab_exercises,
)
from utils.teaching.isolate import isolation_mode
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


def test_every_lab_is_graded_from_the_courses_own_exercises():
    for source in sorted((ROOT / "labs" / "source").glob("*.py")):
        module = checks_module(source.stem)
        assert module.startswith("utils.checks.") and not module.split(".")[-1].startswith("_")
    assert list(lab_exercises(LAB)) == list(EXPECTED["correct"])
    assert checks_module("00_warmup") == "utils.checks.warmup"


def test_hidden_seeds_are_not_the_handed_out_ones_and_need_the_secret():
    pairs = [(derive_seed(f"s{i}", SECRET, LAB), hidden_seed(f"s{i}", SECRET, LAB))
             for i in range(100)]
    assert all(seen != hidden for seen, hidden in pairs)
    assert len({hidden for _, hidden in pairs}) == 100
    assert hidden_seed("ada", SECRET, LAB) != hidden_seed("ada", SECRET[::-1], LAB)


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    submissions, manifest, _ = make_class(folder, {k: (LAB, e) for k, e in KINDS.items()},
                                          SECRET)
    (folder / "sentinel.txt").write_text("the grader's own file")
    return folder, submissions, manifest


needs_isolation = pytest.mark.skipif(isolation_mode() == "none", reason="needs root or userns")


@pytest.mark.slow
@needs_isolation
def test_every_kind_of_submission_gets_exactly_its_expected_grades(demo_class):
    folder, submissions, manifest = demo_class
    before = sorted(p.relative_to(folder) for p in submissions.rglob("*"))
    rows = grade_submissions(submissions, manifest, secret=SECRET, workers=2,
                             limits=Limits(timeout_s=45), hide=[folder / "handed_out"])
    got = {}
    for r in rows:
        got.setdefault(r.student_id, {})[r.exercise] = r.status
    assert got == EXPECTED
    assert (folder / "sentinel.txt").exists()
    assert sorted(p.relative_to(folder) for p in submissions.rglob("*")) == before
    messages = {(r.student_id, r.exercise): r.message for r in rows}
    assert "SyntaxError" in messages["syntax_error", "nll"]
    assert "MemoryError" in messages["memory_hog", "perplexity"]
    assert "mean" in messages["partly_correct", "nll"]
    correct = [r for r in rows if r.student_id == "correct"]
    assert all((r.handed_out, r.hidden) == ("passed", "passed") for r in correct)


def _certificate(folder):
    """A self-signed certificate and key, the course's CA for a test cluster."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_the_grader_refuses_a_cluster_without_tls_and_client_certificates(tmp_path):
    security = pytest.importorskip("distributed.security")
    with pytest.raises(InsecureCluster, match="tls://"):
        check_security("tcp://127.0.0.1:8786", None)
    with pytest.raises(InsecureCluster, match="require_encryption"):
        check_security("tls://127.0.0.1:8786", security.Security())
    with pytest.raises(InsecureCluster, match="tls://"):
        grade_submissions(tmp_path, {}, secret=SECRET, scheduler="tcp://127.0.0.1:1")


@pytest.mark.slow
@needs_isolation
def test_a_tls_dask_cluster_gives_the_same_gradebook_as_the_pool(demo_class, tmp_path):
    distributed = pytest.importorskip("distributed")
    from distributed.security import Security

    folder, submissions, manifest = demo_class
    few = {k: v for k, v in manifest.items()
           if k[0] in ("correct", "partly_correct", "forged_result_line")}
    cert, key = _certificate(tmp_path)
    security = Security(tls_ca_file=str(cert), tls_client_cert=str(cert),
                        tls_client_key=str(key), tls_scheduler_cert=str(cert),
                        tls_scheduler_key=str(key), tls_worker_cert=str(cert),
                        tls_worker_key=str(key), require_encryption=True)
    limits = Limits(timeout_s=300)
    pool = grade_submissions(submissions, few, secret=SECRET, workers=2, limits=limits)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, protocol="tls://",
                                  security=security) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        on_dask = grade_submissions(submissions, few, secret=SECRET, limits=limits,
                                    scheduler=cluster.scheduler_address, security=security)
    assert as_dicts(on_dask) == as_dicts(pool)


def test_report_files(tmp_path):
    rows = [ExerciseGrade("ada", "00_warmup", "softmax", "passed", "", "passed", "passed"),
            ExerciseGrade("alan", "00_warmup", "softmax", "failed", "softmax: sums to 2 <b>",
                          "passed", "failed"),
            ExerciseGrade("ada", "00_warmup", "log_softmax", "timed out", "ran longer than 1 s"),
            ExerciseGrade("alan", "00_warmup", "log_softmax", "tampered",
                          "=HYPERLINK(\"http://x\") a forged line")]
    assert pass_rates(rows) == {("00_warmup", "softmax"): 0.5, ("00_warmup", "log_softmax"): 0.0}
    with open(write_gradebook(rows, tmp_path / "g.csv"), newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["status"] for r in table] == ["passed", "failed", "timed out", "tampered"]
    assert [r["hidden"] for r in table] == ["passed", "failed", "", ""]
    assert table[3]["message"].startswith("'=")  # a spreadsheet shows it, never runs it
    page = write_html_report(rows, tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page and "http:" not in page.replace("http://x", "")
    assert "softmax: sums to 2 &lt;b&gt;" in page  # messages are escaped
    assert "50 % passed" in page
    tampering = page.split("<h2>Tampering</h2>")[1].split("<h2>")[0]
    assert "alan" in tampering and "ada" not in tampering
    hidden = page.split("failed the hidden ones</h2>")[1].split("<h2>")[0]
    assert "softmax: 1" in hidden
