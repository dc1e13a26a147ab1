"""Classification metrics: accuracy, precision, recall, F1 and the confusion matrix.

Explained in chapter 5. Every function takes ``(y_true, y_pred)`` as sequences,
arrays or tensors of integer class labels and returns plain Python numbers or
a NumPy array, with scikit-learn's conventions:

- ``confusion_matrix(y_true, y_pred)[i, j]`` counts examples of true class i
  predicted as class j (rows are the truth, columns the prediction);
- binary metrics score the class ``pos_label`` (1 by default);
- ``average=None`` gives one value per class, ``"macro"`` their unweighted mean;
- a ratio with a zero denominator (a class never predicted has precision 0/0)
  is reported as 0, scikit-learn's default ``zero_division`` result.

The classes are ``labels`` when given, else every label that occurs in
``y_true`` or ``y_pred``, sorted.

>>> precision_recall_f1([1, 1, 0, 0], [1, 0, 0, 0])
(1.0, 0.5, 0.6666666666666666)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "f1_score",
    "precision",
    "precision_recall_f1",
    "recall",
]

_AVERAGES = ("binary", "macro", None)


def _labels(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true).reshape(-1)
    pred = np.asarray(y_pred).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length; got {true.size} "
                         f"and {pred.size}")
    if true.size == 0:
        raise ValueError("y_true and y_pred are empty")
    return true, pred


def _classes(true: np.ndarray, pred: np.ndarray, labels: Sequence[int] | None) -> np.ndarray:
    if labels is not None:
        classes = np.asarray(list(labels))
        if classes.size == 0:
            raise ValueError("labels is empty: name at least one class to score")
        if np.unique(classes).size != classes.size:
            raise ValueError(f"labels must not repeat a class; got {classes.tolist()}")
        return classes
    return np.unique(np.concatenate([true, pred]))


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where the denominator is 0 (scikit-learn's default)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def accuracy(y_true: object, y_pred: object) -> float:
    """Fraction of predictions equal to the truth. Chapter 5.

    >>> accuracy([0, 1, 1, 1], [0, 1, 0, 1])
    0.75
    """
    true, pred = _labels(y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix(y_true: object, y_pred: object, *,
                     labels: Sequence[int] | None = None) -> np.ndarray:
    """Counts ``(classes, classes)``: row = true class, column = predicted class. Chapter 5.

    >>> confusion_matrix([0, 1, 1, 1], [0, 1, 0, 1]).tolist()
    [[1, 0], [1, 2]]
    """
    true, pred = _labels(y_true, y_pred)
    classes = _classes(true, pred, labels)
    index = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    k = len(classes)
    matrix = np.zeros((k, k), dtype=np.int64)  # (true class, predicted class)
    for t, p in zip(true.tolist(), pred.tolist(), strict=True):
        if t in index and p in index:  # pairs outside `labels` are left out, as in sklearn
            matrix[index[t], index[p]] += 1
    return matrix


def _per_class(y_true: object, y_pred: object, labels: Sequence[int] | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and the class labels they belong to.

    Counts come from every class present, so a class left out of ``labels``
    still counts as a false positive or negative of the classes kept.
    """
    true, pred = _labels(y_true, y_pred)
    present = np.unique(np.concatenate([true, pred]))
    classes = _classes(true, pred, labels)
    everything = np.unique(np.concatenate([present, classes]))
    matrix = confusion_matrix(true, pred, labels=everything)
    keep = np.searchsorted(everything, classes)
    tp = np.diag(matrix)[keep]  # (classes,)
    predicted = matrix.sum(axis=0)[keep]  # TP + FP per class
    actual = matrix.sum(axis=1)[keep]  # TP + FN per class
    prec = _divide(tp, predicted)
    rec = _divide(tp, actual)
    f1 = _divide(2 * prec * rec, prec + rec)
    return prec, rec, f1, classes


def precision_recall_f1(y_true: object, y_pred: object, *, average: str | None = "binary",
                        pos_label: int = 1, labels: Sequence[int] | None = None
                        ) -> tuple[float, float, float] | tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Precision, recall and F1 together. Chapter 5.

    ``average="binary"`` scores class ``pos_label``; ``"macro"`` averages the
    per-class values with equal weights; ``None`` returns arrays, one entry per class.
    """
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}; got {average!r}")
    if average == "binary":
        true, pred = _labels(y_true, y_pred)
        present = np.unique(np.concatenate([true, pred])).tolist()
        if len(present) > 2:
            raise ValueError(f"average='binary' needs two classes; got labels {present}. "
                             "Use average='macro' or None for more classes")
        if len(present) == 2 and pos_label not in present:
            raise ValueError(f"pos_label={pos_label!r} is not one of the labels {present}; "
                             "pass the positive class as pos_label")
        prec, rec, f1, _ = _per_class(true, pred, [pos_label])
        return float(prec[0]), float(rec[0]), float(f1[0])
    prec, rec, f1, _ = _per_class(y_true, y_pred, labels)
    if average is None:
        return prec, rec, f1
    return float(prec.mean()), float(rec.mean()), float(f1.mean())


def precision(y_true: object, y_pred: object, *, average: str | None = "binary",
              pos_label: int = 1, labels: Sequence[int] | None = None) -> float | np.ndarray:
    """TP / (TP + FP): of the examples predicted in a class, the fraction that are. Chapter 5."""
    return precision_recall_f1(y_true, y_pred, average=average, pos_label=pos_label,
                               labels=labels)[0]


def recall(y_true: object, y_pred: object, *, average: str | None = "binary",
           pos_label: int = 1, labels: Sequence[int] | None = None) -> float | np.ndarray:
    """TP / (TP + FN): of the examples of a class, the fraction found. Chapter 5."""
    return precision_recall_f1(y_true, y_pred, average=average, pos_label=pos_label,
                               labels=labels)[1]


def f1_score(y_true: object, y_pred: object, *, average: str | None = "binary",
             pos_label: int = 1, labels: Sequence[int] | None = None) -> float | np.ndarray:
    """Harmonic mean of precision and recall, 0 when both are 0. Chapter 5."""
    return precision_recall_f1(y_true, y_pred, average=average, pos_label=pos_label,
                               labels=labels)[2]


def classification_report(y_true: object, y_pred: object, *,
                          names: Sequence[str] | None = None) -> str:
    """A small table of per-class precision, recall, F1 and support, then accuracy. Chapter 5."""
    true, pred = _labels(y_true, y_pred)
    prec, rec, f1, classes = _per_class(true, pred, None)
    support = confusion_matrix(true, pred, labels=classes).sum(axis=1)
    names = [str(c) for c in classes] if names is None else list(names)
    if len(names) != len(classes):
        raise ValueError(f"names has {len(names)} entries but the labels hold {len(classes)} "
                         f"classes {classes.tolist()}; give one name per class")
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'':<{width}}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}"]
    for i, name in enumerate(names):
        lines.append(f"{name:<{width}}{prec[i]:>10.3f}{rec[i]:>10.3f}{f1[i]:>10.3f}"
                     f"{support[i]:>10d}")
    lines.append(f"{'macro mean':<{width}}{prec.mean():>10.3f}{rec.mean():>10.3f}"
                 f"{f1.mean():>10.3f}{support.sum():>10d}")
    lines.append(f"{'accuracy':<{width}}{accuracy(true, pred):>30.3f}")
    return "\n".join(lines)
