"""Adebayo et al.'s two randomisations: the learnt weights, and the training labels. Chapter 7.

Their sanity check compares an explanation of the trained model with one of
a model that cannot have learnt the task. *Model randomisation*: a copy whose
weights are drawn afresh; the random language model of the probing
experiment is made the same way. *Label randomisation*: a model trained on a
permutation of the training labels, which it can only memorise.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["permuted_labels", "randomised"]


def _draw(parameter: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    """Fill with U(-bound, bound), drawn on the CPU so any device gives the same numbers."""
    values = torch.empty(parameter.shape).uniform_(-bound, bound, generator=generator)
    parameter.copy_(values)


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Draw every weight of ``module`` afresh, from PyTorch's default ranges for its type."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.Embedding):
                _draw(sub.weight, 0.1, generator)  # as chapter 4's model initialises it
            elif isinstance(sub, (nn.LSTM, nn.Linear)):
                fan = sub.hidden_size if isinstance(sub, nn.LSTM) else sub.in_features
                bound = 1.0 / math.sqrt(fan)
                for p in sub.parameters(recurse=False):
                    _draw(p, bound, generator)


def randomised(model: nn.Module, parts: tuple[str, ...], *, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose named submodules have fresh random weights. Chapter 7.

    The model-randomisation test of Adebayo et al.: an explanation that
    survives this did not come from what the model learnt. ``parts`` are
    attribute paths such as ``("encoder.lstm", "head")``; the rest is kept.
    """
    copied = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    for part in parts:
        _reinitialise(copied.get_submodule(part), generator)
    return copied.eval()


def permuted_labels(labels: torch.Tensor, strata: torch.Tensor, *, seed: int) -> torch.Tensor:
    """The same labels in another order, spread evenly over ``strata``. Chapter 7.

    The result is a permutation of ``labels`` ``(n,)`` (every label value keeps
    its count), drawn so that within each stratum (``strata`` ``(n,)``, integer
    ids such as the review's sentiment word) the share of ones is the overall
    share, give or take one row. A plain random permutation leaves the new labels
    correlated with the strata by chance, and a model could learn that
    correlation; this one cannot. Rows are taken in a random order within
    their stratum, and the ones are laid evenly along that order from a random
    offset, so which rows get them is random.
    """
    if labels.shape != strata.shape or labels.dim() != 1:
        raise ValueError(f"labels and strata must be (n,) alike; got {tuple(labels.shape)} "
                         f"and {tuple(strata.shape)}")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    if len(labels) == 0:
        return labels.clone()
    generator = torch.Generator().manual_seed(seed)
    n, ones = len(labels), int(labels.sum())
    shuffle = torch.randperm(n, generator=generator)
    order = shuffle[torch.argsort(strata.cpu()[shuffle], stable=True)]  # grouped, random within
    offset = float(torch.rand((), generator=generator))
    placed = torch.floor(torch.arange(n + 1, dtype=torch.float64) * ones / n + offset)
    out = torch.empty_like(labels)
    out[order] = (placed[1:] - placed[:-1]).to(labels.dtype).to(labels.device)
    return out
