"""Adapting the pretrained model: shapes, modes, and that pretraining pays off with few labels.

The margins were set from a pilot run (3 seeds, 100 labels, the default
AdaptConfig): scratch stayed at chance (about 50 %) at every budget up to
1000 labels, frozen and fine-tuned pretrained models reached 99-100 %.
"""

import copy

import pytest
import torch

from utils.adapt.classifier import (
    AdaptConfig,
    encode_sentences,
    label_budget_experiment,
    make_classifier,
    predict_proba,
    summarise,
    train_classifier,
)
from utils.lm.pretrained import pretrained_model


@pytest.fixture(scope="module")
def pretrained():
    return pretrained_model(progress=False)


def test_encode_pads_and_prepends_eos(pretrained):
    tokens, lengths = encode_sentences([["the", "film", "was", "good", "."], ["the", "."]],
                                       pretrained.vocab)
    assert tokens.shape == (2, 6) and lengths.tolist() == [6, 3]
    assert (tokens[:, 0] == pretrained.vocab.eos_id).all()
    assert (tokens[1, 3:] == pretrained.vocab.eos_id).all()


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_head_shape_and_padding_invariance(pretrained, pooling):
    model = make_classifier("frozen", pretrained, n_classes=3, pooling=pooling)
    tokens, lengths = encode_sentences([["the", "film", "was", "good", "."], ["the", "."]],
                                       pretrained.vocab)
    logits = model(tokens, lengths)
    assert logits.shape == (2, 3)
    alone = model(tokens[1:, :3], lengths[1:])  # the short sentence without padding
    torch.testing.assert_close(logits[1:], alone)


def test_modes_train_the_right_weights_and_leave_the_pretrained_model_alone(pretrained):
    before = copy.deepcopy(pretrained.model.state_dict())
    tokens, lengths = encode_sentences([["the", "film", "was", "good", "."]] * 4
                                       + [["the", "film", "was", "bad", "."]] * 4,
                                       pretrained.vocab)
    labels = torch.tensor([1] * 4 + [0] * 4)
    for mode, encoder_moves in (("frozen", False), ("finetune", True), ("scratch", True)):
        model = make_classifier(mode, pretrained, seed=0)
        start = copy.deepcopy(model.encoder.state_dict())
        losses = train_classifier(model, tokens, lengths, labels,
                                  AdaptConfig(mode=mode, epochs=1, min_steps=30))
        assert len(losses) == 30 and losses[-1] < losses[0]
        moved = any(not torch.equal(start[k], v) for k, v in model.encoder.state_dict().items())
        assert moved == encoder_moves, mode
    for k, v in pretrained.model.state_dict().items():
        assert torch.equal(before[k], v), f"the pretrained model's {k} changed"


def test_training_is_seeded(pretrained):
    tokens, lengths = encode_sentences([["the", "film", "was", "good", "."],
                                        ["the", "film", "was", "bad", "."]], pretrained.vocab)
    labels = torch.tensor([1, 0])
    probs = []
    for _ in range(2):
        model = make_classifier("finetune", pretrained, seed=3)
        train_classifier(model, tokens, lengths, labels, AdaptConfig(seed=3, min_steps=5))
        probs.append(predict_proba(model, tokens, lengths))
    torch.testing.assert_close(probs[0], probs[1])


def test_pretraining_beats_scratch_with_few_labels(pretrained):
    """papers.md, Lab 2: pretrained@100 >= scratch@100 + 10 points, mean of >= 3 seeds."""
    seeds = (0, 1, 2)
    rows = label_budget_experiment([100], ("scratch", "frozen", "finetune"), seeds,
                                   pretrained=pretrained, n_test=400, progress=False)
    summary = summarise(rows)
    scratch = summary[("scratch", 100)]
    for mode in ("frozen", "finetune"):
        ours = summary[(mode, 100)]
        spread = max(ours["max"] - ours["min"], scratch["max"] - scratch["min"])
        margin = ours["mean"] - scratch["mean"]
        message = (f"{mode}@100 {ours['mean']:.1%} [{ours['min']:.1%}, {ours['max']:.1%}] vs "
                   f"scratch@100 {scratch['mean']:.1%} [{scratch['min']:.1%}, "
                   f"{scratch['max']:.1%}]: margin {margin:+.1%}, spread {spread:.1%}")
        assert margin >= 0.10, message
        assert margin > spread, message
        assert ours["min"] > scratch["max"], message  # every seed, not only the mean
