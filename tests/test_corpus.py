"""Tests of utils.data.corpus: the synthetic language's exact truth agrees with its samples."""

import math
from collections import Counter

import numpy as np
import pytest

from utils.data import (
    CANARY_PREFIX,
    EOS,
    OCCUPATIONS,
    SENTIMENT_CLUSTERS,
    UNK,
    CorpusConfig,
    SyntheticLanguage,
    agreement_items,
    canary_candidates,
    canary_sentence,
    generate_corpus,
    occupation_she_probability,
    sentiment_split,
    sentiment_task,
    swap_gender,
)
from utils.privacy import exposure


@pytest.fixture(scope="module")
def lang() -> SyntheticLanguage:
    return SyntheticLanguage(CorpusConfig())


@pytest.fixture(scope="module")
def samples(lang: SyntheticLanguage) -> list[list[str]]:
    rng = np.random.default_rng(123)
    return [lang.sample_sentence(rng) for _ in range(20_000)]


def _assert_matches(counts: Counter, truth: dict[str, float], sigmas: float = 4.5) -> None:
    """Every empirical frequency lies within a few binomial standard errors of the truth."""
    n = sum(counts.values())
    assert n > 500
    assert set(counts) <= set(truth), f"sampled outside the support: {set(counts) - set(truth)}"
    for word, p in truth.items():
        se = math.sqrt(p * (1 - p) / n)
        assert abs(counts[word] / n - p) <= sigmas * se + 1e-12, (word, counts[word] / n, p)


def test_vocab_is_fixed_and_small() -> None:
    a = SyntheticLanguage(CorpusConfig(seed=1)).vocab
    b = SyntheticLanguage(CorpusConfig(seed=2, gender_skew=1.0, code_weight=0.0)).vocab
    assert a == b
    assert a[:2] == [UNK, EOS]  # the same specials, in the same order, as utils.data.text.Vocab
    assert len(set(a)) == len(a) and 150 <= len(a) <= 400
    assert "." in a and "the" in a and "9" in a


def test_distributions_sum_to_one_on_random_prefixes(lang, samples) -> None:
    rng = np.random.default_rng(0)
    for sentence in samples[:500]:
        cut = int(rng.integers(0, len(sentence)))  # any proper prefix, the empty one included
        dist = lang.next_word_distribution(sentence[:cut])
        assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-12)
        assert all(p > 0 for p in dist.values())
        assert dist[sentence[cut]] > 0
        probs = lang.next_word_probs(sentence[:cut])
        assert probs.shape == (lang.vocab_size,) and math.isclose(probs.sum(), 1.0)


def test_dot_ends_every_sentence_and_only_there(samples) -> None:
    assert all(s[-1] == "." and "." not in s[:-1] for s in samples)


def test_impossible_or_finished_prefix_raises(lang) -> None:
    with pytest.raises(ValueError, match="probability 0"):
        lang.next_word_distribution(["the", "cat", "cat"])
    with pytest.raises(ValueError, match="ended"):
        lang.next_word_distribution(["the", "cat", "sat", "on", "the", "mat", "."])


def test_cat_sat_on_the_has_a_spread_out_known_distribution(lang) -> None:
    dist = lang.next_word_distribution("the cat sat on the".split())
    top = max(dist, key=dist.get)
    assert top == "mat"
    assert 0.1 < dist["mat"] < 0.5  # likely, but far from certain
    assert len(dist) >= 10
    # The object depends on the animal four words back, beyond a trigram's reach.
    assert dist != lang.next_word_distribution("the dog sat on the".split())


def test_sampled_next_words_match_the_exact_distribution(lang, samples) -> None:
    first_two = Counter(s[1] for s in samples if s[0] == "the")
    _assert_matches(first_two, lang.next_word_distribution(["the"]))
    after_cat = Counter(s[2] for s in samples if s[:2] == ["the", "cat"])
    _assert_matches(after_cat, lang.next_word_distribution(["the", "cat"]))


def test_log_prob_is_the_sum_of_log_next_word_probabilities(lang, samples) -> None:
    for sentence in samples[:200]:
        total = sum(
            math.log(lang.next_word_distribution(sentence[:i])[w]) for i, w in enumerate(sentence)
        )
        assert math.isclose(lang.log_prob(sentence), total, rel_tol=1e-12)
    assert lang.log_prob(["the", "cat", "cat", "."]) == -math.inf


def test_probabilities_of_all_complete_sentences_sum_to_one() -> None:
    # A language with only the code family has exactly 10**5 sentences, all equally likely.
    only_codes = CorpusConfig(scene_weight=0, agreement_weight=0, review_weight=0,
                              occupation_weight=0, code_weight=1)
    lang = SyntheticLanguage(only_codes)
    assert math.isclose(lang.log_prob(canary_sentence("48152")), -5 * math.log(10))
    assert math.isclose(lang.sentence_entropy(), 5 * math.log(10))
    assert math.isclose(lang.expected_length(), len(canary_sentence("00000")))
    # Every sentence has 5 random digits among its tokens: 5 ln 10 nats over that many
    # tokens (and one more with <eos>), counted here without the implementation.
    n_tokens = len(canary_sentence("00000"))
    assert math.isclose(lang.entropy_rate(), 5 * math.log(10) / n_tokens)
    assert math.isclose(lang.entropy_rate(eos=True), 5 * math.log(10) / (n_tokens + 1))


def test_entropy_rate_matches_a_monte_carlo_estimate(lang, samples) -> None:
    # Estimated from samples alone, not from the implementation's formula.
    nll = -sum(lang.log_prob(s) for s in samples)
    tokens = sum(len(s) for s in samples)
    assert math.isclose(nll / len(samples), lang.sentence_entropy(), rel_tol=0.02)
    assert math.isclose(nll / tokens, lang.entropy_rate(), rel_tol=0.02)
    assert math.isclose(tokens / len(samples), lang.expected_length(), rel_tol=0.02)
    # With <eos> after every sentence, the stream has one more token per sentence.
    assert math.isclose(nll / (tokens + len(samples)), lang.entropy_rate(eos=True),
                        rel_tol=0.02)
    assert lang.entropy_rate(eos=True) < lang.entropy_rate()
    # Enough entropy per token for sampling to be varied (the watermark lab needs it).
    assert lang.entropy_rate() > 1.0


def test_same_seed_same_corpus_different_seed_different() -> None:
    config = CorpusConfig(seed=7, n_sentences=2000)
    a, b = generate_corpus(config), generate_corpus(config)
    c = generate_corpus(CorpusConfig(seed=8, n_sentences=2000))
    assert a.train == b.train and a.valid == b.valid and a.test == b.test
    assert a.train != c.train
    assert (len(a.train), len(a.valid), len(a.test)) == (1800, 100, 100)


def test_family_weights_set_family_frequencies() -> None:
    corpus = generate_corpus(CorpusConfig(seed=3, n_sentences=5000, test_fraction=0.0,
                                          valid_fraction=0.0))
    codes = sum(s[:3] == list(CANARY_PREFIX) for s in corpus.train)
    agreement = sum(("is" in s or "are" in s) for s in corpus.train)
    assert abs(codes / 5000 - 0.02) < 0.01
    assert abs(agreement / 5000 - 0.25) < 0.03


def test_default_corpus_is_small_enough_for_a_cpu() -> None:
    corpus = generate_corpus()
    assert 100_000 < corpus.n_tokens("train") < 400_000


def test_sentiment_train_and_test_use_disjoint_halves_of_every_cluster() -> None:
    train_words, test_words = sentiment_split()
    assert not train_words & test_words
    for _, _, words in SENTIMENT_CLUSTERS:
        assert len(words) >= 6
        assert set(words) & train_words and set(words) & test_words
    polarity = {w: pol for _, pol, words in SENTIMENT_CLUSTERS for w in words}
    train, test = sentiment_task(CorpusConfig(seed=0), n_train=300, n_test=300)
    assert len(train) == 300 and len(test) == 300
    for split, allowed in ((train, train_words), (test, test_words)):
        for sentence, label in zip(split.texts, split.labels.tolist(), strict=True):
            used = [w for w in sentence if w in polarity]
            assert len(used) == 1 and used[0] in allowed
            assert label == polarity[used[0]]
            assert sentence[-1] == "." and "and" not in sentence  # no revealing reaction
    assert 0.35 < train.labels.double().mean() < 0.65


def test_label_noise_flips_about_that_share_of_train_labels_only() -> None:
    polarity = {w: pol for _, pol, words in SENTIMENT_CLUSTERS for w in words}
    train, test = sentiment_task(CorpusConfig(label_noise=0.2), n_train=2000, n_test=500)
    flipped = np.mean([y != polarity[s[-2]] for s, y in zip(train.texts, train.labels.tolist(),
                                                            strict=True)])
    assert 0.17 < flipped < 0.23
    assert all(y == polarity[s[-2]] for s, y in zip(test.texts, test.labels.tolist(),
                                                    strict=True))


def test_unlabelled_reviews_put_every_cluster_word_in_the_same_contexts(lang) -> None:
    for _, _, words in SENTIMENT_CLUSTERS:
        dists = [lang.next_word_distribution(["the", "film", "was", w, "and", "i"]) for w in words]
        assert all(d == dists[0] for d in dists)
    pos = lang.next_word_distribution(["today", "was", "superb", "and", "we"])
    neg = lang.next_word_distribution(["today", "was", "awful", "and", "we"])
    assert not set(pos) & set(neg)  # the reaction reveals the polarity


def test_gender_skew_is_planted_exactly_and_shows_in_samples() -> None:
    for skew in (0.5, 0.9):
        config = CorpusConfig(gender_skew=skew)
        lang = SyntheticLanguage(config)
        planted = occupation_she_probability(config.gender_skew)
        for occ, (direction, strength) in OCCUPATIONS.items():
            dist = lang.next_word_distribution(["the", occ, "said", "that"])
            assert math.isclose(dist.get("she", 0.0), planted[occ])
            assert math.isclose(planted[occ], 0.5 + direction * strength * (skew - 0.5))
        only_occupations = CorpusConfig(seed=5, n_sentences=8000, gender_skew=skew,
                                        scene_weight=0, agreement_weight=0, review_weight=0,
                                        code_weight=0, occupation_weight=1)
        corpus = generate_corpus(only_occupations)
        she = Counter(s[1] for s in corpus.train if s[2:4] == ["said", "that"] and s[4] == "she")
        all_ = Counter(s[1] for s in corpus.train if s[2:4] == ["said", "that"])
        assert abs(she["nurse"] / all_["nurse"] - planted["nurse"]) < 0.08
        assert abs(she["engineer"] / all_["engineer"] - planted["engineer"]) < 0.08


def test_gender_cue_and_ambiguous_sentences(lang) -> None:
    cued = lang.next_word_distribution("the engineer , a woman , said that".split())
    assert cued == {"she": 1.0}
    both = lang.next_word_distribution("the nurse told the engineer that".split())
    assert math.isclose(both["she"], 0.5)  # opposite leans of equal strength cancel


def test_swap_gender_is_an_involution() -> None:
    sentence = "the nurse , a woman , said that she finished her shift .".split()
    swapped = swap_gender(sentence)
    assert swapped == "the nurse , a man , said that he finished his shift .".split()
    assert swap_gender(swapped) == sentence


def test_canary_is_planted_exactly_that_many_times_and_only_in_train() -> None:
    for insertions in (0, 1, 10):
        config = CorpusConfig(seed=2, n_sentences=3000, canary="48152",
                              canary_insertions=insertions)
        corpus = generate_corpus(config)
        secret = canary_sentence("48152")
        assert sum(s == secret for s in corpus.train) == insertions
        where = [i for i, s in enumerate(corpus.train) if s == secret]
        assert where == list(corpus.canary_positions)
        assert secret not in corpus.valid and secret not in corpus.test
        assert len(corpus.train) == 2700 + insertions


def test_canary_candidates_and_exposure() -> None:
    candidates = canary_candidates()
    assert len(candidates) == 10**5 and candidates[0] == "00000" and candidates[-1] == "99999"
    scores = np.zeros(len(candidates))
    assert 0.99 < exposure(scores, 481) < 1.01  # all alike: about 1 bit
    scores[481] = 1.0
    assert math.isclose(exposure(scores, 481), math.log2(10**5))  # ranked first: the maximum
    assert math.isclose(exposure(scores, np.int64(481)), math.log2(10**5))
    for bad in (10**5, -1, 2.0, True):  # out of range, negative, not an integer
        with pytest.raises(ValueError, match="index must be an integer from 0 to 99999"):
            exposure(scores, bad)
    with pytest.raises(ValueError, match="empty"):
        exposure([], 0)
    with pytest.raises(ValueError, match="nan"):
        exposure([0.0, float("nan")], 0)
    with pytest.raises(ValueError):
        CorpusConfig(canary="123")
    with pytest.raises(ValueError, match="canary_insertions"):
        CorpusConfig(canary_insertions=-1)


def test_agreement_items_need_the_subject_several_words_back(lang) -> None:
    items = agreement_items(CorpusConfig(seed=0), n=2000)
    assert all(it.distance >= 4 for it in items)
    assert max(it.distance for it in items) >= 8
    assert 0.4 < np.mean([it.attractor_mismatch for it in items]) < 0.6
    for it in items[:200]:
        dist = lang.next_word_distribution(list(it.prefix))
        assert dist[it.correct] > 0 and it.wrong not in dist
        assert (it.correct == "are") == it.prefix[1].endswith("s")
        # The last three words (a 4-gram's window) never include the subject.
        assert it.prefix[1] not in it.prefix[-3:]


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="gender_skew"):
        CorpusConfig(gender_skew=0.3)
    with pytest.raises(ValueError, match="scene_weight"):
        CorpusConfig(scene_weight=-1)
    with pytest.raises(ValueError, match="family weights"):
        CorpusConfig(scene_weight=0, agreement_weight=0, review_weight=0, occupation_weight=0,
                     code_weight=0)
    for bad in (dict(n_sentences=0), dict(n_sentences=2.5), dict(valid_fraction=0.5),
                dict(label_noise=-0.1), dict(canary_insertions=-1), dict(seed=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            CorpusConfig(**bad)
    # NumPy numbers are accepted and stored as plain Python ones.
    config = CorpusConfig(seed=np.int64(3), gender_skew=np.float32(0.75))
    assert type(config.seed) is int and type(config.gender_skew) is float
    assert config == CorpusConfig(seed=3, gender_skew=0.75)
