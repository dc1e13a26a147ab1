"""Lab 04's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted: the reference solutions, PyTorch's own LSTM cell, a
step computed in float32, a loss returned as a tensor, ids as NumPy arrays.

Wrong answers caught:

- lstm_step: gates in another order (i f o g, f i g o, g i f o); a sigmoid
  candidate; no tanh on the cell; one bias only; no input gate; the old cell in
  h; (c, h) returned; one tensor returned; scaled inputs or biases; shapes that
  do not fit; a ``squeeze()`` that drops a batch of one; a tanh written with exp
  (agrees on small inputs, nan when the gates' inputs reach hundreds).
- train_step: no zero_grad (with or without clipping); no clipping; values
  clipped instead of the norm; no step; no backward; logits and targets
  flattened in different orders; the summed loss; nothing returned; an
  optimizer of its own; clipping after the step.
- sample_with_temperature: logits multiplied by T; T ignored; argmax; the
  softmax over the wrong axis; T = 0 not handled; a negative T accepted or
  refused with another error; the generator not used; shape (n, 1); non-integer
  ids; a biased draw; one maximum subtracted for the whole batch (rows hundreds
  of logits apart underflow).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.lstm_language_model import (
    check_lstm_step,
    check_sample_with_temperature,
    check_train_step,
)


# ---------------------------------------------------------------- right answers
def good_step(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", g_act=torch.tanh, tanh_cell=True,
              both=True, input_gate=True, old_c_in_h=False):
    z = x @ w_ih.T + h @ w_hh.T + b_ih + (b_hh if both else 0)
    gates = dict(zip(order, z.chunk(4, dim=-1), strict=True))
    i, f, o = (torch.sigmoid(gates[k]) for k in "ifo")
    g = g_act(gates["g"])
    c_new = f * c + (i * g if input_gate else g)
    shown = c if old_c_in_h else c_new
    return o * (torch.tanh(shown) if tanh_cell else shown), c_new


def good_cell_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """Another right answer: nn.functional's own LSTM cell."""
    return torch._VF.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)


def good_train_step(model, optimizer, inputs, targets, clip, *, zero=True, backward=True,
                    clip_norm=True, clip_value=False, step=True, mixed=False, total=False):
    logits, _ = model(inputs)  # (batch, seq_len, vocab)
    flat = (logits.transpose(0, 1) if mixed else logits).reshape(-1, logits.size(-1))
    loss = F.cross_entropy(flat, targets.reshape(-1), reduction="sum" if total else "mean")
    if zero:
        optimizer.zero_grad()
    if backward:
        loss.backward()
    if clip_norm:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    if clip_value:
        nn.utils.clip_grad_value_(model.parameters(), clip)
    if step:
        optimizer.step()
    return loss.item()


def good_sample(logits, temperature, generator, *, times=False, ignore=False, argmax=False,
                wrong_dim=False, zero_special=True, check_negative=True, use_generator=True,
                keepdim=False):
    if check_negative and temperature < 0:
        raise ValueError("temperature must be >= 0")
    if zero_special and temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits if ignore else (logits * temperature if times else logits / temperature)
    if argmax:
        return scaled.argmax(dim=-1)
    probs = torch.softmax(scaled, dim=0 if wrong_dim else -1)
    ids = torch.multinomial(probs, 1, generator=generator if use_generator else None)
    return ids if keepdim else ids.squeeze(-1)


@pytest.mark.parametrize("check, answer", [
    (check_lstm_step, good_step), (check_lstm_step, good_cell_step),
    (check_train_step, good_train_step), (check_sample_with_temperature, good_sample),
])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_checks_pass_correct_answers(check, answer, seed, capsys):
    check(answer, seed=seed)
    assert "passed" in capsys.readouterr().out


def test_train_step_check_accepts_adam_style_answer_returning_a_tensor():
    def tensor_loss(model, optimizer, inputs, targets, clip):
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss.detach()
    check_train_step(tensor_loss)


def test_checks_accept_float32_and_numpy_answers():
    check_lstm_step(lambda x, h, c, *w: tuple(
        t.double() for t in good_step(x.float(), h.float(), c.float(), *(v.float() for v in w))))
    check_sample_with_temperature(lambda z, t, g: good_sample(z, t, g).numpy())


def hand_tanh(z):
    return (z.exp() - (-z).exp()) / (z.exp() + (-z).exp())


def global_max_sample(logits, temperature, generator):
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits / temperature
    weights = (scaled - scaled.max()).exp()  # one maximum for the whole batch
    return torch.multinomial(weights / weights.sum(-1, keepdim=True), 1,
                             generator=generator).squeeze(-1)


# ---------------------------------------------------------------- wrong answers
def _step_with(**switches):
    return lambda *args: good_step(*args, **switches)


@pytest.mark.parametrize("wrong, message", [
    (_step_with(order="ifog"), "i, f, o, g"),
    (_step_with(order="figo"), "swapped the input and forget"),
    (_step_with(order="gifo"), "wrong order"),
    (_step_with(g_act=torch.sigmoid), "candidate g uses tanh"),
    (_step_with(tanh_cell=False), "left out the tanh"),
    (_step_with(both=False), "only bias_ih"),
    (_step_with(input_gate=False), "left out the input gate"),
    (_step_with(old_c_in_h=True), "not the old c"),
    (lambda *args: good_step(*args)[::-1], r"returned \(c_new, h_new\)"),
    (lambda *args: good_step(*args)[0], "return a pair"),
    (lambda x, h, c, w_ih, w_hh, b_ih, b_hh: good_step(x, h, c, w_ih, w_hh, b_ih, b_hh * 2),
     "differs from nn.LSTM"),
    (lambda x, h, c, *w: good_step(x * 0.5, h, c, *w),
     "differs from nn.LSTM"),
    (lambda x, h, c, w_ih, w_hh, b_ih, b_hh: (x @ w_ih, c), "raised"),  # shapes do not fit
    (lambda *args: tuple(t.squeeze() for t in good_step(*args)), "shape"),  # batch of one
    (_step_with(g_act=hand_tanh), "overflows"),
])
def test_lstm_step_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_lstm_step(wrong)


def _train_with(**switches):
    return lambda *args: good_train_step(*args, **switches)


@pytest.mark.parametrize("wrong, message", [
    (_train_with(zero=False), "zero_grad"),
    (_train_with(zero=False, clip_norm=False), "zero_grad"),
    (_train_with(clip_norm=False), "not clipped"),
    (_train_with(clip_norm=False, clip_value=True), "clip the norm"),
    (_train_with(step=False), "did not change"),
    (_train_with(backward=False), "loss.backward"),
    (_train_with(mixed=True), "different positions"),
    (_train_with(total=True), "sum over"),
    (lambda *args: (good_train_step(*args), None)[1], "return the loss"),
])
def test_train_step_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_train_step(wrong)


def test_train_step_check_catches_a_step_with_its_own_optimizer():
    def own_optimizer(model, optimizer, inputs, targets, clip):
        mine = torch.optim.SGD(model.parameters(), lr=0.5)
        return good_train_step(model, mine, inputs, targets, clip)
    with pytest.raises(CheckFailed, match="optimizer you are given"):
        check_train_step(own_optimizer)


def test_train_step_check_catches_clipping_after_the_step():
    def late_clip(model, optimizer, inputs, targets, clip):
        loss = good_train_step(model, optimizer, inputs, targets, clip, clip_norm=False)
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        return loss
    with pytest.raises(CheckFailed, match="not clipped"):
        check_train_step(late_clip)


def _sample_with(**switches):
    return lambda *args: good_sample(*args, **switches)


@pytest.mark.parametrize("wrong, message", [
    (_sample_with(times=True), "multiplied the logits"),
    (_sample_with(ignore=True), "ignore the temperature"),
    (_sample_with(argmax=True), "most likely word"),
    (_sample_with(wrong_dim=True), "last"),
    (_sample_with(zero_special=False), "temperature 0|raised"),
    (_sample_with(check_negative=False), "negative temperature"),
    (_sample_with(use_generator=False), "generator"),
    (_sample_with(keepdim=True), r"shape \(20000, 1\)"),
    (lambda z, t, g: good_sample(z, t, g).float() + 0.5, "whole numbers"),
    (lambda z, t, g: good_sample(z + torch.arange(z.shape[-1]) * 0.5, t, g), "total variation"),
    (global_max_sample, "hundreds of logits apart"),
])
def test_sampling_check_explains_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_sample_with_temperature(wrong)


def test_negative_temperature_must_raise_value_error_not_another_error():
    def assert_instead(logits, temperature, generator):
        assert temperature >= 0
        return good_sample(logits, temperature, generator)
    with pytest.raises(CheckFailed, match="ValueError, not AssertionError"):
        check_sample_with_temperature(assert_instead)


@pytest.mark.parametrize("check", [check_lstm_step, check_train_step,
                                   check_sample_with_temperature])
def test_stubs_pass_through_as_not_implemented(check):
    with pytest.raises(ExerciseNotImplemented):
        check(lambda *args: not_implemented("exercise"))


def test_checks_leave_the_global_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_train_step(good_train_step, seed=2)
    check_sample_with_temperature(good_sample, seed=2)
    assert torch.equal(torch.rand(3), expected)
