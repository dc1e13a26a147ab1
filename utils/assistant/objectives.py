"""The losses past pretraining: supervised fine-tuning, DPO and a group-relative policy gradient.

Chapter 5. All three read the same ``ChatBatch``:

- ``sft_loss``: next-token cross-entropy on the answer tokens only
  (``answer_only=True``), or on every token of prompt and answer alike;
- ``dpo_loss``: Rafailov et al. (2023), from summed answer log-probabilities of
  the policy and of the frozen reference on chosen and rejected answers;
- ``policy_gradient_loss``: REINFORCE with group-relative advantages, as in
  GRPO (Shao et al. 2024), plus a KL penalty to the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from utils.assistant.chat import ChatBatch

__all__ = [
    "answer_log_probs", "dpo_loss", "group_advantages", "policy_gradient_loss", "sft_loss",
    "token_log_probs",
]


def token_log_probs(model: nn.Module, batch: ChatBatch) -> torch.Tensor:
    """log p(target) at every position, ``(batch, seq)``; the caller masks what it needs."""
    logits, _ = model(batch.inputs)  # (batch, seq, vocab_size)
    log_p = F.log_softmax(logits.float(), dim=-1)
    return log_p.gather(-1, batch.targets[..., None])[..., 0]  # (batch, seq)


def answer_log_probs(model: nn.Module, batch: ChatBatch) -> torch.Tensor:
    """log p(answer | prompt) per row: the answer tokens' log-probabilities *summed*, ``(batch,)``.

    A sum, not a mean: the probability of a whole answer is the product of its
    tokens' probabilities, and DPO compares whole answers.
    """
    return (token_log_probs(model, batch) * batch.answer_mask).sum(-1)


def sft_loss(model: nn.Module, batch: ChatBatch, *, answer_only: bool = True) -> torch.Tensor:
    """Mean cross-entropy over the answer tokens (or, ``answer_only=False``, every real token)."""
    mask = batch.answer_mask if answer_only else batch.text_mask
    return -(token_log_probs(model, batch) * mask).sum() / mask.sum()


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             reference_chosen: torch.Tensor, reference_rejected: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Per-pair DPO loss, -log sigmoid(beta [(pi_c - ref_c) - (pi_r - ref_r)]), ``(pairs,)``.

    Each argument is a summed answer log-probability per pair (``answer_log_probs``);
    the reference's come from the frozen model and carry no gradient.
    """
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin)


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages: each reward minus its group's mean, over the group's std.

    ``rewards`` is ``(prompts, group)``, one row per prompt's sampled answers;
    a group whose answers are all rewarded alike teaches nothing (advantage 0).
    """
    mean = rewards.mean(-1, keepdim=True)
    std = rewards.std(-1, keepdim=True, unbiased=False)
    return (rewards - mean) / (std + eps)


def policy_gradient_loss(policy: nn.Module, reference: nn.Module, batch: ChatBatch,
                         advantages: torch.Tensor, kl_coef: float
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE on sampled answers with a KL penalty to the reference; returns (loss, KL).

    One gradient step per batch of samples, so PPO's probability ratio is 1 and
    GRPO's clipped objective reduces to advantage x log-probability. The KL is
    Shao et al.'s unbiased, always-positive estimator per answer token,
    r - log r - 1 with r = pi_ref / pi, averaged over answer tokens.
    """
    mask = batch.answer_mask
    log_p = token_log_probs(policy, batch)  # (rows, seq)
    with torch.no_grad():
        ref = token_log_probs(reference, batch)
    log_ratio = ref - log_p
    kl = ((log_ratio.exp() - log_ratio - 1) * mask).sum() / mask.sum()
    pg = -(advantages * (log_p * mask).sum(-1)).mean()
    return pg + kl_coef * kl, kl.detach()
