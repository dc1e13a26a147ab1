"""utils.interpretability: attributions against captum and the known label word; probes; ablation.

Thresholds come from a pilot on the default pretrained model (chapter 7's
notebook prints the same numbers). At seed 0 the fine-tuned classifier's
integrated gradients (100 steps) and occlusion point at the sentiment word in
93 % and 94 % of 300 test reviews, the randomised model's in at most 20 %
(chance: 19 %); the classifier trained until it memorised permuted labels
scores 38 % on the test reviews, and its integrated gradients find the word in 10 %.
Ablating the one unit that best tracks number drops agreement from 100 % to
about 59 %, while 8 random units leave it at 100 %.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients as CaptumIG
from captum.attr import LayerIntegratedGradients, Saliency
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

from utils.adapt_and_evaluate import AdaptConfig, predict_proba
from utils.data import UNK, agreement_items, sentiment_task
from utils.evaluate import agreement_accuracy, lstm_verb_margins
from utils.interpretability import (
    EmbeddingForward,
    Gradient,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    UnitAblatedLSTM,
    ablate_units,
    ablation_curve,
    agreement_states,
    chance_level,
    completeness_error,
    control_labels,
    lstm_states,
    permuted_labels,
    probe_by_position,
    randomised,
    rank_correlation,
    rank_units,
    sentiment_positions,
    token_scores,
    top_token_accuracy,
    trained_classifier,
    training_reviews,
    unit_correlations,
)
from utils.lm import pretrained_model

CLASSIFIER = AdaptConfig(pooling="mean", epochs=10)  # the notebook's default classifier


@pytest.fixture(scope="module")
def pretrained():
    return pretrained_model(progress=False)


@pytest.fixture(scope="module")
def reviews(pretrained):
    _, test = sentiment_task(replace(pretrained.config.corpus, seed=0), n_train=1, n_test=300)
    return test.tokens, test.lengths, test.labels


@pytest.fixture(scope="module")
def classifier(pretrained):
    return trained_classifier(pretrained, CLASSIFIER, n_train=500).model


class BagOfEmbeddings(nn.Module):
    """A model linear in its embeddings: logits = W (sum of embeddings) + b."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(20, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, tokens):
        return self.head(self.embedding(tokens).sum(1))


# ---------------------------------------------------------------- attribution maths
def test_gradient_x_input_equals_ig_for_a_model_linear_in_its_embeddings():
    model = BagOfEmbeddings()
    tokens = torch.randint(0, 20, (5, 7), generator=torch.Generator().manual_seed(1))
    fwd = EmbeddingForward(model, model.embedding, tokens)
    x = fwd.embed()
    baselines = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    gxi = GradientXInput(fwd).attribute(x, target=2, baselines=baselines)
    ig = IntegratedGradients(fwd).attribute(x, target=2, baselines=baselines, n_steps=3)
    assert torch.allclose(gxi, ig, atol=1e-6)
    # ...and both add up to F(x) - F(x') exactly.
    f = fwd(x)[:, 2] - fwd(baselines)[:, 2]
    assert torch.allclose(token_scores(ig).sum(1), f, atol=1e-5)


def test_ig_in_chunks_equals_ig_at_once():
    model = BagOfEmbeddings()
    tokens = torch.randint(0, 20, (4, 5), generator=torch.Generator().manual_seed(3))
    fwd = EmbeddingForward(model, model.embedding, tokens)
    x = fwd.embed()
    ig = IntegratedGradients(fwd)
    whole = ig.attribute(x, target=[0, 1, 2, 0], n_steps=9)
    chunked = ig.attribute(x, target=[0, 1, 2, 0], n_steps=9, internal_batch_size=8)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_trained_classifier_leaves_the_callers_random_stream_alone(pretrained):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trained_classifier(pretrained, CLASSIFIER, n_train=500)
    assert torch.equal(torch.rand(3), expected)


def test_embedding_forward_runs_the_models_own_code(classifier, reviews):
    tokens, lengths, _ = reviews
    fwd = EmbeddingForward(classifier, classifier.encoder.embedding, tokens[:8], lengths[:8])
    with torch.no_grad():
        assert torch.allclose(fwd(fwd.embed()), classifier(tokens[:8], lengths[:8]), atol=1e-6)
        # A batch repeated twice, as integrated gradients sends it, gives the same rows twice.
        assert torch.allclose(fwd(fwd.embed().repeat(2, 1, 1))[8:], fwd(fwd.embed()), atol=1e-6)


def test_ig_completeness_within_5_percent_and_shrinking_with_steps(classifier, reviews):
    tokens, lengths, labels = (t[:40] for t in reviews)
    fwd = EmbeddingForward(classifier, classifier.encoder.embedding, tokens, lengths)
    x = fwd.embed()
    ig = IntegratedGradients(fwd)
    f_x, f_0 = ig.score(x, labels).detach(), ig.score(torch.zeros_like(x), labels).detach()
    errors = [float(completeness_error(ig.attribute(x, target=labels, n_steps=n), f_x, f_0).mean())
              for n in (20, 50, 100, 200)]
    assert errors[2] < 0.05  # the default n_steps = 100
    assert errors[0] > errors[1] > errors[2] > errors[3]
    _, delta = ig.attribute(x, target=labels, return_convergence_delta=True)
    assert float((delta.abs() / (f_x - f_0).abs()).mean()) == pytest.approx(errors[2], rel=1e-3)


def test_ig_matches_captum(pretrained, classifier, reviews):
    """Tolerance: 1e-4 absolute on attributions of size ~0.3 (float32 sums in another order).

    captum's ``riemann_trapezoid`` weighs n points by 1/n (halved at both ends), so
    its weights add up to 1 - 1/n; ours by 1/(n - 1), adding up to 1. The two
    differ by the factor (n - 1)/n, which the comparison applies.
    """
    tokens, lengths, labels = (t[:20] for t in reviews)
    fwd = EmbeddingForward(classifier, classifier.encoder.embedding, tokens, lengths)
    x, n = fwd.embed(), 50
    ours = IntegratedGradients(fwd).attribute(x, target=labels, n_steps=n)
    theirs = CaptumIG(fwd).attribute(x, target=labels, n_steps=n, method="riemann_trapezoid")
    assert torch.allclose(ours * (n - 1) / n, theirs, atol=1e-4)
    # LayerIntegratedGradients on the embedding layer, with an all-<unk> baseline sentence.
    unk = torch.full_like(tokens, pretrained.vocab.stoi[UNK])
    lig = LayerIntegratedGradients(classifier, classifier.encoder.embedding).attribute(
        tokens, baselines=unk, target=labels, additional_forward_args=(lengths,), n_steps=n,
        method="riemann_trapezoid")
    ours = IntegratedGradients(fwd).attribute(x, target=labels, baselines=fwd.embed(unk),
                                              n_steps=n)
    assert torch.allclose(ours * (n - 1) / n, lig, atol=1e-4)


def test_occlusion_and_gradient_match_captum(classifier, reviews):
    tokens, lengths, labels = (t[:20] for t in reviews)
    fwd = EmbeddingForward(classifier, classifier.encoder.embedding, tokens, lengths)
    x = fwd.embed()
    ours = Occlusion(fwd).attribute(x, target=labels)
    theirs = CaptumOcclusion(fwd).attribute(x, sliding_window_shapes=(1, x.shape[-1]),
                                            target=labels, baselines=0)
    assert torch.allclose(ours * x.shape[-1], theirs, atol=1e-5)
    saliency = Saliency(fwd).attribute(x, target=labels, abs=False)
    assert torch.allclose(Gradient(fwd).attribute(x, target=labels), saliency, atol=1e-7)


# ---------------------------------------------------------------- scored against the label word
def _top_token(model, reviews, method, **kwargs):
    tokens, lengths, labels = reviews
    fwd = EmbeddingForward(model, model.encoder.embedding, tokens, lengths)
    scores = token_scores(method(fwd).attribute(fwd.embed(), target=labels, **kwargs))
    return top_token_accuracy(scores, lengths, sentiment_positions(lengths)), scores


def test_ig_and_occlusion_find_the_sentiment_word_and_not_after_randomisation(classifier,
                                                                              reviews):
    chance = chance_level(reviews[1])
    random_model = randomised(classifier, ("encoder.lstm", "head"), seed=0)
    for method, kwargs in ((IntegratedGradients, {}), (Occlusion, {})):
        trained_acc, trained_scores = _top_token(classifier, reviews, method, **kwargs)
        random_acc, random_scores = _top_token(random_model, reviews, method, **kwargs)
        assert trained_acc >= 0.9, (method.__name__, trained_acc)
        assert random_acc <= chance + 0.05, (method.__name__, random_acc, chance)
        assert rank_correlation(trained_scores, random_scores, reviews[1]) < 0.5


def test_label_randomised_classifier_loses_the_sentiment_word(pretrained, classifier, reviews):
    """Pilot (seed 0, the notebook's classifier): IG finds the word in 93 % of reviews on the
    trained model and in 10 % on the label-randomised one (chance: 19 %)."""
    shuffled = trained_classifier(pretrained, replace(CLASSIFIER, encoder_lr=2e-3), n_train=500,
                                  labels="permuted").model
    trained_acc, _ = _top_token(classifier, reviews, IntegratedGradients)
    shuffled_acc, _ = _top_token(shuffled, reviews, IntegratedGradients)
    assert shuffled_acc < trained_acc - 0.3


def test_permuted_labels_keep_the_counts_and_carry_no_stratum():
    generator = torch.Generator().manual_seed(0)
    strata = torch.randint(0, 6, (301,), generator=generator)
    labels = (strata < 3).long()  # the label is a function of the stratum, like sentiment
    permuted = permuted_labels(labels, strata, seed=4)
    assert torch.equal(permuted.bincount(), labels.bincount())  # an exact permutation
    share = labels.double().mean()
    for stratum in range(6):
        rows = strata == stratum
        assert abs(float(permuted[rows].sum()) - float(share * rows.sum())) <= 1.0
    assert abs(float((permuted == labels).double().mean()) - 0.5) < 0.02
    assert torch.equal(permuted_labels(labels, strata, seed=4), permuted)
    assert not torch.equal(permuted_labels(labels, strata, seed=5), permuted)


def _held_out(model, reviews):
    tokens, lengths, labels = reviews
    return float((predict_proba(model, tokens, lengths).argmax(1) == labels).double().mean())


def test_label_randomised_classifier_memorises_and_is_at_chance(pretrained, reviews):
    """Small: 150 reviews drawn (110 distinct). Coin-flip labels that still followed the
    sentiment 54 % of the time once gave a 'randomised' model 72 % held-out accuracy."""
    config = replace(CLASSIFIER, seed=3)
    trained = trained_classifier(pretrained, config, n_train=150)
    shuffled = trained_classifier(pretrained, replace(config, encoder_lr=2e-3), n_train=150,
                                  labels="permuted")
    permuted, true = training_reviews(pretrained, shuffled.config)
    assert len({tuple(t) for t in permuted.texts}) == len(permuted)  # each review once
    assert torch.equal(permuted.labels.bincount(), true.bincount())
    assert 0.4 < shuffled.record.measured["agreement"] < 0.6
    fitted = predict_proba(shuffled.model, permuted.tokens, permuted.lengths).argmax(1)
    assert float((fitted == permuted.labels).double().mean()) >= 0.99  # memorised
    assert _held_out(trained.model, reviews) > 0.9
    assert abs(_held_out(shuffled.model, reviews) - 0.5) < 0.12


@pytest.mark.parametrize("seed", [1, 2])
def test_other_classifier_seeds_gradient_x_input_stays_above_90_percent(pretrained, reviews,
                                                                        seed):
    """The 90 % of integrated gradients and occlusion is not robust to the classifier's seed.

    Pilot over seeds 0-4: integrated gradients 93, 84, 70, 77, 74 %; occlusion 94, 92,
    79, 95, 76 %; gradient x input 99.7, 95, 93, 98, 93 %. The misses land mostly on
    "was", whose replacement by zeros changes how the LSTM reads the next word.
    """
    model = trained_classifier(pretrained, replace(CLASSIFIER, seed=seed), n_train=500).model
    chance = chance_level(reviews[1])
    assert _top_token(model, reviews, GradientXInput)[0] >= 0.9
    for method in (IntegratedGradients, Occlusion):
        accuracy = _top_token(model, reviews, method)[0]
        assert 0.65 <= accuracy and accuracy > 3 * chance, (method.__name__, accuracy)


def test_randomised_copies_only_the_named_parts(classifier):
    copy = randomised(classifier, ("head",), seed=3)
    assert torch.equal(copy.encoder.lstm.weight_ih_l0, classifier.encoder.lstm.weight_ih_l0)
    assert not torch.equal(copy.head.weight, classifier.head.weight)
    assert torch.equal(randomised(classifier, ("head",), seed=3).head.weight, copy.head.weight)


# ---------------------------------------------------------------- probes
def test_control_labels_follow_word_type_and_keep_the_balance():
    words = [f"w{i % 40}" for i in range(4000)]
    labels = np.array([i % 2 for i in range(4000)])
    control = control_labels(words, labels, seed=1)
    table = {}
    for w, c in zip(words, control, strict=True):
        assert table.setdefault(w, c) == c
    assert 0.3 < control.mean() < 0.7


def test_probe_selectivity_higher_for_trained_than_random_model(pretrained):
    items = agreement_items(replace(pretrained.config.corpus, seed=1), n=400)
    random_lm = randomised(pretrained.model, ("embedding", "lstm"), seed=0)
    trained = probe_by_position(agreement_states(pretrained.model, pretrained.vocab, items),
                                items, [-1, "verb"])
    random = probe_by_position(agreement_states(random_lm, pretrained.vocab, items),
                               items, [-1, "verb"])
    assert trained["verb"].accuracy > 0.95
    assert trained["verb"].selectivity > random["verb"].selectivity + 0.2
    # Before the subject every sentence has the same state: the probe can only guess.
    assert trained[-1].accuracy < 0.65 and trained[-1].selectivity <= 0.05


# ---------------------------------------------------------------- units and ablation
def test_step_by_step_states_equal_nn_lstm():
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, num_layers=2, batch_first=True)
    x = torch.randn(3, 6, 5)
    out, (h, c) = lstm(x)
    hs, cs = lstm_states(lstm, x)
    assert torch.allclose(hs, out, atol=1e-6)
    assert torch.allclose(hs[:, -1], h[-1], atol=1e-6) and torch.allclose(cs[:, -1], c[-1],
                                                                          atol=1e-6)


def test_ablation_zeroes_h_and_c_and_restores_the_lstm(pretrained):
    model = pretrained.model
    tokens = torch.randint(2, len(pretrained.vocab), (4, 9),
                           generator=torch.Generator().manual_seed(0))
    original = model.lstm
    with torch.no_grad(), ablate_units(model, [3, 64]):
        out, (h, c) = model.lstm(model.embedding(tokens))
        assert float(out[..., [3, 64]].abs().max()) == 0.0
        assert float(c[..., [3, 64]].abs().max()) == 0.0
        with_none, _ = model.lstm.lstm(model.embedding(tokens))
        assert not torch.allclose(out[..., 5], with_none[..., 5])  # the others feel it
    assert model.lstm is original
    with ablate_units(model, []), torch.no_grad():
        assert torch.allclose(model(tokens)[0], original(model.embedding(tokens))[0] @
                              model.decoder.weight.T + model.decoder.bias, atol=1e-5)


def test_unit_correlations_match_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.integers(0, 2, 50)
    expected = [np.corrcoef(x[:, j], y)[0, 1] for j in range(4)]
    assert np.allclose(unit_correlations(x, y), expected)


def test_top_units_hurt_agreement_more_than_random_units(pretrained):
    model, vocab = pretrained.model, pretrained.vocab
    rank_items = agreement_items(replace(pretrained.config.corpus, seed=1), n=400)
    test_items = agreement_items(replace(pretrained.config.corpus, seed=2), n=400)
    assert agreement_accuracy(lstm_verb_margins(model, vocab, test_items)) == 1.0
    order, _ = rank_units(agreement_states(model, vocab, rank_items), rank_items)
    curve = ablation_curve(model, vocab, test_items, order, [1, 4], n_random=5, seed=0)
    random_mean, random_spread = curve["random"].mean(0), curve["random"].std(0)
    drop_gap = random_mean - curve["top"]  # how much more the top units cost
    assert np.all(drop_gap > 0.2)
    assert np.all(drop_gap > 3 * random_spread + 0.05)


def test_ablating_one_step_needs_c_zeroed_too():
    """Zero a unit at step 1 only: its memory must not come back at step 2 through c."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 5, batch_first=True)
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        out, _ = UnitAblatedLSTM(lstm, [2], steps=[1])(x)
        full, _ = lstm(x)
        assert torch.equal(out[:, 0], full[:, 0]) and float(out[:, 1, 2].abs().max()) == 0.0
        # By hand: step 2 starts from (h, c) of step 1 with unit 2 zeroed in both.
        _, (h, c) = lstm(x[:, :2])
        h[..., 2] = 0.0
        c[..., 2] = 0.0
        expected, _ = lstm(x[:, 2:], (h, c))
        assert torch.allclose(out[:, 2:], expected, atol=1e-6)
