"""Chapter 2: byte-level BPE round-trips any bytes and agrees with two trusted libraries.

Catches: a merge that loses or reorders bytes; a wrong tie-break or an
incremental pair count that drifts from a full recount (the hand-checked
example, a slow trainer that recounts before every merge, and the Hugging
Face ``tokenizers`` trainer); an encoder that applies merges in the wrong
order (``tiktoken``, given our merges as its ranks).

Hugging Face's byte-level trainer breaks ties by its own token ids, which
order the 256 bytes by the printable characters it shows them as: for it
space, newline and other bytes outside the printable range come after every
printable byte. The two trainers are compared on words of letters, one per
line, where every pair is of printable bytes and the two orders agree (they
must give the same merges), and on ordinary text, where the first difference
must be a tie that the two orders break opposite ways.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter

import pytest

from utils.data.bpe import (
    CHUNK_PATTERN,
    decode,
    decode_text,
    encode,
    split_chunks,
    token_bytes,
    train_bpe,
)
from utils.data.text import load_kjv_text

tokenizers = pytest.importorskip("tokenizers")
tiktoken = pytest.importorskip("tiktoken")

CHINESE = "自监督学习从原始数据本身制造标签。基础模型在广泛的数据上预训练，再适应许多下游任务。" * 8


@pytest.fixture(scope="module")
def kjv() -> str:
    return load_kjv_text(max_chars=200_000)


def _merged_bytes(merges: list[tuple[int, int]]) -> list[tuple[bytes, bytes]]:
    table = token_bytes(merges)
    return [(table[a], table[b]) for a, b in merges]


def test_the_hand_checked_example():
    # One chunk, "aaabdaaabac". Pair counts: aa 4 (overlaps count), ab 2, the rest 1,
    # so aa -> 256, giving [256, a, b, d, 256, a, b, a, c]. Now ab and (256, a) both
    # have 2: the tie goes to the smaller pair, (97, 98) -> 257. Then (256, 257) has 2.
    merges = train_bpe("aaabdaaabac", 3)
    assert merges == [(97, 97), (97, 98), (256, 257)]
    assert encode("aaabdaaabac", merges) == [258, 100, 258, 97, 99]
    assert token_bytes(merges)[256:] == [b"aa", b"ab", b"aaab"]


def test_merges_never_cross_a_chunk_and_training_stops_when_nothing_is_left():
    assert split_chunks(b"the  cat\n\nsat") == [b"the", b"  ", b"cat", b"\n\n", b"sat"]
    assert split_chunks("a b") == [b"a", b" b"]
    # Chunks "ab", " ab", " ab": (a, b) occurs 3 times, (" ", a) twice; after the first
    # merge only (" ", ab) is left, and after the second no pair at all.
    merges = train_bpe("ab ab ab", 10)
    assert _merged_bytes(merges) == [(b"a", b"b"), (b" ", b"ab")]
    with pytest.raises(ValueError):
        train_bpe("ab", -1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_round_trip(seed: int):
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(4000))
    sample = bytes(rng.randrange(256) for _ in range(2000))
    merges = train_bpe(data, 100)
    assert len(merges) == 100
    assert b"".join(split_chunks(data)) == data
    assert decode(encode(data, merges), merges) == data
    assert decode(encode(sample, merges), merges) == sample  # text it was not trained on


def test_invalid_utf8_and_chinese_round_trip(kjv: str):
    invalid = b"\xff\xfe caf\xc3 \x80\x80 \xe4\xb8 " + "基础".encode() + b"\xed\xa0\x80"
    with pytest.raises(UnicodeDecodeError):
        invalid.decode("utf-8")
    merges = train_bpe(kjv[:20_000] + CHINESE, 300)
    for data in (invalid, CHINESE.encode(), kjv[-5000:].encode()):
        assert decode(encode(data, merges), merges) == data
    assert decode_text(encode(CHINESE, merges), merges) == CHINESE
    assert decode_text(encode(invalid, merges), merges) == invalid.decode("utf-8", "replace")
    # The merges compress both scripts: fewer tokens than bytes.
    assert len(encode(CHINESE, merges)) < len(CHINESE.encode())
    assert len(encode(kjv[-5000:], merges)) < len(kjv[-5000:].encode()) / 2
    with pytest.raises(ValueError):
        decode([256 + len(merges)], merges)


def _hugging_face_merges(text: str, n_merges: int) -> list[tuple[bytes, bytes]]:
    """Train Hugging Face's byte-level BPE with our chunks; its merges as byte pairs."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CHUNK_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=256 + n_merges, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer)
    shown_as = _byte_level_characters()
    byte_of = {ch: b for b, ch in shown_as.items()}
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(bytes(byte_of[c] for c in a), bytes(byte_of[c] for c in b)) for a, b in pairs]


def _byte_level_characters() -> dict[int, str]:
    """GPT-2's byte-level alphabet: a printable byte stands for itself, the others for
    the characters from U+0100 on, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


def _recount_train(text: str, n_merges: int) -> list[tuple[int, int]]:
    """The same training written the slow way: recount every pair before each merge."""
    chunks = [list(chunk) for chunk in split_chunks(text)]
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges:
        counts = _pair_counts(chunks)
        if not counts:
            break
        top = max(counts.values())
        pair = min(p for p, c in counts.items() if c == top)  # the stated tie-break
        merges.append(pair)
        chunks = [_apply(ids, pair, 255 + len(merges)) for ids in chunks]
    return merges


def _pair_counts(chunks: list[list[int]]) -> Counter[tuple[int, int]]:
    return Counter(p for ids in chunks for p in zip(ids, ids[1:], strict=False))


def _apply(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out: list[int] = []  # left to right; a token just made is new, so it never merges again
    for token in ids:
        if out and out[-1] == pair[0] and token == pair[1]:
            out[-1] = new_id
        else:
            out.append(token)
    return out


def test_kept_counts_give_the_same_merges_as_recounting(kjv: str):
    text = kjv[:30_000] + CHINESE + " aaaa aaa"
    assert train_bpe(text, 80) == _recount_train(text, 80)


def test_same_merges_as_hugging_face_where_the_tie_breaks_agree(kjv: str):
    # Words of letters, one per line: a newline is a chunk of its own and never in a pair,
    # so every pair is of printable bytes, where both tie-breaks follow byte order.
    words = ["".join(ch for ch in w if ch.isascii() and ch.isalpha()) for w in kjv.split()]
    text = "\n".join(w for w in words if w)
    ours = _merged_bytes(train_bpe(text, 500))
    assert ours == _hugging_face_merges(text, 500)


def test_on_ordinary_text_the_merges_differ_only_by_the_tie_break(kjv: str):
    text = kjv[:100_000]
    merges = train_bpe(text, 400)
    ours, theirs = _merged_bytes(merges), _hugging_face_merges(text, 400)
    assert len(set(ours) & set(theirs)) >= 0.98 * len(ours)  # measured: 398 of 400
    first = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
    # Up to the first difference the lists agree; there the two merges share the top
    # count, and they are ordered one way by byte value, the other by shown character.
    table = token_bytes(merges)
    chunks = [encode(chunk, merges[:first]) for chunk in split_chunks(text)]
    counts = _pair_counts(chunks)
    ids = {table[i]: i for i in range(256 + first)}
    mine, hf = merges[first], (ids[theirs[first][0]], ids[theirs[first][1]])
    assert counts[mine] == counts[hf] == max(counts.values())
    shown = _byte_level_characters()
    rank = {b: r for r, b in enumerate(sorted(range(256), key=lambda b: shown[b]))}

    def shown_order(pair: tuple[int, int]) -> tuple[int, ...]:
        return tuple(rank[i] if i < 256 else i for i in pair)  # Hugging Face's ids

    assert mine < hf and shown_order(hf) < shown_order(mine)


def test_encode_gives_tiktokens_ids_when_it_is_given_our_merges(kjv: str):
    merges = train_bpe(kjv[:100_000], 500)
    table = token_bytes(merges)
    assert len(set(table)) == len(table)  # tiktoken needs one id per byte string
    encoding = tiktoken.Encoding(name="course-bpe", pat_str=CHUNK_PATTERN,
                                 mergeable_ranks={s: i for i, s in enumerate(table)},
                                 special_tokens={})
    for text in (kjv[100_000:130_000], CHINESE, "Tokens: ŋ, 𝔘, é and 基础模型.\n\t x"):
        assert encode(text, merges) == encoding.encode_ordinary(text)


def test_training_on_a_megabyte_takes_seconds():
    text = load_kjv_text(max_chars=1_000_000)
    start = time.perf_counter()
    merges = train_bpe(text, 1000)
    seconds = time.perf_counter() - start
    assert len(merges) == 1000
    assert seconds < 60, f"{seconds:.1f} s: the pair counts are not being kept incrementally"
