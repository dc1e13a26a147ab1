"""Lab 03's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted, at several seeds: implementations that are not the
checks' references (plain Python loops, NumPy, torch's own functions), float32
computations, 0-d tensors and NumPy arrays, other correct binnings of the ECE
(ceil, digitize). Answers that edit their inputs in place fail: every check
hands the student a copy and computes its reference from its own.

Wrong answers caught:

- nll: the sum instead of the mean; bits or base 10; the wrong sign; a
  probability; raw logits as log-probabilities; the most likely word instead of
  the target; the mean over the vocabulary; no maximum subtracted (exp
  overflows near 800); ``softmax(z - max).log()`` (told that subtracting the
  maximum is not enough when a row's own logits span thousands); a clamped
  log; one maximum for the whole batch; an offset; one loss per row or a
  tensor instead of one number.
- perplexity: exp of the total; base 2; the NLL itself; the wrong sign; the
  arithmetic mean of 1/p; the product of probabilities (agrees on short texts,
  underflows on 5000 tokens); a uniform model's perplexity wrong; a factor off.
- bigram_mle / add_k: counts; columns normalised; the joint table; nan or 0
  for a history never seen (also when it is the last row); a row loop that
  stops one short; transposed; k ignored or added once; k missing from the
  numerator.
- ece: a percentage; left-closed bins [low, high) (a confidence on an edge m/M
  one bin too high), with 1.0 clamped into the last bin or dropped; open bins
  that drop edge confidences; equal weights; signed gaps; the absolute value of
  the total; the target's probability as confidence; n_bins - 1 or always 15
  bins; per-prediction gaps; equal-mass bins; an offset.
"""

import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.maximum_likelihood import (
    check_add_k,
    check_bigram_mle,
    check_ece,
    check_nll,
    check_perplexity,
)


# ---------------------------------------------------------------- right answers
def good_nll(logits, targets):
    return float(torch.nn.functional.cross_entropy(logits, targets))


def good_perplexity(log_probs):
    return math.exp(float(-log_probs.mean()))


def good_mle(counts):
    totals = counts.sum(1, keepdim=True)
    return torch.where(totals > 0, counts / totals.clamp(min=1),
                       torch.full_like(counts, 1 / counts.shape[1]))


def good_add_k(counts, k):
    return (counts + k) / (counts.sum(1, keepdim=True) + k * counts.shape[1])


def good_ece(probs, targets, n_bins=15):
    confidence, predicted = probs.max(-1)
    correct = (predicted == targets).double()
    total = 0.0
    for m in range(n_bins):
        low, high = m / n_bins, (m + 1) / n_bins
        members = (confidence > low) & (confidence <= high)
        if members.any():
            total += members.double().mean() * (correct[members].mean()
                                                 - confidence[members].mean()).abs()
    return float(total)


@pytest.mark.parametrize("check, answer", [
    (check_nll, good_nll), (check_perplexity, good_perplexity), (check_bigram_mle, good_mle),
    (check_add_k, good_add_k), (check_ece, good_ece),
])
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_checks_pass_correct_answers(check, answer, seed, capsys):
    check(answer, seed=seed)
    assert "passed" in capsys.readouterr().out


def test_checks_accept_numpy_and_tensor_results():
    check_nll(lambda z, t: torch.nn.functional.cross_entropy(z, t))  # a 0-d tensor
    check_nll(lambda z, t: torch.nn.functional.cross_entropy(z.float(), t))  # float32
    check_perplexity(lambda lp: torch.exp(-lp.float().mean()))
    check_bigram_mle(lambda c: good_mle(c).numpy())
    check_add_k(lambda c, k: good_add_k(c, k).float().tolist())
    check_ece(lambda p, t, n: good_ece(p.float(), t, n))


def ceil_ece(probs, targets, n_bins=15):
    confidence, predicted = probs.max(-1)
    correct = (predicted == targets).double()
    index = (torch.ceil(confidence * n_bins).long() - 1).clamp(0, n_bins - 1)
    total = 0.0
    for m in range(n_bins):
        members = index == m
        if members.any():
            total += members.double().mean() * (correct[members].mean()
                                                 - confidence[members].mean()).abs()
    return float(total)


def digitize_ece(probs, targets, n_bins=15):
    confidence, predicted = probs.max(-1)
    conf, correct = confidence.numpy(), (predicted == targets).numpy()
    index = np.digitize(conf, np.linspace(0, 1, n_bins + 1)[1:-1], right=True)
    return sum((index == m).mean() * abs(correct[index == m].mean() - conf[index == m].mean())
               for m in range(n_bins) if (index == m).any())


@pytest.mark.parametrize("answer", [ceil_ece, digitize_ece])
def test_ece_check_accepts_other_right_binnings(answer, capsys):
    check_ece(answer)
    assert "passed" in capsys.readouterr().out


# ---------------------------------------------------------------- wrong answers
def _logp(z):
    return torch.log_softmax(z, -1)


@pytest.mark.parametrize("wrong, message", [
    (lambda z, t: good_nll(z, t) * len(t), "sum over"),
    (lambda z, t: good_nll(z, t) / math.log(2), "bits"),
    (lambda z, t: good_nll(z, t) / math.log(10), "base 10"),
    (lambda z, t: -good_nll(z, t), "wrong sign"),
    (lambda z, t: math.exp(-good_nll(z, t)), "is a probability"),
    (lambda z, t: float(-z[torch.arange(len(t)), t].mean()), "raw logits"),
    (lambda z, t: float(-_logp(z).max(-1).values.mean()), "most likely word"),
    (lambda z, t: float(-_logp(z).mean()), "every word of the vocabulary"),
    (lambda z, t: float(-torch.softmax(z, -1)[torch.arange(len(t)), t].log().mean()),
     "does not prevent this"),  # torch's softmax subtracts the max: the hint must not say so
    (lambda z, t: float(-(z.exp() / z.exp().sum(-1, keepdim=True))[torch.arange(len(t)), t]
                        .log().mean()), "exp overflowed"),
    (lambda z, t: float(-(z - z.exp().sum(-1, keepdim=True).log())[torch.arange(len(t)), t]
                        .mean()), "exp overflowed"),
    (lambda z, t: float(-torch.softmax(z, -1)[torch.arange(len(t)), t].clamp(min=1e-12).log()
                        .mean()), "lost or clamped"),
    (lambda z, t: float(-((z - z.max()) - (z - z.max()).exp().sum(-1, keepdim=True).log())
                        [torch.arange(len(t)), t].mean()), "each row's own maximum"),
    (lambda z, t: good_nll(z, t) + 0.1, "is not the right one"),
    (lambda z, t: torch.nn.functional.cross_entropy(z, t, reduction="none"), "one value per row"),
    (lambda z, t: torch.zeros(len(t), 1), "single number"),
])
def test_nll_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_nll(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda lp: math.exp(float(-lp.sum())), "total"),
    (lambda lp: 2 ** float(-lp.mean()), "raised 2"),
    (lambda lp: float(-lp.mean()), "NLL itself"),
    (lambda lp: math.exp(float(lp.mean())), "below 1"),
    (lambda lp: float((-lp).exp().mean()), "arithmetic"),
    (lambda lp: good_perplexity(lp) * 1.5, "not exp"),
    (lambda lp: float(lp.exp().prod() ** (-1 / len(lp))), "underflows"),  # right if short
])
def test_perplexity_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_perplexity(wrong)


def test_perplexity_check_names_the_uniform_case():
    # Right on random texts, wrong only when every token has the same probability.
    def wrong(lp):
        return float(lp.numel()) if bool((lp == lp[0]).all()) else good_perplexity(lp)

    with pytest.raises(CheckFailed, match="uniform model"):
        check_perplexity(wrong)


def _rows_but_last(c):
    table = torch.zeros_like(c)
    for h in range(len(c) - 1):  # one row short
        table[h] = good_mle(c[h : h + 1])[0]
    return table


def _nan_for_unseen(c):
    return c / c.sum(1, keepdim=True)


@pytest.mark.parametrize("wrong, message", [
    (lambda c: c, "holds the counts"),
    (lambda c: c / c.sum(0, keepdim=True).clamp(min=1), "transposed|columns"),
    (lambda c: c / c.sum(), "joint"),
    (_nan_for_unseen, "nan in the row of a history never seen"),
    (lambda c: c / c.sum(1, keepdim=True).clamp(min=1), "never seen sums to 0"),
    (lambda c: good_mle(c.T).T, "transposed|columns"),
    (lambda c: good_add_k(c, 0.5), "are not c"),
    (lambda c: good_mle(c)[:-1], "shape"),
    (lambda c: _rows_but_last(c), "sums to 0"),
])
def test_bigram_mle_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_bigram_mle(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda c, k: (c + k) / c.sum(1, keepdim=True), "inf or nan"),
    (lambda c, k: (c + k) / c.sum(1, keepdim=True).clamp(min=1e-300), "k\\|V\\| too"),
    (lambda c, k: (c + k) / (c.sum(1, keepdim=True) + k), "added k to the denominator once"),
    (lambda c, k: c / (c.sum(1, keepdim=True) + k * c.shape[1]), "numerator too"),
    (lambda c, k: good_mle(c), "ignores k"),
    (lambda c, k: (c + k) / (c.sum(0, keepdim=True) + k * c.shape[0]), "columns"),
    (lambda c, k: good_add_k(c, 2 * k), "are not"),
])
def test_add_k_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_add_k(wrong)


def _ece_with_edges(probs, targets, edges, confidence=None, weighted=True, absolute=True):
    conf, predicted = probs.max(-1)
    conf = conf if confidence is None else confidence
    correct = (predicted == targets).double()
    gaps, total = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        members = (conf > low) & (conf <= high)
        if members.any():
            gap = float(correct[members].mean() - conf[members].mean())
            gap = abs(gap) if absolute else gap
            gaps.append(gap)
            total += float(members.double().mean()) * gap
    return total if weighted else sum(gaps) / len(gaps)


def _edges(n):
    return torch.linspace(0, 1, n + 1).tolist()


@pytest.mark.parametrize("wrong, message", [
    (lambda p, t, n=15: 100 * good_ece(p, t, n), "percentage"),
    (lambda p, t, n=15: _ece_with_edges(p, t, _edges(n), weighted=False), "equally"),
    (lambda p, t, n=15: _ece_with_edges(p, t, _edges(n), absolute=False), "signed"),
    (lambda p, t, n=15: _ece_with_edges(p, t, _edges(n),
                                        confidence=p[torch.arange(len(t)), t]), "target word"),
    (lambda p, t, n=15: _ece_with_edges(p, t, _edges(n - 1)), "bins:"),
    (lambda p, t, n=15: good_ece(p, t, 15), "although n_bins"),
    (lambda p, t, n=15: float(((p.argmax(-1) == t).double() - p.max(-1).values).abs().mean()),
     "single predictions"),
    (lambda p, t, n=15: good_ece(p, t, n) + 0.01, "not the right one"),
])
def test_ece_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_ece(wrong)


def _ece_by_rule(probs, targets, n_bins, inside):
    conf, predicted = probs.max(-1)
    correct = (predicted == targets).double()
    total = 0.0
    for m in range(n_bins):
        members = inside(conf, m / n_bins, (m + 1) / n_bins, m == n_bins - 1)
        if members.any():
            total += float(members.double().mean()) * abs(float(correct[members].mean()
                                                                - conf[members].mean()))
    return total


@pytest.mark.parametrize("inside, message", [
    (lambda c, lo, hi, last: (c >= lo) & ((c < hi) | last), "BELOW"),  # [lo, hi), 1.0 kept
    (lambda c, lo, hi, last: (c >= lo) & (c < hi), "leave out .* 1.0"),  # [lo, hi), 1.0 lost
    (lambda c, lo, hi, last: (c > lo) & (c < hi), "fell out of every bin"),  # (lo, hi)
])
def test_ece_check_catches_mistakes_on_bin_edges(inside, message):
    # These binnings agree with the right one on random confidences; only confidences
    # exactly on an edge (or equal to 1) tell them apart.
    with pytest.raises(CheckFailed, match=message):
        check_ece(lambda p, t, n=15: _ece_by_rule(p, t, n, inside))


def test_floor_binning_puts_edges_one_bin_too_high():
    def floor_ece(probs, targets, n_bins=15):
        confidence, predicted = probs.max(-1)
        correct = (predicted == targets).double()
        index = torch.floor(confidence * n_bins).long().clamp(max=n_bins - 1)
        return sum(float((index == m).double().mean()) * abs(float(
            correct[index == m].mean() - confidence[index == m].mean()))
            for m in range(n_bins) if (index == m).any())

    with pytest.raises(CheckFailed, match="BELOW"):
        check_ece(floor_ece)


def test_equal_mass_bins_are_rejected():
    def equal_mass(probs, targets, n_bins=15):
        confidence = probs.max(-1).values
        edges = torch.quantile(confidence, torch.linspace(0, 1, n_bins + 1, dtype=torch.float64))
        edges[0] = 0.0
        return _ece_with_edges(probs, targets, edges.tolist())

    with pytest.raises(CheckFailed, match="equal-width"):
        check_ece(equal_mass)


def test_stubs_pass_through_every_check():
    def stub(*args):
        not_implemented("nll")

    for check in (check_nll, check_perplexity, check_bigram_mle, check_add_k, check_ece):
        with pytest.raises(ExerciseNotImplemented, match="is not implemented yet"):
            check(stub)


def test_crash_in_student_code_becomes_feedback():
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        check_add_k(lambda c, k: 1 / 0)


# ---------------------------------------------------------------- independent right answers
def loop_nll(logits, targets):
    total = 0.0
    for row, target in zip(logits.tolist(), targets.tolist(), strict=True):
        top = max(row)
        total += top + math.log(sum(math.exp(z - top) for z in row)) - row[target]
    return total / len(targets)


def numpy_nll(logits, targets):
    z = logits.numpy()
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    return -logp[np.arange(len(z)), targets.numpy()].mean()


def loop_perplexity(log_probs):
    return math.exp(-sum(log_probs.tolist()) / len(log_probs))


def numpy_perplexity(log_probs):
    return np.exp(-np.mean(log_probs.numpy()))


def loop_mle(counts):
    v = len(counts)
    rows = []
    for row in counts.tolist():
        total = sum(row)
        rows.append([c / total for c in row] if total > 0 else [1 / v] * v)
    return rows


def numpy_mle(counts):
    c = counts.numpy()
    totals = c.sum(1, keepdims=True)
    return np.divide(c, totals, out=np.full_like(c, 1 / c.shape[1]), where=totals > 0)


def loop_add_k(counts, k):
    v = len(counts)
    return [[(c + k) / (sum(row) + k * v) for c in row] for row in counts.tolist()]


def numpy_add_k(counts, k):
    c = counts.numpy() + k
    return c / c.sum(axis=1, keepdims=True)  # rows of c + k sum to c(h) + k|V|


def searchsorted_ece(probs, targets, n_bins=15):
    p = probs.numpy()
    conf, correct = p.max(1), p.argmax(1) == targets.numpy()
    edges = np.arange(1, n_bins) / n_bins
    index = np.searchsorted(edges, conf, side="left")  # conf == m/M goes to bin m-1
    acc = np.bincount(index, correct, minlength=n_bins)
    con = np.bincount(index, conf, minlength=n_bins)
    return float(np.abs(acc - con).sum() / len(conf))


INDEPENDENT = [(check_nll, loop_nll), (check_nll, numpy_nll),
               (check_perplexity, loop_perplexity), (check_perplexity, numpy_perplexity),
               (check_bigram_mle, loop_mle), (check_bigram_mle, numpy_mle),
               (check_add_k, loop_add_k), (check_add_k, numpy_add_k),
               (check_ece, searchsorted_ece), (check_ece, digitize_ece)]


@pytest.mark.parametrize("check, answer", INDEPENDENT, ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("seed", [2, 11, 40])
def test_independent_right_answers_pass(check, answer, seed):
    assert check(answer, seed=seed).passed


# ---------------------------------------------------------------- hostile answers
def _zeroing_nll(logits, targets):
    logits.zero_()  # a reference computed from these would be log V
    return math.log(logits.shape[1])


def _uniform_perplexity(log_probs):
    log_probs.fill_(-1.0)  # a reference computed from these would be e
    return math.e


def _counts_become_table(counts):
    table = torch.full_like(counts, 1 / counts.shape[1])
    counts.copy_(table)  # the counts now look like a uniform table
    return table


def _counts_become_table_k(counts, k):
    return _counts_become_table(counts)


def _ece_zeroed(probs, targets, n_bins=15):
    probs.fill_(0.0)
    probs[:, 0] = 1.0
    targets.zero_()  # every prediction now right with confidence 1: ECE 0
    return 0.0


@pytest.mark.parametrize("check, answer", [
    (check_nll, _zeroing_nll), (check_perplexity, _uniform_perplexity),
    (check_bigram_mle, _counts_become_table), (check_add_k, _counts_become_table_k),
    (check_ece, _ece_zeroed)])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)


def test_generic_messages_give_no_number_derived_from_the_answer():
    import re
    for check, wrong in [(check_nll, lambda z, t: good_nll(z, t) + 0.1),
                         (check_perplexity, lambda lp: good_perplexity(lp) * 1.5),
                         (check_add_k, lambda c, k: good_add_k(c, 2 * k)),
                         (check_ece, lambda p, t, n=15: good_ece(p, t, n) + 0.01)]:
        with pytest.raises(CheckFailed) as error:
            check(wrong)
        message = str(error.value)
        assert not re.search(r"\d\.\d{2,}", message), message
        assert "off by" not in message and "factor" not in message and "differ" not in message
