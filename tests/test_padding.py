"""utils.data.padding: the two padded forms of a batch of sentences, and how they relate.

``encode_with_lengths`` (what a classifier reads) and ``encode_with_targets``
(what a language model is trained and scored on) must read each sentence the
same way, after ``<eos>``; they differ only in what comes with the ids.
"""

from __future__ import annotations

import pytest
import torch

from utils.data import PAD, Vocab, encode_with_lengths, encode_with_targets

SENTENCES = [["the", "film", "was", "good", "."], ["the", "."], ["a", "dull", "film", "."]]
VOCAB = Vocab(SENTENCES)


def test_lengths_form_reads_each_sentence_after_eos():
    tokens, lengths = encode_with_lengths(SENTENCES, VOCAB)
    assert tokens.shape == (3, 6) and lengths.tolist() == [6, 3, 5]
    for row, sentence in zip(tokens, SENTENCES, strict=True):
        assert VOCAB.decode(row[: len(sentence) + 1]) == ["<eos>", *sentence]
        assert (row[len(sentence) + 1:] == VOCAB.eos_id).all()  # padded with <eos>


def test_targets_are_the_inputs_shifted_then_the_closing_eos():
    inputs, targets = encode_with_targets(SENTENCES, VOCAB)
    assert inputs.shape == targets.shape == (3, 6)
    for i, sentence in enumerate(SENTENCES):
        n = len(sentence) + 1
        assert VOCAB.decode(targets[i, :n]) == [*sentence, "<eos>"]
        assert torch.equal(inputs[i, 1:n], targets[i, : n - 1])
        assert (targets[i, n:] == PAD).all()


def test_the_two_forms_agree():
    tokens, lengths = encode_with_lengths(SENTENCES, VOCAB)
    inputs, targets = encode_with_targets(SENTENCES, VOCAB)
    assert torch.equal(tokens, inputs)  # the same ids, the same padding
    assert torch.equal((targets != PAD).sum(dim=1), lengths)  # one target per input read


@pytest.mark.parametrize("encode", [encode_with_lengths, encode_with_targets])
def test_no_sentences_is_an_error(encode):
    with pytest.raises(ValueError, match="no sentences"):
        encode([], VOCAB)
