"""Lab 04's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted, at several seeds: implementations that are not the
checks' references (gates sliced out of the weights one by one, NumPy, a
training step that clips by hand or takes gradients with torch.autograd.grad,
inverse-CDF and Gumbel-max sampling), PyTorch's own LSTM cell, a step computed
in float32, a loss returned as a tensor, ids as NumPy arrays. Answers that
edit their inputs in place fail.

Wrong answers caught:

- lstm_step: gates in another order (i f o g, f i g o, g i f o); a sigmoid
  candidate; no tanh on the cell; one bias only; no input gate; the old cell in
  h; (c, h) returned; one tensor returned; scaled inputs or biases; shapes that
  do not fit; a ``squeeze()`` that drops a batch of one; a tanh written with exp
  (agrees on small inputs, nan when the gates' inputs reach hundreds).
- train_step: no zero_grad (with or without clipping); no clipping; values
  clipped instead of the norm; a gradient already below the clip scaled up
  to it; no step; no backward; logits and targets
  flattened in different orders; the summed loss; nothing returned; an
  optimizer of its own; clipping after the step.
- sample_with_temperature: logits multiplied by T; T ignored; argmax; the
  softmax over the wrong axis; T = 0 not handled; a negative T accepted or
  refused with another error; the generator not used; shape (n, 1); non-integer
  ids; a biased draw; one maximum subtracted for the whole batch (rows hundreds
  of logits apart underflow).
"""

import numpy as np
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
     "not nn.LSTM's"),
    (lambda x, h, c, *w: good_step(x * 0.5, h, c, *w),
     "not nn.LSTM's"),
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
    (lambda z, t, g: good_sample(z + torch.arange(z.shape[-1]) * 0.5, t, g), "are not those"),
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


# ---------------------------------------------------------------- independent right answers
def sliced_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    n = h.shape[-1]

    def gate(k):
        rows = slice(k * n, (k + 1) * n)
        return x @ w_ih[rows].T + b_ih[rows] + h @ w_hh[rows].T + b_hh[rows]
    i, f, g, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.tanh(gate(2)), \
        torch.sigmoid(gate(3))
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


def numpy_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    z = x.numpy() @ w_ih.numpy().T + h.numpy() @ w_hh.numpy().T + b_ih.numpy() + b_hh.numpy()
    i, f, g, o = np.split(z, 4, axis=-1)
    sig = lambda a: 0.5 * (1 + np.tanh(a / 2))  # noqa: E731 - a stable sigmoid
    c_new = sig(f) * c.numpy() + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c_new), c_new


def hand_clipped_step(model, optimizer, inputs, targets, clip):
    logits, _ = model(inputs)
    logp = torch.log_softmax(logits, -1)
    loss = -logp.gather(-1, targets.unsqueeze(-1)).mean()
    for p in model.parameters():
        p.grad = None
    loss.backward()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    if norm > clip:
        for p in model.parameters():
            p.grad *= clip / (norm + 1e-6)
    optimizer.step()
    return float(loss.detach())


def autograd_step(model, optimizer, inputs, targets, clip):
    params = list(model.parameters())
    logits, _ = model(inputs)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    grads = torch.autograd.grad(loss, params)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = min(1.0, clip / (float(total) + 1e-6))
    for p, g in zip(params, grads, strict=True):
        p.grad = g * scale
    optimizer.step()
    return loss.detach()


def inverse_cdf_sample(logits, temperature, generator):
    if temperature < 0:
        raise ValueError("negative temperature")
    if temperature == 0:
        return logits.argmax(-1)
    cdf = torch.softmax(logits / temperature, -1).cumsum(-1)
    u = torch.rand(len(logits), 1, generator=generator, dtype=cdf.dtype)
    return (cdf <= u).sum(-1).clamp(max=logits.shape[-1] - 1)


def gumbel_sample(logits, temperature, generator):
    if temperature < 0:
        raise ValueError("negative temperature")
    if temperature == 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator, dtype=torch.float64).clamp(min=1e-300)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(-1).numpy()


@pytest.mark.parametrize("check, answer", [
    (check_lstm_step, sliced_step), (check_lstm_step, numpy_step),
    (check_train_step, hand_clipped_step), (check_train_step, autograd_step),
    (check_sample_with_temperature, inverse_cdf_sample),
    (check_sample_with_temperature, gumbel_sample),
], ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("seed", [3, 12, 25])
def test_independent_right_answers_pass(check, answer, seed):
    assert check(answer, seed=seed).passed


# ---------------------------------------------------------------- hostile and boundary answers
def test_a_gradient_below_the_clip_must_not_be_scaled_up():
    def always_to_clip(model, optimizer, inputs, targets, clip):
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
        for p in model.parameters():
            p.grad *= clip / norm  # wrong: also scales a small gradient up
        optimizer.step()
        return loss.item()
    with pytest.raises(CheckFailed, match="already below clip"):
        check_train_step(always_to_clip)


def _edits_step_inputs(x, h, c, w_ih, w_hh, b_ih, b_hh):
    for w in (w_ih, w_hh, b_ih, b_hh):
        w.zero_()  # a reference from these weights: every gate 0.5, g = 0
    c.zero_()
    return torch.zeros_like(h), torch.zeros_like(c)


def _zeroes_the_model(model, optimizer, inputs, targets, clip):
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # a reference computed from this model would see no gradient at all
    targets.zero_()
    return F.cross_entropy(model(inputs)[0].flatten(0, 1), targets.flatten()).item()


def _edits_logits(logits, temperature, generator):
    if temperature < 0:
        raise ValueError("negative")
    logits.zero_()
    logits[..., 0] = 1e9  # every draw now word 0
    return torch.zeros(len(logits), dtype=torch.long)


@pytest.mark.parametrize("check, answer", [
    (check_lstm_step, _edits_step_inputs), (check_train_step, _zeroes_the_model),
    (check_sample_with_temperature, _edits_logits)])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)


def test_messages_give_no_distance_to_the_answer():
    import re
    for check, wrong in [
            (check_lstm_step, lambda x, h, c, *w: good_step(x * 0.5, h, c, *w)),
            (check_sample_with_temperature,
             lambda z, t, g: good_sample(z + torch.arange(z.shape[-1]) * 0.5, t, g))]:
        with pytest.raises(CheckFailed) as error:
            check(wrong)
        message = str(error.value)
        assert "off by" not in message and "variation" not in message
        assert not re.search(r"\d\.\d{3}", message)
