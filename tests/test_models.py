"""Tests for utils.models and utils.sampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from utils.data.text import Vocab
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.sampling import generate, sample_next


def _model(tie: bool = False, **kw) -> LSTMLanguageModel:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=50, emb_size=16, hidden_size=16 if tie else 24,
                         num_layers=2, dropout=0.0, tie_weights=tie, **kw)
    return LSTMLanguageModel(config).eval()


def test_tied_weights_need_equal_sizes():
    with pytest.raises(ValueError, match="emb_size must equal hidden_size"):
        ModelConfig(vocab_size=10, emb_size=8, hidden_size=16, tie_weights=True)
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(vocab_size=10, dropout=1.0)


def test_num_parameters_matches_the_formula():
    v, e, h = 50, 16, 24
    lstm = 4 * h * (e + h) + 8 * h + 4 * h * (h + h) + 8 * h  # two layers, two biases each
    assert _model().num_parameters() == v * e + lstm + h * v + v
    tied = _model(tie=True)
    assert tied.decoder.weight is tied.embedding.weight
    lstm16 = 4 * 16 * 32 + 8 * 16 + 4 * 16 * 32 + 8 * 16
    assert tied.num_parameters() == 50 * 16 + lstm16 + 50  # the shared matrix counts once


def test_forward_shapes_and_features_feed_the_decoder():
    model = _model()
    tokens = torch.randint(0, 50, (3, 7))
    logits, (h, c) = model(tokens)
    assert logits.shape == (3, 7, 50)
    assert h.shape == c.shape == (2, 3, 24)
    features = model.features(tokens)
    assert features.shape == (3, 7, 24)
    torch.testing.assert_close(model.decoder(features), logits)
    # The top layer's last hidden state is the last feature vector.
    torch.testing.assert_close(h[-1], features[:, -1])


def test_carrying_the_state_equals_one_long_pass():
    model = _model()
    tokens = torch.randint(0, 50, (2, 12))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :5])
    second, _ = model(tokens[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


def test_untrained_model_is_near_uniform():
    # Small initial weights: perplexity of an untrained model is close to vocab_size.
    model = _model()
    tokens = torch.randint(0, 50, (4, 30))
    logits, _ = model(tokens)
    loss = F.cross_entropy(logits.reshape(-1, 50), torch.randint(0, 50, (120,)))
    assert abs(math.exp(loss.item()) - 50) < 5


def test_sample_next_temperature_zero_and_top_one_are_argmax():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    assert sample_next(logits, temperature=0).tolist() == [1, 0]
    g = torch.Generator().manual_seed(0)
    assert sample_next(logits, temperature=5.0, top_k=1, generator=g).tolist() == [1, 0]
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        sample_next(logits, temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        sample_next(logits, top_k=0)


def test_sample_next_follows_the_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 0.5])
    g = torch.Generator().manual_seed(1)
    n = 20_000
    draws = sample_next(logits.expand(n, 4), temperature=2.0, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / n
    torch.testing.assert_close(freq, torch.softmax(logits / 2.0, dim=0), atol=0.015, rtol=0)
    # top_k=2 keeps tokens 0 and 3 only, renormalised.
    draws = sample_next(logits.expand(n, 4), top_k=2, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / n
    expected = torch.softmax(torch.tensor([1.0, 0.5]), dim=0)
    assert freq[1] == 0 and freq[2] == 0
    torch.testing.assert_close(freq[[0, 3]], expected, atol=0.015, rtol=0)


def test_generate_is_seeded_and_greedy_matches_argmax():
    model = _model()
    vocab = Vocab([[f"w{i}" for i in range(48)]])
    assert len(vocab) == 50
    a = generate(model, vocab, ["w1", "w2"], max_new_tokens=12, temperature=1.0, seed=3)
    b = generate(model, vocab, ["w1", "w2"], max_new_tokens=12, temperature=1.0, seed=3)
    assert a == b and len(a) == 12
    greedy = generate(model, vocab, ["w1", "w2"], max_new_tokens=5, temperature=0)
    ids = vocab.encode(["w1", "w2"])
    for _ in range(5):  # the slow way: rerun the whole prefix each time
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert greedy == vocab.decode(ids[2:])
    assert model.training is False


def test_generate_rejects_bad_temperature_before_running():
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        generate(_model(), Vocab([["a"]]), ["a"], temperature=float("nan"))


def test_get_device_honours_course_device(monkeypatch):
    import numpy as np

    from utils.lm.device import get_device, set_seed

    get_device.cache_clear()
    try:
        monkeypatch.setenv("COURSE_DEVICE", "cpu")
        assert get_device() == torch.device("cpu")
        get_device.cache_clear()
        monkeypatch.setenv("COURSE_DEVICE", "no-such-device")
        with pytest.raises(ValueError, match="COURSE_DEVICE"):
            get_device()
    finally:
        get_device.cache_clear()
    set_seed(5)
    a = (torch.rand(3), np.random.rand(3))
    set_seed(5)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all()
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


def test_decoder_input_feeds_the_decoder_like_forward():
    model = _model()
    tokens = torch.randint(0, 50, (3, 7))
    logits, (h, c) = model(tokens)
    hidden, (h2, c2) = model.decoder_input(tokens)
    assert hidden.shape == (3, 7, 24)
    torch.testing.assert_close(model.decoder(hidden), logits)
    torch.testing.assert_close(h2, h)
    torch.testing.assert_close(c2, c)
    # In training mode it includes the output dropout, exactly as forward does.
    torch.manual_seed(0)
    dropped = LSTMLanguageModel(ModelConfig(vocab_size=50, emb_size=16, hidden_size=24,
                                            dropout=0.5, tie_weights=False)).train()
    torch.manual_seed(1)
    logits, _ = dropped(tokens)
    torch.manual_seed(1)
    hidden, _ = dropped.decoder_input(tokens)
    torch.testing.assert_close(dropped.decoder(hidden), logits)


def test_unigram_bias_starts_at_the_unigram_perplexity():
    from utils.lm.training import init_output_bias

    model = _model()
    stream = torch.randint(0, 10, (2000,)) * torch.randint(1, 5, (2000,))  # skewed, ids < 50
    init_output_bias(model, stream, smoothing=1e-3)
    logits, _ = model(stream[None, :-1])
    loss = F.cross_entropy(logits[0], stream[1:]).item()
    counts = torch.bincount(stream, minlength=50).double()
    p = counts / counts.sum()
    unigram_ppl = math.exp(-(p[p > 0] * p[p > 0].log()).sum().item())
    assert abs(math.exp(loss) - unigram_ppl) < 0.1 * unigram_ppl
    assert math.exp(loss) < 0.7 * 50  # far below the uniform model's vocab_size
