"""Scrub a secret's format with a regular expression, and score the formats it misses. Chapter 8.

A scrubber removes personal identifiers from training text before a model
sees it. The simplest kind, and the first line of most real pipelines, is a
regular expression for each known format: here, a five-digit code such as
"4 8 1 5 2" (or "48152"), replaced by a mask token. Lukas et al. (2023) found
that scrubbing reduces but does not prevent the leakage of personal data, in
part because identifiers come in forms that a scrubber was not written for.

The secret formats below write one five-digit code four ways: the format the
scrubber was written for, the digits spelled out as words, another
separator, and the code split over two sentences. ``format_log2_probs``
scores all 10^5 codes in any such format exactly, as ``canary_log2_probs``
does for the first, so each secret's exposure can be measured in its own
format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from utils.data.corpus import CANARY_DIGITS, CANARY_PREFIX, DIGITS
from utils.data.text import Vocab
from utils.privacy.canary import _step  # the batched step that scores only the needed words
from utils.privacy.exposure import exposure

__all__ = [
    "CODE_PATTERN", "MASK", "SECRET_FORMATS", "SecretFormat", "format_exposure",
    "format_log2_probs", "scrub", "scrub_sentences",
]

# Five digits, optionally separated by single spaces, standing alone: "4 8 1 5 2", "48152".
CODE_PATTERN = re.compile(rf"\b\d(?: ?\d){{{CANARY_DIGITS - 1}}}\b")
MASK = "<pii>"  # what a scrubbed code becomes: one token, so the sentence keeps its shape

SPELLED_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def scrub(text: str) -> str:
    """``text`` with every match of ``CODE_PATTERN`` replaced by ``MASK``. Chapter 8.

    >>> scrub("the code is 4 8 1 5 2 .")
    'the code is <pii> .'
    >>> scrub("the code is four eight one five two .")
    'the code is four eight one five two .'
    """
    return CODE_PATTERN.sub(MASK, text)


def scrub_sentences(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Scrub tokenised sentences: each is joined by spaces, scrubbed and split again. Chapter 8."""
    return [scrub(" ".join(sentence)).split() for sentence in sentences]


Slot = str | int  # a word, or the position (0 to 4) of a digit of the code


@dataclass(frozen=True)
class SecretFormat:
    """How a five-digit code is written: sentences of words and digit slots. Chapter 8.

    ``templates`` are sentences, each a tuple of words and integers; the
    integer ``i`` stands for the code's ``i``-th digit, written as
    ``digit_words[digit]``. The slots must run 0 to 4 in order across the
    sentences, so that scoring can expand the digits as a tree.
    """

    name: str
    templates: tuple[tuple[Slot, ...], ...]
    digit_words: tuple[str, ...] = DIGITS

    def __post_init__(self) -> None:
        slots = [s for t in self.templates for s in t if isinstance(s, int)]
        if slots != list(range(CANARY_DIGITS)):
            raise ValueError(f"the digit slots must be 0 to {CANARY_DIGITS - 1} in order; "
                             f"got {slots}")
        if len(self.digit_words) != 10:
            raise ValueError("digit_words needs one word for each digit 0 to 9")
        for template in self.templates:
            if isinstance(template[0], int):
                raise ValueError(f"a template starts with a word, not a digit: {template}")

    def render(self, code: str) -> list[list[str]]:
        """The sentences that write ``code`` (five digits) in this format."""
        if len(code) != CANARY_DIGITS or not code.isdigit():
            raise ValueError(f"code must be {CANARY_DIGITS} digits; got {code!r}")
        return [[self.digit_words[int(code[s])] if isinstance(s, int) else s for s in t]
                for t in self.templates]

    @property
    def words(self) -> set[str]:
        """Every word this format can write."""
        return {s for t in self.templates for s in t if isinstance(s, str)} | set(self.digit_words)


_PREFIX = tuple(CANARY_PREFIX)  # "the code is"
SECRET_FORMATS = {
    "exact": SecretFormat("exact", ((*_PREFIX, 0, 1, 2, 3, 4, "."),)),
    "spelled out": SecretFormat("spelled out", ((*_PREFIX, 0, 1, 2, 3, 4, "."),),
                                digit_words=SPELLED_DIGITS),
    "dashes": SecretFormat("dashes", ((*_PREFIX, 0, "-", 1, "-", 2, "-", 3, "-", 4, "."),)),
    "split": SecretFormat("split", ((*_PREFIX, 0, 1, "."), ("the", "code", "ends", 2, 3, 4, "."))),
}


def _columns(vocab: Vocab, words: Sequence[str], device: torch.device) -> torch.Tensor:
    missing = [w for w in words if w not in vocab.stoi]
    if missing:
        raise ValueError(f"words not in the vocabulary: {missing}")
    return torch.tensor([vocab.stoi[w] for w in words], device=device)


def _sentence_log_probs(model: nn.Module, vocab: Vocab, template: tuple[Slot, ...],
                        digit_words: Sequence[str], chunk: int) -> torch.Tensor:
    """Natural-log P(template's first to last slot | <eos> + the words before the first).

    One value per assignment of the template's digits, in increasing order of
    the digits read as a number: 10^(number of slots) values.
    """
    device = next(model.parameters()).device
    first = next(i for i, s in enumerate(template) if isinstance(s, int))
    last = max(i for i, s in enumerate(template) if isinstance(s, int))
    digit_ids = _columns(vocab, digit_words, device)

    def ids(slot: Slot) -> torch.Tensor:
        return digit_ids if isinstance(slot, int) else _columns(vocab, [slot], device)

    rest = template[first:last + 1]
    prefix = torch.cat([torch.tensor([vocab.eos_id], device=device),
                        _columns(vocab, template[:first], device)])[None]  # (1, first + 1)
    log_p, state = _step(model, prefix, None, ids(rest[0]))  # (1, 10) or (1, 1)
    total = torch.zeros(1, dtype=torch.float64, device=device)
    for position, slot in enumerate(rest):
        # Every path so far extended by each word the slot can hold: index = path * k + choice.
        total = (total[:, None] + log_p).reshape(-1)
        if position == len(rest) - 1:
            break
        tokens = ids(slot).repeat(len(log_p))[:, None]  # (paths * k, 1)
        parents = torch.arange(len(log_p), device=device).repeat_interleave(len(ids(slot)))
        following = ids(rest[position + 1])
        outs, hs, cs = [], [], []
        for start in range(0, len(tokens), chunk):
            rows = parents[start:start + chunk]
            out, (h, c) = _step(model, tokens[start:start + chunk],
                                (state[0][:, rows], state[1][:, rows]), following)
            outs.append(out)
            hs.append(h)
            cs.append(c)
        log_p = torch.cat(outs)  # (paths * k, len(following))
        state = (torch.cat(hs, dim=1), torch.cat(cs, dim=1))
    return total


@torch.no_grad()
def format_log2_probs(model: nn.Module, vocab: Vocab, secret_format: SecretFormat, *,
                      chunk: int = 20_000) -> np.ndarray:
    """log2 P(the code's sentences) for all 10^5 codes in ``secret_format``, "00000".."99999".

    Used in chapter 8. Each sentence is read after ``<eos>``, as in training,
    and scored from its first digit to its last, separators included. The
    words before the first digit add the same to every code, so they cannot
    change a rank; the words after the last digit (the closing ".") are left
    out, as ``canary_log2_probs`` leaves them out, because scoring them needs
    the state after every one of the codes: ten times the work. A code split
    over sentences scores the sum of its sentences. Exact: every code is
    scored. The model's training mode is restored.
    """
    was_training = model.training
    model.eval()
    total = torch.zeros(1, dtype=torch.float64)
    for template in secret_format.templates:
        part = _sentence_log_probs(model, vocab, template, secret_format.digit_words, chunk)
        total = (total[:, None] + part.cpu()[None, :]).reshape(-1)  # earlier digits vary slowest
    model.train(was_training)
    return (total / math.log(2)).numpy()  # (10^5,) in bits


def format_exposure(model: nn.Module, vocab: Vocab, secret_format: SecretFormat,
                    code: str) -> float:
    """Exposure (bits) of ``code`` written in ``secret_format``, among all 10^5 codes. Chapter 8."""
    return exposure(format_log2_probs(model, vocab, secret_format), int(code))
