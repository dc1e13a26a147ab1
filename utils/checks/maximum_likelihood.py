"""Checks for lab 03 (maximum likelihood): NLL, perplexity, bigram MLE, add-k, ECE.

Used in chapter 3. Each exercise is data (`EXERCISES`): cases from a seed
(`utils.checks._maximum_likelihood_cases`, edges included), a run that calls
the student's function on a private copy, and a judge that computes the
reference from the case and, when the answer differs, tries the usual mistakes
(log base 2, sum instead of mean, rows not normalised, ...) to say which one
was made, without printing anything computed from the right answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from utils.checks import _maximum_likelihood_cases as cases
from utils.checks._core import Case, Exercise, Wrong, checker
from utils.checks._judging import as_array, close, expect_shape, scalar
from utils.i18n import N_, _

__all__ = ["EXERCISES", "check_add_k", "check_bigram_mle", "check_ece", "check_nll",
           "check_perplexity"]


def _close(a: float, b: float, abs_tol: float = 1e-7) -> bool:
    # float32 answers are right too: allow their rounding, far below any mistake diagnosed
    return math.isclose(a, b, rel_tol=2e-5, abs_tol=abs_tol)


def _one_number(output: Any, per_row: int | None = None) -> float:
    array = as_array(output)
    if per_row is not None and array.shape == (per_row,) and per_row > 1:
        raise Wrong(_("you returned one value per row; return their mean, a single number"))
    return scalar(array)


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array)


# ---------------------------------------------------------------- NLL
_NOT_FINITE = {  # what a non-finite NLL means on each kind of case
    "offset": N_("on logits near 800 your NLL is {value}: exp overflowed. Subtract each row's "
                 "maximum before exponentiating: log p = (z - max) - log Σ exp(z - max)"),
    "rows_apart": N_("on rows whose logits lie thousands apart (each row's own values close) "
                     "your NLL is {value}: one maximum subtracted for the whole batch makes "
                     "the other rows underflow to 0. Subtract each row's own maximum"),
    "spread": N_("in a row whose own logits span thousands your NLL is {value}: a probability "
                 "underflowed to 0 and its log is -inf. Subtracting the maximum before the "
                 "softmax does not prevent this when you take softmax(z).log(); compute the "
                 "log-probabilities directly: log p = (z - max) - log Σ exp(z - max)"),
}


def _judge_nll(case: Case, output: Any) -> str | None:
    logits, targets = case["logits"], case["targets"]
    n = len(targets)
    value = _one_number(output, per_row=n)
    reference = cases.nll_reference(case)
    if _close(value, reference, abs_tol=1e-7 + 2e-7 * float(np.abs(logits).max())):
        return None
    if not math.isfinite(value):
        message = _NOT_FINITE.get(case["kind"], N_("your NLL is {value}: compute the "
                                                   "log-probabilities stably (log-softmax, "
                                                   "Lab 0)"))
        return _(message).format(value=value)
    logp = torch.log_softmax(_t(logits), dim=-1).numpy()  # (n, v)
    rows = np.arange(n)
    diagnoses = [
        (reference * n, _("your value is the sum over the {n} targets; the NLL is their "
                          "mean").format(n=n)),
        (reference / math.log(2), _("your value is in bits (log base 2); use the natural "
                                    "logarithm, so the NLL is in nats")),
        (reference / math.log(10), _("your value uses log base 10; use the natural logarithm")),
        (-reference, _("your value has the wrong sign: the NLL is minus the mean "
                       "log-probability, so it is never negative")),
        (math.exp(-reference), _("your value is a probability; take minus the mean of the "
                                 "log-probabilities instead")),
        (float(-logits[rows, targets].mean()), _("you treated the raw logits as "
                                                 "log-probabilities; normalise them with a "
                                                 "log-softmax first")),
        (float(-logp.max(axis=-1).mean()), _("you used the probability of the most likely "
                                             "word, not of the target word")),
        (float(-logp.mean()), _("you averaged the log-probabilities of every word of the "
                                "vocabulary; take only each target's")),
    ]
    for wrong, message in diagnoses:
        if _close(value, wrong) and not _close(wrong, reference):
            return message
    if case["kind"] == "spread":
        return _("your NLL is wrong for a row whose own logits span thousands: a probability "
                 "that underflows to 0 was lost or clamped. Compute log p = (z - max) - "
                 "log Σ exp(z - max) rather than the log of a softmax")
    targets = _("one target") if n == 1 else _("{n} targets").format(n=n)
    return _("for {targets} your NLL is not the right one; average -log p(target) over the "
             "rows, with p the softmax of each row of logits").format(targets=targets)


def _run_nll(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["nll"](_t(case["logits"]), _t(case["targets"]))


# ---------------------------------------------------------------- perplexity
def _tokens(n: int) -> str:
    return _("one token") if n == 1 else _("{n} tokens").format(n=n)


def _judge_perplexity(case: Case, output: Any) -> str | None:
    log_probs = case["log_probs"]
    value = _one_number(output)
    mean_nll = float(-log_probs.mean())
    reference = math.exp(mean_nll)
    if _close(value, reference):
        return None
    if not math.isfinite(value) or value == 0:
        return _("for a text of {tokens} your perplexity is {value}: a product "
                 "of that many probabilities underflows to 0. Average the log-probabilities, "
                 "then exponentiate").format(tokens=_tokens(len(log_probs)), value=value)
    diagnoses = [
        (math.exp(min(float(-log_probs.sum()), 700.0)), _("you exponentiated the total negative "
                                                          "log-probability; use the mean over "
                                                          "tokens")),
        (2.0 ** mean_nll, _("you raised 2 to the NLL, but these log-probabilities are natural "
                            "logs: use e (2 goes with logs in base 2)")),
        (mean_nll, _("your value is the NLL itself; perplexity is its exponential")),
        (math.exp(-mean_nll), _("your value is below 1: mind the sign, perplexity is "
                                "exp(minus the mean log-probability)")),
        (float(np.exp(-log_probs).mean()), _("you averaged 1/p over tokens (an arithmetic "
                                             "mean); perplexity is exp of the mean -log p, a "
                                             "geometric mean")),
    ]
    for wrong, message in diagnoses:
        if _close(value, wrong) and not _close(wrong, reference):
            return message
    if "uniform" in case:
        return _("for a uniform model over {uniform} words your perplexity is "
                 "{value:.4g}; it should be the vocabulary size").format(
            uniform=case['uniform'], value=value)
    return _("for {tokens} your perplexity is not exp(mean of -log p); "
             "average the negative log-probabilities, then exponentiate").format(
        tokens=_tokens(len(log_probs)))


def _run_perplexity(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["perplexity"](_t(case["log_probs"]))


# ---------------------------------------------------------------- bigram tables
def _table(output: Any, counts: np.ndarray) -> np.ndarray:
    """Feedback shared by the MLE and add-k checks: shape, rows vs columns, unseen rows."""
    v = counts.shape[0]
    table = as_array(output, _("your table"))
    expect_shape(table, (v, v), _("your table"))
    return table


def _table_mistakes(table: np.ndarray, counts: np.ndarray) -> str | None:
    unseen = int(np.flatnonzero(counts.sum(axis=1) == 0)[0])
    if np.isnan(table).any():
        where = _("the row of a history never seen") if np.isnan(table[unseen]).any() else "it"
        return _("your table has nan in {where}: 0/0. For a history with no counts, return "
                 "the uniform distribution 1/|V|, as utils.lm.ngram does").format(where=where)
    if (table < 0).any():
        return _("some of your probabilities are negative")
    if np.allclose(table, counts):
        return _("your table holds the counts; divide each row by its total")
    row_sums, seen = table.sum(axis=1), counts.sum(axis=1) > 0
    if math.isclose(float(table.sum()), 1.0, abs_tol=1e-9) and len(counts) > 1:
        return _("your whole table sums to 1: that is the joint P(history, word). Divide by "
                 "the count of the history, c(h), so each row sums to 1")
    if not np.allclose(row_sums[seen], 1.0, atol=1e-6):
        columns_seen = counts.sum(axis=0) > 0  # a word never seen may have a column of 0
        if np.allclose(table.sum(axis=0)[columns_seen], 1.0, atol=1e-6):
            return _("your columns sum to 1, not your rows. Row h is the history: normalise "
                     "along each row")
        bad = int(np.abs(row_sums - 1).argmax())
        return _("your row for history {bad} sums to {row_sums:.4g}, not 1").format(
            bad=bad, row_sums=row_sums[bad])
    if not math.isclose(float(row_sums[unseen]), 1.0, abs_tol=1e-6):
        return _("the row of a history never seen sums to {row_sums:.4g}; return the "
                 "uniform distribution 1/|V| there").format(row_sums=row_sums[unseen])
    return None


def _judge_bigram_mle(case: Case, output: Any) -> str | None:
    counts = case["counts"]
    table = _table(output, counts)
    if close(table, cases.mle_reference(counts)):
        return None
    if close(table, cases.mle_reference(counts.T).T):
        return _("your table is transposed: counts[h, w] counts word w after history h, and "
                 "row h of the result must be P(. | h)")
    return _table_mistakes(table, counts) or _("your rows sum to 1 but are not c(h, w) / c(h)")


def _run_bigram_mle(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["bigram_mle"](_t(case["counts"]))


def _judge_add_k(case: Case, output: Any) -> str | None:
    counts, k = case["counts"], case["k"]
    v = counts.shape[1]
    table = _table(output, counts)
    totals = counts.sum(axis=1, keepdims=True)  # (v, 1)
    if close(table, (counts + k) / (totals + k * v)):
        return None
    if not np.isfinite(table).all():
        return _("your table has inf or nan: a history never seen has c(h) = 0, but with k|V| "
                 "in the denominator nothing is divided by 0")
    if close(table, cases.mle_reference(counts)):
        return _("your table ignores k (it is the unsmoothed MLE): add k to every count, seen "
                 "or not")
    row_sums = table.sum(axis=1)
    wrong_denominators = [
        (totals, _("not 1: with k added to each of the |V| counts of a row, the denominator "
                   "must grow by k|V| too")),
        (totals + k, _("not 1: you added k to the denominator once, but each of the |V| words "
                       "got k, so add k|V|")),
    ]
    for denominator, message in wrong_denominators:
        if close(table, (counts + k) / np.maximum(denominator, 1e-300)):
            return _("your rows sum to up to {largest:.4g}, {message}").format(
                largest=row_sums.max(), message=message)
    if close(table, counts / (totals + k * v)):
        return _("your rows sum to {min_row_sums:.4g} or less: add k to the numerator too, "
                 "so unseen words get probability k / (c(h) + k|V|)").format(
            min_row_sums=row_sums.min())
    if np.allclose(table.sum(axis=0), 1.0, atol=1e-6):
        return _("your columns sum to 1, not your rows. Row h is the history: normalise along "
                 "each row")
    if not np.allclose(row_sums, 1.0, atol=1e-6):
        bad = int(np.abs(row_sums - 1).argmax())
        return _("your row for history {bad} sums to {row_sums:.4g}, not 1").format(
            bad=bad, row_sums=row_sums[bad])
    return _("with k = {k:g} your rows sum to 1 but are not (c(h, w) + k) / (c(h) + k|V|)").format(
        k=k)


def _run_add_k(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["add_k"](_t(case["counts"]), case["k"])


# ---------------------------------------------------------------- ECE
def _ece_diagnoses(case: Case, value: float, reference: float) -> str | None:
    confidence, correct = cases.case_confidence_and_correct(case)
    n_bins, ece, edges = case["n_bins"], cases.ece_variant, cases.exact_edges(case["n_bins"])
    target_prob = case["probs"][np.arange(len(correct)), case["targets"]]
    diagnoses = [
        (100 * reference, _("your value is a percentage; return the ECE as a fraction between 0 "
                            "and 1")),
        (ece(confidence, correct, edges, rule="left"),
         _("a confidence exactly on an edge m/M belongs to the bin BELOW it: bins are "
           "((m-1)/M, m/M], closed on the right, so 1.0 falls in the last bin")),
        (ece(confidence, correct, edges, rule="left_drop"),
         _("your bins [low, high) leave out predictions of confidence exactly 1.0, and put a "
           "confidence on an edge m/M one bin too high: bins are ((m-1)/M, m/M]")),
        (ece(confidence, correct, edges, rule="open"),
         _("predictions whose confidence is exactly on an edge m/M (or equal to 1.0) fell out "
           "of every bin: bin m holds ((m-1)/M, m/M], closed on the right")),
        (ece(confidence, correct, edges, weighted=False),
         _("you averaged the bins' gaps equally; weight each bin's |accuracy - confidence| by "
           "its share of the predictions, |B_m| / n")),
        (ece(confidence, correct, edges, absolute=False),
         _("you summed signed gaps, so over- and underconfident bins cancel; take "
           "|accuracy - confidence| in each bin")),
        (abs(ece(confidence, correct, edges, absolute=False)),
         _("you took the absolute value of the total instead of each bin's gap")),
        (ece(target_prob, correct, edges),
         _("your confidence is the probability of the target word; it should be the "
           "probability of the predicted (most likely) word, the row's maximum")),
        (ece(confidence, correct, cases.exact_edges(n_bins - 1)),
         _("you used {fewer} bins: {n_bins} equal-width bins need {edges} edges "
           "(torch.linspace(0, 1, n_bins + 1))").format(
             fewer=n_bins - 1, n_bins=n_bins, edges=n_bins + 1)),
        (float(np.abs(correct - confidence).mean()),
         _("you averaged |correct - confidence| over single predictions; average accuracy and "
           "confidence within each bin first, then take the gap")),
    ]
    if n_bins != 15:
        diagnoses.append((ece(confidence, correct, cases.exact_edges(15)),
                          _("you used 15 bins although n_bins = {n_bins}; use the argument").format(
                              n_bins=n_bins)))
    for wrong, message in diagnoses:
        if _close(value, wrong) and not _close(wrong, reference):
            return message
    return None


def _judge_ece(case: Case, output: Any) -> str | None:
    value = _one_number(output)
    confidence, correct = cases.case_confidence_and_correct(case)
    reference = cases.ece_variant(confidence, correct, cases.exact_edges(case["n_bins"]))
    if _close(value, reference):
        return None
    found = _ece_diagnoses(case, value, reference)
    if found:
        return found
    if not 0.0 <= value <= 1.0:
        return _("your ECE is {value:.4g}, but an ECE lies between 0 and 1").format(value=value)
    return _("with n_bins = {n_bins} your ECE is not the right one. Use "
             "{n_bins} equal-width bins of confidence (bin m holds ((m-1)/M, m/M]), and "
             "weight each bin's |accuracy - confidence| by its share of predictions").format(
        n_bins=case['n_bins'])


def _run_ece(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["ece"](_t(case["probs"]), _t(case["targets"]), case["n_bins"])


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("nll", ("nll",), cases.nll_cases, _run_nll, _judge_nll),
    Exercise("perplexity", ("perplexity",), cases.perplexity_cases, _run_perplexity,
             _judge_perplexity),
    Exercise("bigram_mle", ("bigram_mle",), cases.bigram_cases, _run_bigram_mle,
             _judge_bigram_mle),
    Exercise("add_k", ("add_k",), cases.add_k_cases, _run_add_k, _judge_add_k),
    Exercise("ece", ("ece",), cases.ece_cases, _run_ece, _judge_ece),
)}


check_nll = checker(EXERCISES, "nll")
check_perplexity = checker(EXERCISES, "perplexity")
check_bigram_mle = checker(EXERCISES, "bigram_mle")
check_add_k = checker(EXERCISES, "add_k")
check_ece = checker(EXERCISES, "ece")
