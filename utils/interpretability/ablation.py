"""Inside the LSTM: unit states step by step, units that track a property, and their ablation.

Explained in chapter 7. ``nn.LSTM`` runs a whole sequence in one call and
keeps its cell states to itself, so to read or silence a unit at every time
step we call it one step at a time, passing the state ``(h, c)`` along. An
ablated unit is set to zero in both ``h`` and ``c`` after every step: zeroing
``h`` alone would let the unit's memory come back through the cell state at the
next step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["UnitAblatedLSTM", "ablate_units", "lstm_states", "unit_correlations"]


def _step_by_step(lstm: nn.LSTM, inputs: torch.Tensor, state, keep: torch.Tensor | None,
                  steps: Sequence[int] | None = None
                  ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], list, list]:
    """Run ``lstm`` one step at a time; multiply the top layer's h and c by ``keep``.

    ``steps`` limits the ablation to those time steps (default: every step).
    """
    if not lstm.batch_first:
        raise ValueError("this helper expects an nn.LSTM built with batch_first=True")
    batch, seq_len = inputs.shape[:2]
    if state is None:
        shape = (lstm.num_layers, batch, lstm.hidden_size)
        state = (inputs.new_zeros(shape), inputs.new_zeros(shape))
    h, c = state
    outputs, hs, cs = [], [], []
    for t in range(seq_len):
        out, (h, c) = lstm(inputs[:, t: t + 1], (h, c))  # out (batch, 1, hidden)
        if keep is not None and (steps is None or t in steps):
            # The top layer's output is its h: silence the unit there and in c,
            # so neither the next layer's input nor the next step sees it.
            out = out * keep
            h = torch.cat([h[:-1], h[-1:] * keep])
            c = torch.cat([c[:-1], c[-1:] * keep])
        outputs.append(out)
        hs.append(h[-1])
        cs.append(c[-1])
    return torch.cat(outputs, dim=1), (h, c), hs, cs


class UnitAblatedLSTM(nn.Module):
    """An ``nn.LSTM`` whose chosen top-layer units are held at zero in h and c. Chapter 7.

    Same call and outputs as the wrapped LSTM: ``(output, (h, c))``. With
    ``steps``, the units are zeroed only at those time steps; zeroing ``c``
    as well as ``h`` is what stops their memory returning at the next step.
    """

    def __init__(self, lstm: nn.LSTM, units: Sequence[int],
                 steps: Sequence[int] | None = None) -> None:
        super().__init__()
        self.lstm = lstm
        self.steps = None if steps is None else frozenset(int(t) for t in steps)
        keep = torch.ones(lstm.hidden_size)
        keep[list(units)] = 0.0
        self.register_buffer("keep", keep, persistent=False)
        # Mirror the attributes other code reads from an nn.LSTM.
        self.batch_first, self.num_layers = lstm.batch_first, lstm.num_layers
        self.hidden_size = lstm.hidden_size

    def forward(self, inputs: torch.Tensor, state=None):
        keep = self.keep.to(device=inputs.device, dtype=inputs.dtype)
        output, state, _, _ = _step_by_step(self.lstm, inputs, state, keep, self.steps)
        return output, state  # (batch, seq_len, hidden), ((layers, batch, hidden) x 2)


@contextlib.contextmanager
def ablate_units(model: nn.Module, units: Sequence[int], *, steps: Sequence[int] | None = None,
                 attribute: str = "lstm") -> Iterator[nn.Module]:
    """Within the block, ``model``'s LSTM (``model.<attribute>``) has ``units`` ablated.

    Explained in chapter 7. Any code that calls the model (``lstm_verb_margins``
    of chapter 4, a classifier) then sees the ablated network; the original
    LSTM is put back on leaving the block, even after an error. ``steps``
    limits the ablation to those time steps (default: all).
    """
    original = getattr(model, attribute)
    if not isinstance(original, nn.LSTM):
        raise TypeError(f"model.{attribute} must be an nn.LSTM; got {type(original).__name__}")
    bad = [u for u in units if not 0 <= int(u) < original.hidden_size]
    if bad:
        raise ValueError(f"units must lie in [0, {original.hidden_size}); got {bad}")
    setattr(model, attribute, UnitAblatedLSTM(original, [int(u) for u in units], steps))
    try:
        yield model
    finally:
        setattr(model, attribute, original)


@torch.no_grad()
def lstm_states(lstm: nn.LSTM, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The top layer's hidden and cell states at every step, each ``(batch, seq_len, hidden)``.

    Explained in chapter 7. ``inputs`` are the LSTM's inputs (embeddings)
    ``(batch, seq_len, input_size)``.
    """
    _, _, hs, cs = _step_by_step(lstm, inputs, None, None)
    return torch.stack(hs, dim=1), torch.stack(cs, dim=1)


def unit_correlations(activations: np.ndarray | torch.Tensor,
                      labels: np.ndarray | Sequence[int]) -> np.ndarray:
    """Pearson correlation of each unit with a 0/1 label over examples ``(n_units,)``.

    Explained in chapter 7. ``activations`` is ``(n_examples, n_units)``; a
    unit that never varies gets 0.
    """
    x = np.asarray(activations, dtype=float)
    y = np.asarray(labels, dtype=float)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"need activations (n, units) and n labels; got {x.shape} and {y.shape}")
    xc, yc = x - x.mean(0), y - y.mean()
    denom = np.sqrt((xc**2).sum(0) * (yc**2).sum())
    return np.divide(xc.T @ yc, denom, out=np.zeros(x.shape[1]), where=denom > 0)
