"""Cases and trusted references for lab 04's LSTM checks (utils.checks.lstm_language_model).

The cases of each exercise (a batch of one, gates' inputs near a thousand, a
gradient already below the clip, rows hundreds of logits apart), the gate
equations with switches that reproduce the usual mistakes, an ``nn.LSTM``
holding a case's weights, the lab's tiny language model rebuilt from a case's
arrays, and the gradients a right (or wrong) training step would use.
Everything here works from a case alone. Chapter 4.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks._core import Case
from utils.i18n import _
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.runtime.scoped import local_seed

GATES = "ifgo"  # PyTorch's order of the four stacked gate blocks
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def step(x, h, c, w_ih, w_hh, b_ih, b_hh, *, order: str = GATES, g_act=torch.tanh,
         tanh_cell: bool = True, both_biases: bool = True, use_input_gate: bool = True,
         new_cell_in_h: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate equations, with switches that reproduce the usual mistakes."""
    bias = b_ih + b_hh if both_biases else b_ih
    z = x @ w_ih.T + h @ w_hh.T + bias  # (batch, 4 * hidden)
    blocks = dict(zip(order, z.chunk(4, dim=-1), strict=True))
    i, f, o = (torch.sigmoid(blocks[k]) for k in "ifo")
    g = g_act(blocks["g"])
    c_new = f * c + (i * g if use_input_gate else g)
    shown = c_new if new_cell_in_h else c
    h_new = o * (torch.tanh(shown) if tanh_cell else shown)
    return h_new, c_new


def lstm_holding(weights: list[torch.Tensor]) -> nn.LSTM:
    """An ``nn.LSTM`` holding the given (weight_ih, weight_hh, bias_ih, bias_hh)."""
    w_ih, w_hh = weights[0], weights[1]
    with local_seed(0):  # nn.init draws from the global stream: leave no trace in it
        lstm = nn.LSTM(w_ih.shape[1], w_hh.shape[1], batch_first=True).double()
    with torch.no_grad():
        for name, value in zip(WEIGHTS, weights, strict=True):
            getattr(lstm, f"{name}_l0").copy_(value)
    return lstm


def tolerance(x, h, w_ih, w_hh, b_ih, b_hh) -> float:
    """Allowed error: float32 rounding grows with the size of the gates' inputs."""
    bound = x.abs() @ w_ih.abs().T + h.abs() @ w_hh.abs().T + b_ih.abs() + b_hh.abs()
    return 1e-6 + 2e-7 * float(bound.max())


# ---------------------------------------------------------------- the tiny language model
def tiny_config(vocab_size: int) -> ModelConfig:
    return ModelConfig(vocab_size=vocab_size, emb_size=6, hidden_size=10, num_layers=1,
                       dropout=0.0, tie_weights=False)


def tiny_state(generator: torch.Generator, vocab_size: int) -> dict[str, np.ndarray]:
    """Weights of the tiny model drawn from the check's own generator, as plain arrays."""
    with local_seed(0):
        shapes = {k: v.shape for k, v in LSTMLanguageModel(tiny_config(vocab_size))
                  .state_dict().items()}
    return {k: (torch.randn(shape, generator=generator, dtype=torch.float64) * 0.3).numpy()
            for k, shape in shapes.items()}


def tiny_model(vocab_size: int, state: dict[str, np.ndarray]) -> LSTMLanguageModel:
    with local_seed(0):
        model = LSTMLanguageModel(tiny_config(vocab_size)).double()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return model


def concatenated(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def stale_gradients(model: nn.Module, old_inputs: torch.Tensor) -> None:
    """Gradients left over from an earlier batch: a step without zero_grad adds to them."""
    logits = model(old_inputs)[0]
    (logits.sum() * 0.05).backward()


def gradient(model: nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor],
             inputs: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Loss and its gradient (flattened over all parameters) on a copy of ``model``."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.grad = None
    logits = twin(inputs)[0]  # (batch, seq_len, vocab_size)
    loss = loss_fn(logits)
    loss.backward()
    return float(loss.detach()), concatenated(p.grad for p in twin.parameters())


def clipped(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    return grad * min(1.0, max_norm / (float(grad.norm()) + 1e-6))


def training_references(case: Case) -> dict[str, object]:
    """What right and wrong training steps compute on the case's model and batch."""
    vocab_size = case["vocab_size"]
    model = tiny_model(vocab_size, case["state"])
    inputs, targets = torch.from_numpy(case["inputs"]), torch.from_numpy(case["targets"])
    flat_targets = targets.reshape(-1)

    def mean_ce(z: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(z.reshape(-1, z.size(-1)), flat_targets)

    def mixed_ce(z: torch.Tensor) -> torch.Tensor:
        # logits flattened position-major, targets batch-major: pairs that do not belong
        return F.cross_entropy(z.transpose(0, 1).reshape(-1, z.size(-1)), flat_targets)

    loss, fresh = gradient(model, mean_ce, inputs)
    loss_mixed, mixed = gradient(model, mixed_ce, inputs)
    stale_gradients(model, torch.from_numpy(case["old_inputs"]))
    stale = concatenated(p.grad for p in model.parameters())
    return {"loss": loss, "loss_mixed": loss_mixed, "fresh": fresh, "mixed": mixed,
            "stale": stale, "before": concatenated(model.parameters()),
            "names": [name for name, _param in model.named_parameters()]}


def training_cases(seed: int) -> list[Case]:
    """Two batches whose gradient norm is above clip, one where it is already below."""
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for batch, seq_len, vocab_size, clip in ((4, 7, 13, 0.05), (3, 5, 9, 0.02), (2, 4, 7, None)):
        state = tiny_state(generator, vocab_size)
        inputs, targets, old_inputs = (torch.randint(0, vocab_size, (batch, seq_len),
                                                     generator=generator).numpy()
                                       for _draw in range(3))
        case = {"vocab_size": vocab_size, "state": state, "inputs": inputs, "targets": targets,
                "old_inputs": old_inputs, "lr": 0.1}
        norm = float(training_references({**case, "clip": 0.0})["fresh"].norm())
        case["clip"] = 1.5 * norm if clip is None else clip  # None: a gradient below the clip
        if clip is not None and norm <= clip:
            raise RuntimeError(_("the check's case must have a gradient norm above clip"))
        cases.append(case)
    return cases


# ---------------------------------------------------------------- cases of the other exercises
def step_cases(seed: int) -> list[Case]:
    # A batch of one (a squeeze() would drop it) and weights so large that the gates'
    # inputs reach a thousand (a tanh written as (e^z - e^-z) / (e^z + e^-z) gives nan).
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).numpy()
    cases: list[Case] = []
    for batch, inputs, hidden, scale in ((3, 5, 4, 1.0), (2, 7, 6, 1.0), (1, 4, 3, 1.0),
                                         (4, 5, 4, 300.0)):
        weights = [rand(4 * hidden, inputs, scale=scale), rand(4 * hidden, hidden, scale=scale),
                   rand(4 * hidden), rand(4 * hidden)]
        cases.append({"weights": weights, "x": rand(batch, inputs), "h": rand(batch, hidden),
                      "c": rand(batch, hidden), "large": scale > 1})
        if scale == 1:  # a whole sequence from the zero state, step by step
            cases.append({"weights": weights, "xs": rand(batch, 6, inputs)})
    return cases


DRAWS = 20_000
TOLERANCE = 0.03  # total variation allowed between frequencies and probabilities


def sample_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)

    def draw_seed() -> int:
        return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    cases: list[Case] = []
    for vocab_size, temperature in ((8, 0.5), (6, 2.0), (10, 1.5)):
        cases.append({"kind": "draws", "logits": (torch.randn(1, vocab_size, generator=generator)
                                                  * 2.0).numpy(),
                      "temperature": temperature, "draw_seed": draw_seed()})
    wide = torch.randn(2, 6, generator=generator) * 2.0 + torch.tensor([[400.0], [-400.0]])
    cases.append({"kind": "wide", "logits": wide.numpy(), "temperature": 1.5,
                  "draw_seed": draw_seed()})  # one maximum for the batch underflows row 2
    cases.append({"kind": "zero", "logits": torch.randn(50, 12, generator=generator).numpy(),
                  "temperature": 0.0, "draw_seed": seed})  # a different argmax per row
    cases.append({"kind": "negative", "logits": torch.randn(5, 4, generator=generator).numpy(),
                  "temperature": -1.0, "draw_seed": seed})
    return cases


def frequencies(ids: np.ndarray, vocab_size: int) -> torch.Tensor:
    return torch.from_numpy(np.bincount(ids, minlength=vocab_size) / ids.size)


def tensor_total_variation(p: torch.Tensor, q: torch.Tensor) -> float:
    return 0.5 * float((p - q).abs().sum())
