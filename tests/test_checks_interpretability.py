"""Lab 07's checks pass right answers and fail each plausible wrong one, saying which.

Wrong answers caught: gradient x input without the (x - x') factor, as the plain
gradient, with its sign reversed, or summed over the token axis; integrated
gradients from a zero path start instead of the baseline, without the (x - x')
factor, with steps that skip an end of the path (left or right Riemann sums) or
with equal weights at the ends; occlusion with zeros instead of the baseline, with
its sign reversed, or with tokens left replaced; a probe scored on its training
split, a control task that copies the real labels or varies within a word type;
an ablation that leaks through the cell state or zeroes only the output.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from utils.checks import CheckFailed
from utils.checks.interpretability import (
    check_ablate_units,
    check_gradient_x_input,
    check_integrated_gradients,
    check_occlusion,
    check_probe_with_control,
)


def _grad(f, x, target):
    x = x.detach().requires_grad_(True)
    out = f(x).gather(1, torch.as_tensor(target).reshape(-1, 1)).sum()
    (g,) = torch.autograd.grad(out, x)
    return g


# ---------------------------------------------------------------- gradient x input
def gxi(f, x, target, base):
    return ((x - base) * _grad(f, x, target)).sum(-1)


def test_gradient_x_input_right_answers_pass():
    assert check_gradient_x_input(gxi).passed
    # numpy output and float32 inputs are fine too
    assert check_gradient_x_input(lambda f, x, t, b: gxi(f, x, t, b).numpy(), seed=3).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda f, x, t, b: (x * _grad(f, x, t)).sum(-1), "multiply by (x - x')"),
    (lambda f, x, t, b: _grad(f, x, t).sum(-1), "plain gradient"),
    (lambda f, x, t, b: -gxi(f, x, t, b), "sign is reversed"),
    (lambda f, x, t, b: ((x - b) * _grad(f, x, t)).sum(1), "sum over the embedding axis"),
    (lambda f, x, t, b: (x - b) * _grad(f, x, t), "one score per token"),
])
def test_gradient_x_input_wrong_answers_fail(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        check_gradient_x_input(wrong)


# ---------------------------------------------------------------- integrated gradients
def ig(f, x, target, base, n_steps, rule="trapezoid", start_zero=False, factor=True):
    base = torch.zeros_like(x) if start_zero else base
    if rule == "trapezoid":
        alphas = torch.linspace(0, 1, n_steps, dtype=x.dtype)
        weights = torch.full((n_steps,), 1 / (n_steps - 1), dtype=x.dtype)
        weights[[0, -1]] /= 2
    elif rule == "equal":
        alphas = torch.linspace(0, 1, n_steps, dtype=x.dtype)
        weights = torch.full((n_steps,), 1 / n_steps, dtype=x.dtype)
    else:
        alphas = torch.linspace(0, 1, n_steps + 1, dtype=x.dtype)
        alphas = alphas[:-1] if rule == "left" else alphas[1:]
        weights = torch.full((n_steps,), 1 / n_steps, dtype=x.dtype)
    total = sum(w * _grad(f, base + a * (x - base), target)
                for a, w in zip(alphas, weights, strict=True))
    return ((x - base) * total if factor else total).sum(-1)


def test_integrated_gradients_right_answer_passes():
    assert check_integrated_gradients(ig).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"start_zero": True}, "starts at zero"),
    ({"factor": False}, "did not multiply"),
    ({"rule": "left"}, "alpha = 1 is missing"),
    ({"rule": "right"}, "alpha = 0 is missing"),
    ({"rule": "equal"}, "half the weight"),
])
def test_integrated_gradients_wrong_answers_fail(kwargs, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_integrated_gradients(lambda f, x, t, b, n: ig(f, x, t, b, n, **kwargs))


# ---------------------------------------------------------------- occlusion
def occlusion(f, x, target, base, zeros=False, cumulative=False, sign=1):
    index = torch.as_tensor(target).reshape(-1, 1)
    with torch.no_grad():
        full = f(x).gather(1, index).squeeze(1)
        scores, running = [], x.clone()
        for t in range(x.shape[1]):
            occluded = running if cumulative else x.clone()
            occluded[:, t] = 0.0 if zeros else base[:, t]
            scores.append(full - f(occluded).gather(1, index).squeeze(1))
    return sign * torch.stack(scores, dim=1)


def test_occlusion_right_answer_passes():
    assert check_occlusion(occlusion).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"zeros": True}, "replaced the token with zeros"),
    ({"cumulative": True}, "stay replaced"),
    ({"sign": -1}, "sign is reversed"),
])
def test_occlusion_wrong_answers_fail(kwargs, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_occlusion(lambda f, x, t, b: occlusion(f, x, t, b, **kwargs))


# ---------------------------------------------------------------- probe with control
def probe(features, labels, word_types, train, test, on_train=False, control="type"):
    rng = np.random.default_rng(0)
    if control == "type":
        table = {w: rng.integers(0, 2) for w in sorted(set(word_types))}
        fake = np.array([table[w] for w in word_types])
    elif control == "example":
        fake = rng.integers(0, 2, len(labels))
    else:
        fake = np.asarray(labels)
    scored = train if on_train else test

    def accuracy(y):
        model = LogisticRegression(max_iter=2000).fit(features[train], y[train])
        return model.score(features[scored], y[scored])

    return accuracy(np.asarray(labels)), accuracy(fake)


def test_probe_right_answer_passes():
    assert check_probe_with_control(probe).passed
    assert check_probe_with_control(probe, seed=5).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"on_train": True}, "examples it was trained on"),
    ({"control": "example"}, "SAME random label"),
    ({"control": "labels"}, "follows the real label"),
])
def test_probe_wrong_answers_fail(kwargs, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_probe_with_control(lambda *a: probe(*a, **kwargs))


# ---------------------------------------------------------------- ablation
def ablate(lstm, inputs, units, steps, zero_c=True, after=False):
    h = inputs.new_zeros(1, len(inputs), lstm.hidden_size)
    c = torch.zeros_like(h)
    outs = []
    for t in range(inputs.shape[1]):
        out, (h, c) = lstm(inputs[:, t: t + 1], (h, c))
        if steps is None or t in steps:
            out = out.clone()
            out[..., units] = 0.0
            if not after:
                h = h.clone()
                h[..., units] = 0.0
                if zero_c:
                    c = c.clone()
                    c[..., units] = 0.0
        outs.append(out)
    return torch.cat(outs, dim=1)


def test_ablation_right_answer_passes():
    assert check_ablate_units(ablate).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"zero_c": False}, "leaks back through the cell state"),
    ({"after": True}, "in the output after the LSTM ran"),
])
def test_ablation_wrong_answers_fail(kwargs, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_ablate_units(lambda *a: ablate(*a, **kwargs))
