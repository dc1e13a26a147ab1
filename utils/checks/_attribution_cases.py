"""Lab 07's attribution exercises as data: gradient x input, integrated gradients, occlusion.

Used in chapter 7 through ``utils.checks.interpretability``. A case holds a
small float64 classifier as a state dict of arrays (an LSTM over embeddings,
mean-pooled, to 3 class logits), inputs, targets and a nonzero baseline; the
judge rebuilds the model from the case and computes the reference with
``utils.interpretability.attributions`` (itself tested against captum).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from utils.checks._answers import array, diagnose
from utils.checks._core import Wrong
from utils.i18n import _
from utils.interpretability.attributions import (
    Gradient,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    token_scores,
)
from utils.runtime.scoped import local_seed

FORBIDDEN = tuple(f"utils.interpretability.attributions.{m}.attribute" for m in (
    "Gradient", "GradientXInput", "IntegratedGradients", "Occlusion")) + tuple(
    f"captum.attr.{m}.attribute" for m in ("Saliency", "InputXGradient", "IntegratedGradients",
                                           "Occlusion", "FeatureAblation"))
_EMB, _HIDDEN = 4, 6


class _TinyClassifier(nn.Module):
    """An LSTM over embeddings, mean-pooled, to 3 class logits (float64)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(_EMB, _HIDDEN, batch_first=True)
        self.head = nn.Linear(_HIDDEN, 3)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        hidden = self.lstm(embeddings)[0]  # (batch, seq, hidden)
        return self.head(torch.tanh(hidden).mean(dim=1))  # (batch, 3)


def cases(seed: int, stream: int, n_steps: tuple[int | None, ...]) -> list[dict]:
    """One case per entry of ``n_steps`` (None: the method takes no n_steps)."""
    out = []
    for k, steps in enumerate(n_steps):
        with local_seed(seed * 1000 + stream * 10 + k):
            model = _TinyClassifier().double()
        rng = np.random.default_rng([seed, stream, k])
        batch, seq = (5, 7) if k < 2 else (1, 3)  # three different sizes, then a single input
        out.append({"model": {n: p.detach().numpy().copy() for n, p in
                              model.state_dict().items()},
                    "inputs": rng.normal(size=(batch, seq, _EMB)),
                    "baselines": 0.5 * rng.normal(size=(batch, seq, _EMB)),
                    "target": rng.integers(0, 3, batch), "n_steps": steps})
    return out


def model_of(case: dict) -> nn.Module:
    model = _TinyClassifier().double()
    model.load_state_dict({n: torch.from_numpy(np.asarray(a)) for n, a in case["model"].items()})
    return model.eval()


def tensors(case: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(case["inputs"]), torch.from_numpy(case["target"]),
            torch.from_numpy(case["baselines"]))


def run(name: str):
    def run_one(ns, case):
        x, target, base = tensors(case)
        extra = () if case["n_steps"] is None else (case["n_steps"],)
        return ns[name](model_of(case), x, target, base, *extra)
    return run_one


def _scores(output, case: dict) -> np.ndarray:
    batch, seq, emb = np.shape(case["inputs"])
    got = array(output, _("your token scores"))
    if got.shape == (batch, emb) and emb != seq:
        raise Wrong(_("your result has one number per embedding feature; it needs one per TOKEN, "
                      "so sum over the embedding axis (the last), not over the tokens"))
    if got.shape == (batch, seq, emb):
        raise Wrong(_("return one score per token, shape (batch, seq_len): sum the attribution "
                      "over the embedding axis"))
    return array(output, _("your token scores"), (batch, seq))


def judge_gradient_x_input(case, output):
    got = _scores(output, case)
    model, (x, target, base) = model_of(case), tensors(case)
    want = token_scores(GradientXInput(model).attribute(x, target=target, baselines=base))
    if np.allclose(got, want.numpy(), atol=1e-6):
        return None
    diagnose(got, {
        _("you multiplied the gradient by x alone; multiply by (x - x'), the input minus the "
          "baseline you were given"):
            token_scores(GradientXInput(model).attribute(x, target=target)),
        _("you returned the plain gradient; gradient x input multiplies it by (x - x')"):
            token_scores(Gradient(model).attribute(x, target=target)),
        _("the sign is reversed: the score is (x - x') times dF/dx, not (x' - x)"): -want}, 1e-6)
    raise Wrong(_("your token scores are not (x - x') * dF/dx summed over each token's features"))


def _ig_rule(ig: IntegratedGradients, x, target, base, n_steps: int, rule: str) -> torch.Tensor:
    """Token scores of three wrong IG sums: "left"/"right" skip an end, "equal" weights."""
    alphas = torch.linspace(0, 1, n_steps + (rule != "equal"), dtype=x.dtype)
    alphas = {"left": alphas[:-1], "right": alphas[1:], "equal": alphas}[rule]
    total = sum(ig.gradient(base + a * (x - base), target) for a in alphas)
    return token_scores((x - base) * total / n_steps)


def judge_integrated_gradients(case, output):
    got, n_steps = _scores(output, case), case["n_steps"]
    model, (x, target, base) = model_of(case), tensors(case)
    ig = IntegratedGradients(model)
    want = token_scores(ig.attribute(x, target=target, baselines=base, n_steps=n_steps))
    if np.allclose(got, want.numpy(), atol=1e-6):
        return None
    path = _("n_steps points from 0 to 1, both included, each end weighted half")
    diagnose(got, {
        _("your path starts at zero, not at the baseline x' you were given"):
            token_scores(ig.attribute(x, target=target, n_steps=n_steps)),
        _("you averaged the gradients along the path but did not multiply by (x - x'), the input "
          "minus the baseline"): token_scores(ig.attribute(x, target=target, baselines=base,
                                                        n_steps=n_steps) / (x - base)),
        _("your alphas skip an end of the path (alpha = 1 is missing); use {path}").format(
            path=path):
            _ig_rule(ig, x, target, base, n_steps, "left"),
        _("your alphas skip an end of the path (alpha = 0 is missing); use {path}").format(
            path=path):
            _ig_rule(ig, x, target, base, n_steps, "right"),
        _("the steps are right but every point weighs the same; the trapezoid rule gives each "
          "end half the weight of the others"): _ig_rule(ig, x, target, base, n_steps, "equal"),
        _("the sign is reversed: integrate from the baseline x' to the input x"): -want}, 1e-6)
    with torch.no_grad():
        gap = (ig.score(x, target) - ig.score(base, target)).numpy()
    if n_steps >= 100 and np.abs(got.sum(1) - gap).max() > 0.05 * np.abs(gap).max():
        raise Wrong(_("with {n_steps} points your token scores should add up to F(x) - F(x') "
                      "within a few per cent; they do not (completeness)").format(n_steps=n_steps))
    raise Wrong(_("your token scores are not the trapezoid rule with {n_steps} points, alpha_k = "
                  "k / (n_steps - 1)").format(n_steps=n_steps))


def judge_occlusion(case, output):
    got = _scores(output, case)
    model, (x, target, base) = model_of(case), tensors(case)
    occlusion = Occlusion(model)
    want = token_scores(occlusion.attribute(x, target=target, baselines=base))
    if np.allclose(got, want.numpy(), atol=1e-6):
        return None
    with torch.no_grad():
        full = occlusion.score(x, target)
        cumulative, running = torch.zeros(got.shape, dtype=x.dtype), x.clone()
        for t in range(x.shape[1]):
            running[:, t] = base[:, t]
            cumulative[:, t] = full - occlusion.score(running, target)
    diagnose(got, {
        _("the sign is reversed: the score is F(x) minus F(x with the token replaced)"): -want,
        _("you replaced the token with zeros; replace it with the baseline's vector at that "
          "position"): token_scores(occlusion.attribute(x, target=target)),
        _("earlier tokens stay replaced when you move on: copy the input afresh for each "
          "position, replacing one token at a time"): cumulative}, 1e-6)
    raise Wrong(_("your token scores are not F(x) - F(x with one token replaced by the baseline)"))
