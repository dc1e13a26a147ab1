"""Checks for lab 05 (adapt and evaluate): confusion matrix, precision/recall/F1, head, fine-tuning.

Used in chapter 5. Each exercise is data (`EXERCISES`, cases in
`utils.checks._adapt_and_evaluate_cases`): nothing comes from the submission,
neither the model nor the test data. The metric judges compare with
``utils.evaluate.metrics`` (itself tested against scikit-learn); the head is
tried on a small random encoder rebuilt from arrays; the fine-tuning check
compares the student's first steps with reference Adam steps, then trains the
course's pretrained model with the student's loop and judges the returned
weights on test reviews in its own process. No message prints a distance to
the answer, and no check leaves a trace in the global random stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from utils.checks import _adapt_and_evaluate_cases as cases
from utils.checks._core import Case, Exercise, Wrong, checker
from utils.checks._judging import as_array, close, expect_shape
from utils.evaluate.metrics import confusion_matrix, precision_recall_f1
from utils.i18n import _
from utils.runtime.scoped import eval_mode, local_seed, one_cpu_thread

__all__ = ["EXERCISES", "check_classify", "check_confusion_matrix", "check_fine_tune",
           "check_precision_recall_f1"]


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def _run_labels(name: str):
    def run(ns: Mapping[str, Any], case: Case) -> Any:
        return ns[name](_t(case["y_true"]), _t(case["y_pred"]), case["n_classes"])
    return run


# ---------------------------------------------------------------- confusion matrix
def _judge_confusion(case: Case, output: Any) -> str | None:
    y_true, y_pred, k = case["y_true"], case["y_pred"], case["n_classes"]
    value = as_array(output, _("your matrix"))
    expect_shape(value, (k, k), _("your matrix"))
    reference = confusion_matrix(y_true, y_pred, labels=range(k)).astype(np.float64)
    if close(value, reference, 1e-9, 0):
        return None
    if close(value, reference.T, 1e-9, 0):
        return _("your matrix is transposed: row i must be the TRUE class i and column j the "
                 "PREDICTED class j")
    if abs(float(value.sum()) - len(y_true)) > 1e-9:
        return _("your counts add up to {total:g}, but there are {n_y_true} "
                 "examples; each must be counted exactly once").format(
            total=float(value.sum()), n_y_true=len(y_true))
    if value.sum() > 0 and np.allclose(value.sum(axis=1), reference.sum(axis=1)):
        return _("each row holds the right number of examples of its true class, but they are "
                 "spread over the wrong predicted columns")
    return _("your counts for {n_y_true} examples of {k} classes are wrong in some cells "
             "(is a class that occurs nowhere, or only once, counted in its own row?)").format(
        n_y_true=len(y_true), k=k)


# ---------------------------------------------------------------- precision, recall, F1
_RATIO_TOL = 1e-6  # float32 ratios are right too; the mistakes diagnosed differ far more


def _judge_prf(case: Case, output: Any) -> str | None:
    y_true, y_pred, k = case["y_true"], case["y_pred"], case["n_classes"]
    if not isinstance(output, list) or len(output) != 3:
        raise Wrong(_("return three things, (precision, recall, f1), each with one value per "
                      "class"))
    prec, rec, f1 = (as_array(r, what) for r, what in
                     zip(output, (_("your precision"), _("your recall"), _("your f1")),
                         strict=True))
    for value, what in ((prec, _("your precision")), (rec, _("your recall")), (f1, _("your f1"))):
        expect_shape(value, (k,), what)
    ref = [np.asarray(r, np.float64)
           for r in precision_recall_f1(y_true, y_pred, average=None, labels=range(k))]
    never = [c for c in range(k) if not (y_pred == c).any()]
    for what, value in ((_("precision"), prec), (_("recall"), rec), ("F1", f1)):
        if np.isnan(value).any():
            return _("your {what} has nan for a class with a 0/0 ratio (class "
                     "{label} is never predicted, or never occurs). "
                     "Report 0 there, as scikit-learn does").format(
                what=what, label=never[0] if never else "?")

    def near(a: np.ndarray, b: np.ndarray) -> bool:
        return close(a, b, _RATIO_TOL, 0)
    if near(prec, ref[1]) and near(rec, ref[0]) and not near(prec, ref[0]):
        return _("your precision and recall are swapped: precision divides TP by everything "
                 "PREDICTED in the class (a column), recall by everything that truly IS in the "
                 "class (a row)")
    if not near(prec, ref[0]):
        return _("your precision is not TP / (TP + FP) for some of the {k} classes").format(k=k)
    if not near(rec, ref[1]):
        return _("your recall is not TP / (TP + FN) for some of the {k} classes").format(k=k)
    if not near(f1, ref[2]):
        if near(f1, (ref[0] + ref[1]) / 2):
            return _("your F1 is the arithmetic mean of precision and recall; it is their "
                     "harmonic mean, 2 P R / (P + R)")
        return _("your F1 is not 2 P R / (P + R) (0 when P + R = 0) for some classes")
    return None


# ---------------------------------------------------------------- the classifier head
def _run_classify(ns: Mapping[str, Any], case: Case) -> Any:
    encoder = cases.encoder_from(case["config"], case["encoder"]).eval()
    head = cases.linear_from(case["head"])
    with torch.no_grad():
        return ns["classify"](encoder, head, _t(case["tokens"]), _t(case["lengths"]))


def _judge_classify(case: Case, output: Any) -> str | None:
    encoder = cases.encoder_from(case["config"], case["encoder"]).eval()
    head = cases.linear_from(case["head"])
    tokens, lengths = _t(case["tokens"]), _t(case["lengths"])
    value = as_array(output, _("your logits"))
    expect_shape(value, (len(tokens), head.out_features), _("your logits"))
    with torch.no_grad():
        hidden = encoder.features(tokens)  # (batch, seq_len, hidden_size)
        rows = torch.arange(len(tokens))
        reference = head(hidden[rows, lengths - 1]).double()  # (batch, n_classes)
        wrong = {
            _("you took the state at the last column of the padded tensor; take each "
              "sentence's own last token, at position lengths - 1"): head(hidden[:, -1]),
            _("you took the state at position lengths, one past the last token; Python counts "
              "from 0, so it is lengths - 1"):
                head(hidden[rows, lengths.clamp(max=tokens.shape[1] - 1)]),
            _("you averaged the states over all positions; this exercise pools the last real "
              "token's state"): head(hidden.mean(dim=1)),
            _("you returned probabilities; return the head's raw logits (no softmax)"):
                torch.softmax(reference, dim=-1),
        }
    if close(value, reference.numpy(), 1e-5, 1e-5):
        return None
    for message, candidate in wrong.items():
        if close(value, candidate.double().numpy(), 1e-5, 1e-5):
            return message
    return _("your logits are not head(state of each sentence's last real token)")


# ---------------------------------------------------------------- fine-tuning
def _run_fine_tune(ns: Mapping[str, Any], case: Case) -> Any:
    model = cases.classifier_from(case, exact=case["kind"] == "steps")
    args = (_t(case["tokens"]), _t(case["lengths"]), _t(case["labels"]), case["steps"],
            case["lr"], case["encoder_lr"], torch.Generator().manual_seed(case["seed"]))
    with local_seed(case["seed"]), one_cpu_thread():  # dropout draws; tiny batches
        losses = ns["fine_tune"](model, *args)
    return {"losses": losses, "state": model.state_dict()}


def _trained(case: Case, output: Any, exact: bool) -> torch.nn.Module:
    model = cases.classifier_from(case, exact=exact)
    state = output.get("state") if isinstance(output, dict) else None
    if not isinstance(state, dict) or set(state) != set(model.state_dict()):
        raise Wrong(_("your fine_tune replaced parts of the model; train the model you are given"))
    try:
        model.load_state_dict({k: _t(as_array(state[k])).to(v.dtype)
                               for k, v in model.state_dict().items()})
    except RuntimeError:  # a tensor of another shape
        raise Wrong(_("your fine_tune changed the shape of the model's weights")) from None
    return model


def _judge_steps(case: Case, output: Any) -> str | None:
    model = cases.classifier_from(case, exact=True)
    value = cases.parameter_vector(_trained(case, output, exact=True))
    lr, encoder_lr = case["lr"], case["encoder_lr"]
    tol = 1e-3 * min(lr, encoder_lr)  # the mistakes below move weights by ~1-100 % of a rate

    def moved_like(wrong: torch.Tensor) -> bool:
        return float((value - wrong).abs().max()) <= tol
    if moved_like(cases.adam_steps(model, case, lr, encoder_lr)):
        return None
    mistakes = [
        (cases.adam_steps(model, case, lr, None),
         _("the encoder's weights did not change: that is frozen features, not fine-tuning. "
           "Give the optimizer the encoder's parameters too, with encoder_lr")),
        (cases.adam_steps(model, case, lr, lr),
         _("the encoder was updated with the head's learning rate lr: give the encoder its own "
           "parameter group with encoder_lr")),
        (cases.adam_steps(model, case, encoder_lr, encoder_lr),
         _("the head was updated with encoder_lr: give the head its own parameter group with lr")),
        (cases.adam_steps(model, case, encoder_lr, lr),
         _("the two learning rates are swapped: lr is the head's, encoder_lr the encoder's")),
        (cases.adam_steps(model, case, lr, encoder_lr, zero_grad=False),
         _("the gradients of each step were added to those of the steps before: call "
           "optimizer.zero_grad() before each loss.backward()")),
        (cases.parameter_vector(model),
         _("your parameters did not change: call loss.backward(), then optimizer.step(), with "
           "optimizer.zero_grad() before the backward, not between it and the step")),
    ]
    for wrong, message in mistakes:
        if moved_like(wrong):
            return message
    return _("after two steps your weights are not those of two Adam steps (lr for the head, "
             "encoder_lr for the encoder, mean cross-entropy of the batch); use "
             "torch.optim.Adam with two parameter groups")


def _judge_fine_tune(case: Case, output: Any) -> str | None:
    if case["kind"] == "steps":
        return _judge_steps(case, output)
    steps, losses = case["steps"], output.get("losses") if isinstance(output, dict) else None
    try:
        losses = [float(x) for x in losses]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return _("return the list of the {steps} training losses, one per step").format(steps=steps)
    if len(losses) != steps:
        return _("you returned {n_losses} losses for {steps} steps; record one per "
                 "optimizer step").format(n_losses=len(losses), steps=steps)
    if not all(np.isfinite(losses)):
        return _("some of your losses are not finite; is a learning rate far too large?")
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    if not last < first:
        return _("the loss did not go down (mean of the first 10 steps {first:.3f}, of the "
                 "last 10 {last:.3f})").format(first=first, last=last)
    model = _trained(case, output, exact=False)
    with torch.no_grad(), eval_mode(model), one_cpu_thread():
        predicted = model(_t(case["test_tokens"]), _t(case["test_lengths"])).argmax(dim=-1)
    accuracy = float((predicted.numpy() == case["test_labels"]).mean())
    if accuracy < case["min_accuracy"]:
        return _("after {steps} steps on {n_labels} labels the test accuracy of "
                 "your model is {accuracy:.1%}, below the {min_accuracy:.0%} a working "
                 "fine-tuning reaches; check that each step uses a batch of examples with "
                 "their own labels").format(
            steps=steps, n_labels=len(case["labels"]), accuracy=accuracy,
            min_accuracy=case["min_accuracy"])
    return None


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("confusion_matrix", ("confusion",), cases.label_cases, _run_labels("confusion"),
             _judge_confusion),
    Exercise("precision_recall_f1", ("precision_recall_f1",), cases.label_cases,
             _run_labels("precision_recall_f1"), _judge_prf),
    Exercise("classify", ("classify",), cases.classify_cases, _run_classify, _judge_classify),
    Exercise("fine_tune", ("fine_tune",), cases.fine_tune_cases, _run_fine_tune,
             _judge_fine_tune),
)}

check_confusion_matrix = checker(EXERCISES, "confusion_matrix")
check_precision_recall_f1 = checker(EXERCISES, "precision_recall_f1")
check_classify = checker(EXERCISES, "classify")
check_fine_tune = checker(EXERCISES, "fine_tune")
