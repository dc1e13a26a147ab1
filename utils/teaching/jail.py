"""Inside the grader's namespaces: hide the grader's files, drop every privilege, then exec.

Explained in the instructor's guide (the threat model). `utils.teaching.isolate`
starts ``unshare --pid --fork --kill-child --mount --net --ipc -- python -I -m
utils.teaching.jail CONFIG``; this module then runs as process 1 of a new PID
namespace, still root there, and prepares what the submission will see:

- a private mount table: a fresh, empty ``/tmp`` (the only writable place, with
  the work folder in it), fresh ``/dev/shm`` and ``/var/tmp``, empty folders over
  ``/root``, ``/home`` and ``/run``, and over every path the grader names (the
  secret, the manifest, the submissions, the gradebook's folder);
- read-only views of what the sandbox needs: the interpreter, the virtual
  environment, the course's own code and its model cache;
- a ``/proc`` that shows only the namespace's own processes;

then sets the resource limits, forbids gaining privileges (``no_new_privs``,
an empty capability bounding set), switches to the unprivileged user the grader
chose and replaces itself with the sandbox program. It imports only the
standard library, and nothing of the submission exists yet when it runs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
from pathlib import Path

__all__: list[str] = []

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_ST_RELATIME = 4096
_MNT_DETACH = 2
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP = 38, 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_STAGE = "/dev/shm"  # where the views are staged before the folders above them are hidden

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags),
                       _bytes(data)), f"mount {target}")


def _tmpfs(target: str, mode: str, size: str) -> None:
    _mount("tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode={mode},size={size}")


def _locked_flags(path: str) -> int:
    """The flags a read-only remount must keep (a user namespace may not clear them)."""
    flag = os.statvfs(path).f_flag
    kept = flag & (_MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_NOATIME | _MS_NODIRATIME)
    return kept | (_MS_RELATIME if flag & _ST_RELATIME else 0)


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, _MS_BIND | _MS_REC)
    _mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _locked_flags(target))


def _make_place(target: str, like: str) -> None:
    """A file or folder at ``target`` to mount on (inside a tmpfs that hides its parent)."""
    if os.path.lexists(target):
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(like):
        os.mkdir(target)
    else:
        open(target, "w").close()


def _depth(path: str) -> int:
    return len(Path(path).parts)


def prepare_mounts(hide: list[str], expose: list[str]) -> None:
    """Hide ``hide`` (and the usual shared places); show ``expose`` again, read-only."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing here leaks back to the host
    hide = [p for p in dict.fromkeys([*hide, "/root", "/home", "/run", "/var/tmp"])
            if os.path.lexists(p)]
    expose = [p for p in dict.fromkeys(expose) if os.path.exists(p)]
    _tmpfs(_STAGE, "0700", "1m")
    staged = {}
    for index, path in enumerate(expose):  # keep a handle on each view before hiding
        staged[path] = f"{_STAGE}/{index}"
        _make_place(staged[path], path)
        _mount(path, staged[path], None, _MS_BIND | _MS_REC)
    _tmpfs("/tmp", "0755", "512m")
    steps = sorted([(p, "hide") for p in hide] + [(p, "expose") for p in expose],
                   key=lambda step: (_depth(step[0]), step[1] == "expose"))
    for path, kind in steps:
        if kind == "hide" and not os.path.lexists(path):
            continue  # under a folder hidden already (/tmp, /root, ...)
        if kind == "hide":
            if os.path.isdir(path):
                _tmpfs(path, "0755", "1m")
            else:
                _mount("/dev/null", path, None, _MS_BIND)
        else:
            _make_place(path, staged[path])
            _bind_read_only(staged[path], path)
    _check(_libc.umount2(_STAGE.encode(), _MNT_DETACH), "umount stage")
    _tmpfs(_STAGE, "1777", "64m")
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def set_limits(limits: dict[str, int]) -> None:
    """Hard resource limits (they survive exec and bind every child)."""
    names = {"memory_bytes": resource.RLIMIT_AS, "cpu_s": resource.RLIMIT_CPU,
             "processes": resource.RLIMIT_NPROC, "file_bytes": resource.RLIMIT_FSIZE,
             "open_files": resource.RLIMIT_NOFILE, "core_bytes": resource.RLIMIT_CORE}
    for name, value in limits.items():
        resource.setrlimit(names[name], (value, value))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """No capabilities after exec, no way to gain any, then (as root) another user."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    cap = 0
    while _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:  # until the kernel's last one
        cap += 1
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("could not switch to the sandbox user")


def main(config: dict) -> None:
    if config["mounts"]:
        prepare_mounts(config["hide"], config["expose"])
    workdir = config["workdir"]
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    if config["uid"] is not None:
        os.chown(workdir, config["uid"], config["gid"])
    os.chdir(workdir)
    set_limits(config["limits"])
    drop_privileges(config["uid"], config["gid"])
    os.closerange(3, 1 << 16)  # only stdin, the result channel and stderr go on
    os.execve(config["argv"][0], config["argv"], config["env"])


if __name__ == "__main__":
    try:
        main(json.loads(sys.argv[1]))
    except Exception as error:  # noqa: BLE001 - a failed set-up must never run the submission
        sys.stdout.write(f"jail: {type(error).__name__}: {error}\n")  # for the grader
        sys.stdout.flush()
        os._exit(125)
