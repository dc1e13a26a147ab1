"""Checks for lab 07 (interpretability): attributions, a probe with its control, unit ablation.

Used in chapter 7. Each exercise is data (`utils.checks._core.Exercise`):
cases drawn from a seed (small float64 models held as state dicts of arrays,
probe data with a held-out split, a bare ``nn.LSTM``), a run that rebuilds
them and calls the student's function, and a judge that rebuilds them again
from the case, computes the answer with ``utils.interpretability`` (itself
tested against captum and ``nn.LSTM``) and names the plausible mistake. The
probe is judged on held-out rows: its accuracy must be that of a probe fitted
on the training rows alone. The library functions each exercise replaces are forbidden.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from utils.checks import _attribution_cases as _attr
from utils.checks._answers import array, diagnose, items, scalar
from utils.checks._core import CheckResult, Exercise, Wrong, run_check
from utils.i18n import _
from utils.interpretability.ablation import UnitAblatedLSTM as _Ablated
from utils.runtime.scoped import local_seed

__all__ = ["EXERCISES", "check_ablate_units", "check_gradient_x_input",
           "check_integrated_gradients", "check_occlusion", "check_probe_with_control"]


# ---------------------------------------------------------------- probe with a control task
def _probe_cases(seed: int) -> list[dict]:
    """400 examples of 20 word types, 240 to train on and 160 held out. Features hold the label
    plainly ("signal"), weakly among 60 columns ("weak": a probe fits its training rows far
    better than held-out ones), the word type only ("identity"), or 300 columns of "noise"."""
    cases = []
    for k, kind in enumerate(("noise", "signal", "weak", "identity")):
        rng = np.random.default_rng([seed, 70, k])
        n, n_types = 400, 20
        types, labels = rng.integers(0, n_types, n), rng.integers(0, 2, n)
        if kind == "identity":
            features = np.eye(n_types)[types] + 0.01 * rng.normal(size=(n, n_types))
        else:
            features = rng.normal(size=(n, {"noise": 300, "signal": 8, "weak": 60}[kind]))
            features[:, 0] += {"noise": 0.0, "signal": 3.0, "weak": 1.0}[kind] * (2 * labels - 1)
        order = rng.permutation(n)
        cases.append({"kind": kind, "features": features, "labels": labels,
                      "word_types": [f"w{i}" for i in types], "train": np.sort(order[:240]),
                      "test": np.sort(order[240:])})
    return cases


def _run_probe(ns, c):
    return ns["probe_with_control"](c["features"], c["labels"], list(c["word_types"]),
                                    c["train"], c["test"])


def _probe_accuracy(case: dict, fit_rows: np.ndarray, score_rows: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    x, y = np.asarray(case["features"]), np.asarray(case["labels"])
    probe = LogisticRegression(max_iter=2000).fit(x[fit_rows], y[fit_rows])
    return float(probe.score(x[score_rows], y[score_rows]))


def _judge_probe(case, output):
    accuracy, control = (scalar(v, w) for v, w in zip(
        items(output, 2, _("(task accuracy, control-task accuracy)")),
        (_("your task accuracy"), _("your control accuracy")), strict=True))
    if not (0 <= accuracy <= 1 and 0 <= control <= 1):
        raise Wrong(_("accuracies lie between 0 and 1"))
    train, test, n_test = case["train"], case["test"], len(case["test"])
    if any(abs(v * n_test - round(v * n_test)) > 1e-4 for v in (accuracy, control)):
        raise Wrong(_("an accuracy on the {n_test} held-out rows is a number of right answers "
                      "divided by {n_test}; yours is not: score each probe on the test rows "
                      "only").format(n_test=n_test))
    if abs(accuracy - _probe_accuracy(case, train, test)) > 0.04:
        diagnose(np.array(accuracy), {
            _("that is the probe's accuracy on the rows it was trained on; score it on the test "
              "rows"): _probe_accuracy(case, train, train),
            _("the probe was fitted on the test rows too; fit it on the train rows only"):
                _probe_accuracy(case, np.r_[train, test], test)}, 0.02)
        raise Wrong(_("your task accuracy is not that of LogisticRegression(max_iter=2000) fitted "
                      "on the train rows and scored on the test rows"))
    if case["kind"] == "signal" and control > 0.9:
        raise Wrong(_("your control task follows the real label; draw each word type's control "
                      "label at random, independently of the real labels"))
    if case["kind"] == "identity" and control < 0.9:
        raise Wrong(_("features that identify the word type should let a probe learn the control "
                      "task, but yours does not; give every example of a word type the SAME "
                      "random label (one label per type, not per example)"))
    return None


# ---------------------------------------------------------------- unit ablation
def _ablation_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 71])
    cases = []
    for k, (units, steps) in enumerate((([2], None), ([0, 5, 7], None), ([3], [1]),
                                        ([1, 6], [0, 2]), ([4], [5]), ([], None))):
        with local_seed(seed * 100 + k):
            lstm = nn.LSTM(3, 8, batch_first=True).double()
        cases.append({"lstm": {n: p.detach().numpy().copy() for n, p in
                               lstm.state_dict().items()},
                      "inputs": rng.normal(size=(4, 6, 3)), "units": units, "steps": steps})
    return cases


def _lstm_of(case: dict) -> nn.LSTM:
    lstm = nn.LSTM(3, 8, batch_first=True).double()
    lstm.load_state_dict({n: torch.from_numpy(np.asarray(a)) for n, a in case["lstm"].items()})
    return lstm


def _run_ablation(ns, c):
    with torch.no_grad():
        return ns["ablate_units"](_lstm_of(c), torch.from_numpy(c["inputs"]), list(c["units"]),
                                  None if c["steps"] is None else list(c["steps"]))


def _stepwise(lstm: nn.LSTM, inputs: torch.Tensor, units: list[int], steps: list[int] | None,
              *, zero_c: bool = True, after: bool = False) -> torch.Tensor:
    """Two wrong ablations: c left alone (zero_c=False), or only the output masked (after)."""
    h = inputs.new_zeros(1, len(inputs), lstm.hidden_size)
    c, outs = torch.zeros_like(h), []
    for t in range(inputs.shape[1]):
        out, (h, c) = lstm(inputs[:, t: t + 1], (h, c))
        out = out.clone()
        if steps is None or t in steps:
            out[..., units] = 0.0
            if not after:
                h = h.clone()
                h[..., units] = 0.0
                if zero_c:
                    c = c.clone()
                    c[..., units] = 0.0
        outs.append(out)
    return torch.cat(outs, dim=1)


@torch.no_grad()
def _judge_ablation(case, output):
    lstm, inputs = _lstm_of(case), torch.from_numpy(np.asarray(case["inputs"]))
    units, steps = list(case["units"]), case["steps"]
    got = array(output, _("your outputs"), (4, 6, 8))
    want = _Ablated(lstm, units, steps)(inputs)[0]
    if np.allclose(got, want.numpy(), atol=1e-8):
        return None
    where = list(range(6)) if steps is None else steps
    if units and np.abs(got[:, where][..., units]).max() > 1e-12:
        raise Wrong(_("the ablated units must read exactly 0 in the output at every ablated step"))
    diagnose(got, {
        _("you zero the units in h but not in c, so their memory leaks back through the cell "
          "state at the next step; zero them in both"): _stepwise(lstm, inputs, units, steps,
                                                               zero_c=False),
        _("you zeroed the units in the output after the LSTM ran; they must be zero in the state "
          "(h and c) at the ablated steps, so that later steps do not see them"):
            _stepwise(lstm, inputs, units, steps, after=True),
        _("ablate only at the listed steps (steps=None means every step)"):
            _Ablated(lstm, units, None)(inputs)[0]}, 1e-8)
    raise Wrong(_("your outputs differ from an LSTM run step by step with the units held at zero "
                  "in h and c at the listed steps"))


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("gradient_x_input", ("gradient_x_input",),
             lambda s: _attr.cases(s, 1, (None, None, None)), _attr.run("gradient_x_input"),
             _attr.judge_gradient_x_input, _attr.FORBIDDEN),
    Exercise("integrated_gradients", ("integrated_gradients",),
             lambda s: _attr.cases(s, 2, (100, 4, 2)), _attr.run("integrated_gradients"),
             _attr.judge_integrated_gradients, _attr.FORBIDDEN),
    Exercise("occlusion", ("occlusion",), lambda s: _attr.cases(s, 3, (None, None, None)),
             _attr.run("occlusion"), _attr.judge_occlusion, _attr.FORBIDDEN),
    Exercise("probe_with_control", ("probe_with_control",), _probe_cases, _run_probe,
             _judge_probe, tuple(f"utils.interpretability.probes.{f}" for f in (
                 "probe_with_control", "probe_accuracy", "control_labels"))),
    Exercise("ablate_units", ("ablate_units",), _ablation_cases, _run_ablation, _judge_ablation,
             ("utils.interpretability.ablation.UnitAblatedLSTM.forward",
              "utils.interpretability.ablation._step_by_step",
              "utils.interpretability.ablation.ablate_units")),
)}


def check_gradient_x_input(gradient_x_input: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["gradient_x_input"], {"gradient_x_input": gradient_x_input}, seed)


def check_integrated_gradients(integrated_gradients: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["integrated_gradients"],
                     {"integrated_gradients": integrated_gradients}, seed)


def check_occlusion(occlusion: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["occlusion"], {"occlusion": occlusion}, seed)


def check_probe_with_control(probe_with_control: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["probe_with_control"],
                     {"probe_with_control": probe_with_control}, seed)


def check_ablate_units(ablate_units: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["ablate_units"], {"ablate_units": ablate_units}, seed)
