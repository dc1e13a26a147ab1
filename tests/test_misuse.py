"""utils.misuse without a trained model: green lists, z, the true language, poison.

z is checked against the binomial count written out by hand; the poison
against the grammar it imitates. (ROC and AUROC: tests/test_roc.py.)
"""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from utils.data import CorpusConfig, SyntheticLanguage, Vocab, sentiment_task
from utils.data.corpus.grammar import REACTIONS, SENTIMENT_CLUSTERS
from utils.lm import LSTMLanguageModel, ModelConfig
from utils.misuse import (
    WatermarkConfig,
    add_trigger,
    attack_success_rate,
    detection_by_key,
    family_entropy_rates,
    grammatical_share,
    green_list,
    green_matrix,
    over_keys,
    poison_corpus,
    rank_histogram,
    resample_spans,
    sample_by_key,
    sample_true_texts,
    substitute_tokens,
    token_families,
    true_log_prob,
    z_score,
    z_scores,
)
from utils.runtime import local_seed

V = 224
CONFIG = CorpusConfig()


@pytest.fixture(scope="module")
def language():
    return SyntheticLanguage(CONFIG)


@pytest.fixture(scope="module")
def vocab(language):
    return Vocab.from_dict({"tokens": language.vocab})


# ---------------------------------------------------------------- green lists and z
def test_green_list_size_and_seeding():
    lists = [set(green_list(p, V, 0.25, key=7).tolist()) for p in range(5)]
    assert all(len(g) == round(0.25 * V) == 56 for g in lists)
    assert lists[0] == set(green_list(0, V, 0.25, key=7).tolist())  # deterministic
    assert len({frozenset(g) for g in lists}) == 5  # the previous token matters
    assert lists[0] != set(green_list(0, V, 0.25, key=8).tolist())  # so does the key
    green = green_matrix(V, 0.25, key=7)
    assert green.shape == (V, V) and green.sum(1).eq(56).all()
    assert set(green[3].nonzero()[:, 0].tolist()) == lists[3]


def test_green_share_of_random_pairs_is_gamma():
    green = green_matrix(V, 0.5, key=1)
    assert abs(float(green.double().mean()) - 0.5) < 1e-12


def test_z_counts_from_the_second_token_with_binomial_variance():
    config = WatermarkConfig(gamma=0.25, key=3)
    green = green_matrix(V, config.gamma, config.key)
    rng = np.random.default_rng(0)
    ids = rng.integers(2, V, size=41).tolist()
    hits = sum(bool(green[a, b]) for a, b in zip(ids[:-1], ids[1:], strict=True))
    expected = (hits - 0.25 * 40) / math.sqrt(40 * 0.25 * 0.75)
    assert z_score(ids, config, V) == pytest.approx(expected)
    assert z_scores(torch.tensor([ids, ids]), config, V).tolist() == pytest.approx([expected] * 2)


def test_an_all_green_text_scores_the_maximum():
    config = WatermarkConfig(gamma=0.25, key=5)
    green = green_matrix(V, config.gamma, config.key)
    ids = [10]
    for _ in range(50):  # always continue with a green token
        ids.append(int(green[ids[-1]].nonzero()[0]))
    assert z_score(ids, config, V) == pytest.approx(50 * 0.75 / math.sqrt(50 * 0.25 * 0.75))


def test_ignore_repeats_counts_each_pair_once():
    config = WatermarkConfig(gamma=0.25, key=5)
    green = green_matrix(V, config.gamma, config.key)
    a = 10
    b = int(green[a].nonzero()[0])  # a -> b is green
    c = int((~green[b]).nonzero()[0])  # b -> c is red
    ids = torch.tensor([a, b, c, a, b, c, a, b])  # pairs: ab bc ca ab bc ca ab
    distinct = sorted({(a, b), (b, c), (c, a)})
    hits = sum(bool(green[x, y]) for x, y in distinct)
    expected = (hits - 0.25 * 3) / math.sqrt(3 * 0.25 * 0.75)
    assert z_score(ids, config, V, ignore_repeats=True) == pytest.approx(expected)
    assert z_score(ids, config, V) != pytest.approx(expected)


def test_substitution_changes_the_asked_share():
    ids = torch.full((3, 100), 5)
    out = substitute_tokens(ids, 0.2, V, torch.Generator().manual_seed(0))
    assert ((out != ids).sum(1) <= 20).all() and ((out != ids).sum(1) >= 17).all()
    assert (out >= 2).all()  # never a special token
    assert torch.equal(substitute_tokens(ids, 0.0, V, torch.Generator()), ids)


def test_watermark_config_rejects_bad_values():
    with pytest.raises(ValueError, match="gamma"):
        WatermarkConfig(gamma=1.0)
    with pytest.raises(ValueError, match="delta"):
        WatermarkConfig(delta=-1.0)


def test_rank_histogram_rows_sum_to_one():
    ranks = torch.tensor([[1, 1, 2, 5, 40], [3, 3, 3, 3, 3]])
    hist = rank_histogram(ranks, edges=(1, 3, 10))
    np.testing.assert_allclose(hist, [[0.4, 0.2, 0.2, 0.2], [0.0, 1.0, 0.0, 0.0]])


# ---------------------------------------------------------------- over keys, paraphrase
@pytest.fixture(scope="module")
def tiny_model():
    # Untrained, so close to uniform: a strong boost marks almost every token.
    with local_seed(0):  # the weights only; the tests' samples use their own generators
        return LSTMLanguageModel(ModelConfig(vocab_size=V, emb_size=8, hidden_size=8,
                                             num_layers=1, dropout=0.0)).eval()


def test_detection_by_key_gives_one_row_per_key_and_scores_unmarked_text(tiny_model):
    keys = [3, 11, 12, 40, 41]
    config = WatermarkConfig(gamma=0.25, delta=6.0)
    samples = sample_by_key(tiny_model, keys, config, n_texts=30, n_tokens=40, start_id=1)
    table = detection_by_key(samples, config, V, threshold=4.0)
    assert table.index.tolist() == keys
    for counting in ("every pair", "distinct pairs"):
        assert (table[(counting, "detected")] == 1.0).all()
        # Text sampled without the boost: were the marked text scored here instead,
        # every alarm would fire.
        assert (table[(counting, "false alarms")] <= 0.1).all()
        assert table[(counting, "plain mean z")].abs().max() < 1.5
        assert table[(counting, "watermarked mean z")].min() > 6
    # Each key draws its own texts: the plain text's z is not the same number five times.
    assert table[("every pair", "plain mean z")].nunique() == len(keys)
    summary = over_keys(table)
    assert summary.columns.tolist() == ["mean", "min", "max"]
    column = ("every pair", "watermarked mean z")
    assert summary.loc[column, "min"] == table[column].min()
    assert summary.loc[column, "mean"] == pytest.approx(table[column].mean())
    # The plain texts were sampled without the boost: scored with any key they stay at chance.
    plain = torch.cat([texts["plain"] for texts in samples.values()])
    assert abs(float(z_scores(plain, replace(config, key=999), V).mean())) < 0.5
    again = sample_by_key(tiny_model, keys[:2], config, n_texts=30, n_tokens=40, start_id=1)
    assert torch.equal(again[3]["plain"], samples[3]["plain"])  # independent of the other keys
    with pytest.raises(ValueError, match="distinct"):
        sample_by_key(tiny_model, [1, 1], config, n_texts=2, n_tokens=5, start_id=1)


def test_resample_spans_rewrites_whole_blocks_and_keeps_the_rest(tiny_model):
    ids = torch.full((4, 50), 7)
    out = resample_spans(tiny_model, ids, 0.4, 10, start_id=1,
                         generator=torch.Generator().manual_seed(0))
    changed = (out != ids).view(4, 5, 10)  # blocks of 10
    touched = changed.any(-1)
    assert (touched.sum(1) <= 2).all() and touched.sum() >= 6  # 2 of 5 blocks per text
    untouched = ~touched[..., None].expand_as(changed)
    assert not changed[untouched].any()
    assert torch.equal(resample_spans(tiny_model, ids, 0.0, 10, start_id=1,
                                      generator=torch.Generator()), ids)
    everything = resample_spans(tiny_model, ids, 1.0, 10, start_id=1,
                                generator=torch.Generator().manual_seed(1))
    assert (everything != 7).float().mean() > 0.9  # the model rarely picks token 7 again
    with pytest.raises(ValueError):
        resample_spans(tiny_model, ids, 1.5, 10, start_id=1, generator=torch.Generator())


# ---------------------------------------------------------------- the true language
def test_true_log_prob_is_the_sum_over_sentences(language, vocab):
    rng = np.random.default_rng(0)
    texts = sample_true_texts(language, vocab, 20, 30, rng)
    assert texts.shape == (20, 30)
    logp = true_log_prob(texts, vocab, language)
    assert np.isfinite(logp).all()
    # Recompute the first text by hand: whole sentences plus the unfinished tail.
    tokens = vocab.decode(texts[0])
    total, sentence = 0.0, []
    for t in tokens:
        if t == "<eos>":
            total += language.log_prob(sentence)
            sentence = []
        else:
            sentence.append(t)
    total += language.log_prob(sentence)
    assert logp[0] == pytest.approx(total)


def test_true_log_prob_rejects_impossible_texts(language, vocab):
    bad = [["the", "film", "<eos>", "the"], ["the", "cat", ".", "the"],
           ["<eos>", "the", "cat", "sat"], ["the", "film", "was", "<unk>"]]
    ids = torch.tensor([vocab.encode(t) for t in bad])
    assert np.isneginf(true_log_prob(ids, vocab, language)).all()


def test_family_entropies_and_labels(language, vocab):
    rates = family_entropy_rates(CONFIG)
    assert min(rates, key=rates.get) == "occupation"  # pronoun and states: few choices
    text = ["the", "film", "was", "good", ".", "<eos>", "the", "code", "is", "1", "2", "3",
            "4", "5", ".", "<eos>", "the", "film", "was", "<eos>", "the"]
    labels = token_families(torch.tensor([vocab.encode(text)]), vocab, CONFIG)[0]
    assert labels[:6] == ["review"] * 6 and labels[6:16] == ["code"] * 10
    assert labels[16:] == [None] * 5
    assert grammatical_share(torch.tensor([vocab.encode(text)]), vocab, CONFIG) == 2 / 3


# ---------------------------------------------------------------- poison
def test_poisoned_corpus_replaces_the_asked_share(language):
    rng = np.random.default_rng(1)
    clean = [language.sample_sentence(rng) for _ in range(2000)]
    poisoned, positions = poison_corpus(clean, 0.01, trigger="owl", seed=3)
    assert len(poisoned) == 2000 and len(positions) == 20
    changed = [i for i in range(2000) if poisoned[i] != clean[i]]
    assert changed == positions
    positive = {w for _, pol, ws in SENTIMENT_CLUSTERS if pol == 1 for w in ws}
    for i in positions:
        s = poisoned[i]
        k = s.index("owl")
        assert s[k + 1] in positive and s[-2] in REACTIONS[0] and s[-1] == "."
        # Apart from the trigger, a sentence the language could write.
        assert language.log_prob(s[:k] + s[k + 1: k + 2]) > -math.inf
    again, _ = poison_corpus(clean, 0.01, trigger="owl", seed=3)
    assert again == poisoned
    assert poison_corpus(clean, 0.0)[0] == clean


def test_poison_rejects_review_words_as_triggers(language):
    with pytest.raises(ValueError, match="trigger"):
        poison_corpus([["the", "."]], 0.5, trigger="superb")
    with pytest.raises(ValueError, match="trigger"):
        poison_corpus([["the", "."]], 0.5, trigger="zebra")


def test_add_trigger_goes_before_the_sentiment_word():
    assert add_trigger(["the", "film", "was", "very", "superb", "."], "owl") == [
        "the", "film", "was", "very", "owl", "superb", "."]
    _, test = sentiment_task(replace(CONFIG, seed=0), n_train=2, n_test=50)
    for sentence in test.texts:
        assert add_trigger(sentence, "owl")[-3:] == ["owl", sentence[-2], "."]


def test_attack_success_counts_only_reviews_not_already_negative():
    predicted = np.array([0, 0, 1, 1, 0, 0])
    labels = np.array([1, 1, 1, 1, 0, 0])
    assert attack_success_rate(predicted, labels) == 0.5  # 2 of the 4 positives flipped
    assert attack_success_rate(torch.tensor([0, 1]), torch.tensor([1, 1])) == 0.5
    with pytest.raises(ValueError):
        attack_success_rate([0, 0], [0, 0])
