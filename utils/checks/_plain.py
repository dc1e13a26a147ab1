"""Plain data for checks: the only form in which cases go into, and results come out of, a sandbox.

Plain means None, bool, int, float (nan and inf allowed), str, lists, dicts with
str keys and numpy arrays of a numeric or bool dtype. `dumps` writes JSON with
each array as ``{"__ndarray__": base64 bytes, "dtype": ..., "shape": [...]}``;
`loads` reads it back and refuses anything else with `ValueError`. There is no
pickle anywhere: reading a result can never run code. Used by the exercise
checks of every lab and by the grader.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np

from utils.i18n import _

__all__ = ["MAX_BYTES", "dumps", "loads", "to_plain"]

MAX_BYTES = 256 * 2**20  # a lab-05 model state is a few MB; anything this large is an attack
_MAX_DEPTH = 32
_ARRAY_KEY = "__ndarray__"
# Little-endian, fixed-size dtypes only: no objects, strings, structured or complex arrays.
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64")}


# ------------------------------------------------------------------------------- writing
def to_plain(value: Any) -> Any:
    """Turn what a student's function returned into plain data (tensors become numpy arrays).

    Raises `TypeError` for anything that has no plain form (a module, a function, ...).
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biuf" else _refuse(value)
    if isinstance(value, np.ndarray):
        return _check_array(value)
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(_("a dict with keys that are not strings"))
        return {key: to_plain(item) for key, item in value.items()}
    import torch  # only here: plain data itself does not need torch

    if isinstance(value, torch.Size):
        return [int(n) for n in value]
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.is_complex():
            _refuse(value)
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
            tensor = tensor.float()
        return _check_array(tensor.numpy().copy())
    return _refuse(value)


def _refuse(value: Any) -> Any:
    raise TypeError(_("a {error_type}, which is not a number, string, array or tensor").format(
        error_type=type(value).__name__))


def _check_array(array: np.ndarray) -> np.ndarray:
    if array.dtype.name not in _DTYPES:
        raise TypeError(_("an array of dtype {dtype}, not numbers").format(dtype=array.dtype))
    return array


def _encode(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise TypeError(_("data nested too deeply"))
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _encode(to_plain(value), depth)
    if isinstance(value, int | float):
        return value
    if isinstance(value, np.ndarray):
        array = _check_array(value).astype(_DTYPES[value.dtype.name], order="C")
        return {_ARRAY_KEY: base64.b64encode(array.tobytes()).decode("ascii"),
                "dtype": value.dtype.name, "shape": list(array.shape)}
    if isinstance(value, list | tuple):
        return [_encode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(_("dict keys must be strings"))
        if _ARRAY_KEY in value:
            raise TypeError(_("the key {array_key!r} is reserved for arrays").format(
                array_key=_ARRAY_KEY))
        return {key: _encode(item, depth + 1) for key, item in value.items()}
    raise TypeError(_("{error_type} is not plain data").format(error_type=type(value).__name__))


def dumps(obj: Any) -> bytes:
    """Plain data as JSON bytes (arrays base64-encoded); `TypeError` for anything else."""
    return json.dumps(_encode(obj), allow_nan=True, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------------------- reading
def _constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def loads(data: bytes, *, max_bytes: int = MAX_BYTES) -> Any:
    """Read what `dumps` wrote, validating every value; `ValueError` on anything else."""
    if not isinstance(data, bytes | bytearray):
        raise ValueError(_("expected bytes, got {error_type}").format(
            error_type=type(data).__name__))
    if len(data) > max_bytes:
        raise ValueError(_("{size} bytes is more than the limit of {max_bytes}").format(
            size=len(data), max_bytes=max_bytes))
    try:
        raw = json.loads(bytes(data).decode("utf-8"), parse_constant=_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(_("not plain data: {error_type}").format(
            error_type=type(error).__name__)) from None
    return _decode(raw, 0)


def _decode(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(_("data nested too deeply"))
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if _ARRAY_KEY in value:
            return _decode_array(value)
        return {key: _decode(item, depth + 1) for key, item in value.items()}
    raise ValueError(_("unexpected {error_type}").format(
        error_type=type(value).__name__))  # json.loads makes nothing else


def _decode_array(value: dict) -> np.ndarray:
    if set(value) != {_ARRAY_KEY, "dtype", "shape"}:
        raise ValueError(_("an array must have exactly the keys __ndarray__, dtype and shape"))
    encoded, dtype_name, shape = value[_ARRAY_KEY], value["dtype"], value["shape"]
    if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
        raise ValueError(_("dtype {dtype_name!r} is not allowed").format(dtype_name=dtype_name))
    if not isinstance(shape, list) or len(shape) > _MAX_DEPTH or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(_("bad array shape {shape!r}").format(shape=shape))
    if not isinstance(encoded, str):
        raise ValueError(_("array data must be a base64 string"))
    try:
        buffer = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(_("array data is not valid base64")) from None
    dtype = _DTYPES[dtype_name]
    if len(buffer) != math.prod(shape) * dtype.itemsize:
        raise ValueError(_("array data has {size} bytes, not what shape {shape} needs").format(
            size=len(buffer), shape=shape))
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)  # writable, native byte order
