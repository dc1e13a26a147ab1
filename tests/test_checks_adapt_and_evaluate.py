"""Lab 05's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted, at several seeds: implementations that are not the
checks' references (a loop and a bincount confusion matrix, NumPy and loop
metrics, an einsum/gather head), NumPy arrays, lists of lists, float32 values,
a fine-tuning loop that draws its batches another way or zeroes gradients with
``model.zero_grad()``. Everything the checks use (models, test data) comes from
their own cases: the wrappers take only the student's function and a seed.
Answers that edit their inputs in place fail.

Wrong answers caught:

- confusion_matrix: transposed; each example counted twice; columns permuted;
  the wrong shape; classes counted only if seen (a class that occurs nowhere
  shifts the last class, which occurs exactly once); a ``bincount`` without
  ``minlength``.
- precision_recall_f1: nan for 0/0; precision and recall swapped; the
  arithmetic mean for F1; two things returned; one class only; a scaled
  precision; a crash; a loop that stops before the last class.
- classify: the last padded column; position ``lengths`` (one past the end);
  the mean over positions; probabilities instead of logits; the wrong shape.
- fine_tune: the encoder frozen; the encoder given the head's learning rate
  (one parameter group); the head given encoder_lr; the two rates swapped;
  gradients never zeroed; no step; the wrong number of losses; a loop that
  zeroes the test-time weights after returning good-looking losses.
"""

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.adapt_and_evaluate import (
    check_classify,
    check_confusion_matrix,
    check_fine_tune,
    check_precision_recall_f1,
)


# ---------------------------------------------------------------- right answers
def good_confusion(y_true, y_pred, k):
    matrix = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        matrix[t, p] += 1
    return matrix


def _prf(y_true, y_pred, k, *, zero=0.0, swap=False, arithmetic=False):
    m = good_confusion(y_true, y_pred, k).double()
    tp, predicted, actual = m.diag(), m.sum(0), m.sum(1)
    p = torch.where(predicted > 0, tp / predicted.clamp(min=1), zero) if zero == 0.0 \
        else tp / predicted
    r = torch.where(actual > 0, tp / actual.clamp(min=1), 0.0)
    if swap:
        p, r = r, p
    f1 = (p + r) / 2 if arithmetic else torch.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return p, r, f1


def good_classify(encoder, head, tokens, lengths):
    hidden = encoder.features(tokens)
    return head(hidden[torch.arange(len(tokens)), lengths - 1])


def _fine_tune(train_encoder=True, zero_grad=True, step=True, head_lr=None, enc_lr=None,
               one_group=False):
    def fine_tune(model, tokens, lengths, labels, steps, lr, encoder_lr, generator):
        if one_group:  # one optimizer over every weight: the encoder gets lr too
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        else:
            groups = [{"params": model.head.parameters(), "lr": head_lr or lr}]
            if train_encoder:
                groups.append({"params": model.encoder.parameters(),
                               "lr": enc_lr or encoder_lr})
            optimizer = torch.optim.Adam(groups)
        model.train()
        losses = []
        for _ in range(steps):
            batch = torch.randint(0, len(labels), (16,), generator=generator)
            loss = torch.nn.functional.cross_entropy(model(tokens[batch], lengths[batch]),
                                                     labels[batch])
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            losses.append(float(loss.detach()))
        return losses
    return fine_tune


def other_fine_tune(model, tokens, lengths, labels, steps, lr, encoder_lr, generator):
    """Also right: a permutation per pass, model.zero_grad(), a tensor loss list."""
    optimizer = torch.optim.Adam([{"params": model.encoder.parameters(), "lr": encoder_lr},
                                  {"params": model.head.parameters(), "lr": lr}])
    order = torch.randperm(len(labels), generator=generator)
    losses = []
    for i in range(steps):
        batch = order[(torch.arange(16) + 16 * i) % len(labels)]
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(tokens[batch], lengths[batch]),
                                                 labels[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return losses


def bincount_confusion(y_true, y_pred, k):
    return torch.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def seen_classes_confusion(y_true, y_pred, k):
    classes = torch.unique(torch.cat([y_true, y_pred]))  # only the classes that occur
    index = {int(c): i for i, c in enumerate(classes)}
    matrix = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        matrix[index[t], index[p]] += 1
    return matrix


def prf_but_last(y_true, y_pred, k):
    p, r, f = _prf(y_true, y_pred, k)
    for value in (p, r, f):
        value[k - 1] = 0.0  # a loop over range(k - 1)
    return p, r, f


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_metric_checks_pass_correct_answers(seed, capsys):
    check_confusion_matrix(good_confusion, seed=seed)
    check_confusion_matrix(lambda t, p, k: good_confusion(t, p, k).numpy(), seed=seed)
    check_confusion_matrix(lambda t, p, k: good_confusion(t, p, k).tolist(), seed=seed)
    check_confusion_matrix(bincount_confusion, seed=seed)
    check_precision_recall_f1(_prf, seed=seed)
    check_precision_recall_f1(lambda t, p, k: tuple(x.float().numpy() for x in _prf(t, p, k)),
                              seed=seed)
    assert capsys.readouterr().out.count("passed") == 6


@pytest.mark.parametrize("answer, says", [
    (seen_classes_confusion, "wrong predicted columns|wrong in some cells"),
    (lambda t, p, k: torch.bincount(t * k + p).reshape(k, k), "raised|shape"),
])
def test_confusion_check_catches_a_class_that_occurs_once_or_nowhere(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_confusion_matrix(answer)


def test_prf_check_catches_a_loop_that_misses_the_last_class():
    with pytest.raises(CheckFailed, match="is not TP"):
        check_precision_recall_f1(prf_but_last)


@pytest.mark.parametrize("answer, says", [
    (lambda t, p, k: good_confusion(t, p, k).T, "transposed"),
    (lambda t, p, k: good_confusion(t, p, k) * 2, "add up to"),
    (lambda t, p, k: good_confusion(t, p, k)[:, torch.randperm(k, generator=torch.Generator()
                                                               .manual_seed(1))],
     "wrong predicted columns"),
    (lambda t, p, k: torch.zeros(k + 1, k + 1), "shape"),
    (lambda t, p, k: not_implemented("confusion_matrix"), None),
])
def test_confusion_check_fails_wrong_answers(answer, says):
    if says is None:
        with pytest.raises(ExerciseNotImplemented):
            check_confusion_matrix(answer)
        return
    with pytest.raises(CheckFailed, match=says):
        check_confusion_matrix(answer)


@pytest.mark.parametrize("answer, says", [
    (lambda t, p, k: _prf(t, p, k, zero=float("nan")), "nan"),
    (lambda t, p, k: _prf(t, p, k, swap=True), "swapped"),
    (lambda t, p, k: _prf(t, p, k, arithmetic=True), "harmonic"),
    (lambda t, p, k: _prf(t, p, k)[:2], "three things"),
    (lambda t, p, k: tuple(x[:1] for x in _prf(t, p, k)), "shape"),
    (lambda t, p, k: (_prf(t, p, k)[0] * 0.9, *_prf(t, p, k)[1:]), "precision is not"),
    (lambda t, p, k: 1 / 0, "ZeroDivisionError"),
])
def test_prf_check_fails_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_precision_recall_f1(answer)


def test_classify_check(capsys):
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    check_classify(good_classify)
    assert "passed" in capsys.readouterr().out
    assert torch.equal(torch.rand(3), expected)  # the global random stream is untouched
    wrong = {
        "last column": lambda e, h, t, n: h(e.features(t)[:, -1]),
        "one past the last": lambda e, h, t, n: h(e.features(t)[torch.arange(len(t)),
                                                                 n.clamp(max=t.shape[1] - 1)]),
        "averaged": lambda e, h, t, n: h(e.features(t).mean(dim=1)),
        "probabilities": lambda e, h, t, n: torch.softmax(good_classify(e, h, t, n), dim=-1),
        "shape": lambda e, h, t, n: good_classify(e, h, t, n)[:, :1],
    }
    for says, answer in wrong.items():
        with pytest.raises(CheckFailed, match=says):
            check_classify(answer)


@pytest.mark.parametrize("answer", [_fine_tune(), other_fine_tune])
def test_fine_tune_check_passes_right_answers(answer, capsys):
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    check_fine_tune(answer)
    assert "passed" in capsys.readouterr().out
    assert torch.equal(torch.rand(3), expected)  # the global random stream is untouched


@pytest.mark.parametrize("answer, says", [
    (_fine_tune(train_encoder=False), "frozen features"),
    (_fine_tune(one_group=True), "encoder was updated with the head's learning rate"),
    (_fine_tune(head_lr=5e-4), "head was updated with encoder_lr"),
    (_fine_tune(head_lr=5e-4, enc_lr=3e-3), "swapped"),
    (_fine_tune(zero_grad=False), "zero_grad"),
    (_fine_tune(step=False), "did not change"),
    (lambda *args: _fine_tune()(*args)[:3], "3 losses"),
])
def test_fine_tune_check_fails_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_fine_tune(answer)


def test_the_wrappers_take_nothing_from_the_submission_but_the_function():
    import inspect
    for check in (check_confusion_matrix, check_precision_recall_f1, check_classify,
                  check_fine_tune):
        assert list(inspect.signature(check).parameters) == ["answer", "seed"]


# ---------------------------------------------------------------- independent right answers
def numpy_confusion(y_true, y_pred, k):
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true.numpy(), y_pred.numpy()), 1)
    return matrix


def loop_prf(y_true, y_pred, k):
    t, p = y_true.tolist(), y_pred.tolist()
    out = ([], [], [])
    for c in range(k):
        tp = sum(a == c and b == c for a, b in zip(t, p, strict=True))
        predicted, actual = p.count(c), t.count(c)
        prec = tp / predicted if predicted else 0.0
        rec = tp / actual if actual else 0.0
        for values, v in zip(out, (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec
                                   else 0.0), strict=True):
            values.append(v)
    return out


def numpy_prf(y_true, y_pred, k):
    m = numpy_confusion(y_true, y_pred, k).astype(float)
    tp = np.diag(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.nan_to_num(tp / m.sum(0))
        r = np.nan_to_num(tp / m.sum(1))
        return p, r, np.nan_to_num(2 * tp / (m.sum(0) + m.sum(1)))  # the same harmonic mean


def gather_classify(encoder, head, tokens, lengths):
    hidden = encoder.features(tokens)
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
    last = hidden.gather(1, index).squeeze(1)
    return torch.einsum("bh,ch->bc", last, head.weight) + head.bias


def loop_classify(encoder, head, tokens, lengths):
    rows = []
    for row, n in zip(tokens, lengths.tolist(), strict=True):
        rows.append(head(encoder.features(row[None, :n])[0, -1]))  # the sentence alone
    return torch.stack(rows)


@pytest.mark.parametrize("check, answer", [
    (check_confusion_matrix, numpy_confusion), (check_confusion_matrix, bincount_confusion),
    (check_precision_recall_f1, loop_prf), (check_precision_recall_f1, numpy_prf),
    (check_classify, gather_classify), (check_classify, loop_classify),
], ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("seed", [2, 9, 31])
def test_independent_right_answers_pass(check, answer, seed):
    assert check(answer, seed=seed).passed


def test_fine_tune_passes_at_another_seed():
    assert check_fine_tune(other_fine_tune, seed=3).passed


# ---------------------------------------------------------------- hostile answers
def _edits_labels(y_true, y_pred, k):
    y_pred.copy_(y_true)  # a check reading y_pred afterwards would see a perfect classifier
    return torch.diag(torch.bincount(y_true, minlength=k))


def _edits_labels_prf(y_true, y_pred, k):
    y_pred.copy_(y_true)
    ones = torch.ones(k)
    return ones, ones, ones


def _zeroes_encoder(encoder, head, tokens, lengths):
    with torch.no_grad():
        for p in [*encoder.parameters(), *head.parameters()]:
            p.zero_()  # a reference from these weights: all logits 0
    return torch.zeros(len(tokens), head.out_features)


def _good_losses_then_zero(model, tokens, lengths, labels, steps, lr, encoder_lr, generator):
    losses = _fine_tune()(model, tokens, lengths, labels, steps, lr, encoder_lr, generator)
    with torch.no_grad():
        for p in model.head.parameters():
            p.zero_()  # the returned weights no longer classify anything
    return losses


@pytest.mark.parametrize("check, answer", [
    (check_confusion_matrix, _edits_labels), (check_precision_recall_f1, _edits_labels_prf),
    (check_classify, _zeroes_encoder), (check_fine_tune, _good_losses_then_zero)])
def test_answers_that_edit_their_inputs_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(answer)
