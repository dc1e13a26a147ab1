"""Checks for lab 04 (an LSTM language model): one LSTM step, a training step, sampling.

Used in chapter 4. Each exercise is data (`EXERCISES`): cases from a seed, a
run that calls the student's function on private copies (for the training
step: a tiny model rebuilt from the case's arrays, whose parameters after the
step come back as arrays), and a judge that computes PyTorch's answer from the
case (``nn.LSTM``, a reference training step, ``softmax(logits / τ)``) and,
when they differ, tries the usual mistakes (gate order, a missing
``zero_grad``, no clipping, a gradient scaled up to the clip, multiplying by
T, ...) to say which one was made, without printing a distance to the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from utils.checks import _lstm_language_model_reference as ref
from utils.checks._core import (
    Case,
    Exercise,
    ExerciseNotImplemented,
    Wrong,
    checker,
    where_in_student_code,
)
from utils.checks._judging import as_array, expect_shape, scalar
from utils.i18n import _
from utils.lm.sampling import softmax_at_temperature

__all__ = ["EXERCISES", "check_lstm_step", "check_sample_with_temperature", "check_train_step"]


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))  # each call gets its own tensors


def _worst(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max()) if a.numel() else 0.0


# ---------------------------------------------------------------- one LSTM step
def _run_step(ns: Mapping[str, Any], case: Case) -> Any:
    step = ns["lstm_step"]
    weights = [_t(w) for w in case["weights"]]
    if "xs" not in case:
        return step(_t(case["x"]), _t(case["h"]), _t(case["c"]), *weights)
    xs = _t(case["xs"])
    h = c = torch.zeros(xs.shape[0], weights[1].shape[1], dtype=torch.float64)
    hs = []
    for t in range(xs.shape[1]):
        result = step(xs[:, t].clone(), h, c, *(w.clone() for w in weights))
        if not isinstance(result, tuple | list) or len(result) != 2:
            return {"hs": hs, "not_a_pair": type(result).__name__}
        h, c = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))
                for v in result)  # fed back as tensors, as nn.LSTM would
        hs.append(h)
    return {"hs": hs}


def _pair(output: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(output, list) or len(output) != 2:
        kind = _("one tensor") if isinstance(output, np.ndarray) else type(output).__name__
        raise Wrong(_("return a pair (h_new, c_new), not {kind}").format(kind=kind))
    return (torch.from_numpy(as_array(output[0], _("your h_new"))),
            torch.from_numpy(as_array(output[1], _("your c_new"))))


def _judge_step(case: Case, output: Any) -> str | None:
    weights = [torch.from_numpy(w) for w in case["weights"]]
    lstm = ref.lstm_holding(weights)
    if "xs" in case:
        return _judge_sequence(case, output, weights, lstm)
    x, h, c = (torch.from_numpy(case[k]) for k in "xhc")
    with torch.no_grad():
        h_ref, c_ref = lstm(x.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))[1]
    h_ref, c_ref = h_ref[0], c_ref[0]  # (batch, hidden)
    h_new, c_new = _pair(output)
    expect_shape(h_new.numpy(), tuple(h.shape), _("your h_new"))
    expect_shape(c_new.numpy(), tuple(c.shape), _("your c_new"))
    if case["large"] and not (torch.isfinite(h_new).all() and torch.isfinite(c_new).all()):
        return _("your h_new or c_new has nan or inf when the gates' inputs reach a thousand: a "
                 "sigmoid or tanh written with exp overflows there. Use torch.sigmoid and "
                 "torch.tanh")
    tol = ref.tolerance(x, h, *weights)
    if _worst(h_new, h_ref) <= tol and _worst(c_new, c_ref) <= tol:
        return None
    if _worst(h_new, c_ref) <= tol and _worst(c_new, h_ref) <= tol:
        return _("you returned (c_new, h_new); return (h_new, c_new)")
    mistakes = [
        (dict(order="ifog"), _("your gates are in the order i, f, o, g; PyTorch stacks the "
                               "blocks of weight_ih and weight_hh as i, f, g, o")),
        (dict(order="figo"), _("you swapped the input and forget gates: PyTorch's first block is "
                               "the input gate i, the second the forget gate f")),
        (dict(order="iofg"), _("your gates are in the wrong order; PyTorch's is i, f, g, o")),
        (dict(order="gifo"), _("your gates are in the wrong order; PyTorch's is i, f, g, o")),
        (dict(g_act=torch.sigmoid), _("the candidate g uses tanh, not the sigmoid: it is a value "
                                      "to write, between -1 and 1, not a gate")),
        (dict(tanh_cell=False), _("h_new = o * tanh(c_new): you left out the tanh")),
        (dict(both_biases=False), _("you used only bias_ih; the gates add both biases, "
                                    "bias_ih + bias_hh")),
        (dict(use_input_gate=False), _("c_new = f * c + i * g: you left out the input gate i")),
        (dict(new_cell_in_h=False), _("h_new must use the new cell state c_new, not the old c")),
    ]
    for switches, message in mistakes:
        h_wrong, c_wrong = ref.step(x, h, c, *weights, **switches)
        if _worst(h_new, h_wrong) <= tol and _worst(c_new, c_wrong) <= tol:
            return message
    if _worst(c_new, c_ref) <= tol:
        return _("your c_new is right but h_new is not; h_new = o * tanh(c_new)")
    return _("your c_new is not nn.LSTM's. Compute z = x W_ih^T + b_ih + h W_hh^T + b_hh, split "
             "it into four blocks i, f, g, o, and follow the gate equations")


def _judge_sequence(case: Case, output: Any, weights: list[torch.Tensor], lstm: Any) -> str | None:
    xs = torch.from_numpy(case["xs"])
    with torch.no_grad():
        expected = lstm(xs)[0]  # (batch, seq_len, hidden)
    if not isinstance(output, dict) or not isinstance(output.get("hs"), list):
        raise Wrong(_("your function's results could not be read"))
    if "not_a_pair" in output:
        return _("return a pair (h_new, c_new), not {not_a_pair}").format(
            not_a_pair=output['not_a_pair'])
    if len(output["hs"]) != xs.shape[1]:
        raise Wrong(_("your function's results could not be read"))
    for t, h in enumerate(output["hs"]):
        h = torch.from_numpy(as_array(h, _("your h_new")))
        tol = ref.tolerance(xs[:, t], expected[:, t], *weights)
        if h.shape != expected[:, t].shape or _worst(h, expected[:, t]) > tol:
            return _("one step from a random state matches nn.LSTM, but running your step along "
                     "a sequence from the zero state drifts at step {step}").format(step=t + 1)
    return None


# ---------------------------------------------------------------- a training step
def _run_train(ns: Mapping[str, Any], case: Case) -> Any:
    model = ref.tiny_model(case["vocab_size"], case["state"])
    ref.stale_gradients(model, _t(case["old_inputs"]))
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    loss = ns["train_step"](model, optimizer, _t(case["inputs"]), _t(case["targets"]),
                            case["clip"])
    return {"loss": loss, "after": {k: p.detach() for k, p in model.named_parameters()}}


def _judge_train(case: Case, output: Any) -> str | None:
    refs = ref.training_references(case)
    after = output.get("after") if isinstance(output, dict) else None
    if not isinstance(after, dict) or list(after) != refs["names"]:
        raise Wrong(_("your step replaced the model's parameters; update them in place with the "
                      "optimizer you are given"))
    if output["loss"] is None:
        return _("return the loss of the batch (a number), as the function says")
    loss = scalar(output["loss"], _("your loss"))
    n = case["inputs"].size
    if abs(loss - refs["loss"]) > 1e-6:
        if abs(loss - refs["loss_mixed"]) <= 1e-6:
            return _("your loss pairs logits and targets from different positions: flatten both "
                     "the same way, logits.reshape(-1, vocab_size) and targets.reshape(-1)")
        if abs(loss - refs["loss"] * n) <= 1e-6 * n:
            return _("your loss is the sum over the {n} positions; use the mean "
                     "(F.cross_entropy's default)").format(n=n)
        return _("the loss you return is not the mean cross-entropy of the batch, computed "
                 "before the step")
    flat_after = torch.cat([torch.from_numpy(as_array(after[k])).reshape(-1) for k in after])
    implied = (refs["before"] - flat_after) / case["lr"]  # the gradient SGD must have used
    fresh, stale, mixed, clip = refs["fresh"], refs["stale"], refs["mixed"], case["clip"]
    if _worst(implied, ref.clipped(fresh, clip)) <= 1e-6:
        return None
    diagnoses = [
        (torch.zeros_like(fresh), _("your parameters did not change: after zero_grad, call "
                                    "loss.backward() to fill the gradients, then "
                                    "optimizer.step()")),
        (stale, _("the update used the gradients left over from an earlier batch: call "
                  "loss.backward() before optimizer.step()")),
        (fresh, _("your update was not clipped: call nn.utils.clip_grad_norm_(model.parameters(), "
                  "clip) after backward and before the step")),
        (fresh * clip / float(fresh.norm()), _("the gradient's norm was already below clip and "
                                               "you scaled it up to clip: clipping only ever "
                                               "shrinks a gradient (nn.utils.clip_grad_norm_)")),
        (ref.clipped(stale + fresh, clip), _("your gradients were added to those of an earlier "
                                             "batch: call optimizer.zero_grad() before "
                                             "loss.backward()")),
        (stale + fresh, _("your gradients were added to those of an earlier batch (call "
                          "optimizer.zero_grad() before loss.backward()), and not clipped")),
        (fresh.clamp(-clip, clip), _("you clipped each gradient value; clip the norm of all "
                                     "gradients together with nn.utils.clip_grad_norm_")),
        (ref.clipped(stale, clip), _("the update used the gradients left over from an earlier "
                                     "batch: call loss.backward() before optimizer.step()")),
        (ref.clipped(mixed, clip), _("your gradient comes from logits and targets flattened in "
                                     "different orders: use logits.reshape(-1, vocab_size) and "
                                     "targets.reshape(-1)")),
    ]
    for wrong, message in diagnoses:
        if _worst(implied, wrong) <= 1e-6:
            return message
    if float((implied * fresh).sum()) < 0:
        return _("your step went uphill: minimise the loss (optimizer.step() after "
                 "loss.backward()), do not maximise it")
    return _("your loss is right but the parameters after your step are not those of one "
             "clipped step; use the optimizer you are given: zero_grad, backward, clip, step")


# ---------------------------------------------------------------- temperature sampling
_DRAWS, _TOLERANCE = ref.DRAWS, ref.TOLERANCE
_frequencies, _tv = ref.frequencies, ref.tensor_total_variation


def _run_sample(ns: Mapping[str, Any], case: Case) -> Any:
    sample, kind = ns["sample_with_temperature"], case["kind"]
    logits = _t(case["logits"])
    if kind in ("draws", "wide"):  # every row repeated: the ids are draws from each row
        logits = logits.repeat(_DRAWS // len(logits), 1)
    try:
        ids = sample(logits.clone(), case["temperature"],
                     torch.Generator().manual_seed(case["draw_seed"]))
    except ExerciseNotImplemented:
        raise
    except Exception as error:  # noqa: BLE001 - for the negative case, raising is the answer
        if kind not in ("negative", "wide"):
            raise
        return {"raised": f"{type(error).__name__}{where_in_student_code(error.__traceback__)}"}
    if kind != "draws":
        return {"ids": ids}
    return {"ids": ids, "again": sample(logits.clone(), case["temperature"],
                                        torch.Generator().manual_seed(case["draw_seed"]))}


def _ids(output: Any, rows: int, vocab_size: int) -> np.ndarray:
    ids = as_array(output, _("your sample"))
    if ids.shape == (rows, 1):
        raise Wrong(_("your result has shape ({rows}, 1); return one id per row, shape ({rows},) "
                      "(torch.multinomial(...).squeeze(-1))").format(rows=rows))
    expect_shape(ids, (rows,), _("your sample"))
    if (ids != np.round(ids)).any() or (ids < 0).any() or (ids >= vocab_size).any():
        raise Wrong(_("return word ids, whole numbers from 0 to {last}").format(
            last=vocab_size - 1))
    return ids.astype(np.int64)


def _judge_sample(case: Case, output: Any) -> str | None:
    kind, temperature = case["kind"], case["temperature"]
    logits = torch.from_numpy(case["logits"]).double()
    if not isinstance(output, dict):
        raise Wrong(_("your function's results could not be read"))
    if kind == "negative":
        if "raised" not in output:
            return _("a negative temperature must be rejected: raise ValueError when "
                     "temperature < 0")
        if not output["raised"].startswith("ValueError"):
            return _("a negative temperature should raise ValueError, not {raised}").format(
                raised=output['raised'])
        return None
    row_max = _("subtract each row's own maximum (or use torch.softmax, which does), not one "
                "maximum for the whole batch")
    if kind == "wide" and "raised" in output:
        return _("your function raised {raised} for rows hundreds of logits apart; "
                 "{row_max}").format(raised=output['raised'], row_max=row_max)
    rows = len(logits) if kind == "zero" else _DRAWS
    ids = _ids(output.get("ids"), rows, logits.shape[-1])
    if kind == "zero":
        if not np.array_equal(ids, logits.argmax(dim=-1).numpy()):
            return _("with temperature 0 return each row's most likely word (the limit T -> 0, "
                     "argmax), without dividing by 0")
        return None
    if kind == "wide":
        for r in range(2):
            if _tv(_frequencies(ids[r::2], 6), softmax_at_temperature(logits[r], temperature)) \
                    > _TOLERANCE * 1.5:
                return _("row {row} of a batch whose rows differ by hundreds of logits is not "
                         "drawn from its own softmax(logits / τ): normalise each row over the "
                         "vocabulary (dim=-1) and {row_max}").format(row=r + 1, row_max=row_max)
        return None
    vocab_size = logits.shape[-1]
    if not np.array_equal(ids, _ids(output.get("again"), rows, vocab_size)):
        return _("two calls with generators seeded alike gave different samples: pass the "
                 "generator you are given to torch.multinomial(..., generator=generator)")
    frequencies = _frequencies(ids, vocab_size)
    if _tv(frequencies, softmax_at_temperature(logits[0], temperature)) <= _TOLERANCE:
        return None
    argmax = torch.zeros(vocab_size, dtype=torch.float64)
    argmax[int(logits[0].argmax())] = 1.0
    diagnoses = [
        (softmax_at_temperature(logits[0], 1 / temperature),
         _("you multiplied the logits by τ = {temperature:g}; divide them by τ").format(
             temperature=temperature)),
        (softmax_at_temperature(logits[0], 1.0),
         _("your samples ignore the temperature (τ = {temperature:g}): divide the logits by τ "
           "before the softmax").format(temperature=temperature)),
        (argmax, _("you always return the most likely word; draw from the softmax with "
                   "torch.multinomial")),
        (torch.full((vocab_size,), 1.0 / vocab_size, dtype=torch.float64),
         _("your samples are uniform over the vocabulary: take the softmax over the last "
           "dimension (the vocabulary), dim=-1")),
    ]
    distance, message = min((_tv(frequencies, wrong), message) for wrong, message in diagnoses)
    if distance <= _TOLERANCE:  # the closest mistake: two may both lie within the tolerance
        return message
    return _("at τ = {temperature:g} your word frequencies over {draws} draws are not those of "
             "softmax(logits / τ)").format(temperature=temperature, draws=_DRAWS)


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("lstm_step", ("lstm_step",), ref.step_cases, _run_step, _judge_step),
    Exercise("train_step", ("train_step",), ref.training_cases, _run_train, _judge_train),
    Exercise("sample_with_temperature", ("sample_with_temperature",), ref.sample_cases,
             _run_sample, _judge_sample),
)}

check_lstm_step = checker(EXERCISES, "lstm_step")
check_train_step = checker(EXERCISES, "train_step")
check_sample_with_temperature = checker(EXERCISES, "sample_with_temperature")
