"""Fine-tuning through a prompt: the inputs end where the reaction would be predicted."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from utils.adapt_and_evaluate import AdaptConfig
from utils.adapt_and_evaluate.prompted import encode_prompted, prompted_budget_experiment
from utils.data import CorpusConfig
from utils.lm import corpus_and_vocab
from utils.lm.lstm import LSTMLanguageModel, ModelConfig

CORPUS = CorpusConfig(n_sentences=50)
VOCAB = corpus_and_vocab(CORPUS)[1]


def _pretrained(causal: bool):
    return SimpleNamespace(vocab=VOCAB, model=SimpleNamespace(config=SimpleNamespace(
        causal=causal)))


def test_next_word_models_read_the_review_then_and_i():
    tokens, lengths = encode_prompted([["the", "film", "was", "superb", "."],
                                       ["the", "meal", "was", "very", "dull", "."]],
                                      _pretrained(True))
    assert lengths.tolist() == [7, 8]
    assert tokens[0, :7].tolist() == VOCAB.encode(["<eos>", "the", "film", "was", "superb",
                                                   "and", "i"])
    assert tokens[0, 7].item() == VOCAB.eos_id  # padding after the shorter review


def test_masked_models_end_on_the_mask():
    tokens, lengths = encode_prompted([["the", "film", "was", "superb", "."],
                                       ["the", "meal", "was", "very", "dull", "."]],
                                      _pretrained(False))
    assert lengths.tolist() == [8, 9]
    rows = torch.arange(2)
    assert (tokens[rows, lengths - 1] == len(VOCAB)).all()  # the last real token is <mask>
    assert tokens[rows, lengths - 2].tolist() == [VOCAB.stoi["i"]] * 2
    assert tokens[0, 8].item() == VOCAB.eos_id


def test_experiment_rows_follow_chapter_5s_shape():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=len(VOCAB), emb_size=16, hidden_size=16,
                                          num_layers=1))
    pre = SimpleNamespace(vocab=VOCAB, model=model, config=SimpleNamespace(corpus=CORPUS))
    frame = prompted_budget_experiment([4, 8], seeds=(0,), n_test=40, pretrained=pre,
                                       config=AdaptConfig(min_steps=2, epochs=1))
    assert list(frame.budget) == [4, 8] and (frame.pooling == "last").all()
    assert {"mode", "encoder_lr", "seed", "accuracy", "confidence", "train_s"} <= set(frame)
    assert frame.accuracy.between(0, 1).all()
