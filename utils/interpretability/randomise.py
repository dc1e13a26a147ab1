"""Model randomisation: the same architecture with the learnt weights thrown away. Chapter 7.

Adebayo et al.'s sanity check compares an explanation of the trained model
with one of a copy whose weights are drawn afresh: if the two agree, the
explanation did not come from anything the model learnt. The random
language model of the probing experiment is made the same way.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["randomised"]


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
