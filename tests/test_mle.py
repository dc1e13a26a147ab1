"""Chapter 3's claims about maximum likelihood, checked with numbers (notebook 03)."""

import math

import pytest
import torch

from utils.data.corpus import CorpusConfig, SyntheticLanguage, generate_corpus
from utils.lm.ngram import NGramModel, total_variation

PREFIX = "the cat sat on the".split()


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(CorpusConfig(seed=3, n_sentences=22_000))


@pytest.fixture(scope="module")
def language(corpus):
    return SyntheticLanguage(corpus.config)


def three_cross_entropies(logits, targets):
    rows = torch.arange(len(targets))
    by_hand = -torch.mean(torch.log(torch.exp(logits[rows, targets])
                                    / torch.exp(logits).sum(dim=1)))
    library = torch.nn.functional.cross_entropy(logits, targets)
    gathered = -torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).mean()
    return float(by_hand), float(library), float(gathered)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_entropy_three_ways_agree_on_random_logits(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(64, 30, generator=generator, dtype=torch.float64) * 4
    targets = torch.randint(0, 30, (64,), generator=generator)
    values = three_cross_entropies(logits, targets)
    assert max(values) - min(values) < 1e-6


def test_cross_entropy_of_an_ngram_is_its_log_perplexity(corpus, language):
    model = NGramModel(2, k=0.05).fit(corpus.train[:3000], language.vocab)
    sentences = corpus.valid[:100]
    rows, targets = [], []
    for s in sentences:
        for i, w in enumerate(s):
            d = model.next_word_distribution(s[:i])
            rows.append([d[v] for v in language.vocab])
            targets.append(language.word_to_id[w])
    logits = torch.tensor(rows, dtype=torch.float64).log()
    values = three_cross_entropies(logits, torch.tensor(targets))
    assert max(values) - min(values) < 1e-6
    assert values[1] == pytest.approx(math.log(model.perplexity(sentences)), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_is_softmax_minus_one_hot(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(16, 12, generator=generator, dtype=torch.float64) * 3
    targets = torch.randint(0, 12, (16,), generator=generator)
    z = logits.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(z, targets).backward()
    one_hot = torch.nn.functional.one_hot(targets, 12).to(torch.float64)
    formula = (torch.softmax(logits, dim=1) - one_hot) / len(targets)
    assert torch.allclose(z.grad, formula, atol=1e-12)
    # Each row of the gradient sums to zero: probability moves, none is created.
    assert torch.allclose(z.grad.sum(dim=1), torch.zeros(16, dtype=torch.float64), atol=1e-12)


def test_uniform_model_perplexity_is_the_vocabulary_size(corpus, language):
    v = language.vocab_size
    logits = torch.zeros(200, v, dtype=torch.float64)
    targets = torch.randint(0, v, (200,), generator=torch.Generator().manual_seed(0))
    assert math.exp(float(torch.nn.functional.cross_entropy(logits, targets))) == pytest.approx(v)
    # A unigram model that has seen nothing falls back to the uniform distribution.
    empty = NGramModel(1).fit([], language.vocab)
    assert empty.perplexity(corpus.valid[:50]) == pytest.approx(v)


def test_mle_distance_to_the_truth_shrinks_as_the_corpus_grows(corpus, language):
    truth = language.next_word_distribution(PREFIX)
    distances = []
    for size in (200, 2000, 20_000):
        model = NGramModel(len(PREFIX) + 2).fit(corpus.train[:size], language.vocab)
        distances.append(total_variation(model.next_word_distribution(PREFIX), truth))
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 0.15 and distances[2] < distances[0] / 4  # pilot: 0.11


def test_short_history_mle_converges_elsewhere(corpus, language):
    # A trigram sees only "on the": more data cannot bring it to the full-prefix truth.
    truth = language.next_word_distribution(PREFIX)
    trigram = NGramModel(3).fit(corpus.train, language.vocab)
    assert total_variation(trigram.next_word_distribution(PREFIX), truth) > 0.1


def test_unseen_bigram_gives_infinite_perplexity_and_smoothing_fixes_it(corpus, language):
    train = corpus.train[:500]
    mle = NGramModel(2).fit(train, language.vocab)
    unseen = next(s for s in corpus.valid if any(mle.prob(w, s[:i]) == 0 for i, w in enumerate(s)))
    assert language.log_prob(unseen) > -math.inf  # a real sentence of the language
    assert mle.perplexity([unseen]) == math.inf
    smoothed = mle.with_k(0.01)
    assert math.isfinite(smoothed.perplexity([unseen]))
    assert smoothed.perplexity(corpus.valid) < language.vocab_size


def test_no_model_beats_the_entropy_rate_on_a_large_sample(corpus, language):
    model = NGramModel(3, k=0.003).fit(corpus.train, language.vocab)
    floor = math.exp(language.entropy_rate())
    truth = math.exp(-sum(language.log_prob(s) for s in corpus.valid) / corpus.n_tokens("valid"))
    assert truth == pytest.approx(floor, rel=0.05)
    assert model.perplexity(corpus.valid) > truth
