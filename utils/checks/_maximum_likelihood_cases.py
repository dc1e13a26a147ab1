"""Cases and trusted references for lab 03's checks (`utils.checks.maximum_likelihood`).

The cases include the edges where right and wrong forms part: logits near
800 (exp overflows without subtracting the maximum), rows thousands apart (one
maximum for the batch underflows), a row whose own logits span thousands
(softmax(z).log() gives -inf even with a stable softmax), a text long enough
for a product of probabilities to underflow, a history never seen in the last
row, confidences exactly on the bins' edges and equal to 1. The references and
the usual mistakes (`ece_variant`) are computed here, from the case alone. Chapter 3.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from utils.checks._core import Case


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.numpy().copy()


# ---------------------------------------------------------------- NLL and perplexity
def nll_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    # kind: what the case probes, so that a non-finite answer gets the hint it deserves
    for n, v, kind in ((20, 7, "plain"), (50, 11, "plain"), (1, 6, "plain"),
                       (12, 5, "offset"), (6, 6, "rows_apart"), (30, 5, "spread")):
        logits = torch.randn(n, v, generator=generator, dtype=torch.float64) * 3
        if kind == "offset":  # exp(800) overflows; the values within a row stay close
            logits = logits + 800.0
        elif kind == "rows_apart":  # rows thousands apart, each one's own values close
            logits = logits + 1000.0 * torch.arange(n, dtype=torch.float64)[:, None]
        elif kind == "spread":  # a row's own logits span thousands
            logits = logits * 400.0
        targets = torch.randint(0, v, (n,), generator=generator)
        targets[-1] = v - 1  # the last class is a target too
        if kind == "spread":
            targets[0] = int(logits[0].argmin())  # a target whose probability underflows
        cases.append({"logits": _np(logits), "targets": _np(targets), "kind": kind})
    return cases


def nll_reference(case: Case) -> float:
    logits, targets = torch.from_numpy(case["logits"]), torch.from_numpy(case["targets"])
    return float(torch.nn.functional.cross_entropy(logits, targets))


def perplexity_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = [{"log_probs": _np(torch.rand(n, generator=generator, dtype=torch.float64)
                               .clamp(min=0.01).log())} for n in (40, 7)]
    vocab_size = int(torch.randint(20, 500, (1,), generator=generator))
    cases.append({"log_probs": np.full(13, -math.log(vocab_size)), "uniform": vocab_size})
    cases.append({"log_probs": _np(torch.rand(1, generator=generator, dtype=torch.float64)
                                   .clamp(min=0.01).log())})  # a text of one token
    # A long text: the product of its probabilities underflows to 0 in floating point.
    cases.append({"log_probs": _np(torch.rand(5000, generator=generator, dtype=torch.float64)
                                   .clamp(min=0.01).log())})
    return cases


# ---------------------------------------------------------------- bigram tables
def random_counts(generator: torch.Generator, v: int, unseen_last: bool = False) -> np.ndarray:
    counts = torch.randint(0, 6, (v, v), generator=generator).to(torch.float64)
    counts *= torch.rand(v, v, generator=generator, dtype=torch.float64) < 0.5  # many zeros
    counts[:, -1] = 0.0
    counts[0, -1] = 1.0  # the last word follows one history, exactly once
    unseen = v - 1 if unseen_last else int(torch.randint(1, v - 1, (1,), generator=generator))
    counts[unseen] = 0.0  # a history never seen
    return _np(counts)  # (history, next word)


def mle_reference(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True)  # (v, 1) c(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.maximum(totals, 1e-300), 1.0 / counts.shape[1])


def bigram_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    return [{"counts": random_counts(generator, 6)},
            {"counts": random_counts(generator, 13, unseen_last=True)}]


def add_k_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    return [{"counts": random_counts(generator, 7), "k": 0.5},
            {"counts": random_counts(generator, 12, unseen_last=True), "k": 0.01},
            {"counts": random_counts(generator, 5), "k": 2.0}]


# ---------------------------------------------------------------- ECE
_RULES = {  # which confidences bin [low, high] holds; "right" is the definition
    "right": lambda c, low, high: (c > low) & (c <= high),
    "left": lambda c, low, high: (c >= low) & ((c < high) | (high == 1.0)),
    "left_drop": lambda c, low, high: (c >= low) & (c < high),
    "open": lambda c, low, high: (c > low) & (c < high),
}


def exact_edges(n_bins: int) -> np.ndarray:
    return np.arange(n_bins + 1, dtype=np.float64) / n_bins  # (n_bins + 1,), m / M


def ece_variant(confidence: np.ndarray, correct: np.ndarray, edges: np.ndarray,
                weighted: bool = True, absolute: bool = True, rule: str = "right") -> float:
    """ECE over bins (edges[m], edges[m+1]]; the options reproduce the usual mistakes."""
    total, gaps = 0.0, []
    for m, (low, high) in enumerate(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)):
        members = _RULES[rule](confidence, low, high)
        if rule == "right" and m == 0:
            members |= confidence == 0.0  # a confidence of exactly 0 joins the first bin
        if not members.any():
            continue
        gap = float(correct[members].mean() - confidence[members].mean())
        gap = abs(gap) if absolute else gap
        gaps.append(gap)
        total += float(members.mean()) * gap
    return total if weighted else sum(gaps) / len(gaps)


def _miscalibrated(generator: torch.Generator, n: int, classes: int) -> tuple[np.ndarray, ...]:
    """Predictions overconfident above confidence 0.6 and underconfident below it."""
    logits = torch.randn(n, classes, generator=generator, dtype=torch.float64) * 2.5
    probs = torch.softmax(logits, dim=-1)  # (n, classes), what the model says
    # Both signs of gap, so no signed sum or wrong binning can match by accident.
    temperature = torch.where(probs.max(dim=-1, keepdim=True).values > 0.6, 2.0, 0.5)
    truth = torch.softmax(logits / temperature, dim=-1)  # what the data do
    targets = torch.multinomial(truth, 1, generator=generator).squeeze(1)
    return _np(probs), _np(targets)


# Rows whose top probability sits exactly on an edge m/4 (and m/2), or equals 1, and
# whose every entry is exact in binary, so any correct binning agrees on them. Each
# level is right or wrong as listed: gaps of both signs that cancel differently when
# an edge is put in the bin above, whatever the seed.
_EDGE_ROWS = (
    ((0.25, 0.1875, 0.1875, 0.1875, 0.1875), True),
    ((0.375, 0.25, 0.125, 0.125, 0.125), True),
    ((0.5, 0.25, 0.125, 0.125, 0.0), False),
    ((0.625, 0.125, 0.125, 0.0625, 0.0625), False),
    ((0.75, 0.125, 0.0625, 0.0625, 0.0), True),
    ((1.0, 0.0, 0.0, 0.0, 0.0), False),
)


def _on_edges(generator: torch.Generator, per_level: int = 40) -> tuple[np.ndarray, ...]:
    rows = torch.tensor([r for r, _ in _EDGE_ROWS], dtype=torch.float64)  # (6, 5)
    right = torch.tensor([ok for _, ok in _EDGE_ROWS])  # (6,)
    level = torch.arange(len(_EDGE_ROWS)).repeat(per_level)  # (n,)
    level = level[torch.randperm(len(level), generator=generator)]
    shift = torch.randint(0, 5, (len(level),), generator=generator)  # the top class varies
    probs = torch.stack([torch.roll(rows[i], int(k)) for i, k in zip(level, shift, strict=True)])
    top = probs.argmax(dim=-1)
    other = (top + torch.randint(1, 5, (len(level),), generator=generator)) % 5  # never top
    return _np(probs), _np(torch.where(right[level], top, other))  # (n, 5), (n,)


def ece_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    edge_probs, edge_targets = _on_edges(generator)
    cases = [(*_miscalibrated(generator, 3000, 5), 15), (*_miscalibrated(generator, 2000, 4), 10),
             (*_miscalibrated(generator, 1000, 6), 4),
             (edge_probs, edge_targets, 4), (edge_probs, edge_targets, 2)]
    return [{"probs": p, "targets": t, "n_bins": n} for p, t, n in cases]


def confidence_and_correct(case: Case) -> tuple[np.ndarray, np.ndarray]:
    probs, targets = case["probs"], case["targets"]
    return probs.max(axis=-1), (probs.argmax(axis=-1) == targets).astype(np.float64)
