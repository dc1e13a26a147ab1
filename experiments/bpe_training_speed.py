"""How long byte-level BPE training takes on 1 MB of text: the course's trainer and Hugging Face's.

Both learn 1000 merges from the first million characters of the King James
Bible, with the same chunks (``utils.data.bpe.CHUNK_PATTERN``). Each is timed
three times; Hugging Face's runs on one thread (``RAYON_NUM_THREADS=1``, set
before it is imported) and on every core. The script also counts how many of
the 1000 learnt tokens the two share: they differ only where a tie is broken
differently (see ``tests/test_bpe.py``). Log: ``experiments/logs/bpe_training_speed.log``.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/bpe_training_speed.py [one-thread|all-cores]
"""

from __future__ import annotations

import os
import sys
import time

THREADS = sys.argv[1] if len(sys.argv) > 1 else "one-thread"
if THREADS == "one-thread":
    os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

from utils.data.bpe import CHUNK_PATTERN, token_bytes, train_bpe  # noqa: E402
from utils.data.text import load_kjv_text  # noqa: E402

N_MERGES = 1000


def hugging_face_train(text: str) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CHUNK_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=256 + N_MERGES, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer


def timed(train, text: str) -> tuple[list[float], object]:
    seconds, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = train(text)
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main() -> None:
    text = load_kjv_text(max_chars=1_000_000)
    print(f"{len(text):,} characters, {len(text.encode('utf-8')):,} bytes, {N_MERGES} merges")
    ours_s, merges = timed(lambda t: train_bpe(t, N_MERGES), text)
    theirs_s, tokenizer = timed(hugging_face_train, text)
    for name, s in (("course (pure Python)", ours_s), (f"Hugging Face ({THREADS})", theirs_s)):
        print(f"{name:28} mean {sum(s) / 3:.2f} s (min {min(s):.2f}, max {max(s):.2f})")
    ours = set(token_bytes(merges)[256:])
    byte_of = {ch: b for b, ch in byte_level_characters().items()}
    theirs = {bytes(byte_of[c] for c in token) for token, i in tokenizer.get_vocab().items()
              if i >= 256}
    print(f"tokens learnt by both: {len(ours & theirs)} of {N_MERGES}")


def byte_level_characters() -> dict[int, str]:
    """GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest for U+0100 on."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


if __name__ == "__main__":
    main()
