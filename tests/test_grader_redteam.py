"""The red team: hostile submissions to three labs, each with the exact grade every exercise gets.

Each attack starts from the lab's solution. Most wrap one exercise with
`spoil_unless`: the answer stays right only if the attack worked (the secret was
read, the network reached, the checks patched, ...), so an attack that gets
through shows up as an undeserved "passed". Attacks on the grader itself (forged
or flooded result lines) must come out "tampered", and attacks on the class
(grandchildren that outlive their phase, fork bombs, files left behind) must
leave every other grade, the gradebook and the grader's files as they were.
The whole class is graded once, in parallel, as an instructor would.
"""

import csv
import os
import site
import socket
import time
from pathlib import Path

import pytest

from utils.teaching.demo import EXPECTED as DEMO_EXPECTED
from utils.teaching.demo import KINDS as DEMO_KINDS
from utils.teaching.demo import (
    append,
    compose,
    insert_after,
    make_class,
    prepend,
    replace,
    spoil_unless,
)
from utils.teaching.grade import Limits, grade_submissions
from utils.teaching.isolate import isolation_mode
from utils.teaching.report import write_gradebook, write_html_report

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(isolation_mode() == "none", reason="needs root or userns")]

ML, TRANSFORMER, FAIRNESS = "03_maximum_likelihood", "04_transformer", "06_fairness"
EXERCISES = {ML: ("nll", "perplexity", "bigram_mle", "add_k", "ece"),
             TRANSFORMER: ("causal_attention", "split_heads"),
             FAIRNESS: ("gap", "weat_effect_size", "weat_p_value", "group_differences", "swap",
                        "group_thresholds", "screen")}
SECRET = b"an instructor's secret, 32 bytes"
TOKEN = "ghp_course_grader_token_not_for_students"
LIMITS = Limits(timeout_s=40, output_mb=4)

_WRITE_CHANNEL = """import os, stat
def _channel_write(data):
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
"""


def _read(path: str) -> str:
    return f"""
def _read():
    try:
        return len(open({path!r}, "rb").read()) > 0
    except OSError:
        return False
_got = _read()"""


def _attacks(paths: dict[str, str]) -> dict[str, tuple[str, object, dict[str, str]]]:
    """name -> (lab, edit, the grades that differ from "passed")."""
    fails = {name: (ML, edit, {"nll": "failed"}) for name, edit in {
        "reads_the_secret": spoil_unless("nll", "_got", _read(paths["secret"])),
        "reads_the_manifest": spoil_unless("nll", "_got", _read(paths["manifest"])),
        "reads_a_classmates_notebook": spoil_unless("nll", "_got", _read(paths["classmate"])),
        "steals_the_graders_token": spoil_unless("nll", "_got", f"""
import glob, os
_got = {TOKEN!r} in os.environ.get("COURSE_GRADER_TOKEN", "") or any(
    {TOKEN!r}.encode() in open(p, "rb").read() for p in glob.glob("/proc/[0-9]*/environ")
    if os.access(p, os.R_OK))"""),
        "reaches_the_graders_loopback": spoil_unless("nll", "_got", f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {paths['port']}), timeout=3)
    _got = True
except OSError:
    _got = False"""),
        "reaches_the_network": spoil_unless("nll", "_got", f"""
import socket
try:
    socket.create_connection(({paths['host_ip']!r}, {paths['port']}), timeout=3)
    _got = True
except OSError:
    _got = False"""),
        "plants_a_pth_and_a_course_module": spoil_unless("nll", "_got", f"""
_got = False
for _path in ({paths['site'] + '/zz_redteam.pth'!r}, {paths['course'] + '/utils/zz_redteam.py'!r},
              {paths['course'] + '/sitecustomize.py'!r}):
    try:
        open(_path, "w").write("import os")
        _got = True
    except OSError:
        pass
import os
os.makedirs(os.path.expanduser("~/.local/lib/python3.11/site-packages"), exist_ok=True)
_user_site = os.path.expanduser("~/.local/lib/python3.11/site-packages")
open(_user_site + "/zz.pth", "w").write("import os")"""),
        "shadows_course_modules_in_its_folder": compose(insert_after("nll", """
import os
os.makedirs("utils/checks", exist_ok=True)
for name in ("utils/__init__.py", "utils/checks/__init__.py"):
    open(name, "w").close()
open("utils/checks/maximum_likelihood.py", "w").write("EXERCISES = {}\\n")
open("numpy.py", "w").write("raise SystemExit('shadowed')\\n")
open("sitecustomize.py", "w").write("import os\\n")"""), spoil_unless("nll", "False")),
        "patches_the_checks_inside_its_function": spoil_unless("nll", "_patch()", """
def _patch():
    import utils.checks._core as core, utils.checks._plain as plain
    import utils.checks.maximum_likelihood as checks
    for exercise in checks.EXERCISES.values():
        object.__setattr__(exercise, "judge", lambda case, output: None)
    core.judge_case = lambda *a, **k: None
    plain.loads = lambda data, **k: None
    return False"""),
        "poisoned_pickle_as_its_function": replace("nll", f"""
import os
class _Nll:
    def __reduce__(self):
        return (os.system, ("touch {paths['marker']}",))
    def __call__(self, logits, targets):
        return 0.0
nll = _Nll()"""),
        "poisoned_object_as_its_result": replace("nll", f"""
import os
class _Evil(float):
    def __reduce__(self):
        return (os.system, ("touch {paths['marker']}",))
def nll(logits, targets):
    return [_Evil(1.0), lambda: None]"""),
        "result_nested_too_deep": replace("nll", """
def nll(logits, targets):
    out = 0.0
    for _ in range(100000):
        out = [out]
    return out"""),
    }.items()}
    return {
        **fails,
        "patches_the_checks_top_level": (ML, DEMO_KINDS["patches_the_checks"], {"nll": "failed"}),
        "hard_coded_for_its_handed_out_seed": (ML, DEMO_KINDS["hard_coded_for_its_seed"],
                                               {"nll": "failed"}),
        "zeroes_its_input_in_place": (ML, DEMO_KINDS["edits_its_input"],
                                      {"perplexity": "failed"}),
        "flattens_its_counts_in_place": (ML, replace("bigram_mle", """
def bigram_mle(counts):
    counts.fill_(1.0)
    return counts / counts.sum(-1, keepdim=True)"""), {"bigram_mle": "failed"}),
        "non_json_line": (ML, prepend("nll", _WRITE_CHANNEL + "_channel_write(b'oops\\n')"),
                          dict.fromkeys(EXERCISES[ML], "tampered")),
        "forged_passed_line": (ML, DEMO_KINDS["forged_result_line"],
                               dict.fromkeys(EXERCISES[ML], "tampered")),
        "forged_last_line_early": (ML, prepend("nll", _WRITE_CHANNEL + "_channel_write("
                                               "b'{\"exercise\":\"\",\"status\":\"done\"}\\n')"),
                                   dict.fromkeys(EXERCISES[ML], "tampered")),
        "forged_results_for_an_exercise": (ML, prepend("nll", _WRITE_CHANNEL + "_channel_write("
                                           "b'{\"exercise\":\"ece\",\"status\":\"ran\","
                                           "\"results\":[]}\\n')"),
                                           dict.fromkeys(EXERCISES[ML], "tampered")),
        "floods_the_result_channel": (ML, prepend("nll", _WRITE_CHANNEL
                                                  + "_channel_write(b'x' * 6 * 2**20)"),
                                      dict.fromkeys(EXERCISES[ML], "tampered")),
        "floods_stdout_and_stderr": (ML, prepend("nll", """import sys
for _ in range(50):
    print("x" * 2**20)
    print("y" * 2**20, file=sys.stderr)"""), {}),
        "forges_a_line_at_exit": (ML, prepend("nll", _WRITE_CHANNEL + """import atexit
atexit.register(_channel_write, b'{"exercise":"nll","status":"passed"}\\n')"""), {}),
        "detached_grandchildren": (ML, prepend("nll", f"""import os, subprocess, time
subprocess.Popen(["sh", "-c", "sleep 3; touch {paths['marker']}"], start_new_session=True)
if os.fork() == 0:  # keeps the result channel open, as a daemon
    os.setsid()
    time.sleep(600)
    os._exit(0)"""), {}),
        "rewrites_the_gradebook_later": (ML, prepend("nll", f"""import subprocess
subprocess.Popen(["sh", "-c", "sleep 4; echo forged > {paths['gradebook']}"],
                 start_new_session=True)"""), {}),
        "fork_bomb": (ML, prepend("nll", """import os
while True:
    try:
        os.fork()
    except OSError:
        pass"""), dict.fromkeys(EXERCISES[ML], "timed out")),
        "writes_a_huge_file": (ML, prepend("ece", """with open("huge.bin", "wb") as f:
    for _ in range(4096):
        f.write(b"0" * 2**20)"""), {"ece": "crashed"}),
        "exits_inside_its_function": (ML, append("import os\ndef ece(*args):\n    os._exit(3)"),
                                      {"ece": "crashed"}),
        "loops_forever_inside_its_function": (ML, append("def ece(*args):\n"
                                                         "    while True:\n        pass"),
                                              {"ece": "timed out"}),
        "memory_hog": (ML, DEMO_KINDS["memory_hog"], {"perplexity": "crashed"}),
        # lab 04: the library's attention is forbidden
        "calls_the_forbidden_attention": (TRANSFORMER, replace("causal_attention", """
import torch
def causal_attention(q, k, v):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)"""),
                                          {"causal_attention": "failed"}),
        "calls_it_through_an_alias": (TRANSFORMER, replace("causal_attention", """
from torch.nn.functional import scaled_dot_product_attention as _sdpa
def causal_attention(q, k, v):
    return _sdpa(q, k, v, is_causal=True)"""), {"causal_attention": "failed"}),
        "switches_off_the_forbid_hook": (TRANSFORMER, replace("causal_attention", """
import sys, threading, torch
def causal_attention(q, k, v):
    sys.setprofile(None)
    threading.setprofile(None)
    return torch._C._nn.scaled_dot_product_attention(q, k, v, is_causal=True)"""),
                                         {"causal_attention": "tampered"}),
        "zeroes_q_k_v_in_place": (TRANSFORMER, replace("causal_attention", """
def causal_attention(q, k, v):
    for t in (q, k, v):
        t.zero_()
    return v.clone()"""), {"causal_attention": "failed"}),
        "transformer_control": (TRANSFORMER, lambda nb: None, {}),
        # lab 06: fairlearn and the course's own metrics are forbidden
        "calls_fairlearn": (FAIRNESS, insert_after("equalized_odds_difference", """
import fairlearn.metrics as _fm
def demographic_parity_difference(y_true, y_pred, *, sensitive_features):
    return _fm.demographic_parity_difference(y_true, y_pred,
                                             sensitive_features=sensitive_features)"""),
                            {"group_differences": "failed"}),
        "patches_the_fairness_checks": (FAIRNESS, spoil_unless("gap", "_patch()", """
def _patch():
    import utils.checks.fairness as checks
    for exercise in checks.EXERCISES.values():
        object.__setattr__(exercise, "judge", lambda case, output: None)
    return False"""), {"gap": "failed"}),
        "fairness_non_json_line": (FAIRNESS, prepend("gap", _WRITE_CHANNEL
                                                     + "_channel_write(b'\\x00\\xff\\n')"),
                                   dict.fromkeys(EXERCISES[FAIRNESS], "tampered")),
        "fairness_control": (FAIRNESS, lambda nb: None, {}),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redteam")
    secret_file = folder / "secret"
    secret_file.write_bytes(SECRET)
    out = folder / "report"
    server = socket.create_server(("0.0.0.0", 0))
    port = server.getsockname()[1]
    host_ip = next((a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
                    if not a[4][0].startswith("127.")), "127.0.0.1")
    paths = {"secret": str(secret_file), "port": port, "host_ip": host_ip,
             "manifest": str(folder / "handed_out" / ML / "manifest.csv"),
             "classmate": str(folder / "submissions" / "transformer_control"
                              / f"{TRANSFORMER}.ipynb"),
             "gradebook": str(out / "gradebook.csv"), "marker": str(folder / "pwned"),
             "site": site.getsitepackages()[0], "course": str(Path(__file__).parents[1])}
    attacks = _attacks(paths)
    kinds = {name: (lab, edit) for name, (lab, edit, _) in attacks.items()}
    submissions, manifest, labs = make_class(folder, kinds, SECRET)
    os.environ["COURSE_GRADER_TOKEN"] = TOKEN
    try:
        start = time.monotonic()
        rows = grade_submissions(submissions, manifest, secret=SECRET, workers=2, limits=LIMITS,
                                 hide=[folder / "handed_out", secret_file, out])
        seconds = time.monotonic() - start
    finally:
        del os.environ["COURSE_GRADER_TOKEN"]
        server.close()
    gradebook = write_gradebook(rows, out / "gradebook.csv")
    write_html_report(rows, out / "report.html")
    written = gradebook.read_bytes()
    time.sleep(6)  # longer than any delayed attack waits
    return {"rows": rows, "attacks": attacks, "folder": folder, "paths": paths,
            "gradebook": gradebook, "written": written, "seconds": seconds}


def test_there_are_enough_attacks_across_three_labs(graded):
    attacks = graded["attacks"]
    assert len(attacks) >= 25
    assert {lab for lab, _, _ in attacks.values()} == {ML, TRANSFORMER, FAIRNESS}


def test_every_submission_gets_exactly_its_expected_grades(graded):
    got = {}
    for r in graded["rows"]:
        got.setdefault(r.student_id, {})[r.exercise] = r.status
    expected = {name: {**dict.fromkeys(EXERCISES[lab], "passed"), **grades}
                for name, (lab, _, grades) in graded["attacks"].items()}
    wrong = {name: {e: (got[name][e], s) for e, s in grades.items() if got[name][e] != s}
             for name, grades in expected.items()}
    assert {name: diff for name, diff in wrong.items() if diff} == {}


def test_hard_coded_answers_pass_the_handed_out_cases_and_fail_the_hidden_ones(graded):
    row = next(r for r in graded["rows"]
               if r.student_id == "hard_coded_for_its_handed_out_seed" and r.exercise == "nll")
    assert (row.handed_out, row.hidden) == ("passed", "failed")
    assert "hidden case" in row.message


def test_nothing_outside_the_sandbox_was_touched(graded):
    paths = graded["paths"]
    assert not Path(paths["marker"]).exists()  # no pickle ran, no grandchild survived
    assert graded["gradebook"].read_bytes() == graded["written"]
    assert not Path(paths["site"], "zz_redteam.pth").exists()
    assert not Path(paths["course"], "utils", "zz_redteam.py").exists()
    assert not Path(paths["course"], "sitecustomize.py").exists()
    assert not Path("/tmp/huge.bin").exists()


def test_the_report_lists_tampering_apart(graded):
    with open(graded["gradebook"], newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert {r["student_id"] for r in table if r["status"] == "tampered"} >= {
        "non_json_line", "forged_passed_line", "floods_the_result_channel"}
    page = (graded["folder"] / "report" / "report.html").read_text()
    tampering = page.split("<h2>Tampering</h2>")[1].split("<h2>")[0]
    assert "forged_passed_line" in tampering and "fairness_control" not in tampering


def test_the_demo_class_expects_what_the_red_team_checks():
    assert DEMO_EXPECTED["forged_result_line"] == dict.fromkeys(EXERCISES[ML], "tampered")
    assert DEMO_EXPECTED["hard_coded_for_its_seed"]["nll"] == "failed"
