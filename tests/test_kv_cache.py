"""Generation with a key-value cache: the same logits and tokens as reading the whole prefix."""

from __future__ import annotations

import pytest
import torch

from utils.data import CorpusConfig
from utils.lm import (
    TransformerConfig,
    TransformerLanguageModel,
    corpus_and_vocab,
    generate_causal,
)


@pytest.fixture(scope="module")
def vocab():
    return corpus_and_vocab(CorpusConfig(n_sentences=50))[1]


def _model(vocab_size: int, **changes) -> TransformerLanguageModel:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=vocab_size, d_model=32, n_heads=4, n_layers=2, d_ff=64,
                               max_len=64, memory=0, dropout=0.0, **changes)
    return TransformerLanguageModel(config).eval()


def test_cached_logits_equal_a_full_pass_position_by_position(vocab):
    model = _model(len(vocab))
    tokens = torch.randint(0, len(vocab), (3, 20))
    full = model.decoder(model.features(tokens))  # (3, 20, vocab): one causal pass
    first, cache = model.extend(tokens[:, :7])
    pieces = [first]
    for t in range(7, 20):  # then one token at a time
        logits, cache = model.extend(tokens[:, t:t + 1], cache)
        pieces.append(logits)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)
    assert cache[0][0].shape == (3, 4, 20, 8)  # (batch, heads, seq, head_dim)


def test_cached_and_uncached_generation_give_the_same_tokens(vocab):
    model = _model(len(vocab))
    for seed in range(3):
        cached = generate_causal(model, vocab, ["the"], 40, temperature=1.0, seed=seed)
        full = generate_causal(model, vocab, ["the"], 40, temperature=1.0, seed=seed,
                               use_cache=False)
        assert cached == full and len(cached) == 40
    greedy = generate_causal(model, vocab, ["the", "cat"], 10, temperature=0)
    assert greedy == generate_causal(model, vocab, ["the", "cat"], 10, temperature=0,
                                     use_cache=False)


def test_the_cache_refuses_what_it_cannot_do(vocab):
    model = _model(len(vocab))
    with pytest.raises(ValueError, match="max_len"):
        generate_causal(model, vocab, ["the"], 100)
    bidirectional = _model(len(vocab), causal=False)
    with pytest.raises(ValueError, match="causal"):
        bidirectional.extend(torch.zeros(1, 3, dtype=torch.long))
