"""Checks for lab 03 (maximum likelihood): NLL, perplexity, bigram MLE, add-k, ECE.

Used in chapter 3. Each check runs the student's function on fresh random
inputs, compares it with a reference and, when it differs, tries the usual
mistakes (log base 2, sum instead of mean, rows not normalised, ...) to say
which one was made, without printing the expected values. The inputs include
the edges where right and wrong forms part: rows of logits thousands apart, a
target in the last class, a text long enough for a product of probabilities
to underflow, a history never seen in the last row, confidences exactly on
the bins' edges and equal to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

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


def _close(a: float, b: float) -> bool:
    # float32 answers are right too: allow their rounding, far below any mistake diagnosed
    return math.isclose(a, b, rel_tol=2e-5, abs_tol=1e-7)


def _scalar(value: object, exercise: str) -> float:
    tensor = as_tensor(value, exercise)
    if tensor.numel() != 1:
        fail(f"{exercise}: return one number, not a tensor of shape {tuple(tensor.shape)}")
    return float(tensor)


# ---------------------------------------------------------------- NLL
@exercise_check("nll")
def check_nll(nll: Callable, seed: int = 0) -> CheckResult:
    """Mean negative log-likelihood in nats of integer targets under softmax(logits)."""
    name = "nll"
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for n, v, scale in ((20, 7, 3.0), (50, 11, 2.0), (30, 5, 1000.0)):
        logits = torch.randn(n, v, generator=generator, dtype=torch.float64) * scale
        targets = torch.randint(0, v, (n,), generator=generator)
        targets[-1] = v - 1  # the last class is a target too
        cases.append((logits, targets))
    for logits, targets in cases:
        n = len(targets)
        value = _scalar(call(nll, logits.clone(), targets.clone(), exercise=name), name)
        reference = float(torch.nn.functional.cross_entropy(logits, targets))
        if _close(value, reference):
            continue
        if not math.isfinite(value):
            fail(f"{name}: your NLL is {value} for logits as large as "
                 f"{float(logits.abs().max()):.0f}, whose rows lie thousands apart: a "
                 "probability underflowed to 0 (softmax(...).log(), or one maximum subtracted "
                 "for the whole batch). Use a log-softmax that subtracts each row's own "
                 "maximum (Lab 0)")
        logp = torch.log_softmax(logits, dim=-1)  # (n, v)
        rows = torch.arange(n)
        diagnoses = [
            (reference * n, f"your value is the sum over the {n} targets; the NLL is their mean"),
            (reference / math.log(2), "your value is in bits (log base 2); use the natural "
                                      "logarithm, so the NLL is in nats"),
            (reference / math.log(10), "your value uses log base 10; use the natural logarithm"),
            (-reference, "your value has the wrong sign: the NLL is minus the mean "
                         "log-probability, so it is never negative"),
            (math.exp(-reference), "your value is a probability; take minus the mean of the "
                                   "log-probabilities instead"),
            (float(-logits[rows, targets].mean()), "you treated the raw logits as "
                                                   "log-probabilities; normalise them with a "
                                                   "log-softmax first"),
            (float(-logp.max(dim=-1).values.mean()), "you used the probability of the most "
                                                     "likely word, not of the target word"),
            (float(-logp.mean()), "you averaged the log-probabilities of every word of the "
                                  "vocabulary; take only each target's"),
        ]
        for wrong, message in diagnoses:
            if _close(value, wrong):
                fail(f"{name}: {message}")
        fail(f"{name}: for {n} targets your NLL differs from the right one by "
             f"{abs(value - reference):.3g}; average -log p(target) over the rows, with p the "
             "softmax of each row of logits")
    passed(name, len(cases))


# ---------------------------------------------------------------- perplexity
@exercise_check("perplexity")
def check_perplexity(perplexity: Callable, seed: int = 0) -> CheckResult:
    """Perplexity = exp(mean negative natural-log probability of the tokens)."""
    name = "perplexity"
    generator = torch.Generator().manual_seed(seed)
    cases = [torch.rand(n, generator=generator, dtype=torch.float64).clamp(min=0.01).log()
             for n in (40, 7)]
    vocab_size = int(torch.randint(20, 500, (1,), generator=generator))
    cases.append(torch.full((13,), -math.log(vocab_size), dtype=torch.float64))
    # A long text: the product of its probabilities underflows to 0 in floating point.
    cases.append(torch.rand(5000, generator=generator, dtype=torch.float64).clamp(min=0.01).log())
    for log_probs in cases:
        value = _scalar(call(perplexity, log_probs.clone(), exercise=name), name)
        mean_nll = float(-log_probs.mean())
        reference = math.exp(mean_nll)
        if _close(value, reference):
            continue
        if not math.isfinite(value) or value == 0:
            fail(f"{name}: for a text of {len(log_probs)} tokens your perplexity is {value}: "
                 "a product of that many probabilities underflows to 0. Average the "
                 "log-probabilities, then exponentiate")
        uniform = bool((log_probs == log_probs[0]).all())
        diagnoses = [
            (math.exp(float(-log_probs.sum())), "you exponentiated the total negative "
                                                "log-probability; use the mean over tokens"),
            (2.0 ** mean_nll, "you raised 2 to the NLL, but these log-probabilities are "
                              "natural logs: use e (2 goes with logs in base 2)"),
            (mean_nll, "your value is the NLL itself; perplexity is its exponential"),
            (math.exp(-mean_nll), "your value is below 1: mind the sign, perplexity is "
                                  "exp(minus the mean log-probability)"),
            (float((-log_probs).exp().mean()), "you averaged 1/p over tokens (an arithmetic "
                                               "mean); perplexity is exp of the mean -log p, "
                                               "a geometric mean"),
        ]
        for wrong, message in diagnoses:
            if _close(value, wrong):
                fail(f"{name}: {message}")
        if uniform:
            fail(f"{name}: for a uniform model over {vocab_size} words your perplexity is "
                 f"{value:.4g}; it should be the vocabulary size")
        fail(f"{name}: for {len(log_probs)} tokens your perplexity is off by a factor of "
             f"{value / reference:.4g}")
    passed(name, len(cases))


# ---------------------------------------------------------------- bigram tables
def _random_counts(generator: torch.Generator, v: int, unseen_last: bool = False
                   ) -> torch.Tensor:
    counts = torch.randint(0, 6, (v, v), generator=generator).to(torch.float64)
    counts *= torch.rand(v, v, generator=generator, dtype=torch.float64) < 0.5  # many zeros
    counts[:, -1] = 0.0
    counts[0, -1] = 1.0  # the last word follows one history, exactly once
    unseen = v - 1 if unseen_last else int(torch.randint(1, v - 1, (1,), generator=generator))
    counts[unseen] = 0.0  # a history never seen
    return counts  # (history, next word)


def _mle_reference(counts: torch.Tensor) -> torch.Tensor:
    totals = counts.sum(dim=1, keepdim=True)  # (v, 1) c(h)
    uniform = torch.full_like(counts, 1.0 / counts.shape[1])
    return torch.where(totals > 0, counts / totals.clamp(min=1e-300), uniform)


def _table_checks(name: str, table: torch.Tensor, counts: torch.Tensor) -> None:
    """Feedback shared by the MLE and add-k checks: shape, rows vs columns, unseen rows."""
    v = counts.shape[0]
    expect_shape(table, (v, v), name)
    unseen = int((counts.sum(dim=1) == 0).nonzero()[0])
    if torch.isnan(table).any():
        where = "the row of a history never seen" if torch.isnan(table[unseen]).any() else "it"
        fail(f"{name}: your table has nan in {where}: 0/0. For a history with no counts, "
             "return the uniform distribution 1/|V|, as utils.lm.ngram does")
    if (table < 0).any():
        fail(f"{name}: some of your probabilities are negative")
    if torch.allclose(table, counts):
        fail(f"{name}: your table holds the counts; divide each row by its total")
    row_sums = table.sum(dim=1)
    seen = counts.sum(dim=1) > 0
    if torch.allclose(table.sum(), torch.tensor(1.0, dtype=table.dtype)) and v > 1:
        fail(f"{name}: your whole table sums to 1: that is the joint P(history, word). "
             "Divide by the count of the history, c(h), so each row sums to 1")
    if not torch.allclose(row_sums[seen], torch.ones_like(row_sums[seen]), atol=1e-6):
        col_sums = table.sum(dim=0)
        if torch.allclose(col_sums, torch.ones_like(col_sums), atol=1e-6):
            fail(f"{name}: your columns sum to 1, not your rows. Row h is the history: "
                 "normalise along each row")
        bad = int((row_sums - 1).abs().argmax())
        fail(f"{name}: your row for history {bad} sums to {float(row_sums[bad]):.4g}, not 1")
    if not torch.isclose(row_sums[unseen], torch.tensor(1.0, dtype=table.dtype), atol=1e-6):
        fail(f"{name}: the row of a history never seen sums to {float(row_sums[unseen]):.4g}; "
             "return the uniform distribution 1/|V| there")


@exercise_check("bigram_mle")
def check_bigram_mle(bigram_mle: Callable, seed: int = 0) -> CheckResult:
    """counts[h, w] -> P(w | h) = c(h, w) / c(h), uniform for a history never seen."""
    name = "bigram_mle"
    generator = torch.Generator().manual_seed(seed)
    cases = [_random_counts(generator, 6), _random_counts(generator, 13, unseen_last=True)]
    for counts in cases:
        table = as_tensor(call(bigram_mle, counts.clone(), exercise=name), name)
        _table_checks(name, table, counts)
        error = worst_error(table, _mle_reference(counts))
        if error > 1e-6:
            if worst_error(table, _mle_reference(counts.T).T) <= 1e-6:
                fail(f"{name}: your table is transposed: counts[h, w] counts word w after "
                     "history h, and row h of the result must be P(. | h)")
            fail(f"{name}: your rows sum to 1 but differ from c(h, w) / c(h) by up to "
                 f"{error:.3g}")
    passed(name, len(cases))


@exercise_check("add_k")
def check_add_k(add_k: Callable, seed: int = 0) -> CheckResult:
    """counts[h, w], k -> (c(h, w) + k) / (c(h) + k |V|)."""
    name = "add_k"
    generator = torch.Generator().manual_seed(seed)
    cases = [(_random_counts(generator, 7), 0.5),
             (_random_counts(generator, 12, unseen_last=True), 0.01),
             (_random_counts(generator, 5), 2.0)]
    for counts, k in cases:
        v = counts.shape[1]
        table = as_tensor(call(add_k, counts.clone(), k, exercise=name), name)
        expect_shape(table, (v, v), name)
        totals = counts.sum(dim=1, keepdim=True)  # (v, 1)
        reference = (counts + k) / (totals + k * v)
        if not torch.isfinite(table).all():
            fail(f"{name}: your table has inf or nan: a history never seen has c(h) = 0, "
                 "but with k|V| in the denominator nothing is divided by 0")
        if worst_error(table, _mle_reference(counts)) <= 1e-6:
            fail(f"{name}: your table ignores k (it is the unsmoothed MLE): add k to every "
                 "count, seen or not")
        row_sums = table.sum(dim=1)
        if worst_error(table, reference) <= 1e-6:
            continue
        wrong_denominators = [
            (totals, f"your rows sum to up to {float(row_sums.max()):.4g}, not 1: with k "
                     "added to each of the |V| counts of a row, the denominator must grow "
                     "by k|V| too"),
            (totals + k, f"your rows sum to up to {float(row_sums.max()):.4g}, not 1: you "
                         "added k to the denominator once, but each of the |V| words got k, "
                         "so add k|V|"),
        ]
        for denominator, message in wrong_denominators:
            with torch.no_grad():
                candidate = (counts + k) / denominator.clamp(min=1e-300)
            if worst_error(table, candidate) <= 1e-6:
                fail(f"{name}: {message}")
        if worst_error(table, counts / (totals + k * v)) <= 1e-6:
            fail(f"{name}: your rows sum to {float(row_sums.min()):.4g} or less: add k to the "
                 "numerator too, so unseen words get probability k / (c(h) + k|V|)")
        col_sums = table.sum(dim=0)
        if torch.allclose(col_sums, torch.ones_like(col_sums), atol=1e-6):
            fail(f"{name}: your columns sum to 1, not your rows. Row h is the history: "
                 "normalise along each row")
        if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-6):
            bad = int((row_sums - 1).abs().argmax())
            fail(f"{name}: your row for history {bad} sums to {float(row_sums[bad]):.4g}, "
                 "not 1")
        fail(f"{name}: with k = {k:g} your rows sum to 1 but differ from "
             f"(c(h, w) + k) / (c(h) + k|V|) by up to {worst_error(table, reference):.3g}")
    passed(name, len(cases))


# ---------------------------------------------------------------- ECE
_RULES = {  # which confidences bin [low, high] holds; "right" is the definition
    "right": lambda c, low, high: (c > low) & (c <= high),
    "left": lambda c, low, high: (c >= low) & ((c < high) | (high == 1.0)),
    "left_drop": lambda c, low, high: (c >= low) & (c < high),
    "open": lambda c, low, high: (c > low) & (c < high),
}


def _exact_edges(n_bins: int) -> torch.Tensor:
    return torch.arange(n_bins + 1, dtype=torch.float64) / n_bins  # (n_bins + 1,), m / M


def _ece(confidence: torch.Tensor, correct: torch.Tensor, edges: torch.Tensor,
         weighted: bool = True, absolute: bool = True, rule: str = "right") -> float:
    """ECE over bins (edges[m], edges[m+1]]; variants reproduce the usual mistakes."""
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
        total += float(members.double().mean()) * gap
    return total if weighted else sum(gaps) / len(gaps)


def _miscalibrated_case(generator: torch.Generator, n: int, classes: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions overconfident above confidence 0.6 and underconfident below it."""
    logits = torch.randn(n, classes, generator=generator, dtype=torch.float64) * 2.5
    probs = torch.softmax(logits, dim=-1)  # (n, classes), what the model says
    # Both signs of gap, so no signed sum or wrong binning can match by accident.
    temperature = torch.where(probs.max(dim=-1, keepdim=True).values > 0.6, 2.0, 0.5)
    truth = torch.softmax(logits / temperature, dim=-1)  # what the data do
    targets = torch.multinomial(truth, 1, generator=generator).squeeze(1)
    return probs, targets


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


def _edge_case(generator: torch.Generator, per_level: int = 40
               ) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.tensor([r for r, _ in _EDGE_ROWS], dtype=torch.float64)  # (6, 5)
    right = torch.tensor([ok for _, ok in _EDGE_ROWS])  # (6,)
    level = torch.arange(len(_EDGE_ROWS)).repeat(per_level)  # (n,)
    level = level[torch.randperm(len(level), generator=generator)]
    shift = torch.randint(0, 5, (len(level),), generator=generator)  # the top class varies
    probs = torch.stack([torch.roll(rows[i], int(k)) for i, k in zip(level, shift, strict=True)])
    top = probs.argmax(dim=-1)
    other = (top + torch.randint(1, 5, (len(level),), generator=generator)) % 5  # never top
    return probs, torch.where(right[level], top, other)  # (n, 5), (n,)


def _ece_diagnoses(value: float, reference: float, confidence: torch.Tensor,
                   correct: torch.Tensor, target_prob: torch.Tensor, n_bins: int) -> None:
    edges = _exact_edges(n_bins)
    diagnoses = [
        (100 * reference, "your value is a percentage; return the ECE as a fraction "
                          "between 0 and 1"),
        (_ece(confidence, correct, edges, rule="left"),
         "a confidence exactly on an edge m/M belongs to the bin BELOW it: bins are "
         "((m-1)/M, m/M], closed on the right, so 1.0 falls in the last bin"),
        (_ece(confidence, correct, edges, rule="left_drop"),
         "your bins [low, high) leave out predictions of confidence exactly 1.0, and put "
         "a confidence on an edge m/M one bin too high: bins are ((m-1)/M, m/M]"),
        (_ece(confidence, correct, edges, rule="open"),
         "predictions whose confidence is exactly on an edge m/M (or equal to 1.0) fell "
         "out of every bin: bin m holds ((m-1)/M, m/M], closed on the right"),
        (_ece(confidence, correct, edges, weighted=False),
         "you averaged the bins' gaps equally; weight each bin's |accuracy - confidence| "
         "by its share of the predictions, |B_m| / n"),
        (_ece(confidence, correct, edges, absolute=False),
         "you summed signed gaps, so over- and underconfident bins cancel; take "
         "|accuracy - confidence| in each bin"),
        (abs(_ece(confidence, correct, edges, absolute=False)),
         "you took the absolute value of the total instead of each bin's gap"),
        (_ece(target_prob, correct, edges),
         "your confidence is the probability of the target word; it should be the "
         "probability of the predicted (most likely) word, the row's maximum"),
        (_ece(confidence, correct, _exact_edges(n_bins - 1)),
         f"you used {n_bins - 1} bins: {n_bins} equal-width bins need {n_bins + 1} edges "
         "(torch.linspace(0, 1, n_bins + 1))"),
        (float((correct - confidence).abs().mean()),
         "you averaged |correct - confidence| over single predictions; average "
         "accuracy and confidence within each bin first, then take the gap"),
    ]
    if n_bins != 15:
        diagnoses.append((_ece(confidence, correct, _exact_edges(15)),
                          f"you used 15 bins although n_bins = {n_bins}; use the argument"))
    for wrong, message in diagnoses:
        if _close(value, wrong) and not _close(wrong, reference):
            fail(f"ece: {message}")


@exercise_check("ece")
def check_ece(ece: Callable, seed: int = 0) -> CheckResult:
    """ECE with n_bins equal-width bins, weighted by the share of predictions per bin."""
    name = "ece"
    generator = torch.Generator().manual_seed(seed)
    edge_case = _edge_case(generator)
    cases = [(_miscalibrated_case(generator, 3000, 5), 15),
             (_miscalibrated_case(generator, 2000, 4), 10),
             (_miscalibrated_case(generator, 1000, 6), 4),
             (edge_case, 4), (edge_case, 2)]
    for (probs, targets), n_bins in cases:
        value = _scalar(call(ece, probs.clone(), targets.clone(), n_bins, exercise=name), name)
        confidence, predicted = probs.max(dim=-1)
        correct = (predicted == targets).double()
        reference = _ece(confidence, correct, _exact_edges(n_bins))
        if _close(value, reference):
            continue
        target_prob = probs[torch.arange(len(targets)), targets]
        _ece_diagnoses(value, reference, confidence, correct, target_prob, n_bins)
        if not 0.0 <= value <= 1.0:
            fail(f"{name}: your ECE is {value:.4g}, but an ECE lies between 0 and 1")
        fail(f"{name}: with n_bins = {n_bins} your ECE is off by {abs(value - reference):.3g}. "
             f"Use {n_bins} equal-width bins of confidence (bin m holds ((m-1)/M, m/M]), "
             "and weight each bin's |accuracy - confidence| by its share of predictions")
    passed(name, len(cases))
