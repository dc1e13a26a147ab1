"""Checks for lab 04 (an LSTM language model): one LSTM step, a training step, sampling.

Used in chapter 4. Each check runs the student's function on fresh random
inputs, compares it with PyTorch (``nn.LSTM``, a reference training step,
``softmax(logits / T)``) and, when it differs, tries the usual mistakes
(gate order, a missing ``zero_grad``, no clipping, multiplying by T, ...) to
say which one was made, without printing the expected values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from utils.checks._core import (
    CheckFailed,
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
    worst_error,
)
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.sampling import softmax_at_temperature
from utils.lm.scoped import local_seed

_GATES = "ifgo"  # PyTorch's order of the four stacked gate blocks


# ---------------------------------------------------------------- one LSTM step
def _step(x, h, c, w_ih, w_hh, b_ih, b_hh, *, order: str = _GATES, g_act=torch.tanh,
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


def _lstm_reference(w_ih, w_hh, b_ih, b_hh) -> nn.LSTM:
    """An ``nn.LSTM`` holding the given weights."""
    hidden, inputs = w_hh.shape[1], w_ih.shape[1]
    lstm = nn.LSTM(inputs, hidden, batch_first=True).double()
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh),
                            ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(lstm, name).copy_(value)
    return lstm


def _pair(result: object, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name}: return a pair (h_new, c_new), not {type(result).__name__}")
    return as_tensor(result[0], name, "your h_new"), as_tensor(result[1], name, "your c_new")


@exercise_check("lstm_step")
def check_lstm_step(lstm_step: Callable, seed: int = 0) -> CheckResult:
    """lstm_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h_new, c_new), as nn.LSTM."""
    name = "lstm_step"
    generator = torch.Generator().manual_seed(seed)
    n_cases = 0
    # A batch of one (a squeeze() would drop it) and weights so large that the gates'
    # inputs reach a thousand (a tanh written as (e^z - e^-z) / (e^z + e^-z) gives nan).
    for batch, inputs, hidden, scale in ((3, 5, 4, 1.0), (2, 7, 6, 1.0), (1, 4, 3, 1.0),
                                         (4, 5, 4, 300.0)):
        def rand(*shape: int, scale: float = 1.0) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

        weights = (rand(4 * hidden, inputs, scale=scale), rand(4 * hidden, hidden, scale=scale),
                   rand(4 * hidden), rand(4 * hidden))
        lstm = _lstm_reference(*weights)
        # One step from a random state, compared with nn.LSTM fed the same state.
        x, h, c = rand(batch, inputs), rand(batch, hidden), rand(batch, hidden)
        with torch.no_grad():
            out, (h_ref, c_ref) = lstm(x.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        h_ref, c_ref = h_ref[0], c_ref[0]  # (batch, hidden)
        h_new, c_new = _pair(call(lstm_step, x.clone(), h.clone(), c.clone(),
                                  *(w.clone() for w in weights), exercise=name), name)
        expect_shape(h_new, (batch, hidden), name)
        expect_shape(c_new, (batch, hidden), name)
        n_cases += 1
        if scale > 1 and not (torch.isfinite(h_new).all() and torch.isfinite(c_new).all()):
            fail(f"{name}: your h_new or c_new has nan or inf when the gates' inputs reach "
                 "a thousand: a sigmoid or tanh written with exp overflows there. Use "
                 "torch.sigmoid and torch.tanh")
        tol = _tolerance(x, h, *weights)
        if worst_error(h_new, h_ref) > tol or worst_error(c_new, c_ref) > tol:
            _diagnose_step(name, (x, h, c, *weights), h_new, c_new, h_ref, c_ref, tol)
        if scale > 1:
            continue
        # A whole sequence from the zero state, step by step, against nn.LSTM's outputs.
        xs = rand(batch, 6, inputs)  # (batch, seq_len, inputs)
        with torch.no_grad():
            outputs, _ = lstm(xs)  # (batch, seq_len, hidden)
        h = c = torch.zeros(batch, hidden, dtype=torch.float64)
        for t in range(xs.shape[1]):
            h, c = _pair(call(lstm_step, xs[:, t].clone(), h.clone(), c.clone(),
                              *(w.clone() for w in weights), exercise=name), name)
            if worst_error(h, outputs[:, t]) > _tolerance(xs[:, t], h, *weights):
                fail(f"{name}: one step from a random state matches nn.LSTM, but running "
                     f"your step along a sequence from the zero state drifts at step {t + 1} "
                     "(off by up to {:.3g})".format(worst_error(h, outputs[:, t])))
        n_cases += 1
    passed(name, n_cases)


def _tolerance(x, h, w_ih, w_hh, b_ih, b_hh) -> float:
    """Allowed error: float32 rounding grows with the size of the gates' inputs."""
    bound = x.abs() @ w_ih.abs().T + h.abs() @ w_hh.abs().T + b_ih.abs() + b_hh.abs()
    return 1e-6 + 2e-7 * float(bound.max())


def _diagnose_step(name: str, args: tuple, h_new: torch.Tensor, c_new: torch.Tensor,
                   h_ref: torch.Tensor, c_ref: torch.Tensor, tol: float) -> None:
    if worst_error(h_new, c_ref) <= tol and worst_error(c_new, h_ref) <= tol:
        fail(f"{name}: you returned (c_new, h_new); return (h_new, c_new)")
    mistakes = [
        (dict(order="ifog"), "your gates are in the order i, f, o, g; PyTorch stacks the "
                             "blocks of weight_ih and weight_hh as i, f, g, o"),
        (dict(order="figo"), "you swapped the input and forget gates: PyTorch's first block "
                             "is the input gate i, the second the forget gate f"),
        (dict(order="iofg"), "your gates are in the wrong order; PyTorch's is i, f, g, o"),
        (dict(order="gifo"), "your gates are in the wrong order; PyTorch's is i, f, g, o"),
        (dict(g_act=torch.sigmoid), "the candidate g uses tanh, not the sigmoid: it is a "
                                    "value to write, between -1 and 1, not a gate"),
        (dict(tanh_cell=False), "h_new = o * tanh(c_new): you left out the tanh"),
        (dict(both_biases=False), "you used only bias_ih; the gates add both biases, "
                                  "bias_ih + bias_hh"),
        (dict(use_input_gate=False), "c_new = f * c + i * g: you left out the input gate i"),
        (dict(new_cell_in_h=False), "h_new must use the new cell state c_new, not the old c"),
    ]
    for switches, message in mistakes:
        h_wrong, c_wrong = _step(*args, **switches)
        if worst_error(h_new, h_wrong) <= tol and worst_error(c_new, c_wrong) <= tol:
            fail(f"{name}: {message}")
    if worst_error(c_new, c_ref) <= tol:
        fail(f"{name}: your c_new is right but h_new is off by up to "
             f"{worst_error(h_new, h_ref):.3g}; h_new = o * tanh(c_new)")
    fail(f"{name}: your c_new differs from nn.LSTM's by up to {worst_error(c_new, c_ref):.3g}. "
         "Compute z = x W_ih^T + b_ih + h W_hh^T + b_hh, split it into four blocks i, f, g, o, "
         "and follow the gate equations")


# ---------------------------------------------------------------- a training step
_LR = 0.1


def _tiny_model(generator: torch.Generator, vocab_size: int) -> LSTMLanguageModel:
    config = ModelConfig(vocab_size=vocab_size, emb_size=6, hidden_size=10, num_layers=1,
                         dropout=0.0, tie_weights=False)
    with local_seed(0):  # nn.init draws from the global stream: leave no trace in it
        model = LSTMLanguageModel(config).double()
    with torch.no_grad():  # weights from the check's own generator, not the global seed
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.3)
    return model


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _grad_of(model: nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor],
             inputs: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Loss and its gradient (flattened over all parameters) on a copy of ``model``."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.grad = None
    logits, _ = twin(inputs)  # (batch, seq_len, vocab_size)
    loss = loss_fn(logits)
    loss.backward()
    return float(loss.detach()), _flat_grad(twin)


def _clipped(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    norm = float(grad.norm())
    return grad * min(1.0, max_norm / (norm + 1e-6))


@exercise_check("train_step")
def check_train_step(train_step: Callable, seed: int = 0) -> CheckResult:
    """train_step(model, optimizer, inputs, targets, clip) -> loss, one clipped SGD/Adam step."""
    name = "train_step"
    generator = torch.Generator().manual_seed(seed)
    cases = ((4, 7, 13, 0.05), (3, 5, 9, 0.02))
    for batch, seq_len, vocab_size, clip in cases:
        model = _tiny_model(generator, vocab_size)
        inputs = torch.randint(0, vocab_size, (batch, seq_len), generator=generator)
        targets = torch.randint(0, vocab_size, (batch, seq_len), generator=generator)
        # Gradients left over from an earlier batch: a step without zero_grad adds to them.
        old_inputs = torch.randint(0, vocab_size, (batch, seq_len), generator=generator)
        logits, _ = model(old_inputs)
        (logits.sum() * 0.05).backward()
        stale = _flat_grad(model).clone()
        before = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()

        flat_targets = targets.reshape(-1)  # (batch * seq_len,)

        def mean_ce(z: torch.Tensor, t: torch.Tensor = flat_targets) -> torch.Tensor:
            return F.cross_entropy(z.reshape(-1, z.size(-1)), t)

        def mixed_ce(z: torch.Tensor, t: torch.Tensor = flat_targets) -> torch.Tensor:
            # logits flattened position-major, targets batch-major: pairs that do not belong
            return F.cross_entropy(z.transpose(0, 1).reshape(-1, z.size(-1)), t)

        loss_ref, fresh = _grad_of(model, mean_ce, inputs)
        loss_mixed, mixed = _grad_of(model, mixed_ce, inputs)
        if float(fresh.norm()) <= clip:
            raise RuntimeError("the check's case must have a gradient norm above clip")

        optimizer = torch.optim.SGD(model.parameters(), lr=_LR)
        result = call(train_step, model, optimizer, inputs.clone(), targets.clone(), clip,
                      exercise=name)
        after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        if result is None:
            fail(f"{name}: return the loss of the batch (a number), as the function says")
        loss = float(as_tensor(result, name, "your loss").reshape(-1)[0])
        implied = (before - after) / _LR  # the gradient SGD must have used
        if abs(loss - loss_ref) > 1e-6:
            if abs(loss - loss_mixed) <= 1e-6:
                fail(f"{name}: your loss pairs logits and targets from different positions: "
                     "flatten both the same way, logits.reshape(-1, vocab_size) and "
                     "targets.reshape(-1)")
            if abs(loss - loss_ref * batch * seq_len) <= 1e-6 * batch * seq_len:
                fail(f"{name}: your loss is the sum over the {batch * seq_len} positions; "
                     "use the mean (F.cross_entropy's default)")
            fail(f"{name}: the loss you return is off by {abs(loss - loss_ref):.3g}: return "
                 "the mean cross-entropy of the batch, computed before the step")
        if worst_error(implied, _clipped(fresh, clip)) <= 1e-6:
            continue
        grad_value = fresh.clamp(-clip, clip)
        diagnoses = [
            (torch.zeros_like(fresh), "your parameters did not change: after zero_grad, call "
                                    "loss.backward() to fill the gradients, then optimizer.step()"),
            (stale, "the update used the gradients left over from an earlier batch: call "
                    "loss.backward() before optimizer.step()"),
            (fresh, "your update was not clipped: call "
                    "nn.utils.clip_grad_norm_(model.parameters(), clip) after backward and "
                    "before the step"),
            (_clipped(stale + fresh, clip), "your gradients were added to those of an earlier "
                                            "batch: call optimizer.zero_grad() before "
                                            "loss.backward()"),
            (stale + fresh, "your gradients were added to those of an earlier batch (call "
                            "optimizer.zero_grad() before loss.backward()), and not clipped"),
            (grad_value, "you clipped each gradient value; clip the norm of all gradients "
                         "together with nn.utils.clip_grad_norm_"),
            (_clipped(stale, clip), "the update used the gradients left over from an earlier "
                                    "batch: call loss.backward() before optimizer.step()"),
            (_clipped(mixed, clip), "your gradient comes from logits and targets flattened in "
                                    "different orders: use logits.reshape(-1, vocab_size) and "
                                    "targets.reshape(-1)"),
        ]
        for wrong, message in diagnoses:
            if worst_error(implied, wrong) <= 1e-6:
                fail(f"{name}: {message}")
        if float((implied * fresh).sum()) < 0:
            fail(f"{name}: your step went uphill: minimise the loss (optimizer.step() after "
                 "loss.backward()), do not maximise it")
        fail(f"{name}: your loss is right but the parameters after your step are off by up to "
             f"{worst_error(before - _LR * implied, before - _LR * _clipped(fresh, clip)):.3g}; "
             "use the optimizer you are given: zero_grad, backward, clip, step")
    passed(name, len(cases))


# ---------------------------------------------------------------- temperature sampling
_DRAWS = 20_000
_TOLERANCE = 0.03  # total variation allowed between frequencies and probabilities


def _frequencies(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    return torch.bincount(ids.reshape(-1).long(), minlength=vocab_size).double() / ids.numel()


def _tv(p: torch.Tensor, q: torch.Tensor) -> float:
    return 0.5 * float((p - q).abs().sum())


def _ids(result: object, rows: int, vocab_size: int, name: str) -> torch.Tensor:
    ids = as_tensor(result, name, "your sample")
    if tuple(ids.shape) == (rows, 1):
        fail(f"{name}: your result has shape ({rows}, 1); return one id per row, shape "
             f"({rows},) (torch.multinomial(...).squeeze(-1))")
    expect_shape(ids, (rows,), name)
    if (ids != ids.round()).any() or (ids < 0).any() or (ids >= vocab_size).any():
        fail(f"{name}: return word ids, whole numbers from 0 to {vocab_size - 1}")
    return ids.long()


def _check_wide_rows(sample: Callable, generator: torch.Generator, name: str) -> int:
    """Rows hundreds of logits apart: each must be drawn from its own softmax."""
    vocab_size, temperature = 6, 1.5
    base = torch.randn(2, vocab_size, generator=generator) * 2.0  # (2, V)
    base += torch.tensor([[400.0], [-400.0]])  # one maximum for the batch underflows row 2
    rows = base.repeat(_DRAWS // 2, 1)  # (draws, V): the two rows alternate
    draw_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    row_max = ("subtract each row's own maximum (or use torch.softmax, which does), not one "
               "maximum for the whole batch")
    try:
        result = call(sample, rows.clone(), temperature,
                      torch.Generator().manual_seed(draw_seed), exercise=name)
    except CheckFailed as error:
        fail(f"{error}, for rows hundreds of logits apart; {row_max}")
    ids = _ids(result, _DRAWS, vocab_size, name)
    for r in range(2):
        frequencies = _frequencies(ids[r::2], vocab_size)
        reference = softmax_at_temperature(base[r].double(), temperature)
        if _tv(frequencies, reference) > _TOLERANCE * 1.5:
            fail(f"{name}: row {r + 1} of a batch whose rows differ by hundreds of logits is "
                 f"not drawn from its own softmax(logits / T) (total variation "
                 f"{_tv(frequencies, reference):.3f}): normalise each row over the "
                 f"vocabulary (dim=-1) and {row_max}")
    return 1


@exercise_check("sample_with_temperature")
def check_sample_with_temperature(sample: Callable, seed: int = 0) -> CheckResult:
    """sample(logits (rows, V), temperature, generator) -> (rows,) ids from softmax(logits / T)."""
    name = "sample_with_temperature"
    generator = torch.Generator().manual_seed(seed)
    n_cases = 0
    for vocab_size, temperature in ((8, 0.5), (6, 2.0), (10, 1.5)):
        logits = torch.randn(vocab_size, generator=generator) * 2.0  # (V,)
        rows = logits.repeat(_DRAWS, 1)  # (draws, V): every row the same, so ids are draws
        draw_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        ids = _ids(call(sample, rows.clone(), temperature, torch.Generator().manual_seed(draw_seed),
                        exercise=name), _DRAWS, vocab_size, name)
        again = _ids(call(sample, rows.clone(), temperature,
                          torch.Generator().manual_seed(draw_seed), exercise=name),
                     _DRAWS, vocab_size, name)
        if not torch.equal(ids, again):
            fail(f"{name}: two calls with generators seeded alike gave different samples: "
                 "pass the generator you are given to torch.multinomial(..., generator=generator)")
        frequencies = _frequencies(ids, vocab_size)
        reference = softmax_at_temperature(logits.double(), temperature)
        n_cases += 1
        if _tv(frequencies, reference) <= _TOLERANCE:
            continue
        argmax = torch.zeros(vocab_size, dtype=torch.float64)
        argmax[int(logits.argmax())] = 1.0
        diagnoses = [
            (softmax_at_temperature(logits.double(), 1 / temperature),
             f"you multiplied the logits by T = {temperature:g}; divide them by T"),
            (softmax_at_temperature(logits.double(), 1.0),
             f"your samples ignore the temperature (T = {temperature:g}): divide the logits by "
             "T before the softmax"),
            (argmax, "you always return the most likely word; draw from the softmax with "
                     "torch.multinomial"),
            (torch.full((vocab_size,), 1.0 / vocab_size, dtype=torch.float64),
             "your samples are uniform over the vocabulary: take the softmax over the last "
             "dimension (the vocabulary), dim=-1"),
        ]
        for wrong, message in diagnoses:
            if _tv(frequencies, wrong) <= _TOLERANCE:
                fail(f"{name}: {message}")
        fail(f"{name}: at T = {temperature:g} your word frequencies over {_DRAWS} draws differ "
             f"from softmax(logits / T) by a total variation of "
             f"{_tv(frequencies, reference):.3f}")
    n_cases += _check_wide_rows(sample, generator, name)
    # T = 0: the limit T -> 0 puts all mass on the most likely word.
    logits = torch.randn(50, 12, generator=generator)  # (rows, V), a different argmax per row
    ids = _ids(call(sample, logits.clone(), 0.0, torch.Generator().manual_seed(seed),
                    exercise=name), 50, 12, name)
    if not torch.equal(ids, logits.argmax(dim=-1)):
        fail(f"{name}: with temperature 0 return each row's most likely word (the limit "
             "T -> 0, argmax), without dividing by 0")
    n_cases += 1
    # A negative temperature would turn the preferences upside down: refuse it.
    try:
        sample(logits.clone(), -1.0, torch.Generator().manual_seed(seed))
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001 - report what the student raised
        fail(f"{name}: a negative temperature should raise ValueError, not "
             f"{type(error).__name__}")
    else:
        fail(f"{name}: a negative temperature must be rejected: raise ValueError when "
             "temperature < 0")
    n_cases += 1
    passed(name, n_cases)
