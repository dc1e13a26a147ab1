"""utils.evaluate.metrics equals scikit-learn on random labels, classes never predicted included."""

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from utils.evaluate import metrics


def _cases():
    rng = np.random.default_rng(0)
    cases = []
    for n, k in ((30, 2), (50, 2), (80, 3), (120, 5)):
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        cases.append((y_true, y_pred))
        missing = int(rng.integers(0, k))
        y_pred = y_pred.copy()
        y_pred[y_pred == missing] = (missing + 1) % k  # a class never predicted
        cases.append((y_true, y_pred))
    cases.append((np.ones(10, dtype=int), np.ones(10, dtype=int)))  # all one class
    cases.append((np.zeros(10, dtype=int), np.zeros(10, dtype=int)))  # all the negative class
    cases.append((np.zeros(10, dtype=int), np.ones(10, dtype=int)))  # all wrong
    cases.append((np.array([1] * 19 + [0]), np.ones(20, dtype=int)))  # majority predictor
    return cases


CASES = _cases()


@pytest.mark.parametrize("y_true, y_pred", CASES)
def test_metrics_equal_scikit_learn(y_true, y_pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns at 0/0; the value is what we compare
        binary = set(np.unique(np.concatenate([y_true, y_pred]))) <= {0, 1}
        averages = ["macro", None] + (["binary"] if binary else [])
        assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true,
                                                                                    y_pred))
        assert np.array_equal(metrics.confusion_matrix(y_true, y_pred),
                              skm.confusion_matrix(y_true, y_pred))
        for average in averages:
            for ours, theirs in ((metrics.precision, skm.precision_score),
                                 (metrics.recall, skm.recall_score),
                                 (metrics.f1_score, skm.f1_score)):
                np.testing.assert_allclose(ours(y_true, y_pred, average=average),
                                           theirs(y_true, y_pred, average=average),
                                           err_msg=f"{ours.__name__} average={average}")


def test_labels_argument_matches_scikit_learn():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    y_pred[y_pred == 2] = 0
    labels = [0, 1, 2, 3]  # class 3 never occurs at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(metrics.confusion_matrix(y_true, y_pred, labels=labels),
                              skm.confusion_matrix(y_true, y_pred, labels=labels))
        for average in ("macro", None):
            np.testing.assert_allclose(
                metrics.f1_score(y_true, y_pred, average=average, labels=[0, 2]),
                skm.f1_score(y_true, y_pred, average=average, labels=[0, 2]))


def test_accepts_tensors_and_rejects_bad_input():
    y_true, y_pred = torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0])
    assert metrics.precision(y_true, y_pred) == pytest.approx(1.0)
    assert metrics.recall(y_true, y_pred) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same length"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="two classes"):
        metrics.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="average"):
        metrics.f1_score([0, 1], [0, 1], average="micro")


def test_classification_report_lists_each_class():
    report = metrics.classification_report([0, 1, 1, 1], [0, 1, 0, 1], names=["neg", "pos"])
    assert "neg" in report and "pos" in report and "macro mean" in report


def test_a_class_that_occurs_once_or_sits_last_matches_scikit_learn():
    y_true = np.array([0, 2, 2, 0, 3, 0, 2, 2, 0, 0])  # class 3 once, class 1 never
    y_pred = np.array([0, 2, 0, 0, 3, 3, 2, 2, 2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for average in ("macro", None):
            for labels in (None, [0, 1, 2, 3]):
                np.testing.assert_allclose(
                    metrics.precision_recall_f1(y_true, y_pred, average=average, labels=labels),
                    skm.precision_recall_fscore_support(y_true, y_pred, average=average,
                                                        labels=labels)[:3])


def test_bad_input_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="two classes"):  # three classes, binary average
        metrics.f1_score([0, 1, 2], [0, 2, 1], pos_label=2)
    with pytest.raises(ValueError, match="pos_label=1 is not one of the labels"):
        metrics.precision([0, 3, 3], [3, 0, 0])
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="labels is empty"):
        metrics.f1_score([0, 1], [0, 1], average="macro", labels=[])
    with pytest.raises(ValueError, match="repeat"):
        metrics.confusion_matrix([0, 1], [0, 1], labels=[0, 1, 1])
    with pytest.raises(ValueError, match="names has 1 entries but the labels hold 3 classes"):
        metrics.classification_report([0, 1, 2], [0, 1, 1], names=["neg"])


def test_docstring_examples_hold():
    import doctest

    from utils.evaluate import calibration
    from utils.lm import sampling

    for module in (metrics, calibration, sampling):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
