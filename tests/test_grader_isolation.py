"""The grader's sandbox on its own: each property of the isolation, probed by code run inside it.

Every probe runs ``python -I -c CODE`` through `utils.teaching.isolate.run_isolated`,
exactly as a submission is run, and reports what it could see or do as one JSON
line. A property that fails shows up as a probe that succeeded.
"""

import json
import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from utils.teaching import isolate
from utils.teaching.isolate import IsolationUnavailable, Limits, isolation_mode, run_isolated

pytestmark = pytest.mark.skipif(isolation_mode() == "none",
                                reason="needs root or user namespaces to isolate")
FAST = Limits(timeout_s=20, memory_mb=1024)


def probe(code: str, limits: Limits = FAST, hide: list[Path] = (), stdin: bytes = b"") -> dict:
    outcome = run_isolated(["-c", textwrap.dedent(code)], stdin, limits, list(hide))
    assert not outcome.timed_out and not outcome.oversized, outcome
    return json.loads(outcome.stdout.decode().strip().splitlines()[-1])


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                found.append(int(entry))
        except FileNotFoundError:
            pass
    return found


def test_a_fresh_empty_folder_and_an_import_path_without_it(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/planted")
    seen = probe("""
        import json, os, sys, site
        print(json.dumps({"cwd": os.getcwd(), "files": os.listdir("."), "path": sys.path,
                          "user_site": site.ENABLE_USER_SITE, "isolated": sys.flags.isolated}))
    """)
    assert seen["files"] == [] and seen["isolated"] == 1
    assert seen["cwd"] not in seen["path"] and "" not in seen["path"]
    assert "/somewhere/planted" not in seen["path"] and seen["user_site"] is False
    assert any(p.endswith("site-packages") for p in seen["path"])


def test_the_environment_is_scrubbed_and_home_is_the_scratch_folder(monkeypatch):
    monkeypatch.setenv("COURSE_GRADER_TOKEN", "ghp_not_for_students")
    seen = probe("""
        import json, os, glob
        environs = b"".join(open(p, "rb").read() for p in glob.glob("/proc/[0-9]*/environ"))
        print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd(),
                          "anywhere": b"ghp_not_for_students" in environs}))
    """)
    assert "COURSE_GRADER_TOKEN" not in seen["env"] and not seen["anywhere"]
    assert seen["env"]["HOME"] == seen["cwd"]
    assert set(seen["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "MPLBACKEND",
                                "OMP_NUM_THREADS", "MKL_NUM_THREADS", "COURSE_CACHE_DIR"}


def test_an_unprivileged_user_who_cannot_see_the_graders_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("the instructor's secret")
    folder = tmp_path / "submissions"
    (folder / "classmate").mkdir(parents=True)
    (folder / "classmate" / "lab.ipynb").write_text("{}")
    seen = probe(f"""
        import json, os, site
        def attempt(action):
            try:
                return action()
            except OSError as error:
                return type(error).__name__
        venv = site.getsitepackages()[0]
        print(json.dumps({{
            "uid": os.getuid(), "euid": os.geteuid(),
            "secret": attempt(lambda: open({str(secret)!r}).read()),
            "classmates": attempt(lambda: os.listdir({str(folder)!r})),
            "root_home": attempt(lambda: sorted(os.listdir("/root"))),
            "pth": attempt(lambda: open(venv + "/zz_planted.pth", "w").write("import os")),
            "course": attempt(lambda: open({str(isolate.COURSE_ROOT)!r} + "/utils/x.py", "w")),
        }}))
    """, hide=[secret, folder])
    if isolation_mode() == "root":
        assert seen["uid"] == seen["euid"] and seen["uid"] >= isolate.UID_BASE
    assert seen["secret"] in ("", "PermissionError", "FileNotFoundError")
    assert seen["classmates"] in ([], "PermissionError", "FileNotFoundError")
    assert ".ssh" not in seen["root_home"] and ".bash_history" not in seen["root_home"]
    assert seen["pth"] in ("PermissionError", "OSError") or "Errno" in str(seen["pth"])
    assert seen["course"] in ("PermissionError", "OSError")
    assert not any(Path(p).name == "zz_planted.pth" for p in os.sys.path)


def test_no_network_not_even_the_graders_loopback():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        seen = probe(f"""
            import json, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                result = "connected"
            except OSError as error:
                result = type(error).__name__
            print(json.dumps({{"result": result}}))
        """)
    finally:
        server.close()
    assert seen["result"] != "connected"


def test_detached_grandchildren_die_with_the_phase():
    start = time.monotonic()
    outcome = run_isolated(["-c", textwrap.dedent("""
        import os, subprocess, sys
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        if os.fork() == 0:  # a double fork that keeps the result channel open
            os.setsid()
            if os.fork() == 0:
                import time
                time.sleep(300)
            os._exit(0)
        print(os.getuid(), flush=True)
    """)], b"", FAST)
    assert time.monotonic() - start < 15 and not outcome.timed_out
    uid = int(outcome.stdout.split()[0])
    time.sleep(0.5)
    assert _processes_of(uid) == [] or isolation_mode() != "root"


def test_a_phase_that_runs_too_long_is_killed_with_everything_it_started():
    start = time.monotonic()
    outcome = run_isolated(["-c", "import subprocess, os\nprint(os.getuid(), flush=True)\n"
                                  "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
                                  "while True: pass"], b"", Limits(timeout_s=3))
    assert outcome.timed_out and time.monotonic() - start < 10
    time.sleep(0.5)
    if isolation_mode() == "root":
        assert _processes_of(int(outcome.stdout.split()[0])) == []


def test_output_is_read_only_up_to_its_cap():
    outcome = run_isolated(["-c", "import os\nwhile True: os.write(1, b'x' * 65536)"], b"",
                           Limits(timeout_s=20, output_mb=1))
    assert outcome.oversized and not outcome.timed_out and len(outcome.stdout) <= 2**20


def test_limits_on_processes_file_size_and_memory():
    seen = probe("""
        import json, os, signal, subprocess
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        started = 0
        try:
            for _ in range(200):
                subprocess.Popen(["sleep", "30"])
                started += 1
        except OSError:
            pass
        try:
            with open("big", "wb") as f:
                for _ in range(100):
                    f.write(b"0" * 2**20)
            big = "written"
        except OSError as error:
            big = error.errno
        try:
            hog = bytearray(8 * 2**30)
            memory = "allocated"
        except MemoryError:
            memory = "MemoryError"
        print(json.dumps({"started": started, "big": big, "memory": memory}))
    """, Limits(timeout_s=20, memory_mb=1024, processes=16, file_mb=8))
    assert seen["started"] < 16
    assert seen["big"] == 27  # EFBIG: File too large
    assert seen["memory"] == "MemoryError"


def test_nothing_a_phase_writes_survives_into_the_next():
    write = probe("""
        import json, os
        for place in (".", "/tmp", "/dev/shm", "/var/tmp", os.environ["HOME"]):
            try:
                open(os.path.join(place, "left_behind.py"), "w").write("print('planted')")
            except OSError:
                pass
        print(json.dumps({"done": True}))
    """)
    assert write["done"]
    seen = probe("""
        import json, os
        print(json.dumps({"found": [p for p in (".", "/tmp", "/dev/shm", "/var/tmp")
                                    if os.path.exists(os.path.join(p, "left_behind.py"))]}))
    """)
    assert seen["found"] == []
    assert not Path("/tmp/left_behind.py").exists() and not Path("/var/tmp/left_behind.py").exists()


def test_without_root_or_user_namespaces_the_grader_refuses(monkeypatch):
    monkeypatch.setattr(isolate, "isolation_mode", lambda: "none")
    with pytest.raises(IsolationUnavailable, match="allow-same-user"):
        run_isolated(["-c", "pass"], b"", FAST)
