"""Start one sandboxed process and get its output back, whatever the submission does.

Explained in the instructor's guide (the threat model). `run_isolated` runs
``python -I -m MODULE`` (isolated mode: no working folder on the import path,
no ``PYTHONPATH``, no user site) against the installed course package, behind
``utils.teaching.jail``: a new PID, mount, network and IPC namespace, a fresh
empty folder, the grader's files hidden, resource limits, no privileges and,
as root, an unprivileged user of its own. It writes the request to the
process's stdin, reads at most ``limits.output_mb`` of its stdout, and kills
the whole process tree when the phase ends, on time or not: the jail's
process is the namespace's process 1, and when it dies the kernel kills every
process left in the namespace, detached or not.

Without root, the same namespaces come from an unprivileged user namespace
where the kernel allows one; where neither works the grader refuses to run
submissions unless told to accept a same-user sandbox (a subreaper then kills
what is left).
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["IsolationUnavailable", "Limits", "Outcome", "isolation_mode", "run_isolated"]

COURSE_ROOT = Path(__file__).resolve().parents[2]
UID_BASE = 2**20  # sandbox users: UID_BASE + the grading process's pid (no account, no home)
_PR_SET_CHILD_SUBREAPER = 36


class IsolationUnavailable(RuntimeError):
    """Neither root nor user namespaces: the grader will not run student code here."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed phase may use."""

    timeout_s: float = 120.0  # wall clock for the whole phase
    memory_mb: int = 4096  # address space of each process
    processes: int = 32  # processes and threads of the sandbox user
    file_mb: int = 64  # largest file it may write
    open_files: int = 256
    output_mb: int = 64  # result channel; more is tampering
    cut_network: bool = True
    allow_same_user: bool = False  # without root or user namespaces: run as the grader anyway?


@dataclass(frozen=True)
class Outcome:
    """What came back from one phase."""

    stdout: bytes
    returncode: int | None
    timed_out: bool
    oversized: bool
    seconds: float


@cache
def isolation_mode() -> str:
    """``"root"``, ``"userns"`` (unprivileged user namespaces) or ``"none"``."""
    if shutil.which("unshare") is None:
        return "none"
    base = ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--net", "--ipc"]
    if os.geteuid() == 0 and subprocess.run([*base, "true"], capture_output=True).returncode == 0:
        return "root"
    probe = ["unshare", "--user", "--map-root-user", *base[1:], "true"]
    return "userns" if subprocess.run(probe, capture_output=True).returncode == 0 else "none"


def _sandbox_user() -> tuple[int, int]:
    """An unused uid, one per grading process, so two sandboxes never share one."""
    uid = UID_BASE + os.getpid()
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return uid, uid
    raise IsolationUnavailable(f"uid {uid} belongs to an account; set another UID_BASE")


def _cache_dir() -> Path | None:
    from utils.lm.cache import cache_dir

    folder = cache_dir()
    return folder if folder.is_dir() else None


def _environment(workdir: str, cache: Path | None) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's (no tokens), HOME in the scratch folder."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "COURSE_CACHE_DIR": str(cache) if cache else
            f"{workdir}/.cache"}


def _command(program: list[str], hide: list[Path], limits: Limits, scratch: str | None
             ) -> list[str]:
    mode = isolation_mode()
    if mode == "none" and not limits.allow_same_user:
        raise IsolationUnavailable(
            "this machine offers neither root nor user namespaces, so a submission would run "
            "as the grader's own user with the network open; pass --allow-same-user to accept")
    workdir = "/tmp/work" if mode != "none" else scratch
    uid = gid = None
    if mode == "root":
        uid, gid = _sandbox_user()
    cache = _cache_dir()
    python = str(Path(sys.executable))
    config = {
        "argv": [python, "-I", *program], "env": _environment(workdir, cache), "uid": uid,
        "gid": gid, "mounts": mode != "none", "workdir": workdir,
        "hide": [str(Path(p).resolve()) for p in hide],
        "expose": [sys.base_prefix, sys.prefix, str(COURSE_ROOT), *([str(cache)] if cache else [])],
        "limits": {"memory_bytes": limits.memory_mb * 2**20,
                   "cpu_s": int(limits.timeout_s) + 5, "processes": limits.processes,
                   "file_bytes": limits.file_mb * 2**20, "open_files": limits.open_files,
                   "core_bytes": 0},
    }
    jail = [python, "-I", "-m", "utils.teaching.jail", json.dumps(config)]
    namespaces = ["--pid", "--fork", "--kill-child", "--mount", "--ipc"]
    if limits.cut_network:
        namespaces.append("--net")
    if mode == "root":
        return ["unshare", *namespaces, "--", *jail]
    if mode == "userns":
        return ["unshare", "--user", "--map-root-user", *namespaces, "--", *jail]
    return jail


def _become_subreaper() -> None:
    """Orphans of a sandbox become our children, so we can find, kill and reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _kill_children() -> None:
    """Kill every process whose parent is this one, until none is left (subreaper mode)."""
    me = str(os.getpid())
    for _ in range(50):
        children = []
        for entry in os.listdir("/proc"):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except (OSError, ValueError):
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                children.append(int(entry))
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _uid_of(command: list[str]) -> int | None:
    """The sandbox user's uid, from the jail's configuration (None: not a user of its own)."""
    for arg in command:
        if arg.startswith("{"):
            return json.loads(arg)["uid"]
    return None


def _wait_until_gone(init: list[int], uid: int | None, seconds: float = 10.0) -> None:
    """Return once the namespace's processes have died (the kernel kills them asynchronously);
    as root, also kill anything still running as the sandbox's own uid."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in init:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        alive = [pid for pid in init if Path(f"/proc/{pid}").exists()
                 and "State:\tZ" not in _status(pid)]
        if uid is not None:
            alive += _processes_of(uid)
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "State:\tZ"


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid \
                    and "State:\tZ" not in _status(int(entry)):
                found.append(int(entry))
        except OSError:
            pass
    return found


def _feed(process: subprocess.Popen, data: bytes) -> None:
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the sandbox stopped reading: its output says what happened


def run_isolated(program: list[str], request: bytes, limits: Limits, hide: list[Path] = ()
                 ) -> Outcome:
    """Run ``python -I PROGRAM...`` isolated, REQUEST on its stdin; never hangs, and never
    raises for anything the submission does.

    ``program`` is, e.g., ``["-m", "utils.teaching.sandbox"]``. ``hide``: the grader's
    files and folders, which the sandbox must not see.
    """
    same_user = isolation_mode() == "none"
    scratch = tempfile.mkdtemp(prefix="sandbox-") if same_user else None
    command = _command(program, list(hide), limits, scratch)
    _become_subreaper()  # orphans come back to us: reaped here, not left as zombies
    start = time.monotonic()
    deadline = start + limits.timeout_s
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env=_environment("/tmp", None), cwd="/")
    feeder = threading.Thread(target=_feed, args=(process, request), daemon=True)
    feeder.start()
    chunks, size, cap = [], 0, limits.output_mb * 2**20
    timed_out = oversized = False
    stream = process.stdout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([stream], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(stream.fileno(), 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                oversized = True
                break
            chunks.append(chunk)
        if not (timed_out or oversized):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        init = _children(process.pid)
        try:  # the whole tree, every time: unshare, the namespace's process 1 and all below it
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.kill()
        process.wait()
        stream.close()
        _wait_until_gone(init, _uid_of(command))
        if same_user:
            _kill_children()
            shutil.rmtree(scratch, ignore_errors=True)
    return Outcome(b"".join(chunks), process.returncode, timed_out, oversized,
                   time.monotonic() - start)
