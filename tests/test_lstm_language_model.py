"""The course's tiny foundation model (chapter 4): better than n-grams, near the floor, cached.

Uses the default `pretrained_model()`, which is in the model cache after its
first training (about a minute), so these tests mostly load and evaluate.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from utils.data.corpus import CorpusConfig, SyntheticLanguage, agreement_items
from utils.data.text import lm_stream
from utils.evaluate.agreement import agreement_accuracy, lstm_verb_margins, ngram_verb_margins
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.ngram import best_ngram_baseline
from utils.lm.pretrained import PretrainConfig, pretrained_model
from utils.lm.training import TrainConfig, evaluate_language_model

from .conftest import ROOT

# The LSTM's test cross-entropy may exceed the entropy rate by at most this many
# bits per token (papers.md, Lab 1). Pilot run, seed 0: 0.052 bits.
MAX_BITS_ABOVE_FLOOR = 0.1


@pytest.fixture(scope="module")
def pre():
    return pretrained_model(progress=False)


@pytest.fixture(scope="module")
def best_ngram(pre):
    model, _, description = best_ngram_baseline(pre.corpus.train, pre.corpus.valid,
                                                SyntheticLanguage(pre.corpus.config).vocab)
    return model, description


def _test_perplexity(model, pre) -> float:
    stream = lm_stream(pre.corpus.test, pre.vocab)
    return evaluate_language_model(model, stream, ignore_index=pre.vocab.eos_id)["perplexity"]


def test_lstm_beats_the_best_ngram_and_nears_the_entropy_floor(pre, best_ngram):
    ngram, description = best_ngram
    lstm_ppl = _test_perplexity(pre.model, pre)
    ngram_ppl = ngram.perplexity(pre.corpus.test)  # the same sentences, the same tokens
    entropy = SyntheticLanguage(pre.corpus.config).entropy_rate()
    floor = math.exp(entropy)
    report = (f"test perplexity: LSTM {lstm_ppl:.3f}, best n-gram ({description}) "
              f"{ngram_ppl:.3f}, floor e^H {floor:.3f}")
    assert lstm_ppl < ngram_ppl, report
    assert lstm_ppl <= math.exp(entropy + MAX_BITS_ABOVE_FLOOR * math.log(2)), report
    # Below the floor would mean the evaluation scores the wrong tokens (or leaks the answer).
    assert lstm_ppl > floor * 0.98, report


def test_untrained_model_is_as_unsure_as_a_uniform_guess(pre):
    torch.manual_seed(0)
    untrained = LSTMLanguageModel(pre.config.model_config(len(pre.vocab)))
    ppl = _test_perplexity(untrained, pre)
    assert abs(ppl / len(pre.vocab) - 1) <= 0.10, (
        f"untrained perplexity {ppl:.1f}, vocabulary of {len(pre.vocab)} words")


def test_lstm_keeps_long_range_agreement_that_an_ngram_cannot(pre, best_ngram):
    items = agreement_items(dataclasses.replace(pre.corpus.config, seed=123), n=600)
    window = best_ngram[0].n - 1  # words the n-gram sees
    far = [item for item in items if item.distance > window]
    assert len(far) == len(items), "every agreement item should lie outside the n-gram window"
    lstm = agreement_accuracy(lstm_verb_margins(pre.model, pre.vocab, far))
    ngram = agreement_accuracy(ngram_verb_margins(best_ngram[0], far))
    report = f"agreement accuracy beyond {window} words: LSTM {lstm:.3f}, n-gram {ngram:.3f}"
    assert lstm >= 0.9, report
    assert ngram <= 0.7, report
    assert lstm - ngram >= 0.25, report


def test_agreement_margins_score_ties_as_half():
    assert agreement_accuracy(np.array([1.0, -1.0, 0.0, 2.0])) == pytest.approx(0.625)
    with pytest.raises(ValueError):
        agreement_accuracy([])


def test_a_second_process_loads_the_same_model_from_the_cache(pre):
    # How fast the load is belongs to the benchmarks; here: it loads, and it is the same model.
    script = ("import json, time\n"
              "from utils.lm.pretrained import pretrained_model\n"
              "start = time.perf_counter()\n"
              "p = pretrained_model(progress=False)\n"
              "print(json.dumps({'seconds': time.perf_counter() - start,\n"
              "                  'from_cache': p.from_cache,\n"
              "                  'weights': [float(t.double().sum()) for t in\n"
              "                              p.model.state_dict().values()]}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"second process: pretrained_model() took {result['seconds']:.2f} s")
    assert result["from_cache"], "the second process retrained instead of loading the cache"
    ours = [float(t.double().sum()) for t in pre.model.state_dict().values()]
    assert result["weights"] == pytest.approx(ours, rel=0, abs=0), "a different model came back"


def _tiny_config() -> PretrainConfig:
    return PretrainConfig(corpus=CorpusConfig(n_sentences=300), emb_size=16, hidden_size=16,
                          train=TrainConfig(lr=5e-3, batch_size=8, seq_len=20, epochs=1,
                                            clip=0.5, seed=0))


def test_corrupted_cached_model_warns_and_retrains(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    config = _tiny_config()
    first = pretrained_model(config, progress=False)
    assert not first.from_cache
    assert pretrained_model(config, progress=False).from_cache
    (weights,) = tmp_path.glob("lstm-lm-*.pt")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the checksum no longer matches
    weights.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="retraining"):
        again = pretrained_model(config, progress=False)
    assert not again.from_cache
    # The initial weights and the dropout masks come from the config's seed, so the
    # retrained model is the same model (same process, same thread count: same sums).
    for name, weights in first.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[name], weights), name
    assert pretrained_model(config, progress=False).from_cache


def test_pretrained_model_leaves_the_global_random_stream_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    config = _tiny_config()
    for expect_cached in (False, True):  # training it, then loading it from the cache
        torch.manual_seed(3)
        before = torch.get_rng_state()
        assert pretrained_model(config, progress=False).from_cache == expect_cached
        assert torch.equal(torch.get_rng_state(), before), f"from_cache={expect_cached}"


def test_a_changed_configuration_is_a_different_model(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    config = _tiny_config()
    pretrained_model(config, progress=False)
    other = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=1))
    assert not pretrained_model(other, progress=False).from_cache
    assert len(list(tmp_path.glob("lstm-lm-*.pt"))) == 2
