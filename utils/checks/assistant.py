"""Checks for lab 05b (from language model to assistant): SFT loss, DPO loss, safety rates.

Used in chapter 5. Each exercise is data (`EXERCISES`, cases in
`utils.checks._assistant_cases`): nothing comes from the submission. The
judges compare with the chapter's own ``utils.assistant`` functions
(``sft_loss``, ``answer_log_probs``, ``dpo_loss``, ``leaks``), which the
student's code may not call while it runs. The DPO check also back-propagates
the student's loss and looks at the gradients: the policy's must be DPO's, and
none may reach the frozen reference. No message prints a distance to the
answer, and no check leaves a trace in the global random stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from utils.assistant.objectives import answer_log_probs, dpo_loss, sft_loss, token_log_probs
from utils.assistant.safety import REFUSAL, leaks
from utils.checks import _assistant_cases as cases
from utils.checks._core import Case, Exercise, Wrong, checker
from utils.checks._judging import as_array, close, expect_shape, finite, scalar
from utils.i18n import _
from utils.runtime.scoped import local_seed, one_cpu_thread

__all__ = ["EXERCISES", "check_answer_only_loss", "check_dpo_loss", "check_safety_rates"]

# The chapter's own implementations, which the exercises ask the student to write.
_COURSE = tuple(f"utils.assistant.{where}{name}" for where in ("", "objectives.")
                for name in ("sft_loss", "token_log_probs", "answer_log_probs", "dpo_loss")) + (
    "utils.assistant.leaks", "utils.assistant.safety.leaks",
    "utils.assistant.safety_audit", "utils.assistant.safety.safety_audit")


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


# ---------------------------------------------------------------- answer-only SFT loss
def _run_sft(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["answer_only_loss"](_t(case["logits"]), _t(case["tokens"]), _t(case["is_answer"]))


def _sft_mistakes(case: Case) -> dict[str, float]:
    """The value of each plausible wrong answer on this case."""
    logits, tokens, is_answer = (_t(case[k]) for k in ("logits", "tokens", "is_answer"))
    batch = cases.batch_from(case["batch"])
    nll = -token_log_probs(cases.FixedLogits(case["logits"]), batch).double()  # (rows, seq-1)
    answer = batch.answer_mask.double()
    unshifted = -F.log_softmax(logits.double(), -1).gather(-1, tokens[..., None])[..., 0]
    per_row = (nll * answer).sum(-1) / answer.sum(-1)
    return {
        _("you scored the prompt tokens too: mask the loss so that only the answer's tokens "
          "(its words and <end>) count"):
            float(sft_loss(cases.FixedLogits(case["logits"]), batch, answer_only=False)),
        _("you averaged over every position, prompts and padding too: only the answer's tokens "
          "count"): float(nll.mean()),
        _("you summed over the answer tokens but divided by every position, padding included: "
          "divide by the number of answer tokens"): float((nll * answer).sum() / nll.numel()),
        _("your targets are not shifted: the logits at position t predict the token at t + 1, "
          "so compare logits[:, :-1] with tokens[:, 1:]"):
            float((unshifted * is_answer).sum() / is_answer.sum()),
        _("your targets are shifted but the mask is not: the mask must mark the TARGETS that are "
          "answer tokens, is_answer[:, 1:] (your mask scores the last prompt token "
          "<assistant> and misses <end>)"):
            float((nll * is_answer[:, :-1]).sum() / is_answer[:, :-1].sum()),
        _("you averaged each row, then the rows: the loss is the mean over ALL answer tokens "
          "of the batch, so a longer answer weighs more"): float(per_row.mean()),
        _("you returned the sum over answer tokens: return their mean"):
            float((nll * answer).sum()),
    }


def _judge_sft(case: Case, output: Any) -> str | None:
    value = scalar(output, _("your loss"))
    finite(np.asarray(value), _("your loss"))
    batch = cases.batch_from(case["batch"])
    reference = float(sft_loss(cases.FixedLogits(case["logits"]), batch))
    if close(value, reference, 1e-5, 1e-5):
        return None
    for message, wrong in _sft_mistakes(case).items():
        if close(value, wrong, 1e-5, 1e-5):
            return message
    if close(-value, reference, 1e-5, 1e-5):
        return _("your loss has the wrong sign: cross-entropy is MINUS the log-probability")
    return _("your loss is not the mean cross-entropy of the answer tokens (each predicted "
             "from the position before it)")


# ---------------------------------------------------------------- DPO
def _models(case: Case) -> tuple[torch.nn.Module, torch.nn.Module]:
    return cases.lstm_from(case["policy"]).eval(), cases.lstm_from(case["reference"]).eval()


def _grads(model: torch.nn.Module) -> np.ndarray:
    return np.concatenate([np.zeros(p.numel()) if p.grad is None
                           else p.grad.detach().double().reshape(-1).numpy()
                           for p in model.parameters()])


def _run_dpo(ns: Mapping[str, Any], case: Case) -> Any:
    # The reference is a plain copy whose weights still take gradients, as a deep copy's
    # would: keeping it frozen is the student's job.
    policy, reference = _models(case)
    chosen, rejected = cases.batch_from(case["chosen"]), cases.batch_from(case["rejected"])
    with local_seed(0), one_cpu_thread():
        loss = ns["dpo_loss"](policy, reference, chosen, rejected, case["beta"])
        flows = isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1
        if flows:
            loss.backward()
    return {"loss": loss.detach() if isinstance(loss, torch.Tensor) else loss,
            "flows": flows, "policy_grad": _grads(policy), "reference_grad": _grads(reference)}


def _dpo_values(case: Case) -> dict[str, torch.Tensor]:
    """Summed and mean answer log-probabilities of both models, without gradient."""
    policy, reference = _models(case)
    out = {}
    with torch.no_grad():
        for side in ("chosen", "rejected"):
            batch = cases.batch_from(case[side])
            answer = batch.answer_mask.double()
            for who, model in (("pi", policy), ("ref", reference)):
                out[f"{who}_{side}"] = answer_log_probs(model, batch).double()
                tokens = token_log_probs(model, batch).double()
                out[f"{who}_{side}_mean"] = (tokens * answer).sum(-1) / answer.sum(-1)
    return out


def _dpo_of(v: dict[str, torch.Tensor], beta: float, suffix: str = "", sign: float = 1.0,
            reference: bool = True) -> torch.Tensor:
    ref_c = v[f"ref_chosen{suffix}"] if reference else 0.0
    ref_r = v[f"ref_rejected{suffix}"] if reference else 0.0
    return dpo_loss(v[f"pi_chosen{suffix}"], v[f"pi_rejected{suffix}"], ref_c, ref_r,
                    sign * beta)


def _reference_policy_grad(case: Case) -> np.ndarray:
    policy, reference = _models(case)
    chosen, rejected = cases.batch_from(case["chosen"]), cases.batch_from(case["rejected"])
    with torch.no_grad():
        ref_c, ref_r = answer_log_probs(reference, chosen), answer_log_probs(reference, rejected)
    dpo_loss(answer_log_probs(policy, chosen), answer_log_probs(policy, rejected), ref_c, ref_r,
             case["beta"]).mean().backward()
    return _grads(policy)


def _judge_dpo(case: Case, output: Any) -> str | None:
    if not isinstance(output, dict) or set(output) != {"loss", "flows", "policy_grad",
                                                      "reference_grad"}:
        raise Wrong(_("return the DPO loss as a tensor"))
    value = scalar(output["loss"], _("your loss"))
    finite(np.asarray(value), _("your loss"))
    beta, v = case["beta"], _dpo_values(case)
    reference = float(_dpo_of(v, beta).mean())
    if not close(value, reference, 1e-5, 1e-5):
        mistakes = {
            _("your loss has the wrong sign inside the sigmoid: DPO raises the CHOSEN answer's "
              "log-ratio over the rejected one's, -log sigmoid(beta [(chosen) - (rejected)])"):
                _dpo_of(v, beta, sign=-1.0),
            _("beta is missing: the margin is multiplied by beta inside the sigmoid"):
                _dpo_of(v, 1.0),
            _("you averaged the tokens' log-probabilities of each answer: an answer's "
              "log-probability is the SUM over its tokens (the log of their product)"):
                _dpo_of(v, beta, "_mean"),
            _("the reference model is missing: each answer's log-probability is measured "
              "against the reference's, log pi(y) - log pi_ref(y)"): _dpo_of(v, beta,
                                                                           reference=False),
            _("you returned the sum over pairs: return the mean"): _dpo_of(v, beta).sum(),
        }
        for message, wrong in mistakes.items():
            if close(value, float(wrong.mean()), 1e-5, 1e-5):
                return message
        return _("your loss is not DPO's -log sigmoid(beta [(log pi(y_w) - log pi_ref(y_w)) - "
                 "(log pi(y_l) - log pi_ref(y_l))]), averaged over the pairs")
    reference_grad = as_array(output["reference_grad"], _("the reference's gradients"))
    if np.abs(reference_grad).max(initial=0.0) > 0:
        return _("gradients flow into the reference model, so an optimizer would train it too: "
                 "compute the reference's log-probabilities under torch.no_grad() (or detach "
                 "them); the reference stays frozen")
    if output["flows"] is not True:
        return _("your loss carries no gradient to the policy: compute the policy's "
                 "log-probabilities with autograd on (only the reference's are frozen)")
    grad = as_array(output["policy_grad"], _("the policy's gradients"))
    wanted = _reference_policy_grad(case)
    expect_shape(grad, wanted.shape, _("the policy's gradients"))
    if not close(grad, wanted, 1e-5, 1e-4):
        return _("your loss has the right value but not DPO's gradient for the policy: is some "
                 "part of the policy's log-probabilities detached?")
    return None


# ---------------------------------------------------------------- leak and over-refusal rates
def _run_safety(ns: Mapping[str, Any], case: Case) -> Any:
    secret = [(list(p), list(a)) for p, a in case["secret"]]
    return ns["safety_rates"](secret, [list(a) for a in case["look_alikes"]], case["canary"])


def _rates(case: Case) -> tuple[float, float]:
    canary = case["canary"]
    leaked = [leaks(p, a, canary) for p, a in case["secret"]]
    refused = [tuple(a) == REFUSAL for a in case["look_alikes"]]
    return float(np.mean(leaked)), float(np.mean(refused))


def _judge_safety(case: Case, output: Any) -> str | None:
    if not isinstance(output, list) or len(output) != 2:
        raise Wrong(_("return two numbers, (leak_rate, over_refusal_rate)"))
    leak, over = (scalar(x, _("your {what}").format(what=what)) for x, what in
                  zip(output, (_("leak rate"), _("over-refusal rate")), strict=True))
    want_leak, want_over = _rates(case)
    secret, look, canary = case["secret"], case["look_alikes"], case["canary"]
    n_secret, n_look = len(secret), len(look)
    if close(leak, want_leak) and close(over, want_over):
        return None
    if close(leak, want_over) and close(over, want_leak):
        return _("your two rates are swapped: return (leak_rate, over_refusal_rate), the leak "
                 "rate from the secret requests first")
    if not close(leak, want_leak):
        leaked, n_both = want_leak * n_secret, n_secret + n_look
        digits = " ".join(canary)
        by_answer = np.mean([digits in " ".join(a) for _prompt, a in secret])
        said = np.mean([" ".join(("code", "is", digits)) in " ".join(a) for _prompt, a in secret])
        if close(leak, leaked):
            return _("your leak rate is a count: divide by the number of secret requests")
        if close(leak, leaked / n_both):
            return _("your leak rate divides by every answer, look-alikes too: divide by the "
                     "number of secret requests only")
        if close(leak, by_answer):
            return _("your leak rate counts the canary's digits anywhere in the answer: a leak "
                     "is the prompt and answer together spelling \"code is\" and then the "
                     "digits (an answer \"sorry 4 8 ...\" gives nothing away)")
        if close(leak, said):
            return _("your leak rate reads the answer alone: the prompt ends in \"the code is\" "
                     "(or \"the code\"), so read the prompt and answer together")
        return _("your leak rate is not the share of secret requests whose prompt and answer "
                 "together spell \"code is\" and then the canary's digits")
    refused = want_over * n_look
    contains = np.mean(["sorry" in a for a in look])
    not_gently = np.mean([a != ["gently"] for a in look])
    if close(over, refused):
        return _("your over-refusal rate is a count: divide by the number of look-alike requests")
    if close(over, refused / (n_secret + n_look)):
        return _("your over-refusal rate divides by every answer, secret requests too: divide by "
                 "the number of look-alike requests only")
    if close(over, refused / n_secret):
        return _("your over-refusal rate divides by the number of SECRET requests: divide by the "
                 "number of look-alikes")
    if close(over, contains):
        return _("you count every answer that contains \"sorry\" as a refusal: a refusal is the "
                 "answer \"sorry\" and nothing else")
    if close(over, not_gently):
        return _("you count every answer other than \"gently\" as a refusal: a refusal is the "
                 "answer \"sorry\" and nothing else (an off-topic answer is not one)")
    return _("your over-refusal rate is not the share of look-alike requests answered exactly "
             "\"sorry\"")


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("answer_only_loss", ("answer_only_loss",), cases.sft_cases, _run_sft, _judge_sft,
             forbidden=_COURSE),
    Exercise("dpo_loss", ("dpo_loss",), cases.dpo_cases, _run_dpo, _judge_dpo,
             forbidden=_COURSE),
    Exercise("safety_rates", ("safety_rates",), cases.safety_cases, _run_safety, _judge_safety,
             forbidden=_COURSE),
)}

check_answer_only_loss = checker(EXERCISES, "answer_only_loss")
check_dpo_loss = checker(EXERCISES, "dpo_loss")
check_safety_rates = checker(EXERCISES, "safety_rates")
