"""Byte-level byte-pair encoding (BPE): learn merges from text, encode, decode.

Explained in chapter 2. A text is first its UTF-8 bytes, so the 256 byte values
are the first 256 tokens and any input (Chinese, emoji, invalid UTF-8) has an
encoding. Training then repeats one step: find the most frequent pair of
adjacent tokens and make it a new token, id ``256 + i`` for the i-th merge.

Two rules decide which pair is "the most frequent":

- Counts are taken within chunks, never across them. A chunk is an optional
  space followed by a run of non-whitespace bytes, or a run of whitespace
  (``CHUNK_PATTERN``), so a word and the space before it can become one token
  but two words cannot. The same split is used to encode.
- A pair is counted at every position it occurs, so ``aaa`` counts ``(a, a)``
  twice although only one merge fits. Ties go to the smaller pair of ids:
  the smaller first id, then the smaller second id.

Training keeps the pair counts up to date instead of recounting: each chunk
occurs once with its frequency, and a merge revisits only the chunks that hold
the merged pair. A priority queue, whose out-of-date entries are skipped when
they come to the top, gives the most frequent pair.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

__all__ = [
    "CHUNK_PATTERN",
    "decode",
    "decode_text",
    "encode",
    "split_chunks",
    "token_bytes",
    "train_bpe",
]

Pair = tuple[int, int]

# ASCII whitespace written out, so the pattern means the same on bytes and on str.
_SPACE = r" \t\n\r\x0b\x0c"
CHUNK_PATTERN = rf" ?[^{_SPACE}]+|[{_SPACE}]+"
_CHUNK = re.compile(CHUNK_PATTERN.encode("ascii"))


def _as_bytes(text: str | bytes) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    raise TypeError(f"expected str or bytes; got {type(text).__name__}")


def split_chunks(text: str | bytes) -> list[bytes]:
    """The chunks BPE works within; joined again they give back every byte of the input."""
    return _CHUNK.findall(_as_bytes(text))


def _adjacent_pairs(ids: list[int]) -> Iterator[Pair]:
    """(ids[0], ids[1]), (ids[1], ids[2]), ...: every position a pair is counted at."""
    return zip(ids, ids[1:], strict=False)  # one fewer pair than ids


def _merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids``, left to right, by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(text: str | bytes, n_merges: int) -> list[Pair]:
    """Learn up to ``n_merges`` merges; merge i turns the pair ``merges[i]`` into token 256 + i.

    Fewer merges come back only when no adjacent pair is left to merge.
    """
    if isinstance(n_merges, bool) or not isinstance(n_merges, int) or n_merges < 0:
        raise ValueError(f"n_merges must be an integer >= 0; got {n_merges!r}")
    chunk_freq = Counter(split_chunks(text))
    words = [list(chunk) for chunk in chunk_freq]  # each distinct chunk once, as ids
    freqs = list(chunk_freq.values())
    counts: Counter[Pair] = Counter()
    holders: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> chunks that may hold it
    for w, (ids, freq) in enumerate(zip(words, freqs, strict=True)):
        for pair in _adjacent_pairs(ids):
            counts[pair] += freq
            holders[pair].add(w)
    queue = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(queue)

    merges: list[Pair] = []
    while len(merges) < n_merges and queue:
        negative, pair = heapq.heappop(queue)
        if counts.get(pair, 0) != -negative or negative == 0:
            continue  # out of date: the pair's count changed after this entry went in
        new_id = 256 + len(merges)
        merges.append(pair)
        changed: set[Pair] = set()
        for w in sorted(holders.pop(pair)):
            changed |= _replace_in_chunk(words, freqs[w], w, pair, new_id, counts, holders)
        for other in changed:
            if counts.get(other, 0) > 0:
                heapq.heappush(queue, (-counts[other], other))
            else:
                counts.pop(other, None)
    return merges


def _replace_in_chunk(words: list[list[int]], freq: int, w: int, pair: Pair, new_id: int,
                      counts: Counter[Pair], holders: defaultdict[Pair, set[int]]) -> set[Pair]:
    """Merge ``pair`` inside chunk ``w``, moving its pair counts; returns the pairs it touched."""
    old = words[w]
    new = _merge(old, pair, new_id)
    if len(new) == len(old):
        return set()
    for p in _adjacent_pairs(old):
        counts[p] -= freq
    for p in _adjacent_pairs(new):
        counts[p] += freq
        holders[p].add(w)
    words[w] = new
    return set(_adjacent_pairs(old)) | set(_adjacent_pairs(new))


def _encode_chunk(chunk: bytes, rank: dict[Pair, int]) -> list[int]:
    """Apply the merges to one chunk, always the earliest-learned merge that fits first."""
    ids = list(chunk)
    while len(ids) > 1:
        pair = min(_adjacent_pairs(ids), key=lambda p: rank.get(p, len(rank)))
        if pair not in rank:
            break
        ids = _merge(ids, pair, 256 + rank[pair])
    return ids


def encode(text: str | bytes, merges: list[Pair]) -> list[int]:
    """The token ids of ``text`` (a str is read as its UTF-8 bytes)."""
    rank = {pair: i for i, pair in enumerate(merges)}
    seen: dict[bytes, list[int]] = {}  # a text repeats its words; encode each chunk once
    ids: list[int] = []
    for chunk in split_chunks(text):
        if chunk not in seen:
            seen[chunk] = _encode_chunk(chunk, rank)
        ids.extend(seen[chunk])
    return ids


def token_bytes(merges: list[Pair]) -> list[bytes]:
    """The bytes each token id stands for: 256 single bytes, then one entry per merge."""
    table = [bytes([b]) for b in range(256)]
    for a, b in merges:
        if not (0 <= a < len(table) and 0 <= b < len(table)):
            raise ValueError(f"merge {(a, b)} uses a token that does not exist yet")
        table.append(table[a] + table[b])
    return table


def decode(ids: list[int], merges: list[Pair]) -> bytes:
    """The bytes that ``ids`` stand for; the inverse of ``encode`` on any input."""
    table = token_bytes(merges)
    bad = [i for i in ids if not 0 <= i < len(table)]
    if bad:
        raise ValueError(f"token ids {bad[:5]} are outside 0..{len(table) - 1}")
    return b"".join(table[i] for i in ids)


def decode_text(ids: list[int], merges: list[Pair]) -> str:
    """``decode`` read as UTF-8; bytes that are not valid UTF-8 show as U+FFFD."""
    return decode(ids, merges).decode("utf-8", errors="replace")
