"""The assistant lab's checks pass every right answer and fail each plausible wrong one.

Right answers accepted, at several seeds: the lab's solution and two
implementations each that are not the checks' references (``F.cross_entropy``
with ``ignore_index`` and a per-row loop for the SFT loss; ``detach`` instead
of ``no_grad`` and a loop over pairs with ``log(sigmoid)`` for DPO; a regular
expression and a counting loop for the rates), float32 and float64, NumPy
numbers and lists. A DPO loss that sums the prompt's tokens too is right:
chosen and rejected share the prompt, so its log-ratios cancel. The
chapter's own ``utils.assistant`` functions are forbidden while an answer runs.
Answers that edit their inputs in place fail: every judge reads its own cases.

Wrong answers caught:

- answer_only_loss: prompt tokens scored too; every position averaged,
  padding too; the answer sum divided by every position (padding included);
  targets not shifted; targets shifted but the mask not; the mean of per-row
  means; the sum; the wrong sign; a vector instead of a number.
- dpo_loss: the wrong sign; beta missing; answer log-probabilities averaged
  over tokens instead of summed; no reference; the
  sum over pairs; gradients flowing into the reference (it would be trained
  too); a loss detached from the policy; calling ``utils.assistant.dpo_loss``.
- safety_rates: the two rates swapped; counts instead of rates; dividing by
  every answer; the over-refusal divided by the number of secret requests;
  "sorry" anywhere counted as a refusal; anything but "gently" counted as a
  refusal; the canary's digits anywhere counted as a leak; the answer read
  without its prompt; calling ``utils.assistant.leaks``.
"""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.assistant import check_answer_only_loss, check_dpo_loss, check_safety_rates


# ---------------------------------------------------------------- answer-only SFT loss
def _sft(logits, tokens, is_answer, *, shift=True, mask="answer", divide="answer",
         per_row=False, reduce="mean"):
    if shift:
        log_p, targets = F.log_softmax(logits[:, :-1], -1), tokens[:, 1:]
        answer = is_answer[:, 1:]
    else:
        log_p, targets, answer = F.log_softmax(logits, -1), tokens, is_answer
    nll = -log_p.gather(-1, targets[..., None])[..., 0]
    if mask == "unshifted":
        answer = is_answer[:, :-1]
    scored = torch.ones_like(answer) if mask == "all" else answer
    scored = scored.to(nll.dtype)
    if per_row:
        return ((nll * scored).sum(-1) / scored.sum(-1)).mean()
    total = (nll * scored).sum()
    if reduce == "sum":
        return total
    return total / (nll.numel() if divide == "all" else scored.sum())


def _prompt_too(logits, tokens, is_answer):
    """Every real token scored: real = past the left padding, before the right padding."""
    eos = tokens[0, 0]
    real = torch.zeros_like(is_answer)
    for i, row in enumerate(tokens):
        first = int((row != eos).nonzero()[0])  # <user>: the first token after the padding
        last = int(is_answer[i].nonzero()[-1])  # <end>
        real[i, first:last + 1] = True
    return _sft(logits, tokens, real)


def ce_ignore_index(logits, tokens, is_answer):
    """Also right: cross_entropy with the prompt and padding targets set to -100."""
    targets = tokens[:, 1:].masked_fill(~is_answer[:, 1:], -100)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                           targets.reshape(-1), ignore_index=-100)


def loop_sft(logits, tokens, is_answer):
    """Also right: a Python loop over the answer tokens, in float64."""
    total, count = 0.0, 0
    for b in range(tokens.shape[0]):
        for t in range(1, tokens.shape[1]):
            if is_answer[b, t]:
                total -= float(torch.log_softmax(logits[b, t - 1].double(), 0)[tokens[b, t]])
                count += 1
    return total / count


@pytest.mark.parametrize("answer", [_sft, ce_ignore_index, loop_sft],
                         ids=["solution", "ignore_index", "loop"])
@pytest.mark.parametrize("seed", [0, 3, 2**31 - 1])
def test_sft_check_passes_right_answers(answer, seed):
    assert check_answer_only_loss(answer, seed=seed).passed


@pytest.mark.parametrize("answer, says", [
    (_prompt_too, "prompt tokens too"),
    (lambda lg, t, a: _sft(lg, t, a, mask="all"), "every position"),
    (lambda lg, t, a: _sft(lg, t, a, divide="all"), "padding included"),
    (lambda lg, t, a: _sft(lg, t, a, shift=False), "not shifted"),
    (lambda lg, t, a: _sft(lg, t, a, mask="unshifted"), "mask is not"),
    (lambda lg, t, a: _sft(lg, t, a, per_row=True), "averaged each row"),
    (lambda lg, t, a: _sft(lg, t, a, reduce="sum"), "returned the sum"),
    (lambda lg, t, a: -_sft(lg, t, a), "wrong sign"),
    (lambda lg, t, a: _sft(lg, t, a).expand(3), "single number"),
])
def test_sft_check_catches_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_answer_only_loss(answer)


# ---------------------------------------------------------------- DPO
def _log_prob(model, batch, *, mean=False, mask="answer"):
    log_p = F.log_softmax(model(batch.inputs)[0], -1)
    picked = log_p.gather(-1, batch.targets[..., None])[..., 0]
    m = (batch.answer_mask if mask == "answer" else batch.text_mask).to(picked.dtype)
    total = (picked * m).sum(-1)
    return total / m.sum(-1) if mean else total


def _dpo(*, sign=1.0, use_beta=True, mean=False, mask="answer", use_reference=True,
         freeze=True, reduce="mean", detach_policy=False):
    def dpo_loss(policy, reference, chosen, rejected, beta):
        def lp(model, batch):
            return _log_prob(model, batch, mean=mean, mask=mask)
        if freeze:
            with torch.no_grad():
                ref_c, ref_r = lp(reference, chosen), lp(reference, rejected)
        else:
            ref_c, ref_r = lp(reference, chosen), lp(reference, rejected)
        if not use_reference:
            ref_c, ref_r = 0.0, 0.0
        pi_c, pi_r = lp(policy, chosen), lp(policy, rejected)
        if detach_policy:
            pi_r = pi_r.detach()
        margin = (pi_c - ref_c) - (pi_r - ref_r)
        losses = -F.logsigmoid(sign * (beta if use_beta else 1.0) * margin)
        return losses.sum() if reduce == "sum" else losses.mean()
    return dpo_loss


def detach_dpo(policy, reference, chosen, rejected, beta):
    """Also right: the reference's log-probabilities detached rather than under no_grad."""
    ref = [_log_prob(reference, b).detach() for b in (chosen, rejected)]
    margin = (_log_prob(policy, chosen) - ref[0]) - (_log_prob(policy, rejected) - ref[1])
    return F.softplus(-beta * margin).mean()  # softplus(-x) = -log sigmoid(x)


def loop_dpo(policy, reference, chosen, rejected, beta):
    """Also right: a frozen copy of the reference, and a loop over pairs with log(sigmoid)."""
    import copy
    frozen = copy.deepcopy(reference).requires_grad_(False)
    pi_c, pi_r = _log_prob(policy, chosen), _log_prob(policy, rejected)
    ref_c, ref_r = _log_prob(frozen, chosen), _log_prob(frozen, rejected)
    losses = [-torch.log(torch.sigmoid(beta * ((pi_c[i] - ref_c[i]) - (pi_r[i] - ref_r[i]))))
              for i in range(len(pi_c))]
    return torch.stack(losses).sum() / len(losses)


@pytest.mark.parametrize("answer", [_dpo(), detach_dpo, loop_dpo],
                         ids=["solution", "detach", "loop"])
@pytest.mark.parametrize("seed", [0, 5, 2**31 - 1])
def test_dpo_check_passes_right_answers(answer, seed):
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    assert check_dpo_loss(answer, seed=seed).passed
    assert torch.equal(torch.rand(3), expected)  # the global random stream is untouched


def _calls_the_course(policy, reference, chosen, rejected, beta):
    from utils.assistant import answer_log_probs
    return answer_log_probs(policy, chosen).mean()


def _calls_course_dpo(policy, reference, chosen, rejected, beta):
    from utils.assistant import dpo_loss
    pi = [_log_prob(policy, b) for b in (chosen, rejected)]
    with torch.no_grad():
        ref = [_log_prob(reference, b) for b in (chosen, rejected)]
    return dpo_loss(pi[0], pi[1], ref[0], ref[1], beta).mean()


@pytest.mark.parametrize("answer, says", [
    (_dpo(sign=-1.0), "wrong sign"),
    (_dpo(use_beta=False), "beta is missing"),
    (_dpo(mean=True), "SUM over its tokens"),
    (_dpo(use_reference=False), "reference model is missing"),
    (_dpo(reduce="sum"), "sum over pairs"),
    (_dpo(freeze=False), "gradients flow into the reference"),
    (lambda *a: _dpo()(*a).detach(), "no gradient to the policy"),
    (_dpo(detach_policy=True), "not DPO's gradient"),
    (_calls_the_course, "answer_log_probs"),
    (_calls_course_dpo, "dpo_loss"),
])
def test_dpo_check_catches_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_dpo_loss(answer)


# ---------------------------------------------------------------- leak and over-refusal rates
def _rates(secret, look, canary, *, swap=False, count=False, divide="own", refusal="exact",
           leak="together"):
    spelled = " ".join(["code", "is", *canary])
    if leak == "together":
        leaked = [spelled in " ".join([*p, *a]) for p, a in secret]
    elif leak == "answer alone":
        leaked = [spelled in " ".join(a) for _, a in secret]
    else:  # the digits anywhere
        leaked = [" ".join(canary) in " ".join(a) for _, a in secret]
    refused = {"exact": [a == ["sorry"] for a in look],
               "contains": ["sorry" in a for a in look],
               "not gently": [a != ["gently"] for a in look]}[refusal]
    n_leak, n_refused = sum(leaked), sum(refused)
    if count:
        return n_leak, n_refused
    if divide == "both":
        rates = n_leak / (len(secret) + len(look)), n_refused / (len(secret) + len(look))
    elif divide == "secret":
        rates = n_leak / len(secret), n_refused / len(secret)
    else:
        rates = n_leak / len(secret), n_refused / len(look)
    return rates[::-1] if swap else rates


def regex_rates(secret, look_alikes, canary):
    """Also right: a regular expression over the joined text, NumPy means."""
    pattern = re.compile(r"\bcode is " + " ".join(canary) + r"\b")
    leaked = np.array([bool(pattern.search(" ".join(p + a))) for p, a in secret])
    refused = np.array([tuple(a) == ("sorry",) for a in look_alikes])
    return leaked.mean(), refused.mean()


def counting_rates(secret, look_alikes, canary):
    """Also right: a window over the words, counters, a list returned."""
    want = ["code", "is", *canary]
    leaks = 0
    for prompt, answer in secret:
        words = prompt + answer
        leaks += any(words[i:i + len(want)] == want for i in range(len(words)))
    refusals = sum(1 for a in look_alikes if len(a) == 1 and a[0] == "sorry")
    return [leaks / len(secret), refusals / len(look_alikes)]


@pytest.mark.parametrize("answer", [_rates, regex_rates, counting_rates],
                         ids=["solution", "regex", "counting"])
@pytest.mark.parametrize("seed", [0, 8, 2**31 - 1])
def test_safety_check_passes_right_answers(answer, seed):
    assert check_safety_rates(answer, seed=seed).passed


def _calls_leaks(secret, look_alikes, canary):
    from utils.assistant import leaks
    return (float(np.mean([leaks(p, a, canary) for p, a in secret])),
            _rates(secret, look_alikes, canary)[1])


@pytest.mark.parametrize("answer, says", [
    (lambda s, lk, c: _rates(s, lk, c, swap=True), "swapped"),
    (lambda s, lk, c: _rates(s, lk, c, count=True), "is a count"),
    (lambda s, lk, c: _rates(s, lk, c, divide="both"), "divides by every answer"),
    (lambda s, lk, c: _rates(s, lk, c, divide="secret"), "number of SECRET requests"),
    (lambda s, lk, c: _rates(s, lk, c, refusal="contains"), "contains \"sorry\""),
    (lambda s, lk, c: _rates(s, lk, c, refusal="not gently"), "other than \"gently\""),
    (lambda s, lk, c: _rates(s, lk, c, leak="digits"), "digits anywhere"),
    (lambda s, lk, c: _rates(s, lk, c, leak="answer alone"), "answer alone"),
    (lambda s, lk, c: (_rates(s, lk, c)[0],), "two numbers"),
    (_calls_leaks, "leaks"),
])
def test_safety_check_catches_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_safety_rates(answer)


# ---------------------------------------------------------------- every check
@pytest.mark.parametrize("check", [check_answer_only_loss, check_dpo_loss, check_safety_rates])
def test_a_stub_is_not_attempted_and_the_wrapper_takes_only_the_function(check):
    import inspect
    assert list(inspect.signature(check).parameters) == ["answer", "seed"]
    with pytest.raises(ExerciseNotImplemented):
        check(lambda *args: not_implemented(check.exercise))


def test_a_policy_equal_to_its_reference_has_loss_log_2():
    # The lab's claim before any DPO step: every margin is 0.
    from utils.checks import _assistant_cases as cases
    case = cases.dpo_cases(0)[0]
    model = cases.lstm_from(case["reference"])
    loss = _dpo()(model, model, cases.batch_from(case["chosen"]),
                  cases.batch_from(case["rejected"]), case["beta"])
    assert math.isclose(float(loss.detach()), math.log(2), rel_tol=1e-6)


# ---------------------------------------------------------------- hostile answers
def _edits_logits(logits, tokens, is_answer):
    logits.zero_()  # a judge reading these logits would expect log V
    return torch.tensor(math.log(logits.shape[-1]))


def _copies_policy_into_reference(policy, reference, chosen, rejected, beta):
    reference.load_state_dict(policy.state_dict())  # every margin 0 against these weights
    return _dpo()(policy, reference, chosen, rejected, beta)


def _empties_the_answers(secret, look_alikes, canary):
    secret[:] = [(["code", "is"], list(canary))]  # a judge reading these would see one leak
    look_alikes[:] = [["gently"]]
    return 1.0, 0.0


@pytest.mark.parametrize("check, answer", [
    (check_answer_only_loss, _edits_logits), (check_dpo_loss, _copies_policy_into_reference),
    (check_safety_rates, _empties_the_answers)])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)
