"""Checks for lab 05 (adapt and evaluate): confusion matrix, precision/recall/F1, head, fine-tuning.

Used in chapter 5. The metric checks compare the student's function with
``utils.evaluate.metrics`` (itself tested against scikit-learn) on fresh random
labels, always including a class that is never predicted, a class that occurs
nowhere and a last class that occurs exactly once. The model checks run the
student's code on the course's pretrained model; the fine-tuning check compares
the student's first steps with reference Adam steps on a copy of the model.
None prints an expected value, and none leaves a trace in the global random
stream.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks._core import (
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
    worst_error,
)
from utils.evaluate.metrics import confusion_matrix, precision_recall_f1
from utils.lm.scoped import eval_mode, local_seed, one_cpu_thread


def _label_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(y_true, y_pred, n_classes) with a class never predicted in every case."""
    rng = np.random.default_rng([seed, 3])
    cases = []
    for n, k in ((40, 2), (60, 3), (80, 5)):
        y_true = rng.integers(0, k, n)
        y_pred = rng.integers(0, k, n)
        missing = int(rng.integers(0, k))
        y_pred[y_pred == missing] = (missing + 1) % k  # never predicted
        cases.append((y_true, y_pred, k))
    cases.append((np.zeros(10, dtype=np.int64), np.zeros(10, dtype=np.int64), 2))  # one class
    # The last class occurs exactly once (and is predicted once, wrongly, elsewhere);
    # class 1 occurs nowhere, so counting only the classes seen shifts the last one.
    y_true = rng.choice([0, 2], 30)
    y_pred = rng.choice([0, 2], 30)
    y_true[7], y_pred[7] = 3, 3  # the one example of the last class, found
    y_pred[12] = 3  # and one false alarm
    cases.append((y_true, y_pred, 4))
    return cases


@exercise_check("confusion_matrix")
def check_confusion_matrix(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(y_true, y_pred, n_classes) -> counts (n_classes, n_classes), row = true class."""
    name = "confusion_matrix"
    cases = _label_cases(seed)
    for y_true, y_pred, k in cases:
        value = as_tensor(call(fn, torch.tensor(y_true), torch.tensor(y_pred), k, exercise=name),
                          name)
        expect_shape(value, (k, k), name)
        reference = torch.as_tensor(confusion_matrix(y_true, y_pred, labels=range(k)),
                                    dtype=torch.float64)
        if worst_error(value, reference) < 1e-9:
            continue
        if worst_error(value, reference.T) < 1e-9:
            fail(f"{name}: your matrix is transposed: row i must be the TRUE class i and "
                 "column j the PREDICTED class j")
        if abs(float(value.sum()) - len(y_true)) > 1e-9:
            fail(f"{name}: your counts add up to {float(value.sum()):g}, but there are "
                 f"{len(y_true)} examples; each must be counted exactly once")
        if float(value.sum()) > 0 and torch.allclose(value.sum(dim=1), reference.sum(dim=1)):
            fail(f"{name}: each row holds the right number of examples of its true class, but "
                 "they are spread over the wrong predicted columns")
        fail(f"{name}: your counts for {len(y_true)} examples of {k} classes differ from the "
             "right ones in some cells")
    passed(name, len(cases))


_RATIO_TOL = 1e-6  # float32 ratios are right too; the mistakes diagnosed differ far more


@exercise_check("precision_recall_f1")
def check_precision_recall_f1(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(y_true, y_pred, n_classes) -> (precision, recall, f1), each one value per class."""
    name = "precision_recall_f1"
    cases = _label_cases(seed)
    for y_true, y_pred, k in cases:
        result = call(fn, torch.tensor(y_true), torch.tensor(y_pred), k, exercise=name)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            fail(f"{name}: return three things, (precision, recall, f1), each with one value "
                 "per class")
        prec, rec, f1 = (as_tensor(r, name, what) for r, what in
                         zip(result, ("your precision", "your recall", "your f1"), strict=True))
        for value in (prec, rec, f1):
            expect_shape(value.reshape(-1) if value.dim() else value, (k,), name)
        prec, rec, f1 = prec.reshape(-1), rec.reshape(-1), f1.reshape(-1)
        ref = [torch.as_tensor(r, dtype=torch.float64)
               for r in precision_recall_f1(y_true, y_pred, average=None, labels=range(k))]
        never = [c for c in range(k) if not (y_pred == c).any()]
        for what, value in (("precision", prec), ("recall", rec), ("F1", f1)):
            if torch.isnan(value).any():
                fail(f"{name}: your {what} has nan for a class with a 0/0 ratio (class "
                     f"{never[0] if never else '?'} is never predicted, or never occurs). "
                     "Report 0 there, as scikit-learn does")
        if worst_error(prec, ref[1]) < _RATIO_TOL and worst_error(rec, ref[0]) < _RATIO_TOL \
                and worst_error(prec, ref[0]) > _RATIO_TOL:
            fail(f"{name}: your precision and recall are swapped: precision divides TP by "
                 "everything PREDICTED in the class (a column), recall by everything that "
                 "truly IS in the class (a row)")
        if worst_error(prec, ref[0]) > _RATIO_TOL:
            fail(f"{name}: your precision differs from TP / (TP + FP) for {k} classes by up "
                 f"to {worst_error(prec, ref[0]):.3g}")
        if worst_error(rec, ref[1]) > _RATIO_TOL:
            fail(f"{name}: your recall differs from TP / (TP + FN) for {k} classes by up to "
                 f"{worst_error(rec, ref[1]):.3g}")
        if worst_error(f1, ref[2]) > _RATIO_TOL:
            if worst_error(f1, (ref[0] + ref[1]) / 2) < _RATIO_TOL:
                fail(f"{name}: your F1 is the arithmetic mean of precision and recall; it is "
                     "their harmonic mean, 2 P R / (P + R)")
            fail(f"{name}: your F1 differs from 2 P R / (P + R) by up to "
                 f"{worst_error(f1, ref[2]):.3g} (0 when P + R = 0)")
    passed(name, len(cases))


def _random_batch(generator: torch.Generator, vocab_size: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.randint(2, 9, (12,), generator=generator)
    lengths[0] = 8  # at least one full row, so the padded width is 8
    tokens = torch.randint(2, vocab_size, (12, 8), generator=generator)
    for i, n in enumerate(lengths.tolist()):
        tokens[i, n:] = 1  # <eos> padding
    return tokens, lengths  # (12, 8), (12,)


@exercise_check("classify")
def check_classify(fn: Callable, encoder: torch.nn.Module, seed: int = 0) -> CheckResult:
    """fn(encoder, head, tokens, lengths) -> logits (batch, n_classes) from the last real state."""
    name = "classify"
    generator = torch.Generator().manual_seed(seed)
    encoder = copy.deepcopy(encoder).eval()
    cases = 0
    for n_classes in (2, 3):
        with local_seed(seed + n_classes):  # the head's initial weights, without a trace
            head = torch.nn.Linear(encoder.config.hidden_size, n_classes)
        tokens, lengths = _random_batch(generator, encoder.config.vocab_size)
        with torch.no_grad():
            value = as_tensor(call(fn, encoder, head, tokens.clone(), lengths.clone(),
                                   exercise=name), name)
            expect_shape(value, (len(tokens), n_classes), name)
            hidden = encoder.features(tokens)  # (batch, seq_len, hidden_size)
            rows = torch.arange(len(tokens))
            reference = head(hidden[rows, lengths - 1]).double()  # (batch, n_classes)
            wrong = {
                "you took the state at the last column of the padded tensor; take each "
                "sentence's own last token, at position lengths - 1":
                    head(hidden[:, -1]).double(),
                "you took the state at position lengths, one past the last token; Python "
                "counts from 0, so it is lengths - 1":
                    head(hidden[rows, lengths.clamp(max=tokens.shape[1] - 1)]).double(),
                "you averaged the states over all positions; this exercise pools the last "
                "real token's state": head(hidden.mean(dim=1)).double(),
                "you returned probabilities; return the head's raw logits (no softmax)":
                    torch.softmax(reference, dim=-1),
            }
        if worst_error(value, reference) < 1e-5:
            cases += 1
            continue
        for message, candidate in wrong.items():
            if worst_error(value, candidate) < 1e-5:
                fail(f"{name}: {message}")
        fail(f"{name}: your logits differ from head(state of each sentence's last token) by up "
             f"to {worst_error(value, reference):.3g}")
    passed(name, cases)


# ---------------------------------------------------------------- fine-tuning
_STEP_BATCH = 32  # rows of the step check's batch, all one example


def _without_dropout(model: nn.Module) -> nn.Module:
    """The same model in float64 with every dropout off, so one step is reproducible."""
    model = copy.deepcopy(model).double()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        elif isinstance(module, nn.LSTM):
            module.dropout = 0.0
    return model


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _adam_steps(model: nn.Module, batch: tuple, steps: int, head_lr: float,
                encoder_lr: float | None, zero_grad: bool = True, step: bool = True
                ) -> torch.Tensor:
    """Parameters after ``steps`` Adam steps on a copy; ``encoder_lr=None`` freezes it."""
    model = copy.deepcopy(model)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    if encoder_lr is not None:
        groups.append({"params": list(model.encoder.parameters()), "lr": encoder_lr})
    optimizer = torch.optim.Adam(groups)
    tokens, lengths, labels = batch
    model.train()
    for _ in range(steps):
        loss = F.cross_entropy(model(tokens, lengths), labels)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if step:
            optimizer.step()
    return _flat(model)


def _check_step(fn: Callable, model: nn.Module, data: tuple, lr: float, encoder_lr: float,
                seed: int, name: str) -> None:
    """Two of the student's steps against two reference Adam steps on a copied model.

    Every row of the batch is the same labelled review, so any batches the
    student draws give the same loss and gradient as the reference's.
    """
    tokens, lengths, labels = data[0][:1], data[1][:1], data[2][:1]
    batch = (tokens.expand(_STEP_BATCH, -1).clone(), lengths.expand(_STEP_BATCH).clone(),
             labels.expand(_STEP_BATCH).clone())
    model = _without_dropout(model)
    student = copy.deepcopy(model)
    call(fn, student, *(t.clone() for t in batch), 2, lr, encoder_lr,
         torch.Generator().manual_seed(seed), exercise=name)
    value, reference = _flat(student), _adam_steps(model, batch, 2, lr, encoder_lr)
    tol = 1e-3 * min(lr, encoder_lr)  # the mistakes below move weights by ~1-100 % of a rate
    if worst_error(value, reference) <= tol:
        return
    mistakes = [
        (_adam_steps(model, batch, 2, lr, None),
         "the encoder's weights did not change: that is frozen features, not fine-tuning. "
         "Give the optimizer the encoder's parameters too, with encoder_lr"),
        (_adam_steps(model, batch, 2, lr, lr),
         "the encoder was updated with the head's learning rate lr: give the encoder its "
         "own parameter group with encoder_lr"),
        (_adam_steps(model, batch, 2, encoder_lr, encoder_lr),
         "the head was updated with encoder_lr: give the head its own parameter group with lr"),
        (_adam_steps(model, batch, 2, encoder_lr, lr),
         "the two learning rates are swapped: lr is the head's, encoder_lr the encoder's"),
        (_adam_steps(model, batch, 2, lr, encoder_lr, zero_grad=False),
         "the gradients of each step were added to those of the steps before: call "
         "optimizer.zero_grad() before each loss.backward()"),
        (_flat(model),
         "your parameters did not change: call loss.backward(), then optimizer.step(), with "
         "optimizer.zero_grad() before the backward, not between it and the step"),
    ]
    for wrong, message in mistakes:
        if worst_error(value, wrong) <= tol:
            fail(f"{name}: {message}")
    fail(f"{name}: after two steps your weights differ from two Adam steps (lr for the head, "
         f"encoder_lr for the encoder, mean cross-entropy of the batch) by up to "
         f"{worst_error(value, reference):.3g}; use torch.optim.Adam with two parameter groups")


@exercise_check("fine_tune")
def check_fine_tune(fn: Callable, make_model: Callable, data: tuple, seed: int = 0,
                    min_accuracy: float = 0.9) -> CheckResult:
    """fn(model, tokens, lengths, labels, steps, lr, encoder_lr, generator) -> losses.

    ``make_model()`` returns a fresh classifier on the pretrained encoder;
    ``data`` = (tokens, lengths, labels, test_tokens, test_lengths, test_labels).
    First two steps are compared with two reference Adam steps on a copy of
    the model (learning rate per group, gradients zeroed each step); then a
    real run must lower the loss and classify the test reviews well.
    """
    name = "fine_tune"
    tokens, lengths, labels, test_tokens, test_lengths, test_labels = data
    lr, encoder_lr, steps = 3e-3, 5e-4, 60
    with local_seed(seed), one_cpu_thread():  # tiny batches: one thread is faster
        model = make_model()
        _check_step(fn, model, data, lr, encoder_lr, seed, name)
        losses = call(fn, model, tokens, lengths, labels, steps, lr, encoder_lr,
                      torch.Generator().manual_seed(seed), exercise=name)
        try:
            losses = [float(x) for x in losses]
        except TypeError:
            fail(f"{name}: return the list of the {steps} training losses, one per step")
        if len(losses) != steps:
            fail(f"{name}: you returned {len(losses)} losses for {steps} steps; record one per "
                 "optimizer step")
        if not all(np.isfinite(losses)):
            fail(f"{name}: some of your losses are not finite; is a learning rate far too "
                 "large?")
        first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
        if not last < first:
            fail(f"{name}: the loss did not go down (mean of the first 10 steps {first:.3f}, "
                 f"of the last 10 {last:.3f})")
        with torch.no_grad(), eval_mode(model):
            predicted = model(test_tokens, test_lengths).argmax(dim=-1)
    acc = float((predicted == test_labels).double().mean())
    if acc < min_accuracy:
        fail(f"{name}: after {steps} steps on {len(labels)} labels the test accuracy is "
             f"{acc:.1%}, below the {min_accuracy:.0%} a working fine-tuning reaches; check "
             "that each step uses a batch of examples with their own labels")
    print(f"   loss {first:.3f} -> {last:.3f}; test accuracy {acc:.1%}")
    passed(name, 3)
