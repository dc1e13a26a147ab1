"""The warm-up lab's checks pass every right answer and fail each plausible wrong one.

Right answers accepted, at several seeds: implementations that are not the
checks' references (Python loops over rows, NumPy, torch's own functions),
float32 computations, NumPy arrays and NumPy integers, one-element tensors,
lists. Answers that edit their inputs in place fail.

Wrong answers caught, each with a message naming the problem:

- softmax: not normalised; raw logits normalised; normalised over the whole
  batch; the wrong axis; no max subtracted (overflow near 1000); the maximum of
  the whole batch subtracted instead of each row's (agrees on small inputs,
  nan for rows hundreds of logits apart); the row's mean or minimum subtracted
  (overflows on a row whose own logits span thousands); a row max without
  ``keepdim`` (broadcasts along the wrong axis); a dropped column; a doubled
  logit.
- log_softmax: ``softmax(z).log()`` with a softmax that already subtracts
  the maximum (told so: -inf from underflow) and without (told: overflow);
  shifted by the row minimum
  (positive values); no log-sum-exp term; the batch maximum instead of each
  row's; a log-sum-exp without ``keepdim``.
- sample_categorical: argmax instead of sampling; an off-by-one index;
  an index out of range; ``u`` on the edge of an interval given to the word
  below (``searchsorted`` without ``right=True``, ``cdf >= u``); a word of
  probability 0 returned; a float instead of an integer.
- sequence_log_prob: a probability instead of a log; the mean instead of the
  sum; log base 2; the most likely word's probability; the wrong sign; the
  last or the first token left out.
"""

import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.warmup import (
    check_log_softmax,
    check_sample_categorical,
    check_sequence_log_prob,
    check_softmax,
)


def good_softmax(z):
    shifted = z - z.max(dim=-1, keepdim=True).values
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


def good_log_softmax(z):
    shifted = z - z.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def good_sample(probs, u):
    return int(torch.searchsorted(torch.cumsum(probs, 0), torch.tensor(u, dtype=probs.dtype),
                                  right=True).clamp(max=len(probs) - 1))


def good_sequence(step_probs, tokens):
    return float(step_probs[torch.arange(len(tokens)), tokens].log().sum())


def global_max_softmax(z):
    shifted = z - z.max()  # one number for the whole batch: rows far below it underflow
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


def no_keepdim_softmax(z):
    shifted = z - z.max(dim=-1).values
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


@pytest.mark.parametrize("answer", [
    good_softmax,
    lambda z: torch.softmax(z, -1),
    lambda z: torch.softmax(z.float(), -1),  # float32 is right too
    lambda z: good_softmax(z).numpy(),
    lambda z: good_softmax(z).tolist(),
])
@pytest.mark.parametrize("seed", [0, 3])
def test_softmax_check_passes_right_answers(answer, seed, capsys):
    check_softmax(answer, seed=seed)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda z: z.exp(), "sum to"),  # forgot to normalise
        (lambda z: z / z.sum(-1, keepdim=True), "negative"),  # normalised raw logits
        (lambda z: z.exp() / z.exp().sum(), "sum to"),  # normalised over the whole batch
        (lambda z: torch.softmax(z, 0), "sum to"),  # wrong axis
        (lambda z: z.exp() / z.exp().sum(-1, keepdim=True), "overflows"),  # unstable
        (global_max_softmax, "each row's own maximum"),
        (no_keepdim_softmax, "keepdim"),
        (lambda z: torch.softmax(z, -1)[..., :-1], "shape"),
        (lambda z: torch.softmax(2 * z, -1), "are not the softmax"),
        (lambda z: (z - z.mean(-1, keepdim=True)).exp()
         / (z - z.mean(-1, keepdim=True)).exp().sum(-1, keepdim=True), "not its mean"),
        (lambda z: (z - z.min(-1, keepdim=True).values).exp()
         / (z - z.min(-1, keepdim=True).values).exp().sum(-1, keepdim=True), "not its mean"),
    ],
)
def test_softmax_check_fails_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_softmax(wrong)


def test_global_max_agrees_on_small_inputs_so_only_the_wide_batch_catches_it():
    z = torch.randn(6, 6, dtype=torch.float64) * 3
    torch.testing.assert_close(global_max_softmax(z), torch.softmax(z, -1))


@pytest.mark.parametrize("answer", [
    good_log_softmax,
    lambda z: torch.log_softmax(z, -1),
    lambda z: torch.log_softmax(z.float(), -1),
    lambda z: (z - torch.logsumexp(z, -1, keepdim=True)).numpy(),
])
def test_log_softmax_check_passes_right_answers(answer, capsys):
    check_log_softmax(answer)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda z: (z.exp() / z.exp().sum(-1, keepdim=True)).log(), "exp overflowed"),
    (lambda z: torch.softmax(z, -1).log(), "does not prevent this"),
    (lambda z: good_softmax(z).log(), "does not prevent this"),
    (lambda z: z - z.min(-1, keepdim=True).values, "positive"),
    (lambda z: z - z.max(-1, keepdim=True).values, "sum to"),
    (lambda z: (z - z.max()) - (z - z.max()).exp().sum(-1, keepdim=True).log(),
     "each row's own maximum"),
    (lambda z: z - torch.logsumexp(z, -1), "keepdim"),
])
def test_log_softmax_check_fails_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_log_softmax(wrong)


@pytest.mark.parametrize("answer", [
    good_sample,
    lambda p, u: np.int64(good_sample(p, u)),  # a NumPy integer is an integer
    lambda p, u: torch.tensor(good_sample(p, u)),
    lambda p, u: min(int((torch.cumsum(p, 0) <= u).sum()), len(p) - 1),
    lambda p, u: min(int(np.searchsorted(np.cumsum(p.numpy()), u, side="right")), len(p) - 1),
])
def test_sample_categorical_check_passes_right_answers(answer, capsys):
    check_sample_categorical(answer)
    assert "passed" in capsys.readouterr().out


def loop_left_closed(probs, u):
    total = 0.0
    for i, p in enumerate(probs.tolist()):
        total += p
        if u <= total:  # should be u < total: u on an edge belongs to the next word
            return i
    return len(probs) - 1


@pytest.mark.parametrize("wrong, message", [
    (lambda p, u: int(p.argmax()), "interval"),  # argmax instead of sampling
    (lambda p, u: min(good_sample(p, u) + 1, len(p) - 1), "interval"),  # off by one
    (lambda p, u: len(p), "index, an integer between"),
    (lambda p, u: float(good_sample(p, u)), "integer"),
    (lambda p, u: min(int(torch.searchsorted(torch.cumsum(p, 0),
                                             torch.tensor(u, dtype=p.dtype))), len(p) - 1),
     "NEXT word"),
    (loop_left_closed, "NEXT word|probability is 0"),
])
def test_sample_categorical_check_fails_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_sample_categorical(wrong)


def test_sequence_log_prob_check():
    check_sequence_log_prob(good_sequence)
    check_sequence_log_prob(lambda p, t: torch.tensor(good_sequence(p, t)))  # a 0-d tensor
    check_sequence_log_prob(lambda p, t: np.float32(good_sequence(p, t)))
    cases = [
        (lambda p, t: math.exp(good_sequence(p, t)), "probability, not a log-probability"),
        (lambda p, t: good_sequence(p, t) / len(t), "mean"),
        (lambda p, t: good_sequence(p, t) / math.log(2), "base 2"),
        (lambda p, t: float(p.max(-1).values.log().sum()), "not the log-probability"),
        (lambda p, t: p[torch.arange(len(t)), t].log(), "one value per position"),
        (lambda p, t: -good_sequence(p, t), "positive"),
        (lambda p, t: good_sequence(p[:-1], t[:-1]), "last token"),
        (lambda p, t: good_sequence(p[1:], t[1:]), "first (or the last )?token"),
    ]
    for wrong, message in cases:
        with pytest.raises(CheckFailed, match=message):
            check_sequence_log_prob(wrong)


def test_crash_in_student_code_becomes_feedback():
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        check_softmax(lambda z: 1 / 0)


def test_stub_passes_through_checks_with_friendly_message():
    def stub(z):
        not_implemented("softmax")

    with pytest.raises(ExerciseNotImplemented, match="'softmax' is not implemented yet"):
        check_softmax(stub)


def test_checks_leave_the_global_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_softmax(good_softmax, seed=5)
    check_sample_categorical(good_sample, seed=5)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- independent right answers
def loop_softmax(z):
    rows = z.reshape(-1, z.shape[-1]).tolist()
    out = []
    for row in rows:
        top = max(row)
        exps = [math.exp(x - top) for x in row]
        out.append([e / sum(exps) for e in exps])
    return torch.tensor(out, dtype=torch.float64).reshape(z.shape)


def numpy_softmax(z):
    a = z.numpy()
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def loop_log_softmax(z):
    rows = z.reshape(-1, z.shape[-1]).tolist()
    out = []
    for row in rows:
        top = max(row)
        lse = top + math.log(sum(math.exp(x - top) for x in row))
        out.append([x - lse for x in row])
    return torch.tensor(out, dtype=torch.float64).reshape(z.shape)


def numpy_log_softmax(z):
    a = z.numpy()
    return a - np.logaddexp.reduce(a, axis=-1, keepdims=True)


def loop_sample(probs, u):
    total = 0.0
    for i, p in enumerate(probs.tolist()):
        total += p
        if u < total:
            return i
    return len(probs) - 1


def numpy_sample(probs, u):
    return min(int((np.cumsum(probs.numpy()) <= u).sum()), len(probs) - 1)


def loop_sequence(step_probs, tokens):
    return sum(math.log(step_probs[t, w]) for t, w in enumerate(tokens.tolist()))


def numpy_sequence(step_probs, tokens):
    return np.log(np.take_along_axis(step_probs.numpy(), tokens.numpy()[:, None], 1)).sum()


@pytest.mark.parametrize("check, answer", [
    (check_softmax, loop_softmax), (check_softmax, numpy_softmax),
    (check_log_softmax, loop_log_softmax), (check_log_softmax, numpy_log_softmax),
    (check_sample_categorical, loop_sample), (check_sample_categorical, numpy_sample),
    (check_sequence_log_prob, loop_sequence), (check_sequence_log_prob, numpy_sequence),
], ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("seed", [1, 7, 30])
def test_independent_right_answers_pass(check, answer, seed):
    assert check(answer, seed=seed).passed


# ---------------------------------------------------------------- hostile answers
def _edits_logits(z):
    z.zero_()  # a reference computed from these logits would be uniform
    return torch.full_like(z, 1 / z.shape[-1])


def _edits_logits_log(z):
    return _edits_logits(z).log()


def _edits_probs(probs, u):
    probs.zero_()
    probs[0] = 1.0  # a check that read these probs would expect word 0
    return 0


def _edits_step_probs(step_probs, tokens):
    step_probs.fill_(1.0)  # every log-probability would now be 0
    return 0.0


@pytest.mark.parametrize("check, answer", [
    (check_softmax, _edits_logits), (check_log_softmax, _edits_logits_log),
    (check_sample_categorical, _edits_probs), (check_sequence_log_prob, _edits_step_probs)])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)


def test_counts_read_right_and_messages_hold_no_distance(capsys):
    check_sample_categorical(good_sample)
    assert capsys.readouterr().out == "✅ sample_categorical: passed all 3 cases.\n"
    import re
    for check, wrong in [(check_softmax, lambda z: torch.softmax(2 * z, -1)),
                         (check_sequence_log_prob, lambda p, t: good_sequence(p, t) - 0.5)]:
        with pytest.raises(CheckFailed) as error:
            check(wrong)
        assert "up to" not in str(error.value) and not re.search(r"\d\.\d{3}", str(error.value))
