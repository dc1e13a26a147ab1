"""The three training loops past pretraining: SFT, DPO and RL with a verifier's reward. Chapter 5.

Each takes the model to train, its data and a config, trains in place and
returns a ``TrainingRecord`` (``utils.runtime``); ``utils.assistant.runs``
wraps them in ``cached_run``. The reference model of DPO and RL is frozen:
its parameters take no gradient and are never in the optimizer.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from utils.assistant.chat import ChatBatch, chat_batch, prompt_ids
from utils.assistant.generate import generate_ids
from utils.assistant.objectives import (
    answer_log_probs,
    dpo_loss,
    group_advantages,
    policy_gradient_loss,
    sft_loss,
)
from utils.data.text import Vocab
from utils.runtime import TrainingRecord, eval_mode, thin

__all__ = ["Pair", "frozen_copy", "train_dpo", "train_rl", "train_sft"]

# (prompt words, answer words)
Pair = tuple[Sequence[str], Sequence[str]]
# reward(prompt index, answer words) -> float
Reward = Callable[[int, Sequence[str]], float]


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in evaluation mode whose parameters take no gradient: a reference."""
    reference = copy.deepcopy(model).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def _batch(pairs: Sequence[Pair], vocab: Vocab) -> ChatBatch:
    return chat_batch([prompt_ids(p, vocab) for p, _ in pairs],
                      [vocab.encode(a) for _, a in pairs], vocab)


def _record(losses: list[float], start: float, **measured) -> TrainingRecord:
    return TrainingRecord(steps=len(losses), train_time_s=time.perf_counter() - start,
                          train_loss=thin(losses), measured=measured)


def train_sft(model: nn.Module, pairs: Sequence[Pair], vocab: Vocab, *, steps: int,
              batch_size: int, lr: float, answer_only: bool,
              generator: torch.Generator) -> TrainingRecord:
    """Supervised fine-tuning on (prompt, answer) pairs with Adam; ``generator`` draws batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
        loss = sft_loss(model, _batch([pairs[i] for i in rows], vocab), answer_only=answer_only)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return _record(losses, start)


def train_dpo(policy: nn.Module, reference: nn.Module, chosen: Sequence[Pair],
              rejected: Sequence[Pair], vocab: Vocab, *, steps: int, batch_size: int,
              lr: float, beta: float, generator: torch.Generator) -> TrainingRecord:
    """DPO on preference pairs (``chosen[i]`` over ``rejected[i]``, one prompt each).

    Dropout stays off in both models, as in TRL, so the policy's and the
    reference's log-probabilities of a pair agree exactly at the first step.
    """
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    losses, accuracies, start = [], [], time.perf_counter()
    with eval_mode(policy):
        for _ in range(steps):
            rows = torch.randint(len(chosen), (batch_size,), generator=generator).tolist()
            good = _batch([chosen[i] for i in rows], vocab)
            bad = _batch([rejected[i] for i in rows], vocab)
            with torch.no_grad():
                ref_good = answer_log_probs(reference, good)
                ref_bad = answer_log_probs(reference, bad)
            pol_good, pol_bad = answer_log_probs(policy, good), answer_log_probs(policy, bad)
            loss = dpo_loss(pol_good, pol_bad, ref_good, ref_bad, beta).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            accuracies.append(float(((pol_good - ref_good) > (pol_bad - ref_bad)).float().mean()))
    return _record(losses, start, reward_accuracy=thin(accuracies))


def _sampled_batch(prompts: list[list[int]], answers: list[list[int]], vocab: Vocab,
                   max_new: int) -> ChatBatch:
    """The batch of sampled answers; an answer cut at ``max_new`` never sampled its ``<end>``."""
    batch = chat_batch(prompts, answers, vocab)
    mask = batch.answer_mask.clone()
    for row, a in enumerate(answers):
        if len(a) == max_new:  # drop the appended <end> from the scored tokens
            mask[row, torch.nonzero(mask[row]).max()] = False
    return dataclasses.replace(batch, answer_mask=mask)


def train_rl(policy: nn.Module, reference: nn.Module, prompts: Sequence[Sequence[str]],
             reward: Reward, vocab: Vocab, *, steps: int, prompts_per_step: int,
             group_size: int, lr: float, kl_coef: float, max_new: int,
             generator: torch.Generator) -> TrainingRecord:
    """Sample ``group_size`` answers per prompt, reward them, step on GRPO's objective.

    ``reward(i, answer)`` scores an answer to ``prompts[i]``: the exact verifier
    in the chapter's main run, a gameable proxy in its reward-hacking run.
    """
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    losses, rewards_seen, kls, start = [], [], [], time.perf_counter()
    with eval_mode(policy):
        for _ in range(steps):
            chosen = torch.randint(len(prompts), (prompts_per_step,), generator=generator)
            rows = chosen.repeat_interleave(group_size).tolist()
            ids = [prompt_ids(prompts[i], vocab) for i in rows]
            answers = generate_ids(policy, ids, vocab, max_new=max_new, temperature=1.0,
                                   generator=generator, stop_at_eos=False)
            rewards = torch.tensor([reward(i, vocab.decode(a)) for i, a in
                                    zip(rows, answers, strict=True)], dtype=torch.float32)
            advantages = group_advantages(rewards.view(prompts_per_step, group_size)).flatten()
            loss, kl = policy_gradient_loss(policy, reference,
                                            _sampled_batch(ids, answers, vocab, max_new),
                                            advantages, kl_coef)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            rewards_seen.append(float(rewards.mean()))
            kls.append(float(kl))
    return _record(losses, start, reward=thin(rewards_seen), kl=thin(kls))
