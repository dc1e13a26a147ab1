"""The chat format: special tokens added to the vocabulary, and prompts and answers as tensors.

Chapter 5. A conversation turn is laid out as

    <eos> <user> plural of key <assistant> keys <end>

``<user>``, ``<assistant>`` and ``<end>`` are new tokens, appended (with the
instruction words the language lacks) after the pretrained vocabulary, so
every old word keeps its id and the pretrained model's rows. The new rows of
the embedding and output layer start at the mean of the old ones, so the
model's predictions on ordinary text barely change before fine-tuning.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from utils.assistant.instructions import INSTRUCTION_WORDS
from utils.data.text import Vocab

__all__ = [
    "ASSISTANT", "CHAT_TOKENS", "END", "USER", "ChatBatch", "add_tokens", "chat_batch",
    "chat_ready", "chat_vocab", "prompt_ids",
]

USER, ASSISTANT, END = "<user>", "<assistant>", "<end>"
CHAT_TOKENS = (USER, ASSISTANT, END)


def chat_vocab(vocab: Vocab, extra: Sequence[str] = ()) -> Vocab:
    """``vocab`` with the chat tokens, instruction words and ``extra`` appended; old ids kept."""
    new = [t for t in (*CHAT_TOKENS, *INSTRUCTION_WORDS, *extra) if t not in vocab]
    return Vocab.from_dict({"tokens": [*vocab.itos, *dict.fromkeys(new)]})


def add_tokens(model: nn.Module, vocab_size: int) -> nn.Module:
    """A copy of a course language model whose vocabulary grows to ``vocab_size`` tokens.

    Works for any model with an ``embedding`` (``nn.Embedding``) and a
    ``decoder`` (``nn.Linear``), tied or not (chapter 4's LSTM, chapter 8's). The
    new rows are the mean of the old ones: a new token starts as an average word.
    A model that is already this size is copied unchanged.
    """
    model = copy.deepcopy(model)
    old = model.embedding.num_embeddings
    if vocab_size < old:
        raise ValueError(f"vocab_size {vocab_size} is smaller than the model's {old}")
    if vocab_size == old:
        return model
    tied = model.decoder.weight is model.embedding.weight
    with torch.no_grad():
        weight = model.embedding.weight
        grown = torch.cat([weight, weight.mean(0, keepdim=True).expand(vocab_size - old, -1)])
        model.embedding = nn.Embedding.from_pretrained(grown.clone(), freeze=False)
        decoder = nn.Linear(model.decoder.in_features, vocab_size).to(weight.device)
        bias = model.decoder.bias
        decoder.bias.copy_(torch.cat([bias, bias.mean().expand(vocab_size - old)]))
        if tied:
            decoder.weight = model.embedding.weight
        else:
            out = model.decoder.weight
            decoder.weight.copy_(torch.cat([out, out.mean(0, keepdim=True).expand(
                vocab_size - old, -1)]))
        model.decoder = decoder
    if hasattr(model, "config") and dataclasses.is_dataclass(model.config):
        model.config = dataclasses.replace(model.config, vocab_size=vocab_size)
    if hasattr(model, "vocab_size"):
        model.vocab_size = vocab_size
    return model


def chat_ready(model: nn.Module, vocab: Vocab) -> nn.Module:
    """``model`` itself when it already reads ``vocab``, else a copy with the new tokens added."""
    size = model.embedding.num_embeddings
    return model if size == len(vocab) else add_tokens(model, len(vocab))


def prompt_ids(prompt: Sequence[str], vocab: Vocab) -> list[int]:
    """``<eos> <user> prompt <assistant>`` as ids: what the model reads before answering."""
    return vocab.encode(["<eos>", USER, *prompt, ASSISTANT])


@dataclass(frozen=True)
class ChatBatch:
    """Prompts and answers as one tensor, prompts left-padded and answers right-padded.

    ``inputs`` and ``targets`` are ``(batch, seq)``, the targets one position
    ahead. ``answer_mask`` marks the targets that are answer tokens (``<end>``
    included); ``text_mask`` every real target, prompt and answer alike.
    Left-padding with ``<eos>`` lines every ``<assistant>`` up in one column, so
    a batch of answers can be sampled in lockstep.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    answer_mask: torch.Tensor
    text_mask: torch.Tensor


def chat_batch(prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]],
               vocab: Vocab) -> ChatBatch:
    """Batch ``prompts`` (from ``prompt_ids``) with ``answers`` (ids, ``<end>`` appended here)."""
    end = vocab.stoi[END]
    width_p = max(map(len, prompts))
    width_a = max(map(len, answers)) + 1
    rows, answer, text = [], [], []
    for p, a in zip(prompts, answers, strict=True):
        pad_left, pad_right = width_p - len(p), width_a - len(a) - 1
        rows.append([vocab.eos_id] * pad_left + list(p) + list(a) + [end]
                    + [vocab.eos_id] * pad_right)
        # Real tokens are targets, except the first, which is read and never predicted.
        text.append([False] * (pad_left + 1) + [True] * (len(p) + len(a)) + [False] * pad_right)
        answer.append([False] * width_p + [True] * (len(a) + 1) + [False] * pad_right)
    tokens = torch.tensor(rows)  # (batch, width_p + width_a)
    return ChatBatch(inputs=tokens[:, :-1], targets=tokens[:, 1:],
                     answer_mask=torch.tensor(answer)[:, 1:], text_mask=torch.tensor(text)[:, 1:])
