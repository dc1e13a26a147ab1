"""The Transformer pretraining recipe: schedule, BERT's corruption, untied decoder, caching."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from utils.data import CorpusConfig
from utils.lm.masked import IGNORE
from utils.lm.pretrain_recipe import (
    RecipeConfig,
    corrupt_tokens,
    learning_rate,
    pretrain_with_recipe,
    transfer_recipe,
)
from utils.lm.pretrained_transformer import TransformerPretrainConfig


def test_warmup_is_linear_and_cosine_ends_near_zero():
    lrs = [learning_rate(s, 100, 1e-2, 10, "cosine") for s in range(100)]
    assert lrs[:10] == pytest.approx([1e-2 * (s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(1e-2)
    assert lrs[55] == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] < 1e-2 * 0.01
    assert learning_rate(99, 100, 1e-2, 10, "constant") == 1e-2
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0, 10, 1e-2, 0, "linear")


def test_80_10_10_corruption_has_the_right_shares_and_targets():
    tokens = torch.randint(2, 50, (400, 100))
    inputs, targets = corrupt_tokens(tokens, mask_id=50, rate=0.2, masking="80/10/10",
                                     n_words=50, first_word=2,
                                     generator=torch.Generator().manual_seed(0))
    chosen = targets != IGNORE
    assert chosen.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert torch.equal(targets[chosen], tokens[chosen])  # the target is the original word
    assert torch.equal(inputs[~chosen], tokens[~chosen])  # nothing else is touched
    masked = (inputs == 50) & chosen
    changed = (inputs != tokens) & ~masked & chosen
    kept = (inputs == tokens) & chosen
    n = chosen.sum().item()
    assert masked.sum().item() / n == pytest.approx(0.8, abs=0.02)
    # a random replacement equals the original word one time in 48, so "kept" gets that share too
    assert changed.sum().item() / n == pytest.approx(0.1 * 47 / 48, abs=0.015)
    assert kept.sum().item() / n == pytest.approx(0.1 + 0.1 / 48, abs=0.015)
    assert inputs.min().item() >= 2  # never a special token
    always, _ = corrupt_tokens(tokens, mask_id=50, rate=0.2, masking="always", n_words=50,
                               first_word=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(always == 50, chosen)  # the same draw chooses the same positions


def test_config_is_validated():
    with pytest.raises(ValueError, match="schedule"):
        RecipeConfig(schedule="step")
    with pytest.raises(ValueError, match="masking"):
        RecipeConfig(masking="sometimes")


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    base = TransformerPretrainConfig(corpus=CorpusConfig(n_sentences=400), d_model=32, d_ff=64)
    return dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=6,
                                                               batch_size=8, lr=1e-2,
                                                               warmup_steps=5))


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_pretraining_learns_and_is_cached(tiny, objective):
    recipe = RecipeConfig(dataclasses.replace(tiny, objective=objective), schedule="cosine",
                          tied=False, masking="80/10/10")
    pre = pretrain_with_recipe(recipe)
    assert not pre.from_cache
    model = pre.model
    assert model.decoder.weight.data_ptr() != model.embedding.weight.data_ptr()
    losses = pre.history["train_loss"]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.4  # it learned something
    again = pretrain_with_recipe(recipe)
    assert again.from_cache
    for a, b in zip(model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b.cpu())
    assert again.model.decoder.weight.data_ptr() != again.model.embedding.weight.data_ptr()


def test_tied_recipe_shares_one_matrix_and_seeds_decide_the_weights(tiny):
    first = pretrain_with_recipe(RecipeConfig(tiny))
    model = first.model
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()
    other = pretrain_with_recipe(RecipeConfig(dataclasses.replace(
        tiny, train=dataclasses.replace(tiny.train, seed=1))))
    assert not torch.equal(model.embedding.weight, other.model.embedding.weight)


def test_transfer_recipe_changes_one_factor_per_objective():
    causal = transfer_recipe(TransformerPretrainConfig())
    assert not causal.tied and causal.pretrain == TransformerPretrainConfig()
    masked = transfer_recipe(TransformerPretrainConfig(objective="masked"))
    assert masked.tied and masked.pretrain.mask_rate == 0.3
    assert dataclasses.replace(masked.pretrain, mask_rate=0.15) == TransformerPretrainConfig(
        objective="masked")
