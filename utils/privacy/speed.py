"""How fast is DP-SGD? The course's step against Opacus's, same model, same batch. Chapter 8.

Per-example gradients are DP-SGD's extra cost: B gradients instead of one
sum. This module times one full private step (per-example gradients, clipping,
noise, the update) both ways and reports tokens per second; the performance
page explains the numbers.
"""

from __future__ import annotations

import time
import warnings

import torch
import torch.nn.functional as F

from utils.data.padding import PAD
from utils.privacy.dpsgd import DPLanguageModel, opacus_twin, private_gradient

__all__ = ["dp_step_speed"]


def _best_time(step, repeats: int) -> float:
    step()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)  # the least disturbed run: other processes only ever add time


def dp_step_speed(model: DPLanguageModel, inputs: torch.Tensor, targets: torch.Tensor, *,
                  max_grad_norm: float = 1.0, noise_multiplier: float = 1.0,
                  repeats: int = 5) -> dict[str, float]:
    """Tokens per second of one DP-SGD step: ``torch.func`` (ours) vs Opacus. Chapter 8.

    Both run SGD on copies of ``model``'s weights with the same batch ``(batch,
    seq_len)``, alternating so that background load hits both alike.
    """
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    tokens = int((targets != PAD).sum())
    batch = len(inputs)
    ours = DPLanguageModel(model.vocab_size, model.hidden_size)
    ours.load_state_dict(model.state_dict())
    our_opt = torch.optim.SGD(ours.parameters(), lr=1e-3)

    def our_step() -> None:
        grads = private_gradient(ours, inputs, targets, max_grad_norm=max_grad_norm,
                                 noise_multiplier=noise_multiplier, expected_batch_size=batch)
        for name, p in ours.named_parameters():
            p.grad = grads[name]
        our_opt.step()

    with warnings.catch_warnings():  # Opacus warns about secure RNG and the optimizer type
        warnings.simplefilter("ignore")
        theirs = GradSampleModule(opacus_twin(model), loss_reduction="sum")
        their_opt = DPOptimizer(torch.optim.SGD(theirs.parameters(), lr=1e-3),
                                noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                                expected_batch_size=batch, loss_reduction="sum")

    def their_step() -> None:
        their_opt.zero_grad(set_to_none=True)
        logits, _ = theirs(inputs)  # (batch, seq_len, vocab_size)
        with warnings.catch_warnings():  # the hooks' note that token ids need no gradient
            warnings.simplefilter("ignore")
            F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD,
                            reduction="sum").backward()
        their_opt.step()

    t_ours, t_theirs = [], []
    for _ in range(2):
        t_ours.append(_best_time(our_step, repeats))
        t_theirs.append(_best_time(their_step, repeats))
    ours_tps, theirs_tps = tokens / min(t_ours), tokens / min(t_theirs)
    return {"ours_tokens_per_s": ours_tps, "opacus_tokens_per_s": theirs_tps,
            "speedup": ours_tps / theirs_tps, "batch": batch, "tokens": tokens}
