"""Lab 05's checks pass the right answer and fail each plausible wrong one, saying which."""

import pytest
import torch

from utils.adapt.classifier import encode_sentences, make_classifier
from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.adapt_and_evaluate import (
    check_classify,
    check_confusion_matrix,
    check_fine_tune,
    check_precision_recall_f1,
)
from utils.data.corpus import sentiment_task
from utils.lm.pretrained import pretrained_model


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


def _fine_tune(train_encoder=True, zero_grad=True, step=True):
    def fine_tune(model, tokens, lengths, labels, steps, lr, encoder_lr):
        groups = [{"params": model.head.parameters(), "lr": lr}]
        if train_encoder:
            groups.append({"params": model.encoder.parameters(), "lr": encoder_lr})
        optimizer = torch.optim.Adam(groups)
        losses = []
        for _ in range(steps):
            batch = torch.randint(0, len(labels), (16,))
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


@pytest.fixture(scope="module")
def pretrained():
    return pretrained_model(progress=False)


@pytest.fixture(scope="module")
def data(pretrained):
    train, test = sentiment_task(pretrained.config.corpus, n_train=50, n_test=300, seed=0)
    tokens, lengths = encode_sentences([s for s, _ in train], pretrained.vocab)
    test_tokens, test_lengths = encode_sentences([s for s, _ in test], pretrained.vocab)
    return (tokens, lengths, torch.tensor([y for _, y in train]), test_tokens, test_lengths,
            torch.tensor([y for _, y in test]))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_metric_checks_pass_correct_answers(seed, capsys):
    check_confusion_matrix(good_confusion, seed=seed)
    check_confusion_matrix(lambda t, p, k: good_confusion(t, p, k).numpy(), seed=seed)
    check_precision_recall_f1(_prf, seed=seed)
    assert capsys.readouterr().out.count("passed") == 3


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
    (lambda t, p, k: (_prf(t, p, k)[0] * 0.9, *_prf(t, p, k)[1:]), "precision differs"),
    (lambda t, p, k: 1 / 0, "ZeroDivisionError"),
])
def test_prf_check_fails_wrong_answers(answer, says):
    with pytest.raises(CheckFailed, match=says):
        check_precision_recall_f1(answer)


def test_classify_check(pretrained, capsys):
    check_classify(good_classify, pretrained.model)
    assert "passed" in capsys.readouterr().out
    wrong = {
        "last column": lambda e, h, t, n: h(e.features(t)[:, -1]),
        "averaged": lambda e, h, t, n: h(e.features(t).mean(dim=1)),
        "probabilities": lambda e, h, t, n: torch.softmax(good_classify(e, h, t, n), dim=-1),
        "shape": lambda e, h, t, n: good_classify(e, h, t, n)[:, :1],
    }
    for says, answer in wrong.items():
        with pytest.raises(CheckFailed, match=says):
            check_classify(answer, pretrained.model)


def test_fine_tune_check(pretrained, data, capsys):
    def make():
        return make_classifier("finetune", pretrained, seed=0)

    check_fine_tune(_fine_tune(), make, data)
    assert "passed" in capsys.readouterr().out
    for answer, says in ((_fine_tune(train_encoder=False), "frozen features"),
                         (_fine_tune(step=False), "did not change"),
                         (lambda *args: [0.5] * 3, "3 losses")):
        with pytest.raises(CheckFailed, match=says):
            check_fine_tune(answer, make, data)
