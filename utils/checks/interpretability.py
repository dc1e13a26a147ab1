"""Checks for lab 07 (interpretability): attributions, a probe with its control, unit ablation.

Used in chapter 7. Each check runs the student's function on small float64
models built from the check's seed (an LSTM classifier over embeddings, random
probe data, a bare ``nn.LSTM``), compares it with ``utils.interpretability`` (itself
tested against captum and ``nn.LSTM``), and names the plausible mistake when
the answer matches one. None prints an expected value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from utils.checks._core import (
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
    worst_error,
)
from utils.interpretability.ablation import UnitAblatedLSTM
from utils.interpretability.attributions import (
    Gradient,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    token_scores,
)
from utils.lm.scoped import local_seed

_BATCH, _SEQ, _EMB = 5, 7, 4  # three different sizes, so a sum over the wrong axis shows


class _TinyClassifier(nn.Module):
    """An LSTM over embeddings, mean-pooled, to 3 class logits (float64)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(_EMB, 6, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(embeddings)  # (batch, seq, 6)
        return self.head(torch.tanh(hidden).mean(dim=1))  # (batch, 3)


def _attribution_case(seed: int) -> tuple[Callable, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(forward_func, inputs, target, baselines): a random model, inputs and a nonzero baseline."""
    with local_seed(seed):
        model = _TinyClassifier().double().eval()
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(_BATCH, _SEQ, _EMB, generator=generator, dtype=torch.float64)
    baselines = 0.5 * torch.randn(_BATCH, _SEQ, _EMB, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 3, (_BATCH,), generator=generator)
    return model, inputs, target, baselines


def _student_scores(fn: Callable, name: str, *args, **kwargs) -> torch.Tensor:
    value = as_tensor(call(fn, *(a.clone() if torch.is_tensor(a) else a for a in args),
                           exercise=name, **kwargs), name)
    if tuple(value.shape) == (_BATCH, _EMB):
        fail(f"{name}: your result has one number per embedding feature; it needs one per "
             "TOKEN, so sum over the embedding axis (the last), not over the tokens")
    if tuple(value.shape) == (_BATCH, _SEQ, _EMB):
        fail(f"{name}: return one score per token, shape (batch, seq_len): sum the "
             "attribution over the embedding axis")
    expect_shape(value, (_BATCH, _SEQ), name)
    return value


def _diagnose(name: str, value: torch.Tensor, wrong: dict[str, torch.Tensor],
              reference: torch.Tensor, what: str) -> None:
    for message, candidate in wrong.items():
        if worst_error(value, candidate) < 1e-6:
            fail(f"{name}: {message}")
    fail(f"{name}: your token scores differ from {what} by up to "
         f"{worst_error(value, reference):.3g}")


@exercise_check("gradient_x_input")
def check_gradient_x_input(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(forward_func, inputs, target, baselines) -> token scores (batch, seq_len)."""
    name = "gradient_x_input"
    for case in range(3):
        model, x, target, base = _attribution_case(seed + case)
        value = _student_scores(fn, name, model, x, target, base)
        ref = token_scores(GradientXInput(model).attribute(x, target=target, baselines=base))
        if worst_error(value, ref) < 1e-6:
            continue
        grad = GradientXInput(model).attribute(x, target=target)  # x * grad, zero baseline
        wrong = {
            "you multiplied the gradient by x alone; multiply by (x - x'), the input minus "
            "the baseline you were given": token_scores(grad),
            "you returned the plain gradient; gradient x input multiplies it by (x - x')":
                token_scores(Gradient(model).attribute(x, target=target)),
            "the sign is reversed: the score is (x - x') times dF/dx, not (x' - x)": -ref,
        }
        _diagnose(name, value, wrong, ref, "(x - x') * dF/dx summed over each token")
    passed(name, 3)


def _ig_rule(model, x, target, base, n_steps: int, rule: str) -> torch.Tensor:
    """Token scores of three wrong IG sums: "left"/"right" skip an end, "equal" weights."""
    alphas = torch.linspace(0, 1, n_steps + (rule != "equal"), dtype=x.dtype)
    alphas = {"left": alphas[:-1], "right": alphas[1:], "equal": alphas}[rule]
    total = sum(IntegratedGradients(model).gradient(base + a * (x - base), target)
                for a in alphas)
    return token_scores((x - base) * total / n_steps)


@exercise_check("integrated_gradients")
def check_integrated_gradients(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(forward_func, inputs, target, baselines, n_steps) -> token scores (batch, seq_len)."""
    name = "integrated_gradients"
    for case in range(2):
        model, x, target, base = _attribution_case(seed + 10 + case)
        ig = IntegratedGradients(model)
        gap = (ig.score(x, target) - ig.score(base, target)).detach()
        # Completeness first: with many points the scores must add up to F(x) - F(x').
        value = _student_scores(fn, name, model, x, target, base, 300)
        error = float(((value.sum(1) - gap).abs() / gap.abs()).max())
        if error > 0.05:
            full = ig.attribute(x, target=target, baselines=base, n_steps=300)
            if worst_error(value, token_scores(ig.attribute(x, target=target, n_steps=300))) \
                    < 1e-4:
                fail(f"{name}: your path starts at zero, not at the baseline x' you were given")
            if worst_error(value, token_scores(full / (x - base))) < 1e-4:
                fail(f"{name}: you averaged the gradients along the path but did not multiply "
                     "by (x - x'), the input minus the baseline")
            fail(f"{name}: with 300 points your token scores should add up to F(x) - F(x') "
                 f"within 5 %; they miss it by {error:.0%} (completeness)")
        # Then the rule: n_steps points with both ends included, trapezoid weights.
        value = _student_scores(fn, name, model, x, target, base, 4)
        ref = token_scores(ig.attribute(x, target=target, baselines=base, n_steps=4))
        if worst_error(value, ref) < 1e-6:
            continue
        wrong = {
            "your alphas skip an end of the path (alpha = 1 is missing); use n_steps points "
            "from 0 to 1, both included, each end weighted half":
                _ig_rule(model, x, target, base, 4, "left"),
            "your alphas skip an end of the path (alpha = 0 is missing); use n_steps points "
            "from 0 to 1, both included, each end weighted half":
                _ig_rule(model, x, target, base, 4, "right"),
            "the steps are right but every point weighs the same; the trapezoid rule gives "
            "each end half the weight of the others":
                _ig_rule(model, x, target, base, 4, "equal"),
        }
        _diagnose(name, value, wrong, ref, "the trapezoid rule with 4 points")
    passed(name, 4)


@exercise_check("occlusion")
def check_occlusion(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(forward_func, inputs, target, baselines) -> F(x) - F(x, token t replaced) per token."""
    name = "occlusion"
    for case in range(3):
        model, x, target, base = _attribution_case(seed + 20 + case)
        value = _student_scores(fn, name, model, x, target, base)
        ref = token_scores(Occlusion(model).attribute(x, target=target, baselines=base))
        if worst_error(value, ref) < 1e-6:
            continue
        with torch.no_grad():
            full = Occlusion(model).score(x, target)
            cumulative, running = torch.zeros(_BATCH, _SEQ, dtype=x.dtype), x.clone()
            for t in range(_SEQ):
                running[:, t] = base[:, t]
                cumulative[:, t] = full - Occlusion(model).score(running, target)
        wrong = {
            "the sign is reversed: the score is F(x) minus F(x with the token replaced)": -ref,
            "you replaced the token with zeros; replace it with the baseline's vector at "
            "that position": token_scores(Occlusion(model).attribute(x, target=target)),
            "earlier tokens stay replaced when you move on: copy the input afresh for each "
            "position, replacing one token at a time": cumulative,
        }
        _diagnose(name, value, wrong, ref, "F(x) - F(x with one token replaced)")
    passed(name, 3)


# ---------------------------------------------------------------- probe with a control task
def _probe_case(seed: int, kind: str) -> tuple:
    """(features, labels, word_types, train, test): 400 examples, 20 word types. Features hold
    the label plus noise ("signal"), the word type ("identity"), or 300 columns of "noise"."""
    rng = np.random.default_rng([seed, 70])
    n, n_types = 400, 20
    type_index = rng.integers(0, n_types, n)
    labels = rng.integers(0, 2, n)
    if kind == "signal":
        features = rng.normal(size=(n, 8))
        features[:, 0] += 3.0 * (2 * labels - 1)
    elif kind == "identity":
        features = np.eye(n_types)[type_index] + 0.01 * rng.normal(size=(n, n_types))
    else:
        features = rng.normal(size=(n, 300))
    order = rng.permutation(n)
    return features, labels, [f"w{i}" for i in type_index], np.sort(order[:200]), \
        np.sort(order[200:])


def _two_accuracies(fn: Callable, name: str, case) -> tuple[float, float]:
    result = call(fn, *case, exercise=name)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name}: return two numbers, (task accuracy, control-task accuracy)")
    try:
        accuracy, control = (float(r) for r in result)
    except (TypeError, ValueError):
        fail(f"{name}: both accuracies must be numbers between 0 and 1")
    if not (0 <= accuracy <= 1 and 0 <= control <= 1):
        fail(f"{name}: accuracies lie between 0 and 1; got {accuracy:.3g} and {control:.3g}")
    return accuracy, control


@exercise_check("probe_with_control")
def check_probe_with_control(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(features, labels, word_types, train, test) -> (accuracy, control accuracy), held out."""
    name = "probe_with_control"
    accuracy, _ = _two_accuracies(fn, name, _probe_case(seed, "noise"))
    if accuracy > 0.85:
        fail(f"{name}: on 300 features of pure noise your probe scores {accuracy:.0%}; a probe "
             "can only be that good on the examples it was trained on. Fit on the train "
             "indices, score on the test indices")
    accuracy, control = _two_accuracies(fn, name, _probe_case(seed, "signal"))
    if accuracy < 0.9:
        fail(f"{name}: the features carry the label plainly, yet your probe scores "
             f"{accuracy:.0%} on held-out examples; fit a logistic regression on the train "
             "rows and score the test rows")
    if control > 0.75:
        fail(f"{name}: your control task is learnt from features that hold nothing but the "
             "real label, so it follows the real label; draw each word type's control label "
             "at random, independently of the real labels")
    _, control = _two_accuracies(fn, name, _probe_case(seed, "identity"))
    if control < 0.9:
        fail(f"{name}: features that identify the word type should let a probe learn the "
             f"control task, but yours scores {control:.0%}; give every example of a word "
             "type the SAME random label (one label per type, not per example)")
    passed(name, 3)


# ---------------------------------------------------------------- unit ablation
@exercise_check("ablate_units")
def check_ablate_units(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(lstm, inputs, units, steps) -> outputs (batch, seq_len, hidden), units zeroed at steps."""
    name = "ablate_units"
    generator = torch.Generator().manual_seed(seed)
    cases = [([2], None), ([0, 5, 7], None), ([3], [1]), ([1, 6], [0, 2])]
    for case, (units, steps) in enumerate(cases):
        with local_seed(seed + case):
            lstm = nn.LSTM(3, 8, batch_first=True).double()
        inputs = torch.randn(4, 6, 3, generator=generator, dtype=torch.float64)
        with torch.no_grad():
            value = as_tensor(call(fn, lstm, inputs.clone(), list(units),
                                   None if steps is None else list(steps), exercise=name), name)
            expect_shape(value, (4, 6, 8), name)
            ref, _ = UnitAblatedLSTM(lstm, units, steps).double()(inputs)
            if worst_error(value, ref) < 1e-8:
                continue
            where = list(range(6)) if steps is None else steps
            if float(value[:, where][..., units].abs().max()) > 1e-12:
                fail(f"{name}: the ablated units must read exactly 0 in the output at every "
                     "ablated step")
            if worst_error(value, _leaky(lstm, inputs, units, steps, zero_c=False)) < 1e-8:
                fail(f"{name}: you zero the units in h but not in c, so their memory leaks "
                     "back through the cell state at the next step; zero them in both")
            if worst_error(value, _leaky(lstm, inputs, units, steps, after=True)) < 1e-8:
                fail(f"{name}: you zeroed the units in the output after the LSTM ran; they "
                     "must be zero in the state (h and c) at the ablated steps, so that later "
                     "steps do not see them")
        fail(f"{name}: your outputs differ from an LSTM run step by step with the units held "
             f"at zero in h and c by up to {worst_error(value, ref):.3g}")
    passed(name, len(cases))


def _leaky(lstm: nn.LSTM, inputs: torch.Tensor, units: list[int], steps: list[int] | None,
           *, zero_c: bool = True, after: bool = False) -> torch.Tensor:
    """Two wrong ablations: c left alone (zero_c=False), or only the output masked (after)."""
    h = inputs.new_zeros(1, len(inputs), lstm.hidden_size)
    c = torch.zeros_like(h)
    outs = []
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
