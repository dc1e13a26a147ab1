"""The shared machinery of checks: plain data in and out, forbidden functions, one line of feedback.

A check's cases and results cross the grader's sandbox as `_plain` JSON, which
must round-trip every plain value and refuse everything else (pickles, object
arrays, sizes that do not add up). `forbid` must stop a forbidden function
however the student reaches it and leave nothing patched behind. `run_check`
must hand the student copies, judge on its own copy, count cases in good
English and point at the student's line when their code raises.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checks import (
    CheckFailed,
    Exercise,
    ExerciseNotImplemented,
    ForbiddenCall,
    forbid,
    not_implemented,
    run_check,
)
from utils.checks._core import CheckResult, judge_case, run_case
from utils.checks._plain import dumps, loads, to_plain

# ------------------------------------------------------------------------------- _plain


def test_plain_values_round_trip():
    value = {"none": None, "flag": True, "n": -3, "big": 2**70, "x": 0.25, "nan": math.nan,
             "inf": -math.inf, "text": "héllo", "list": [1, [2.5, "a"]], "nested": {"k": {}},
             "f32": np.arange(6, dtype=np.float32).reshape(2, 3), "mask": np.array([True, False]),
             "scalar": np.array(7.0), "empty": np.zeros((0, 4), dtype=np.int64),
             "u8": np.array([255, 0], dtype=np.uint8)}
    back = loads(dumps(value))
    assert back.keys() == value.keys()
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf and back["big"] == 2**70
    for key in ("f32", "mask", "scalar", "empty", "u8"):
        assert back[key].dtype == value[key].dtype and back[key].shape == value[key].shape
        np.testing.assert_array_equal(back[key], value[key])
    back["f32"][0, 0] = 9  # arrays come back writable
    assert back["list"] == [1, [2.5, "a"]] and back["nested"] == {"k": {}}


def test_to_plain_turns_tensors_into_arrays_and_refuses_the_rest():
    plain = to_plain({"t": torch.ones(2, requires_grad=True) * 2, "b": torch.ones(1).bfloat16(),
                      "size": torch.Size([2, 3]), "pair": (1, np.float32(2.5))})
    assert isinstance(plain["t"], np.ndarray) and plain["t"].tolist() == [2.0, 2.0]
    assert plain["b"].dtype == np.float32 and plain["size"] == [2, 3]
    assert plain["pair"] == [1, 2.5]
    assert to_plain(torch.tensor(3.0)).shape == ()  # a 0-d tensor stays 0-d, not a vector
    for bad in (torch.nn.Linear(2, 2), print, object(), np.array(["a"]), {1: 2},
                torch.ones(2, dtype=torch.complex64)):
        with pytest.raises(TypeError):
            to_plain(bad)


@pytest.mark.parametrize("bad", [torch.ones(2), np.array([object()]), {"__ndarray__": "x"},
                                 {3: "int key"}, lambda: 0, b"bytes"])
def test_dumps_refuses_what_is_not_plain(bad):
    with pytest.raises(TypeError):
        dumps(bad)


def _array(data: bytes, dtype="float64", shape=(1,), **extra) -> bytes:
    return json.dumps({"__ndarray__": base64.b64encode(data).decode(), "dtype": dtype,
                       "shape": list(shape), **extra}).encode()


@pytest.mark.parametrize("data", [
    pickle.dumps(np.ones(2)),                                # a pickle is never read
    pickle.dumps({"a": 1}, protocol=0),
    b"\xff\xfe not utf-8",
    b"{not json",
    _array(b"\x00" * 8, dtype="object"),                      # object arrays could run code
    _array(b"\x00" * 8, dtype="<U1"),
    _array(b"\x00" * 7),                                      # bytes do not match the shape
    _array(b"\x00" * 8, shape=(-1,)),
    _array(b"\x00" * 8, shape=(True,)),
    _array(b"\x00" * 8, extra="key"),
    b'{"__ndarray__": "!!!", "dtype": "float64", "shape": [1]}',
    b"[" * 5000 + b"]" * 5000,                                # nested too deeply
])
def test_loads_refuses_anything_else_with_value_error(data):
    with pytest.raises(ValueError):
        loads(data)


def test_loads_refuses_oversized_input():
    with pytest.raises(ValueError, match="limit"):
        loads(dumps(np.zeros(1000)), max_bytes=100)
    with pytest.raises(ValueError):
        loads("a str, not bytes")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- forbid
SDPA = "torch.nn.functional.scaled_dot_product_attention"
bound_before = F.scaled_dot_product_attention  # an alias bound before the patch


def _qkv():
    return (torch.randn(3, 4),) * 3


def test_forbid_catches_the_attribute_an_alias_and_a_method():
    with pytest.raises(ForbiddenCall, match="scaled_dot_product_attention"):
        with forbid([SDPA]):
            F.scaled_dot_product_attention(*_qkv())
    with pytest.raises(ForbiddenCall):
        with forbid([SDPA]):
            bound_before(*_qkv())
    with pytest.raises(ForbiddenCall):
        with forbid([SDPA]):
            torch._C._nn.scaled_dot_product_attention(*_qkv())  # the same builtin elsewhere
    with pytest.raises(ForbiddenCall, match="torch.Tensor.softmax"):
        with forbid(["torch.Tensor.softmax"]):
            torch.randn(3).softmax(-1)
    with pytest.raises(ForbiddenCall, match="torch.nn.functional.softmax"):
        with forbid(["torch.nn.functional.softmax"]):  # a Python function, through an alias
            bound_softmax(torch.randn(3), -1)


bound_softmax = F.softmax


def test_a_caught_forbidden_call_is_still_reported():
    def sly():
        try:
            return bound_before(*_qkv())
        except Exception:  # noqa: BLE001
            return bound_before(*_qkv())  # the hook is off now; forbid still remembers
    with pytest.raises(ForbiddenCall):
        with forbid([SDPA]):
            sly()


def test_a_forbidden_call_in_a_thread_is_caught():
    errors = []

    def worker():
        try:
            bound_before(*_qkv())
        except ForbiddenCall as error:
            errors.append(error)
    with pytest.raises(ForbiddenCall):
        with forbid([SDPA]):
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
    assert errors


def test_forbid_restores_everything_and_allows_other_functions():
    import sys
    before_attr, before_method = F.scaled_dot_product_attention, torch.Tensor.softmax
    with pytest.raises(RuntimeError):
        with forbid([SDPA, "torch.Tensor.softmax"]):
            torch.softmax(torch.randn(3), -1)  # allowed: a different function
            raise RuntimeError("the student's own error")
    assert F.scaled_dot_product_attention is before_attr
    assert torch.Tensor.softmax is before_method and "softmax" not in vars(torch.Tensor)
    assert sys.getprofile() is None and threading.getprofile() is None
    assert bound_before(*_qkv()).shape == (3, 4)
    with forbid([]):  # nothing forbidden: no hook at all
        assert sys.getprofile() is None
    with pytest.raises(ValueError):
        with forbid(["no_such_module_anywhere.f"]):
            pass


# ------------------------------------------------------------------------------- run_check
def _case_maker(n: int):
    return lambda seed: [{"x": np.random.default_rng(seed + i).normal(size=4)} for i in range(n)]


def _doubling(n_cases: int = 3, forbidden: tuple[str, ...] = ()) -> Exercise:
    def run(ns, case):
        return ns["double"](torch.from_numpy(case["x"]))

    def judge(case, out):
        if not isinstance(out, np.ndarray) or out.shape != case["x"].shape:
            return "your result should be a tensor shaped like x"
        return None if np.allclose(out, 2 * case["x"]) else "your result is not 2·x"
    return Exercise("double", ("double",), _case_maker(n_cases), run, judge, forbidden)


def test_one_line_with_the_count_in_good_english(capsys):
    result = run_check(_doubling(3), {"double": lambda x: 2 * x})
    assert capsys.readouterr().out == "✅ double: passed all 3 cases.\n"
    assert isinstance(result, CheckResult) and result.cases == 3
    run_check(_doubling(1), {"double": lambda x: x + x})
    assert capsys.readouterr().out == "✅ double: passed its one case.\n"
    assert result._ipython_display_() is None  # as a cell's last line it shows nothing more


def test_the_student_gets_a_copy_and_the_judge_its_own():
    def doubles_in_place(x):
        x.mul_(2)  # edits its input, then returns it: right for this input, wrong for the case
        return x

    def zero_and_cheat(x):
        x.zero_()  # a judge that read the student's x would expect 0
        return torch.zeros_like(x)
    assert run_check(_doubling(), {"double": doubles_in_place}).passed
    with pytest.raises(CheckFailed, match="not 2·x"):
        run_check(_doubling(), {"double": zero_and_cheat})
    exercise, case = _doubling(), {"x": np.ones(4)}
    run_case(exercise, {"double": doubles_in_place}, case)
    assert case["x"].tolist() == [1.0] * 4
    assert judge_case(exercise, case, np.full(4, 2.0)) is None


def test_a_student_error_names_the_student_line():
    def broken(x):
        y = x * 2
        return y @ torch.ones(3)  # a shape mismatch, raised inside torch
    with pytest.raises(CheckFailed) as error:
        run_check(_doubling(), {"double": broken})
    message = str(error.value)
    assert message.startswith("double: your function raised RuntimeError")
    assert "return y @ torch.ones(3)" in message and "of your code" in message
    assert "_core" not in message and "Traceback" not in message


def test_stub_forbidden_call_and_unplain_result():
    with pytest.raises(ExerciseNotImplemented):
        run_check(_doubling(), {"double": lambda x: not_implemented("double")})
    with pytest.raises(CheckFailed, match="calls `torch.Tensor.softmax`.*x.softmax"):
        run_check(_doubling(forbidden=("torch.Tensor.softmax",)),
                  {"double": lambda x: 2 * x + 0 * x.softmax(-1)})
    with pytest.raises(CheckFailed, match="returned a Linear"):
        run_check(_doubling(), {"double": lambda x: torch.nn.Linear(2, 2)})
    with pytest.raises(CheckFailed, match="`double` is not defined"):
        run_check(_doubling(), {})


def test_a_judge_may_raise_wrong():
    from utils.checks._core import Wrong

    def judge(case, out):
        raise Wrong("always wrong")
    exercise = Exercise("e", ("f",), _case_maker(1), lambda ns, c: 0, judge)
    assert exercise.judge({}, 0) == "always wrong"
    with pytest.raises(CheckFailed, match="^e: always wrong$"):
        run_check(exercise, {"f": None})


# ------------------------------------------------------------------------------- every exercise
# Every lab's check module: the modules of utils/checks that do not start with "_".
LABS = sorted(p.stem for p in (Path(__file__).parents[1] / "utils" / "checks").glob("[a-z]*.py"))


# The labs whose notebook wrappers carry `.exercise` (made by `checker`).
CHECKER_LABS = ("warmup", "maximum_likelihood", "transformer", "lstm_language_model",
                "adapt_and_evaluate", "assistant")


def _exercises(labs=LABS):
    import importlib
    for lab in labs:
        module = importlib.import_module(f"utils.checks.{lab}")
        for name, exercise in module.EXERCISES.items():
            yield pytest.param(module, exercise, id=f"{lab}.{name}")


@pytest.mark.parametrize("module, exercise", list(_exercises(CHECKER_LABS)))
def test_every_exercise_is_plain_data_from_its_seed(module, exercise):
    first, again, other = (exercise.make_cases(s) for s in (4, 4, 5))
    assert first and dumps(first) == dumps(again)  # deterministic
    assert dumps(first) != dumps(other)  # and the seed matters (hidden cases differ)
    assert getattr(module, f"check_{exercise.name}").exercise == exercise.name
    assert all(not name.startswith("reference") for name in dir(module))


GARBAGE = [None, "passed", {}, [], [1, "a"], np.zeros(3), {"state": 5, "losses": "x"},
           {"ids": None, "again": None, "hs": [None], "out": 1, "moved": 2}, 1e308, -math.inf,
           "0.5", True, {"a": 1.0}, [1.0, 2.0], [[1.0], [2.0, 3.0]], math.nan, math.inf,
           np.zeros((2, 2), dtype=bool), -1]


@pytest.mark.parametrize("module, exercise", list(_exercises()))
def test_a_judge_answers_malformed_output_with_a_message(module, exercise):
    # What comes back from a hostile sandbox may be any plain value: never a pass, never a crash.
    case = exercise.make_cases(0)[0]
    for output in GARBAGE:
        verdict = exercise.judge(case, loads(dumps(output)))
        assert isinstance(verdict, str) and verdict, (exercise.name, output)
