"""Tests for utils.lm.lstm and utils.lm.sampling: shapes, sizes, sampling, the temperature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.data.text import EOS, Vocab
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.sampling import generate, sample_next


def _model(tie: bool = False, **kw) -> LSTMLanguageModel:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=50, emb_size=16, hidden_size=16 if tie else 24,
                         num_layers=2, dropout=0.0, tie_weights=tie, **kw)
    return LSTMLanguageModel(config).eval()


def test_model_config_reuses_the_parameter_checks():

    from utils.params import ParameterError

    with pytest.raises(ParameterError, match="parameter 'hidden_size' must be an integer >= 1"):
        ModelConfig(vocab_size=10, hidden_size=0)
    with pytest.raises(ParameterError, match="'vocab_size'"):
        ModelConfig(vocab_size=10.0)
    with pytest.raises(ParameterError, match="'dropout' must be a number >= 0.0 and < 1.0"):
        ModelConfig(vocab_size=10, dropout=-0.1)
    config = ModelConfig(vocab_size=np.int64(10), emb_size=np.int32(8), hidden_size=8)
    assert type(config.vocab_size) is int and config == ModelConfig(10, 8, 8)


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
    model.train()  # generate must switch to evaluation mode and back (dropout is 0 here)
    greedy = generate(model, vocab, ["w1", "w2"], max_new_tokens=5, temperature=0)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    ids = vocab.encode(["w1", "w2"])
    for _ in range(5):  # the slow way: rerun the whole prefix each time
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert greedy == vocab.decode(ids[2:])


def test_generate_runs_in_eval_mode_and_restores_training_mode_even_when_it_raises():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=50, emb_size=16, hidden_size=16,
                                          dropout=0.5)).train()
    vocab = Vocab([[f"w{i}" for i in range(48)]])
    # With dropout active two runs would differ; in evaluation mode greedy text is fixed.
    first = generate(model, vocab, ["w1"], max_new_tokens=8, temperature=0)
    assert generate(model, vocab, ["w1"], max_new_tokens=8, temperature=0) == first
    assert model.training
    too_big = Vocab([[f"w{i}" for i in range(60)]])  # ids beyond the model's vocabulary
    with pytest.raises(IndexError):
        generate(model, too_big, ["w59"], max_new_tokens=3)
    assert model.training and all(m.training for m in model.modules())


def test_generate_rejects_bad_temperature_before_running():
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        generate(_model(), Vocab([["a"]]), ["a"], temperature=float("nan"))


def test_get_device_honours_course_device(monkeypatch):
    from utils.notebook import set_seed
    from utils.runtime.device import get_device

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


def test_softmax_at_temperature_is_the_one_temperature_transform():
    from utils.evaluate.calibration import apply_temperature, nll_at_temperature
    from utils.lm.sampling import softmax_at_temperature
    from utils.notebook.widgets import at_temperature

    probs = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.1, 0.1, 0.7, 0.1]], dtype=torch.float64)
    for t in (0.25, 0.5, 1.0, 3.0):
        expected = probs ** (1 / t) / (probs ** (1 / t)).sum(-1, keepdim=True)  # p^(1/T)
        got = softmax_at_temperature(probs.log(), t)
        torch.testing.assert_close(got, expected)
        assert got[0, 3] == 0  # a word of probability 0 stays at 0
        torch.testing.assert_close(apply_temperature(probs, t), expected)
        row = at_temperature(dict(zip("abcd", probs[0].tolist(), strict=True)), t)
        assert list(row.values()) == pytest.approx(expected[0].tolist())
        logp = softmax_at_temperature(probs.log(), t, log=True)
        torch.testing.assert_close(logp.exp(), expected)
    # Rows far apart (hundreds of logits) are each normalised on their own.
    wide = torch.tensor([[800.0, 799.0], [-900.0, -901.0]], dtype=torch.float64)
    torch.testing.assert_close(softmax_at_temperature(wide, 1.0),
                               torch.softmax(torch.tensor([[1.0, 0.0]] * 2,
                                                          dtype=torch.float64), -1))
    # T -> 0 is the argmax; the NLL of calibration uses the same transform.
    assert softmax_at_temperature(torch.tensor([[0.1, 2.0, -1.0]]), 0).tolist() == [[0, 1, 0]]
    targets = torch.tensor([0, 2])
    assert nll_at_temperature(probs.log(), targets, 2.0) == pytest.approx(
        float(torch.nn.functional.cross_entropy(probs.log() / 2.0, targets)))
    for bad in (-1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="temperature"):
            softmax_at_temperature(probs, bad)


def test_agreement_margins_run_in_eval_mode_and_restore_the_mode():
    from utils.data.corpus import CorpusConfig, SyntheticLanguage, agreement_items
    from utils.evaluate.agreement import agreement_accuracy, lstm_verb_margins

    language = SyntheticLanguage(CorpusConfig())
    vocab = Vocab.from_dict({"tokens": language.vocab})
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=len(vocab), emb_size=16, hidden_size=16,
                                          dropout=0.5)).train()
    items = agreement_items(CorpusConfig(seed=0), n=12)
    margins = lstm_verb_margins(model, vocab, items)
    assert model.training  # restored
    # Dropout was off: the same margins again, and equal to one item scored by hand.
    np.testing.assert_allclose(lstm_verb_margins(model, vocab, items), margins)
    model.eval()
    item = items[0]
    with torch.no_grad():
        logits, _ = model(torch.tensor([vocab.encode([EOS, *item.prefix])]))
    logp = torch.log_softmax(logits[0, -1].double(), -1)
    by_hand = logp[vocab.stoi[item.correct]] - logp[vocab.stoi[item.wrong]]
    assert margins[0] == pytest.approx(float(by_hand), abs=1e-6)
    assert 0 <= agreement_accuracy(margins) <= 1
    with pytest.raises(ValueError, match="no agreement items"):
        lstm_verb_margins(model, vocab, [])
