"""The tiny Transformer: attention equals PyTorch's, the past never sees the future, and the
trained model's perplexity is close to the LSTM's at the same budget, above the entropy floor."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from utils.data import SyntheticLanguage, agreement_items, lm_stream
from utils.evaluate import agreement_accuracy, lstm_verb_margins
from utils.lm import (
    PretrainConfig,
    TransformerConfig,
    TransformerLanguageModel,
    TransformerPretrainConfig,
    causal_self_attention,
    evaluate_language_model,
    mask_tokens,
    pretrained_model,
    pretrained_transformer,
)


@pytest.mark.parametrize("shape", [(1, 1), (6, 4), (2, 3, 17, 8), (4, 33, 12)])
def test_written_out_attention_equals_pytorchs(shape):
    g = torch.Generator().manual_seed(sum(shape))
    q, k, v = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(causal_self_attention(q, k, v), expected, atol=1e-12)


def _model(**kwargs) -> TransformerLanguageModel:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=50, d_model=32, n_heads=4, n_layers=2, d_ff=64,
                               max_len=64, memory=16, **kwargs)
    return TransformerLanguageModel(config).eval()


def test_no_position_depends_on_a_later_token():
    model = _model()
    tokens = torch.randint(0, 50, (3, 20), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[:, 12:] = (changed[:, 12:] + 7) % 50
    with torch.no_grad():
        before, _ = model(tokens)
        after, _ = model(changed)
    assert torch.equal(before[:, :12], after[:, :12])
    assert not torch.allclose(before[:, 12:], after[:, 12:])


def test_the_carried_state_is_the_context_of_the_next_batch():
    model = _model()
    tokens = torch.randint(0, 50, (2, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole, _ = model(tokens)
        _, state = model(tokens[:, :10])
        second, _ = model(tokens[:, 10:], state)
    assert state[0].shape == (2, 10)
    assert torch.allclose(second, whole[:, 10:], atol=1e-5)


def test_the_bidirectional_encoder_reads_both_ways_and_ignores_padding():
    model = _model(causal=False, pad_id=1)
    tokens = torch.tensor([[1, 5, 6, 7, 8, 9]])  # <eos> starts a sentence: id 1 at position 0
    padded = torch.tensor([[1, 5, 6, 7, 8, 9, 1, 1, 1]])
    changed = torch.tensor([[1, 5, 6, 7, 8, 10]])
    with torch.no_grad():
        base = model.features(tokens)
        assert torch.allclose(model.features(padded)[:, :6], base, atol=1e-5)
        assert not torch.allclose(model.features(changed)[:, 1], base[:, 1])


def test_masking_hides_the_chosen_share_and_keeps_targets_only_there():
    tokens = torch.randint(0, 50, (64, 100), generator=torch.Generator().manual_seed(3))
    inputs, targets = mask_tokens(tokens, 50, 0.15, torch.Generator().manual_seed(4))
    hidden = targets != -100
    assert 0.13 < hidden.float().mean() < 0.17
    assert torch.equal(targets[hidden], tokens[hidden]) and (inputs[hidden] == 50).all()
    assert torch.equal(inputs[~hidden], tokens[~hidden])
    with pytest.raises(ValueError, match="rate"):
        mask_tokens(tokens, 50, 0.0, torch.Generator())


def test_sizes_are_validated():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerConfig(vocab_size=10, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="max_len"):
        _model()(torch.zeros(1, 65, dtype=torch.long))


# Pilot run (seed 0, four epochs each, the notebook's defaults): test perplexity LSTM 3.661,
# Transformer 3.696, floor 3.430; agreement LSTM 87 %, Transformer 84 % (500 items). After
# three epochs neither had learned agreement (50 % and 54 %): the margins below allow for
# other machines' rounding, not for a model that has not learned it.
PERPLEXITY_MARGIN = 0.05
MIN_AGREEMENT = 0.75


@pytest.mark.slow
def test_trained_transformer_is_close_to_the_lstm_and_above_the_floor():
    gpt = pretrained_transformer(TransformerPretrainConfig(), progress=False)
    default = PretrainConfig()
    lstm = pretrained_model(dataclasses.replace(default, train=dataclasses.replace(
        default.train, epochs=gpt.config.train.epochs)), progress=False)
    test = lm_stream(gpt.corpus.test, gpt.vocab)
    floor = math.exp(SyntheticLanguage(gpt.config.corpus).entropy_rate(eos=True))
    ppl = {name: evaluate_language_model(pre.model, test)["perplexity"]
           for name, pre in (("transformer", gpt), ("lstm", lstm))}
    assert floor < ppl["transformer"] < (1 + PERPLEXITY_MARGIN) * ppl["lstm"]
    items = agreement_items(gpt.config.corpus, n=500)
    for pre in (gpt, lstm):
        assert agreement_accuracy(lstm_verb_margins(pre.model, pre.vocab, items)) > MIN_AGREEMENT


def test_the_recipes_that_transfer_are_the_defaults():
    # Tied to its input embedding, the GPT-like model fine-tuned to 55 % on one of three
    # pretraining seeds (experiments/logs/learning_curve_tied_recipe.log); untied, 78 % at worst.
    from utils.lm import TransformerPretrainConfig

    gpt = TransformerPretrainConfig()
    bert = TransformerPretrainConfig(objective="masked")
    assert gpt.model_config(50, 1).tied is False and bert.model_config(50, 1).tied is True
    assert bert.mask_rate == 0.3
    untied = TransformerLanguageModel(gpt.model_config(50, 1))
    tied = TransformerLanguageModel(bert.model_config(50, 1))
    assert untied.decoder.weight is not untied.embedding.weight
    assert tied.decoder.weight is tied.embedding.weight
    with pytest.raises(ValueError, match="tied"):
        TransformerPretrainConfig(tied="yes")
