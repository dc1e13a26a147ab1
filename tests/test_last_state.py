"""The source article's model: last state -> linear -> softmax, one next word per window."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from utils.data import CorpusConfig
from utils.lm.last_state import (
    LastStateConfig,
    LastStateLanguageModel,
    evaluate_next_word,
    next_word_windows,
    pretrained_last_state,
)


def test_windows_and_their_next_words():
    stream = torch.arange(10)
    inputs, targets = next_word_windows(stream, 3, stride=2)
    assert inputs.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert targets.tolist() == [3, 5, 7, 9]
    with pytest.raises(ValueError):
        next_word_windows(stream, 10)


def test_keras_defaults_one_bias_per_gate_and_forget_bias_one():
    model = LastStateLanguageModel(30, 8, 6)
    lstm = model.lstm
    assert torch.equal(lstm.bias_hh_l0, torch.zeros(24)) and not lstm.bias_hh_l0.requires_grad
    assert torch.equal(lstm.bias_ih_l0[6:12], torch.ones(6))  # the forget gate (i, f, g, o)
    assert torch.equal(lstm.bias_ih_l0[:6], torch.zeros(6))
    w = lstm.weight_hh_l0
    assert torch.allclose(w.T @ w, torch.eye(6), atol=1e-5)  # orthogonal recurrent kernel
    assert model.embedding.weight.abs().max() <= 0.05


def test_only_the_last_state_decides_the_prediction():
    model = LastStateLanguageModel(30, 8, 6).eval()
    tokens = torch.randint(0, 30, (4, 7))
    logits, _ = model(tokens)
    _, (h, _) = model.lstm(model.embedding(tokens))
    assert logits.shape == (4, 1, 30)
    assert torch.allclose(logits[:, 0], model.decoder(h[-1]), atol=1e-6)
    metrics = evaluate_next_word(model, tokens, torch.arange(4), batch_size=3)
    expected = F.cross_entropy(logits[:, 0], torch.arange(4)).item()
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)


def test_trained_model_beats_a_uniform_guess_and_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    config = LastStateConfig(corpus=CorpusConfig(n_sentences=400), emb_size=16,
                             hidden_size=16, window=8, lr=1e-2, steps=150)
    run = pretrained_last_state(config)
    from utils.data.text import lm_stream
    inputs, targets = next_word_windows(lm_stream(run.corpus.valid, run.vocab), 8)
    metrics = evaluate_next_word(run.model, inputs, targets)
    assert metrics["perplexity"] < 0.25 * len(run.vocab)
    again = pretrained_last_state(config)
    assert again.from_cache
    assert evaluate_next_word(again.model, inputs, targets) == pytest.approx(metrics)
