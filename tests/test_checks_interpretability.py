"""Lab 07's checks pass right answers and fail each plausible wrong one, saying which.

Wrong answers caught: gradient x input without the (x - x') factor, as the plain
gradient, with its sign reversed, or summed over the token axis; integrated
gradients from a zero path start instead of the baseline, without the (x - x')
factor, with steps that skip an end of the path (left or right Riemann sums) or
with equal weights at the ends; occlusion with zeros instead of the baseline, with
its sign reversed, or with tokens left replaced; a probe scored on its training
split, a control task that copies the real labels or varies within a word type;
an ablation that leaks through the cell state, zeroes only the output or
ignores the steps.

Every exercise also passes two implementations that are not the check's
reference at several seeds, and fails an answer that edits its inputs (the
model's weights, the inputs, the baseline, the features) in place and one that
calls the library it replaces (the course's attributions, captum, its probes).
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from utils.checks import CheckFailed
from utils.checks.interpretability import (
    EXERCISES,
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


def gxi_rows(f, x, target, base):  # one row at a time, as a NumPy array
    rows = []
    for i in range(len(x)):
        xi = x[i:i + 1].detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xi)[0, int(target[i])], xi)
        rows.append(((xi - base[i:i + 1]) * g).sum(-1)[0].detach().numpy())
    return np.stack(rows)


SEEDS = (0, 3, 2**31 - 1)  # the last: the top of the grader's seed range


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [gxi, gxi_rows])
def test_gradient_x_input_right_answers_pass(right, seed):
    assert check_gradient_x_input(right, seed=seed).passed


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


def ig_batched(f, x, target, base, n_steps):  # every point of the path in one forward pass
    alphas = torch.arange(n_steps, dtype=x.dtype) / (n_steps - 1)
    path = (base[None] + alphas[:, None, None, None] * (x - base)[None]).reshape(-1, *x.shape[1:])
    grads = _grad(f, path, torch.as_tensor(target).repeat(n_steps)).reshape(n_steps, *x.shape)
    weights = torch.ones(n_steps, dtype=x.dtype)
    weights[0] = weights[-1] = 0.5
    return ((x - base) * torch.einsum("k,k...->...", weights, grads) / (n_steps - 1)).sum(-1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [ig, ig_batched])
def test_integrated_gradients_right_answers_pass(right, seed):
    assert check_integrated_gradients(right, seed=seed).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"start_zero": True}, "starts at zero"),
    ({"factor": False}, "did not multiply"),
    ({"rule": "left"}, "alpha = 1 is missing"),
    ({"rule": "right"}, "alpha = 0 is missing"),
    ({"rule": "equal"}, "half the weight"),
    ({"rule": "equal", "factor": False}, "completeness|trapezoid rule with"),
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


def occlusion_batched(f, x, target, base):
    batch, seq = x.shape[:2]
    copies = x[None].repeat(seq, 1, 1, 1)  # (seq, batch, seq, emb): copy t has token t replaced
    copies[torch.arange(seq), :, torch.arange(seq)] = base.transpose(0, 1)
    index = torch.as_tensor(target).repeat(seq)[:, None]
    with torch.no_grad():
        full = f(x).gather(1, torch.as_tensor(target)[:, None])[:, 0]
        dropped = f(copies.reshape(-1, *x.shape[1:])).gather(1, index)[:, 0].reshape(seq, batch)
    return (full[None] - dropped).T.numpy()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [occlusion, occlusion_batched])
def test_occlusion_right_answers_pass(right, seed):
    assert check_occlusion(right, seed=seed).passed


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


def _newton_accuracy(x, y, train, test):
    """L2-penalised logistic regression (penalty 1/2 |w|^2, intercept free) by Newton steps."""
    design = np.c_[x, np.ones(len(x))]
    a, b = design[train], y[train]
    w = np.zeros(design.shape[1])
    penalty = np.r_[np.ones(x.shape[1]), 0.0]
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ w)))
        hessian = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        w -= np.linalg.solve(hessian, a.T @ (p - b) + penalty * w)
    return float(np.mean(((design[test] @ w) > 0) == (y[test] == 1)))


def probe_newton(features, labels, word_types, train, test):
    types = sorted(set(word_types), reverse=True)  # another order, another random draw
    table = dict(zip(types, np.random.default_rng(0).permutation(len(types)) % 2, strict=True))
    control = np.array([table[w] for w in word_types])
    labels = np.asarray(labels)
    return (_newton_accuracy(features, labels, train, test),
            _newton_accuracy(features, control, train, test))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [probe, probe_newton])
def test_probe_right_answers_pass(right, seed):
    assert check_probe_with_control(right, seed=seed).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"on_train": True}, "rows it was trained on|held-out rows is a number"),
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


def ablate_by_gates(lstm, inputs, units, steps):  # the LSTM equations written out
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = inputs.new_zeros(len(inputs), lstm.hidden_size)
    c, keep, outs = torch.zeros_like(h), torch.ones(lstm.hidden_size, dtype=inputs.dtype), []
    keep[units] = 0.0
    for t in range(inputs.shape[1]):
        i, f, g, o = (inputs[:, t] @ w_ih.T + h @ w_hh.T + bias).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if steps is None or t in steps:
            h, c = h * keep, c * keep
        outs.append(h)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [ablate, ablate_by_gates])
def test_ablation_right_answers_pass(right, seed):
    assert check_ablate_units(right, seed=seed).passed


@pytest.mark.parametrize("kwargs, phrase", [
    ({"zero_c": False}, "leaks back through the cell state"),
    ({"after": True}, "in the output after the LSTM ran"),
])
def test_ablation_wrong_answers_fail(kwargs, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_ablate_units(lambda *a: ablate(*a, **kwargs))


def test_ablation_catches_ignored_steps():
    with pytest.raises(CheckFailed, match="only at the listed steps"):
        check_ablate_units(lambda lstm, x, u, steps: ablate(lstm, x, u, None))


# ---------------------------------------------------------------- inputs edited in place
def _zero_weights(f, x, t, b, *rest):
    for p in f.parameters():
        p.data.zero_()  # a check reading the model afterwards would expect all-zero scores
    return torch.zeros(x.shape[:2], dtype=x.dtype)


def _input_is_baseline(f, x, t, b, *rest):
    x.copy_(b)  # x = x': nothing left to attribute for a check that reads x afterwards
    return torch.zeros(x.shape[:2], dtype=x.dtype)


def _probe_labels_into_features(features, labels, word_types, train, test):
    features[:] = np.asarray(labels)[:, None]  # every column now the label itself
    return probe(features, labels, word_types, train, test)


def _ablation_frozen_lstm(lstm, inputs, units, steps):
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()  # no recurrence: nothing can leak
    return ablate(lstm, inputs, units, steps, zero_c=False)


@pytest.mark.parametrize("check, answer", [
    (check_gradient_x_input, _zero_weights), (check_gradient_x_input, _input_is_baseline),
    (check_integrated_gradients, _zero_weights), (check_integrated_gradients, _input_is_baseline),
    (check_occlusion, _zero_weights), (check_occlusion, _input_is_baseline),
    (check_probe_with_control, _probe_labels_into_features),
    (check_ablate_units, _ablation_frozen_lstm),
])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)


# ---------------------------------------------------------------- library calls
def _library_answers():
    from captum.attr import IntegratedGradients as CaptumIG

    from utils.interpretability import UnitAblatedLSTM
    from utils.interpretability.attributions import GradientXInput, Occlusion, token_scores
    from utils.interpretability.probes import probe_accuracy

    def captum_ig(f, x, t, b, n):
        return CaptumIG(f).attribute(x, baselines=b, target=t, n_steps=n,
                                     method="riemann_trapezoid").sum(-1)
    return [
        (check_gradient_x_input, lambda f, x, t, b: token_scores(
            GradientXInput(f).attribute(x, target=t, baselines=b))),
        (check_integrated_gradients, captum_ig),
        (check_occlusion, lambda f, x, t, b: token_scores(
            Occlusion(f).attribute(x, target=t, baselines=b))),
        (check_probe_with_control, lambda x, y, w, tr, te: (
            probe_accuracy(x, y, tr, te), probe(x, y, w, tr, te)[1])),
        (check_ablate_units, lambda lstm, x, u, s: UnitAblatedLSTM(lstm, u, s)(x)[0]),
    ]


def test_answers_that_call_the_library_fail():
    for check, answer in _library_answers():
        with pytest.raises(CheckFailed, match="calls `"):
            check(answer)


def test_every_exercise_has_cases_of_plain_data():
    from utils.checks._plain import dumps, loads
    for exercise in EXERCISES.values():
        cases = exercise.make_cases(4)
        assert len(cases) >= 3
        assert all(loads(dumps(case)).keys() == case.keys() for case in cases)

