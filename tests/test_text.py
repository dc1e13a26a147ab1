"""Tests for utils.data.text: tokens, vocabulary, LM batches, the shipped KJV text."""

from __future__ import annotations

import pytest
import torch

from utils.data.text import (
    EOS,
    SPECIALS,
    UNK,
    Vocab,
    batchify,
    lm_batches,
    lm_stream,
    load_kjv_text,
    tokenize,
)


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("And God said, Let there be light: and there was light.") == [
        "and", "god", "said", ",", "let", "there", "be", "light", ":",
        "and", "there", "was", "light", ".",
    ]
    # A curly apostrophe inside a word keeps the word whole.
    assert tokenize("the LORD\u2019s house") == ["the", "lord's", "house"]
    assert tokenize("  \n ") == []


SENTENCES = [["b", "a", "c"], ["a", "b"], ["a", "d"]]  # a:3, b:2, c:1, d:1


def test_vocab_order_is_by_count_then_alphabetical():
    vocab = Vocab(SENTENCES)
    assert vocab.itos == [UNK, EOS, "a", "b", "c", "d"]
    assert len(vocab) == 6
    assert vocab.encode(["a", "d", "zzz"]) == [2, 5, 0]
    assert vocab.decode(torch.tensor([3, 1])) == ["b", EOS]
    assert "c" in vocab and "zzz" not in vocab


def test_vocab_min_count_and_max_size():
    assert Vocab(SENTENCES, min_count=2).itos == [UNK, EOS, "a", "b"]
    # max_size counts the two special tokens.
    assert Vocab(SENTENCES, max_size=3).itos == [UNK, EOS, "a"]
    with pytest.raises(ValueError, match="min_count"):
        Vocab(SENTENCES, min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocab(SENTENCES, max_size=2)


def test_vocab_round_trips_through_a_dict():
    vocab = Vocab(SENTENCES)
    again = Vocab.from_dict(vocab.to_dict())
    assert again.itos == vocab.itos
    assert again.encode(["d", "a"]) == vocab.encode(["d", "a"]) == [5, 2]


def test_lm_stream_separates_sentences_with_eos():
    vocab = Vocab(SENTENCES)
    assert lm_stream(SENTENCES, vocab).tolist() == [3, 2, 4, 1, 2, 3, 1, 2, 5, 1]


def test_batchify_rows_are_contiguous_text():
    data = batchify(torch.arange(11), 3)
    assert data.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # tail 9, 10 dropped
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(3), 3)


def test_lm_batches_targets_are_inputs_shifted_by_one():
    data = batchify(torch.arange(2 * 10), 2)  # rows 0..9 and 10..19
    windows = list(lm_batches(data, seq_len=4))
    assert [tuple(x.shape) for x, _ in windows] == [(2, 4), (2, 4), (2, 1)]
    inputs = torch.cat([x for x, _ in windows], dim=1)
    targets = torch.cat([y for _, y in windows], dim=1)
    assert inputs.tolist() == [list(range(0, 9)), list(range(10, 19))]
    assert torch.equal(targets, inputs + 1)


def test_load_kjv_text_is_the_plain_bible():
    text = load_kjv_text()
    assert text.startswith("In the beginning God created the heaven and the earth.")
    assert text.rstrip().endswith("Amen.")
    assert "[" not in text and "]" not in text
    assert len(text) > 4_000_000
    short = load_kjv_text(max_chars=2000)
    assert 0 < len(short) <= 2000 and text.startswith(short)
    assert text[len(short)] == "\n"  # cut at a line break


def test_bad_input_is_rejected_with_the_argument_named():
    import numpy as np

    with pytest.raises(ValueError, match="min_count"):
        Vocab([["a"]], min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocab([["a"]], max_size=2)
    with pytest.raises(ValueError, match="not one string"):
        Vocab("a b c")
    vocab = Vocab([["a", "b"]], max_size=np.int64(3))  # a NumPy integer is an integer
    assert vocab.itos[: len(SPECIALS)] == list(SPECIALS) and len(vocab) == 3
    with pytest.raises(ValueError, match="ids must be integers from 0 to 2"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="one sequence"):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))
    assert vocab.decode(torch.tensor([2, 1])) == [vocab.itos[2], EOS]
    with pytest.raises(ValueError, match="batch_size"):
        batchify(torch.arange(10), 0)
    with pytest.raises(ValueError, match="seq_len"):
        list(lm_batches(torch.zeros(2, 5, dtype=torch.long), 0))
