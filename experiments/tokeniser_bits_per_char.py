"""Characters, BPE tokens or words: which LSTM codes the King James Bible best at equal compute?

Chapter 2's notebook compares tokenisers with n-gram models; this runs the
comparison with chapter 4's LSTM. The same network (2 layers of 64 units,
tied embeddings) is trained at each level for the same number of training
FLOPs (``utils.lm.benchmark.flops_per_token`` times the tokens seen), so a
level whose tokens are longer reads more text, and one whose vocabulary is
larger pays more per token. The first 90 % of the lines (of 1,000,000
characters) train, the next 5 % validate, the last 5 % are scored. Every
line ends with a newline token. Word level: the 5,000 most frequent training
words, the rest ``<unk>``, and each unknown word is charged 8 bits per byte
of its spelling plus 8 for its end, as in the notebook. Scored in perplexity
per token and bits per character (total bits over the characters, newlines
included), over seeds 0-2. Log: ``experiments/logs/tokeniser_bits_per_char.log``.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/tokeniser_bits_per_char.py
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

import torch

from utils.data.bpe import encode, train_bpe
from utils.data.text import UNK, load_kjv_text
from utils.lm.benchmark import flops_per_token
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.training import TrainConfig, evaluate_language_model, train_language_model
from utils.runtime.scoped import local_seed, num_threads

SEEDS = (0, 1, 2)
N_MERGES = 1000
MAX_WORDS = 5000
SIZE = 64
BUDGET_FLOPS = 3e11  # training FLOPs per run, the same at every level
NEWLINE = "\n"


def split_lines(lines: list[str], level: str, merges) -> list[str]:
    tokens: list[str] = []
    for line in lines:
        if level == "character":
            tokens += list(line)
        elif level == "BPE":
            tokens += [str(i) for i in encode(line, merges)]
        else:
            tokens += line.split()
        tokens.append(NEWLINE)
    return tokens


def vocabulary(level: str, train_tokens: list[str]) -> list[str]:
    if level == "BPE":
        return [str(i) for i in range(256 + N_MERGES)] + [NEWLINE]
    counts = Counter(train_tokens)
    keep = [t for t, _ in counts.most_common(MAX_WORDS if level == "word" else None)]
    return sorted(keep) + [UNK]


def as_stream(tokens: list[str], index: dict[str, int]) -> torch.Tensor:
    unknown = index.get(UNK, -1)  # BPE has no <unk>: every token is in its vocabulary
    return torch.tensor([index.get(t, unknown) for t in tokens])


def run_level(level: str, splits: dict[str, list[str]], merges, seed: int) -> dict[str, float]:
    tokens = {name: split_lines(lines, level, merges) for name, lines in splits.items()}
    vocab = vocabulary(level, tokens["train"])
    index = {t: i for i, t in enumerate(vocab)}
    streams = {name: as_stream(t, index) for name, t in tokens.items()}
    per_token = flops_per_token(len(vocab), SIZE, SIZE, 2)
    config = TrainConfig(epochs=100, seed=seed, batch_size=32,
                         max_steps=max(1, int(BUDGET_FLOPS / per_token / (32 * 35))))
    with local_seed(seed):
        model = LSTMLanguageModel(ModelConfig(len(vocab), SIZE, SIZE))
    history = train_language_model(model, streams["train"], streams["valid"], config,
                                   progress=False)
    test_tokens = tokens["test"]
    nats = evaluate_language_model(model, streams["test"], batch_size=4)["loss"]
    spelling = sum(8 * (len(t.encode("utf-8")) + 1) for t in test_tokens if t not in index)
    bits = nats / math.log(2) * len(test_tokens) + spelling
    chars = sum(len(line) + 1 for line in splits["test"])
    return {"tokens_trained": history.tokens, "chars_per_token": chars / len(test_tokens),
            "perplexity": 2 ** (bits / len(test_tokens)), "bits_per_char": bits / chars,
            "unknown": sum(t not in index for t in test_tokens) / len(test_tokens)}


def main() -> None:
    text = load_kjv_text(max_chars=1_000_000)
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    a, b = int(0.9 * len(lines)), int(0.95 * len(lines))
    splits = {"train": lines[:a], "valid": lines[a:b], "test": lines[b:]}
    merges = train_bpe("\n".join(splits["train"]), N_MERGES)
    print(f"{len(lines)} lines; BPE with {N_MERGES} merges; LSTM 2 x {SIZE}; "
          f"{BUDGET_FLOPS:.0e} training FLOPs per run", flush=True)
    results: dict[str, list[dict[str, float]]] = {}
    with num_threads(1):
        for seed in SEEDS:
            for level in ("character", "BPE", "word"):
                row = run_level(level, splits, merges, seed)
                results.setdefault(level, []).append(row)
                print(seed, level, {k: round(v, 3) for k, v in row.items()}, flush=True)
    for level, rows in results.items():
        bpc = [r["bits_per_char"] for r in rows]
        ppl = [r["perplexity"] for r in rows]
        print(f"{level:10} bits/char {statistics.mean(bpc):.3f} ({min(bpc):.3f}-{max(bpc):.3f})"
              f"  perplexity/token {statistics.mean(ppl):.1f} ({min(ppl):.1f}-{max(ppl):.1f})"
              f"  tokens trained {rows[0]['tokens_trained']:,}"
              f"  chars/token {rows[0]['chars_per_token']:.2f}")


if __name__ == "__main__":
    main()
