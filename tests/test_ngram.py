"""Tests of utils.lm.ngram: counts, smoothing, perplexity, and distance to the known truth."""

import math

import numpy as np
import pytest

from utils.data.corpus import CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import SPECIALS, UNK
from utils.lm.ngram import InterpolatedNGram, NGramModel, best_ngram_baseline, total_variation

TINY = [["a", "b", "."], ["a", "c", "."], ["a", "b", "."], ["b", "a", "b", "."]]
TINY_VOCAB = [*SPECIALS, "a", "b", "c", "."]


@pytest.fixture(scope="module")
def lang() -> SyntheticLanguage:
    return SyntheticLanguage(CorpusConfig())


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(CorpusConfig(seed=11, n_sentences=8000, valid_fraction=0.1,
                                        test_fraction=0.1))


def test_mle_equals_counts_on_a_tiny_corpus() -> None:
    m = NGramModel(2).fit(TINY, TINY_VOCAB)
    # "a" is followed by b, c, b, b: 3 of 4 times by "b".
    assert m.counts(["a"]) == {"b": 3, "c": 1}
    assert m.prob("b", ["a"]) == pytest.approx(3 / 4)
    assert m.prob("c", ["x", "a"]) == pytest.approx(1 / 4)  # only the last word counts
    assert m.prob("a", []) == pytest.approx(3 / 4)  # sentence start: 3 of 4 begin with "a"
    assert m.prob(".", ["b"]) == pytest.approx(3 / 4)
    unigram = NGramModel(1).fit(TINY, TINY_VOCAB)
    assert unigram.prob("b", ["anything"]) == pytest.approx(4 / 13)  # 4 of 13 tokens


def test_add_k_matches_the_formula() -> None:
    m = NGramModel(2, k=0.5).fit(TINY, TINY_VOCAB)
    v = len(TINY_VOCAB)
    assert m.prob("b", ["a"]) == pytest.approx((3 + 0.5) / (4 + 0.5 * v))
    assert m.prob("c", ["b"]) == pytest.approx((0 + 0.5) / (4 + 0.5 * v))
    trigram = NGramModel(3, k=0.1).fit(TINY, TINY_VOCAB)
    # History ("<eos>", "a") was seen 3 times, followed by b twice.
    assert trigram.prob("b", ["a"]) == pytest.approx((2 + 0.1) / (3 + 0.1 * v))
    assert m.with_k(0.0).prob("b", ["a"]) == pytest.approx(3 / 4)


@pytest.mark.parametrize("model", [NGramModel(2), NGramModel(3, k=0.01), NGramModel(1, k=2.0)])
def test_distributions_sum_to_one(model, corpus, lang) -> None:
    model.fit(corpus.train, lang.vocab)
    for history in ([], ["the"], ["the", "cat", "sat"], ["never", "seen", "history"]):
        dist = model.next_word_distribution(history)
        assert set(dist) == set(lang.vocab)
        assert math.isclose(sum(dist.values()), 1.0, rel_tol=1e-9)


def test_log_prob_is_the_sum_of_log_conditionals() -> None:
    m = NGramModel(2, k=0.1).fit(TINY, TINY_VOCAB)
    s = ["a", "b", "."]
    # By hand from TINY's counts, with |V| = 6: 3 of 4 sentences start with "a",
    # "a" is followed by "b" 3 times in 4, and "b" by "." 3 times in 4.
    expected = 3 * math.log((3 + 0.1) / (4 + 0.1 * 6))
    assert m.log_prob(s) == pytest.approx(expected)
    assert m.perplexity([s]) == pytest.approx(math.exp(-expected / 3))
    assert m.perplexity([s, s]) == pytest.approx(math.exp(-expected / 3))


def test_unseen_bigram_gives_infinite_perplexity_unless_smoothed() -> None:
    unseen = [["c", "a", "."]]  # "c" never starts a sentence in TINY
    assert NGramModel(2).fit(TINY, TINY_VOCAB).perplexity(unseen) == math.inf
    assert math.isfinite(NGramModel(2, k=0.01).fit(TINY, TINY_VOCAB).perplexity(unseen))


def test_huge_k_is_the_uniform_model_with_perplexity_vocab_size(corpus, lang) -> None:
    m = NGramModel(2, k=1e12).fit(corpus.train, lang.vocab)
    assert m.perplexity(corpus.test) == pytest.approx(len(lang.vocab), rel=1e-6)


def test_unknown_words_need_unk() -> None:
    m = NGramModel(2).fit([["a", "z", "."]], TINY_VOCAB)
    assert m.counts(["a"]) == {UNK: 1}
    with pytest.raises(ValueError, match="not in vocab"):
        NGramModel(2).fit([["a", "z", "."]], ["a", "."])


def test_estimate_approaches_the_truth_as_the_corpus_grows(lang) -> None:
    prefix = "the cat sat on the".split()
    truth = lang.next_word_distribution(prefix)
    big = generate_corpus(CorpusConfig(seed=1, n_sentences=20_000, valid_fraction=0.0,
                                       test_fraction=0.0))
    distances = []
    for n in (500, 4000, 20_000):
        model = NGramModel(6).fit(big.train[:n], lang.vocab)  # the history is the whole prefix
        distances.append(total_variation(model.next_word_distribution(prefix), truth))
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 0.15


def test_no_ngram_beats_the_true_distribution(corpus, lang) -> None:
    tokens = sum(len(s) for s in corpus.test)
    true_ppl_here = math.exp(-sum(lang.log_prob(s) for s in corpus.test) / tokens)
    true_ppl = math.exp(lang.entropy_rate())
    for n, k in ((2, 0.01), (3, 0.01)):
        ppl = NGramModel(n, k).fit(corpus.train, lang.vocab).perplexity(corpus.test)
        assert ppl > true_ppl_here
        assert ppl > 0.97 * true_ppl  # the truth is the floor, up to sampling noise


def test_best_baseline_beats_simple_ngrams_but_not_the_truth(corpus, lang) -> None:
    model, valid_ppl, description = best_ngram_baseline(corpus.train, corpus.valid, lang.vocab)
    assert isinstance(description, str) and "gram" in description
    assert valid_ppl == pytest.approx(model.perplexity(corpus.valid))
    bigram = NGramModel(2, k=0.01).fit(corpus.train, lang.vocab).perplexity(corpus.valid)
    assert valid_ppl < bigram
    true_valid = math.exp(-sum(lang.log_prob(s) for s in corpus.valid)
                          / sum(len(s) for s in corpus.valid))
    assert valid_ppl > true_valid


def test_interpolation_weights_are_a_distribution_fitted_by_em(corpus, lang) -> None:
    m = InterpolatedNGram(3).fit(corpus.train, lang.vocab, valid=corpus.valid)
    assert m.weights.shape == (4,) and np.isclose(m.weights.sum(), 1.0) and (m.weights >= 0).all()
    tuned = m.perplexity(corpus.valid)
    m.weights = np.full(4, 0.25)
    assert tuned < m.perplexity(corpus.valid)  # EM improved on equal weights
    assert math.isclose(sum(m.next_word_distribution(["the", "dog"]).values()), 1.0)


def test_bad_input_is_rejected_with_the_argument_named() -> None:
    with pytest.raises(ValueError, match="k must be"):
        NGramModel(2, k=-1)
    with pytest.raises(ValueError, match="k must be"):
        NGramModel(2, k=float("nan"))
    with pytest.raises(ValueError, match="vocab is empty"):
        NGramModel(2).fit(TINY, [])
    with pytest.raises(ValueError, match="at least one token"):
        NGramModel(2).fit(TINY, TINY_VOCAB).perplexity([])
    with pytest.raises(ValueError, match="valid has no tokens"):
        InterpolatedNGram(2).fit(TINY, TINY_VOCAB, valid=[])
    with pytest.raises(RuntimeError, match="fit"):
        NGramModel(2).prob("a", [])
