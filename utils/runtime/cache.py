"""A small on-disk cache of trained weights, keyed by the configuration that made them.

Explained in chapter 4. ``utils.runtime.run.cached_run`` stores every trained
model of the course here: ``load_or_create(key, train)`` trains and saves on the
first call and loads in a second afterwards. Files are written atomically and
checked with a SHA-256 checksum, so an interrupted or damaged file is noticed
and rebuilt, and a lock file makes two notebooks that ask at once train only once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None

__all__ = ["FORMAT_VERSION", "cache_dir", "config_key", "load_or_create"]

# The one format version of the cache. Bump when the file layout or the metadata's
# meaning changes: older files then read as stale and are retrained. (A change of
# training recipe bumps the run configuration's own ``version`` instead.)
# 2: the metadata is a ``utils.runtime.run.TrainingRecord``.
FORMAT_VERSION = 2
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Without fcntl, a lock file older than this is taken to be left by a crashed process.
_STALE_LOCK_S = 1800.0

StateDict = dict[str, torch.Tensor]


class _Unusable(Exception):
    """A cached file that exists but cannot be used; ``kind`` is 'corrupt' or 'stale'."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def cache_dir() -> Path:
    """The cache folder: ``$COURSE_CACHE_DIR``, else ``~/.cache/foundation-models-hands-on``.

    Explained in chapter 4.
    """
    env = os.environ.get("COURSE_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "foundation-models-hands-on"


def _canonical(obj: Any) -> Any:
    """A JSON-ready copy of ``obj`` whose serialisation does not depend on field order."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        # The class name keeps two configs with equal fields but different meaning apart.
        return {"__class__": type(obj).__name__, **fields}
    if isinstance(obj, Mapping):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("config_key needs string keys in every mapping")
        return {k: _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"config_key cannot hash a {type(obj).__name__}; use dataclasses, dicts, "
                    "lists and plain numbers or strings")


def config_key(obj: Any) -> str:
    """A short hex SHA-256 of the canonical JSON of a dataclass, dict or list of them.

    Explained in chapter 4. Equal configurations give equal keys, whatever the
    order of dictionary keys.
    """
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either its old content or all of the new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    # Make the rename itself durable; not every platform can open a folder.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` across processes (fcntl, else an O_EXCL lock file)."""
    if _fcntl is not None:
        with open(path, "a+b") as f:
            _fcntl.flock(f.fileno(), _fcntl.LOCK_EX)
            try:
                yield
            finally:
                _fcntl.flock(f.fileno(), _fcntl.LOCK_UN)
        return
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - path.stat().st_mtime > _STALE_LOCK_S:
                    os.remove(path)
                    continue
            time.sleep(0.05)
    try:
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _load(pt_path: Path, meta_path: Path, key: str, version: int) -> tuple[StateDict, dict]:
    """Load and verify one cache entry; raises FileNotFoundError or _Unusable."""
    if not pt_path.exists():
        raise FileNotFoundError(pt_path)
    try:
        sidecar = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Unusable("corrupt", f"its checksum file {meta_path.name} is missing") from None
    except (OSError, ValueError) as err:
        raise _Unusable("corrupt", f"its checksum file is unreadable: {err}") from None
    if not isinstance(sidecar, dict):
        raise _Unusable("corrupt", "its checksum file is not a JSON object")
    if sidecar.get("key") != key or sidecar.get("version") != version:
        raise _Unusable("stale", f"it was written for key={sidecar.get('key')!r}, "
                        f"version={sidecar.get('version')!r}, not key={key!r}, version={version}")
    data = pt_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sidecar.get("sha256"):
        raise _Unusable("corrupt", "its SHA-256 checksum does not match")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise _Unusable("corrupt", f"torch.load failed: {err}") from None
    stamp = (payload.get("key"), payload.get("version")) if isinstance(payload, dict) else None
    if stamp != (key, version):
        raise _Unusable("stale", "the weights file belongs to another key or version")
    return payload["state_dict"], sidecar.get("metadata", {})


def load_or_create(
    key: str,
    create_fn: Callable[[], StateDict | tuple[StateDict, dict]],
    *,
    version: int = FORMAT_VERSION,
    directory: str | Path | None = None,
) -> tuple[StateDict, dict]:
    """Return ``(state_dict, metadata)`` from ``<cache>/<key>.pt``, running ``create_fn`` if needed.

    Explained in chapter 4. ``create_fn`` returns a state dict, or a state dict
    and a JSON-serialisable metadata dict. A corrupt or stale file is reported
    with a warning and rebuilt; concurrent callers wait for one another, so the
    work is done once.
    """
    if not _KEY_RE.match(key):
        raise ValueError(f"cache key must be letters, digits, '.', '_' or '-'; got {key!r}")
    folder = Path(directory) if directory is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pt_path, meta_path = folder / f"{key}.pt", folder / f"{key}.json"
    # Fast path without the lock: a finished entry is never modified in place.
    with contextlib.suppress(FileNotFoundError, _Unusable):
        return _load(pt_path, meta_path, key, version)
    with _exclusive_lock(folder / f"{key}.lock"):
        try:
            # Another process may have finished the entry while we waited for the lock.
            return _load(pt_path, meta_path, key, version)
        except FileNotFoundError:
            pass
        except _Unusable as err:
            warnings.warn(f"cached model {pt_path} is {err.kind} ({err.reason}); retraining",
                          RuntimeWarning, stacklevel=2)
        result = create_fn()
        state_dict, metadata = result if isinstance(result, tuple) else (result, {})
        state_dict = {name: t.detach().cpu().clone() for name, t in state_dict.items()}
        try:
            meta_json = json.dumps(metadata, sort_keys=True)
        except TypeError as err:
            raise TypeError(f"create_fn's metadata must be JSON-serialisable: {err}") from None
        buffer = io.BytesIO()
        torch.save({"key": key, "version": version, "state_dict": state_dict}, buffer)
        data = buffer.getvalue()
        _write_atomic(pt_path, data)
        sidecar = {"key": key, "version": version, "sha256": hashlib.sha256(data).hexdigest(),
                   "size": len(data), "metadata": json.loads(meta_json)}
        _write_atomic(meta_path, json.dumps(sidecar, indent=1, sort_keys=True).encode("utf-8"))
    return state_dict, json.loads(meta_json)
