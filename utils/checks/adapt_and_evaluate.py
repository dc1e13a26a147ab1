"""Checks for lab 05 (adapt and evaluate): confusion matrix, precision/recall/F1, head, fine-tuning.

Used in chapter 5. The metric checks compare the student's function with
``utils.metrics`` (itself tested against scikit-learn) on fresh random labels,
always including a class that is never predicted; the model checks run the
student's code on the course's pretrained model. None prints an expected value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from utils.adapt.classifier import _one_cpu_thread
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
        if worst_error(prec, ref[1]) < 1e-9 and worst_error(rec, ref[0]) < 1e-9 \
                and worst_error(prec, ref[0]) > 1e-9:
            fail(f"{name}: your precision and recall are swapped: precision divides TP by "
                 "everything PREDICTED in the class (a column), recall by everything that "
                 "truly IS in the class (a row)")
        if worst_error(prec, ref[0]) > 1e-9:
            fail(f"{name}: your precision differs from TP / (TP + FP) for {k} classes by up "
                 f"to {worst_error(prec, ref[0]):.3g}")
        if worst_error(rec, ref[1]) > 1e-9:
            fail(f"{name}: your recall differs from TP / (TP + FN) for {k} classes by up to "
                 f"{worst_error(rec, ref[1]):.3g}")
        if worst_error(f1, ref[2]) > 1e-9:
            if worst_error(f1, (ref[0] + ref[1]) / 2) < 1e-9:
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
        torch.manual_seed(seed + n_classes)
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


@exercise_check("fine_tune")
def check_fine_tune(fn: Callable, make_model: Callable, data: tuple, seed: int = 0,
                    min_accuracy: float = 0.9) -> CheckResult:
    """fn(model, tokens, lengths, labels, steps, lr, encoder_lr) -> losses; trains all weights.

    ``make_model()`` returns a fresh classifier on the pretrained encoder;
    ``data`` = (tokens, lengths, labels, test_tokens, test_lengths, test_labels).
    """
    name = "fine_tune"
    tokens, lengths, labels, test_tokens, test_lengths, test_labels = data
    torch.manual_seed(seed)
    model = make_model()
    encoder_before = copy.deepcopy(model.encoder.state_dict())
    head_before = copy.deepcopy(model.head.state_dict())
    steps = 60
    with _one_cpu_thread():  # tiny batches: one thread is much faster on a busy CPU
        losses = call(fn, model, tokens, lengths, labels, steps, 3e-3, 5e-4, exercise=name)
    try:
        losses = [float(x) for x in losses]
    except TypeError:
        fail(f"{name}: return the list of the {steps} training losses, one per step")
    if len(losses) != steps:
        fail(f"{name}: you returned {len(losses)} losses for {steps} steps; record one per "
             "optimizer step")
    if not all(np.isfinite(losses)):
        fail(f"{name}: some of your losses are not finite; is a learning rate far too large?")

    def moved(before: dict, module: torch.nn.Module) -> bool:
        return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())

    if not moved(head_before, model.head):
        fail(f"{name}: the head's weights did not change; did the optimizer get the head's "
             "parameters, and did you call optimizer.step()?")
    if not moved(encoder_before, model.encoder):
        fail(f"{name}: the encoder's weights did not change: that is frozen features, not "
             "fine-tuning. Give the optimizer the encoder's parameters too, with encoder_lr")
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    if not last < first:
        fail(f"{name}: the loss did not go down (mean of the first 10 steps {first:.3f}, of "
             f"the last 10 {last:.3f}); zero the gradients before each backward()")
    with torch.no_grad():
        model.eval()
        predicted = model(test_tokens, test_lengths).argmax(dim=-1)
    acc = float((predicted == test_labels).double().mean())
    if acc < min_accuracy:
        fail(f"{name}: after {steps} steps on {len(labels)} labels the test accuracy is "
             f"{acc:.1%}, below the {min_accuracy:.0%} a working fine-tuning reaches; check the "
             "learning rates and that each step uses a batch of examples with their labels")
    print(f"   loss {first:.3f} -> {last:.3f}; test accuracy {acc:.1%}")
    passed(name, 4)
