"""The plain RNN language model of chapter 4: an ungated recurrence, the LSTM's interface."""

from __future__ import annotations

import dataclasses

import torch

from utils.data import CorpusConfig
from utils.lm import PretrainConfig
from utils.lm.lstm import ModelConfig
from utils.lm.rnn import RNNLanguageModel, pretrained_rnn


def test_the_recurrence_is_tanh_of_input_and_previous_state():
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=20, emb_size=8, hidden_size=8,
                                         num_layers=1)).eval()
    tokens = torch.randint(0, 20, (3, 5))
    rnn, h = model.rnn, torch.zeros(3, 8)
    for t in range(5):  # written out: h_t = tanh(W x_t + b_W + U h_{t-1} + b_U)
        x = model.embedding(tokens[:, t])
        h = torch.tanh(x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T
                       + rnn.bias_hh_l0)
    features = model.features(tokens)
    assert torch.allclose(features[:, -1], h, atol=1e-6)
    logits, (state,) = model(tokens)
    assert logits.shape == (3, 5, 20) and torch.allclose(state[-1], h, atol=1e-6)
    assert model.decoder.weight is model.embedding.weight  # tied, as the LSTM


def test_carried_state_continues_the_text():
    model = RNNLanguageModel(ModelConfig(vocab_size=20, emb_size=8, hidden_size=8)).eval()
    tokens = torch.randint(0, 20, (2, 10))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :4])
    second, _ = model(tokens[:, 4:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_pretrained_rnn_learns_and_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    base = PretrainConfig(corpus=CorpusConfig(n_sentences=400), emb_size=32, hidden_size=32)
    config = dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=5,
                                                               batch_size=8, lr=1e-2))
    run = pretrained_rnn(config)
    valid = run.record.valid
    assert not run.from_cache and valid[-1]["perplexity"] < 0.5 * len(run.vocab)
    again = pretrained_rnn(config)
    assert again.from_cache
    assert torch.equal(again.model.rnn.weight_hh_l0, run.model.rnn.weight_hh_l0)
