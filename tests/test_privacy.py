"""utils.privacy: exact exposure, the membership attack's metrics, DP-SGD and its accountant.

Each piece is checked against a trusted reference: brute-force scoring of
whole sentences, scikit-learn's ROC and AUC, scipy's binomial intervals, and
Opacus (per-example gradients, clipping, noise, the RDP accountant).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from sklearn.metrics import roc_curve as sk_roc_curve

from utils.data import CorpusConfig, canary_sentence
from utils.lm import corpus_and_vocab
from utils.privacy import (
    DEFAULT_ORDERS,
    PAD,
    DPLanguageModel,
    PrivateTrainConfig,
    advantage,
    attack_rates,
    canary_log2_probs,
    clip_and_sum,
    clopper_pearson,
    dedupe_sentences,
    dp_bound_violations,
    dpsgd_epsilon,
    encode_with_targets,
    exposure,
    extrapolated_exposure,
    gaussian_epsilon,
    gaussian_epsilon_simple,
    gaussian_noise,
    noise_for_epsilon,
    opacus_twin,
    per_example_grads,
    private_gradient,
    threshold_at_fpr,
    tpr_at_fpr,
    train_sentences,
)


@pytest.fixture(scope="module")
def small():
    """A tiny untrained model, its vocabulary and a batch of real sentences."""
    corpus, vocab = corpus_and_vocab(CorpusConfig(n_sentences=200, code_weight=0.05))
    model = DPLanguageModel(len(vocab), 16, generator=torch.Generator().manual_seed(0))
    inputs, targets = encode_with_targets(corpus.train[:12], vocab)
    return model, vocab, corpus, inputs, targets


# ---------------------------------------------------------------- exposure
def test_exposure_ranks():
    scores = np.zeros(100)
    scores[7] = 1.0
    assert exposure(scores, 7) == pytest.approx(math.log2(100))  # first: the maximum
    scores[8] = 2.0
    assert exposure(scores, 7) == pytest.approx(math.log2(100) - 1)  # second: one bit less


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exposure_uses_the_mid_rank_of_ties(seed):
    # The course's tie rule: rank = 1 + (candidates above) + half the others tied, i.e.
    # scipy's mid-rank from the top: the expected rank under random tie-breaking.
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 20, 1000).astype(float)  # many ties
    mid_rank = stats.rankdata(-scores, method="average")
    for index in rng.choice(len(scores), 20, replace=False):
        assert exposure(scores, int(index)) == pytest.approx(
            math.log2(len(scores)) - math.log2(mid_rank[index]))
    assert exposure(np.zeros(1024), 3) == pytest.approx(math.log2(1024) - math.log2(512.5))


def test_extrapolated_exposure_agrees_below_the_cap_and_continues_above_it():
    rng = np.random.default_rng(0)
    scores = rng.normal(-40.0, 2.0, 10**5)
    order = np.argsort(-scores)
    for rank in (100, 1000, 30000):  # where the rank is informative, both scales agree
        index = int(order[rank - 1])
        assert extrapolated_exposure(scores, index) == pytest.approx(
            exposure(scores, index), abs=0.3)
    scores[5] = scores.max() + 2.0  # ranked first, with a margin: beyond the exact cap
    scores[6] = scores.max() + 6.0
    assert exposure(scores, 5) < exposure(scores, 6) == pytest.approx(math.log2(10**5))
    assert math.log2(10**5) < extrapolated_exposure(scores, 5) < extrapolated_exposure(scores, 6)


def test_canary_scores_equal_brute_force_sentence_scores(small):
    model, vocab, *_ = small
    model = copy.deepcopy(model)
    with torch.no_grad():  # perturb the weights so the scores are far from uniform
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.5)
    tree = canary_log2_probs(model, vocab)
    assert tree.shape == (10**5,)
    for code in ("00000", "48152", "99999", "31415"):
        ids = torch.tensor([[vocab.eos_id, *vocab.encode(canary_sentence(code))]])
        with torch.no_grad():
            logp = F.log_softmax(model(ids)[0][0].double(), dim=-1)  # (len, vocab)
        digits = sum(float(logp[t, ids[0, t + 1]]) for t in range(3, 8))  # after "is"
        assert tree[int(code)] == pytest.approx(digits / math.log(2), abs=1e-4)
    with_period = canary_log2_probs(model, vocab, with_period=True)
    assert np.all(with_period < tree)  # the "." costs some probability for every code


def test_dedupe_keeps_first_copies_in_order():
    assert dedupe_sentences([["a"], ["b"], ["a"], ["c"], ["b"]]) == [["a"], ["b"], ["c"]]


# ---------------------------------------------------------------- membership metrics
def _scores(seed=0, n=300):
    rng = np.random.default_rng(seed)
    members = np.round(rng.normal(0.6, 1, n), 1)  # rounded: ties, as in real losses
    nonmembers = np.round(rng.normal(0.0, 1, n + 50), 1)
    return members, nonmembers


def test_attack_summaries_match_scikit_learns_roc():
    # The curve itself is tested in tests/test_roc.py; here, what the attack reads off it.
    members, nonmembers = _scores()
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    s = np.r_[members, nonmembers]
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    assert advantage(members, nonmembers) == pytest.approx(np.max(sk_tpr - sk_fpr))
    assert tpr_at_fpr(members, nonmembers, 0.01) == pytest.approx(
        np.max(sk_tpr[sk_fpr <= 0.01]))


def test_threshold_keeps_false_positives_within_budget():
    _, nonmembers = _scores(1, 1000)
    for max_fpr in (0.0, 0.01, 0.1):
        t = threshold_at_fpr(nonmembers, max_fpr)
        _, fpr = attack_rates(nonmembers, nonmembers, t)
        assert fpr <= max_fpr
        # the next lower distinct score would break the budget (or admit nothing new)
        lower = np.max(nonmembers[nonmembers < t])
        assert attack_rates(nonmembers, nonmembers, lower)[1] > max_fpr


def test_clopper_pearson_matches_scipy():
    for k, n in ((0, 50), (3, 50), (50, 50), (17, 400)):
        low, high = clopper_pearson(np.array([k]), n)
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert (low[0], high[0]) == pytest.approx((ci.low, ci.high))


def test_dp_bound_flags_a_strong_attack_but_not_chance():
    rng = np.random.default_rng(0)
    assert dp_bound_violations(rng.normal(0, 1, 500), rng.normal(0, 1, 500), 1.0, 1e-5) == 0
    assert dp_bound_violations(rng.normal(3, 1, 500), rng.normal(0, 1, 500), 1.0, 1e-5) > 0


# ---------------------------------------------------------------- DP-SGD against Opacus
def _opacus_step(model, inputs, targets, clip, sigma, seed, loss_reduction="sum"):
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = GradSampleModule(opacus_twin(model), loss_reduction="sum")
        opt = DPOptimizer(torch.optim.SGD(twin.parameters(), lr=0.0), noise_multiplier=sigma,
                          max_grad_norm=clip, expected_batch_size=len(inputs),
                          loss_reduction=loss_reduction,
                          generator=torch.Generator().manual_seed(seed))
        logits, _ = twin(inputs)
        F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD,
                        reduction="sum").backward()
        opt.pre_step()
    return twin._module


def test_forward_and_gate_by_gate_match_opacus_dplstm(small):
    model, _, _, inputs, _ = small
    from utils.privacy.dpsgd import _logits_by_gates

    twin = opacus_twin(model)
    ours = model(inputs)[0]
    torch.testing.assert_close(twin(inputs)[0], ours)
    torch.testing.assert_close(_logits_by_gates(dict(model.named_parameters()), inputs), ours)


def test_per_example_grads_and_clipped_sum_match_opacus(small):
    model, _, _, inputs, targets = small
    grads = per_example_grads(model, inputs, targets)
    norms = clip_and_sum(grads, 1.0)[1]
    clip = float(norms.median())  # some examples are clipped, some are not
    summed, _ = clip_and_sum(grads, clip)
    twin = _opacus_step(model, inputs, targets, clip, 0.0, 0)
    for name, p in twin.named_parameters():
        torch.testing.assert_close(p.grad_sample, grads[name], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(p.grad, summed[name], atol=1e-5, rtol=1e-4)
    # each clipped gradient has norm at most C; unclipped ones are unchanged
    factor = (clip / (norms + 1e-6)).clamp(max=1.0)
    assert torch.all(norms * factor <= clip * (1 + 1e-5)) and torch.any(factor == 1.0)


def test_noise_and_scaling_match_opacus(small):
    model, _, _, inputs, targets = small
    clip, sigma, seed = 0.5, 1.3, 7
    twin = _opacus_step(model, inputs, targets, clip, sigma, seed, loss_reduction="mean")
    twin_params = dict(twin.named_parameters())
    grads = per_example_grads(model, inputs, targets)
    summed, _ = clip_and_sum(grads, clip)
    # Opacus draws noise parameter by parameter in its own order, from its generator
    ordered = {name: summed[name] for name in twin_params}
    noise = gaussian_noise(ordered, sigma * clip, torch.Generator().manual_seed(seed))
    for name, p in twin_params.items():
        expected = (summed[name] + noise[name]) / len(inputs)  # divided by L = batch size
        torch.testing.assert_close(p.grad, expected, atol=1e-5, rtol=1e-4)
    ours = private_gradient(model, inputs, targets, max_grad_norm=clip, noise_multiplier=sigma,
                            expected_batch_size=len(inputs),
                            generator=torch.Generator().manual_seed(seed))
    # the same noise law: std sigma*C/L over all coordinates
    residual = torch.cat([(ours[n] - summed[n] / len(inputs)).flatten() for n in summed])
    assert float(residual.std()) == pytest.approx(sigma * clip / len(inputs), rel=0.02)


def test_private_training_moves_the_model_and_survives_empty_batches(small):
    model, vocab, corpus, *_ = small
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = PrivateTrainConfig(epochs=1, batch_size=1, noise_multiplier=1.0, seed=3)
    record = train_sentences(model, corpus.train[:20], vocab, config)  # q = 1/20: empty batches
    assert record["steps"] == 20 and record["sample_rate"] == pytest.approx(1 / 20)
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())


# ---------------------------------------------------------------- the accountant
@pytest.mark.parametrize("sigma,steps", [(1.0, 1), (5.0, 10), (10.0, 100), (2.0, 1000)])
def test_closed_form_equals_opacus_without_subsampling(sigma, steps):
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    rdp = compute_rdp(q=1.0, noise_multiplier=sigma, steps=steps, orders=list(DEFAULT_ORDERS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = get_privacy_spent(orders=list(DEFAULT_ORDERS), rdp=rdp, delta=1e-5)
    assert gaussian_epsilon(sigma, steps, 1e-5) == pytest.approx(theirs, rel=1e-9)
    assert dpsgd_epsilon(sigma, 1.0, steps, 1e-5) == pytest.approx(theirs, rel=1e-9)
    # the textbook bound is looser, never tighter
    assert gaussian_epsilon_simple(sigma, steps, 1e-5) >= theirs


def test_epsilon_falls_with_noise_and_rises_with_steps():
    for fn in (lambda s, t: gaussian_epsilon(s, t, 1e-5),
               lambda s, t: dpsgd_epsilon(s, 0.05, t, 1e-5)):
        by_noise = [fn(s, 100) for s in (0.8, 1.0, 2.0, 4.0)]
        by_steps = [fn(2.0, t) for t in (10, 100, 1000)]
        assert all(a > b for a, b in zip(by_noise, by_noise[1:], strict=False))
        assert all(a < b for a, b in zip(by_steps, by_steps[1:], strict=False))
    assert dpsgd_epsilon(2.0, 0.05, 100, 1e-5) < gaussian_epsilon(2.0, 100, 1e-5)  # amplification


def test_noise_for_epsilon_spends_the_budget():
    for eps in (8.0, 2.0, 1.0):
        sigma = noise_for_epsilon(eps, 0.1, 100, 1e-5)
        assert dpsgd_epsilon(sigma, 0.1, 100, 1e-5) == pytest.approx(eps, abs=0.02)
