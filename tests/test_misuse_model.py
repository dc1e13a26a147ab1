"""utils.misuse on the course's model: the watermark, the detectors and the backdoor.

Fixed seeds throughout. Margins were set from a pilot run with the default
key (z: watermarked mean 6.1, unwatermarked max 2.2; AUROC at temperature 1:
likelihood 0.47, likelihood ratio 0.91; backdoor at 1 % poison: clean
accuracy 97.7 % vs 98.9 % frozen, attack success 90-100 % frozen, 46-100 %
fine-tuned, 0 % on the clean model).
"""

import numpy as np
import pytest
import torch

from utils.data import SyntheticLanguage
from utils.evaluate import sentence_losses
from utils.lm import pretrained_model
from utils.misuse import (
    PoisonConfig,
    WatermarkConfig,
    auroc,
    backdoor_experiment,
    detection_by_key,
    family_perplexities,
    grammatical_share,
    poisoned_pretrained,
    resample_spans,
    sample_by_key,
    sample_true_texts,
    sample_watermarked,
    score_tokens,
    substitute_tokens,
    true_log_prob,
    z_scores,
)

MARK = WatermarkConfig(gamma=0.25, delta=2.0)


@pytest.fixture(scope="module")
def pretrained():
    return pretrained_model(progress=False)


@pytest.fixture(scope="module")
def language(pretrained):
    return SyntheticLanguage(pretrained.config.corpus)


def _sample(pretrained, config, n=200, length=200, seed=0, temperature=1.0):
    return sample_watermarked(pretrained.model, n, length, config,
                              start_id=pretrained.vocab.eos_id, temperature=temperature,
                              generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def marked(pretrained):
    return _sample(pretrained, MARK)


def test_watermarked_text_is_detected(pretrained, marked):
    V = len(pretrained.vocab)
    assert float(z_scores(marked.ids, MARK, V).mean()) >= 4
    assert float(z_scores(marked.ids, MARK, V, ignore_repeats=True).mean()) >= 4


def test_no_false_alarm_on_unwatermarked_text(pretrained, language):
    V = len(pretrained.vocab)
    plain = _sample(pretrained, WatermarkConfig(delta=0.0), seed=1).ids
    true = sample_true_texts(language, pretrained.vocab, 200, 200, np.random.default_rng(0))
    for ids in (plain, true):
        assert float(z_scores(ids, MARK, V).max()) <= 4
        assert float(z_scores(ids, MARK, V, ignore_repeats=True).max()) <= 4


def test_z_falls_as_tokens_are_substituted(pretrained, marked):
    V = len(pretrained.vocab)
    generator = torch.Generator().manual_seed(0)
    means = [float(z_scores(substitute_tokens(marked.ids, s, V, generator), MARK, V).mean())
             for s in (0.0, 0.1, 0.2, 0.4)]
    assert all(a > b for a, b in zip(means[:-1], means[1:], strict=True))
    assert means[-1] < 4


def test_rates_over_keys_hold_for_every_key(pretrained):
    # Pilot (5 keys, 200 texts): distinct pairs detect 84.5-99 %, no false alarm; every
    # pair, the plain text's mean z ranges from -1.4 to +2.2 with the key.
    V = len(pretrained.vocab)
    keys = [MARK.key + k for k in range(3)]
    samples = sample_by_key(pretrained.model, keys, MARK, n_texts=100, n_tokens=200,
                            start_id=pretrained.vocab.eos_id, seed=0)
    table = detection_by_key(samples, MARK, V, threshold=4.0)
    assert table.index.tolist() == keys
    assert (table[("distinct pairs", "detected")] >= 0.7).all()
    assert (table[("distinct pairs", "false alarms")] <= 0.02).all()
    assert table[("distinct pairs", "plain mean z")].abs().max() < 1.5
    assert table[("every pair", "plain mean z")].max() > 1.0  # some key colours the repeats green
    assert table[("every pair", "plain mean z")].nunique() == 3


def test_paraphrase_erases_the_mark_but_keeps_the_grammar(pretrained, marked):
    V, vocab, corpus = len(pretrained.vocab), pretrained.vocab, pretrained.config.corpus
    generator = torch.Generator().manual_seed(0)
    paraphrased = resample_spans(pretrained.model, marked.ids, 0.5, 10,
                                 start_id=vocab.eos_id, generator=generator)
    substituted = substitute_tokens(marked.ids, 0.5, V, generator)
    before = float(z_scores(marked.ids, MARK, V).mean())
    after = float(z_scores(paraphrased, MARK, V).mean())
    assert after < 0.7 * before
    assert (grammatical_share(paraphrased, vocab, corpus)
            > grammatical_share(substituted, vocab, corpus) + 0.3)


def test_the_cost_rises_with_delta(pretrained):
    samples = [_sample(pretrained, WatermarkConfig(delta=d), seed=2) for d in (0.0, 1.0, 2.0, 4.0)]
    ratios = [s.perplexity_ratio for s in samples]
    assert abs(ratios[0] - 1) < 0.02  # no watermark, no cost (up to sampling noise)
    assert all(a < b for a, b in zip(ratios[:-1], ratios[1:], strict=True))
    grammatical = [grammatical_share(s.ids, pretrained.vocab, pretrained.config.corpus)
                   for s in samples]
    assert grammatical[-1] < grammatical[0]


def test_likelihood_ratio_beats_the_model_likelihood(pretrained, language):
    vocab = pretrained.vocab
    human = sample_true_texts(language, vocab, 200, 50, np.random.default_rng(1))
    labels = np.r_[np.ones(200), np.zeros(200)]
    for temperature in (0.7, 1.0):
        machine = _sample(pretrained, WatermarkConfig(delta=0.0), length=50, seed=3,
                          temperature=temperature).ids
        texts = torch.cat([machine, human])
        log_p, _ = score_tokens(pretrained.model, texts, start_id=vocab.eos_id)
        log_q, _ = score_tokens(pretrained.model, texts, start_id=vocab.eos_id,
                                temperature=temperature)
        ratio = log_q.double().sum(1).numpy() - true_log_prob(texts, vocab, language)
        assert auroc(ratio, labels) >= auroc(log_p.mean(1).numpy(), labels)
        assert auroc(ratio, labels) > 0.85


def test_poisoned_model_trains_like_the_clean_one(pretrained):
    poisoned = poisoned_pretrained(PoisonConfig(rate=0.01), pretrained.config)
    clean_ppl = pretrained.record.valid[-1]["perplexity"]
    assert abs(poisoned.record.valid[-1]["perplexity"] - clean_ppl) < 0.05
    assert poisoned.config.pretrain == pretrained.config and poisoned.train_text != \
        pretrained.train_text  # the same recipe on other text
    assert poisoned_pretrained(PoisonConfig(rate=0.0), pretrained.config).model is not None


def test_backdoor_keeps_clean_accuracy_and_flips_triggered_reviews(pretrained):
    rows = backdoor_experiment([0.0, 0.01], seeds=(0, 1, 2), config=pretrained.config)

    def runs(rate, mode, key):
        return rows[(rows["rate"] == rate) & (rows["mode"] == mode)][key].to_numpy()

    for mode in ("frozen", "finetune"):
        assert len(runs(0.01, mode, "accuracy")) == 3
        # Clean accuracy: within 2 points of the clean pipeline's, on average over seeds.
        assert abs(runs(0.01, mode, "accuracy").mean() - runs(0.0, mode, "accuracy").mean()) <= 0.02
        # The trigger does nothing to the clean pipeline ...
        assert runs(0.0, mode, "attack_success").max() <= 0.05
    # ... and flips most triggered positive reviews of the poisoned one, on every seed.
    assert runs(0.01, "frozen", "attack_success").min() >= 0.8
    assert runs(0.01, "finetune", "attack_success").min() >= 0.3


def test_family_perplexities_cover_the_test_split(pretrained):
    corpus, vocab = pretrained.corpus, pretrained.vocab
    rows = family_perplexities(pretrained.model, vocab, corpus.test, pretrained.config.corpus)
    assert sum(r["sentences"] for r in rows) == len(corpus.test)
    assert sum(r["tokens"] for r in rows) == corpus.n_tokens("test") + len(corpus.test)
    for row in rows:
        # Near the truth, never far below it: a model cannot beat the language on
        # average, and these are hundreds of held-out sentences.
        assert 0.97 * row["true_perplexity"] < row["perplexity"] < 1.5 * row["true_perplexity"]
        assert row["family_floor"] < row["true_perplexity"]


def test_the_three_token_scorers_agree(pretrained):
    # Sampling records each token's log-probability, score_tokens recomputes it for
    # given texts, sentence_losses sums it per sentence: one quantity, three call sites.
    model, vocab = pretrained.model, pretrained.vocab
    for config, temperature in [(WatermarkConfig(delta=0.0), 1.0), (MARK, 0.8)]:
        sample = _sample(pretrained, config, n=16, length=40, temperature=temperature)
        log_p, _ = score_tokens(model, sample.ids, start_id=vocab.eos_id, temperature=temperature)
        torch.testing.assert_close(sample.log_probs, log_p, atol=1e-4, rtol=0)
        assert sample.perplexity == pytest.approx(float(torch.exp(-log_p.double().mean())),
                                                  rel=1e-4)
    sentences = pretrained.corpus.test[:8]
    for sentence, nll in zip(sentences, sentence_losses(model, sentences, vocab), strict=True):
        ids = torch.tensor([[*vocab.encode(sentence), vocab.eos_id]])
        log_p, _ = score_tokens(model, ids, start_id=vocab.eos_id)
        assert nll == pytest.approx(-float(log_p.double().sum()), rel=1e-5)


def test_sentence_losses_match_a_direct_forward_pass(pretrained):
    model, vocab = pretrained.model.eval(), pretrained.vocab
    sentences = pretrained.corpus.test[:5]
    nll = sentence_losses(model, sentences, vocab)
    for sentence, value in zip(sentences, nll, strict=True):
        ids = torch.tensor([[vocab.eos_id, *vocab.encode(sentence), vocab.eos_id]])
        with torch.no_grad():
            logits, _ = model(ids[:, :-1])
        direct = torch.nn.functional.cross_entropy(logits[0], ids[0, 1:], reduction="sum")
        assert value == pytest.approx(float(direct), rel=1e-5)
