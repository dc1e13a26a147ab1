"""The warm-up lab's checks pass the right answer and fail each plausible wrong one."""

import math

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
    return torch.softmax(z, -1)


def test_softmax_check_passes_correct_answer(capsys):
    check_softmax(good_softmax)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda z: z.exp(), "sum to"),  # forgot to normalise
        (lambda z: z / z.sum(-1, keepdim=True), "negative"),  # normalised raw logits
        (lambda z: z.exp() / z.exp().sum(), "sum to"),  # normalised over the whole batch
        (lambda z: torch.softmax(z, 0), "sum to"),  # wrong axis
        (lambda z: z.exp() / z.exp().sum(-1, keepdim=True), "overflows"),  # unstable
        (lambda z: torch.softmax(z, -1)[..., :-1], "shape"),
        (lambda z: torch.softmax(2 * z, -1), "differ from the softmax"),
    ],
)
def test_softmax_check_fails_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_softmax(wrong)


def test_log_softmax_check():
    check_log_softmax(lambda z: torch.log_softmax(z, -1))
    with pytest.raises(CheckFailed, match="nan or inf"):
        check_log_softmax(lambda z: (z.exp() / z.exp().sum(-1, keepdim=True)).log())
    with pytest.raises(CheckFailed, match="positive"):
        check_log_softmax(lambda z: z - z.min(-1, keepdim=True).values)
    with pytest.raises(CheckFailed, match="sum to"):
        check_log_softmax(lambda z: z - z.max(-1, keepdim=True).values)


def test_sample_categorical_check():
    def good(probs, u):
        return int(torch.searchsorted(torch.cumsum(probs, 0), torch.tensor(u, dtype=probs.dtype),
                                      right=True).clamp(max=len(probs) - 1))

    check_sample_categorical(good)
    with pytest.raises(CheckFailed, match="interval"):  # argmax instead of sampling
        check_sample_categorical(lambda probs, u: int(probs.argmax()))
    with pytest.raises(CheckFailed, match="interval"):  # off by one
        check_sample_categorical(lambda probs, u: min(good(probs, u) + 1, len(probs) - 1))
    with pytest.raises(CheckFailed, match="index between"):
        check_sample_categorical(lambda probs, u: len(probs))


def test_sequence_log_prob_check():
    def good(step_probs, tokens):
        return float(step_probs[torch.arange(len(tokens)), tokens].log().sum())

    check_sequence_log_prob(good)
    cases = [
        (lambda p, t: math.exp(good(p, t)), "probability, not a log-probability"),
        (lambda p, t: good(p, t) / len(t), "mean"),
        (lambda p, t: good(p, t) / math.log(2), "base 2"),
        (lambda p, t: float(p.max(-1).values.log().sum()), "differs"),
        (lambda p, t: -good(p, t), "positive"),
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
