"""Zero-shot classification by comparing continuations' probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.adapt_and_evaluate.zero_shot import PROMPT, zero_shot_margins
from utils.data import CorpusConfig
from utils.data.corpus.grammar import REACTIONS
from utils.lm import corpus_and_vocab


class Oracle(nn.Module):
    """A stand-in language model: it boosts positive reactions after "superb", negative after
    "awful", and records the inputs it was given."""

    def __init__(self, vocab, causal=True):
        super().__init__()
        self.vocab, self.seen = vocab, []
        self.config = type("C", (), {"causal": causal})()
        self.scale = nn.Parameter(torch.ones(()))

    def features(self, tokens):
        self.seen.append(tokens.clone())
        return tokens

    def decoder(self, tokens):
        logits = torch.zeros(*tokens.shape, len(self.vocab) + 1)
        sign = ((tokens == self.vocab.stoi["superb"]).any(1).float()
                - (tokens == self.vocab.stoi["awful"]).any(1).float())  # (batch,)
        for word in REACTIONS[1][:2]:
            logits[:, :, self.vocab.stoi[word]] += 2.0 * sign[:, None]
        return logits * self.scale

    def forward(self, tokens, state=None):
        return self.decoder(self.features(tokens)), state


@pytest.fixture(scope="module")
def vocab():
    return corpus_and_vocab(CorpusConfig(n_sentences=50))[1]


def test_margin_is_the_log_ratio_of_the_two_verbaliser_sets(vocab):
    model = Oracle(vocab)
    reviews = [["the", "film", "was", "superb", "."], ["the", "meal", "was", "awful", "."],
               ["the", "show", "was", "very", "dull", "."]]
    margins = zero_shot_margins(model, vocab, reviews)
    # two of six positive words get +2 (or -2): log((2e^2 + 4) / 6) with the sign
    assert margins == pytest.approx([np.log((2 * np.e**2 + 4) / 6),
                                     np.log((2 * np.e**-2 + 4) / 6), 0.0])
    assert [tuple(t.shape) for t in model.seen] == [(2, 7), (1, 8)]  # batched by length
    first = model.seen[0][0].tolist()
    assert first[0] == vocab.eos_id and first[-2:] == vocab.encode(list(PROMPT))
    assert vocab.stoi["."] not in first  # the review's full stop is dropped


def test_masked_models_are_scored_at_the_mask(vocab):
    model = Oracle(vocab, causal=False)
    mask_id = len(vocab)
    margins = zero_shot_margins(model, vocab, [["the", "film", "was", "superb", "."]],
                                mask_id=mask_id)
    tokens = model.seen[0][0].tolist()
    assert tokens[-2:] == [mask_id, vocab.stoi["."]]
    assert margins[0] > 0
    with pytest.raises(ValueError, match="no sentences"):
        zero_shot_margins(model, vocab, [])


def test_the_pretrained_model_classifies_with_no_labels():
    from utils.adapt_and_evaluate.zero_shot import zero_shot_experiment
    from utils.lm import pretrained_model

    frame = zero_shot_experiment(pretrained_model(progress=False), seeds=(0,), n_test=200)
    assert list(frame.columns) == ["mode", "seed", "budget", "accuracy", "confidence"]
    assert frame.accuracy.iloc[0] > 0.9  # the default LSTM links sentiment to reactions
