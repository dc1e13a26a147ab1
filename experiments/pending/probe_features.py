"""Are the review task's features in the pretrained states? Frozen probes and purity.

For the LSTM and both Transformers at the notebook's 4 epochs (and the LSTM's
default 10), per seed: the pretraining time, chapter 2's neighbour purity of the
sentiment words' embeddings, and a logistic-regression probe's test accuracy on
each layer's frozen states (last-token and mean pooled), trained on 64 (and
1000) labelled reviews whose sentiment words never occur in the test reviews.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/probe_features.py [seeds...]
"""

from __future__ import annotations

import sys

from probe_common import SEEDS, fmt, load, lstm_config, probe_table, purity, transformer_config


def models(seed: int):
    yield "LSTM-4", lstm_config(seed, 4)
    yield "LSTM-10", lstm_config(seed, 10)
    yield "GPT-4", transformer_config(seed, "causal")
    yield "BERT-4", transformer_config(seed, "masked")


def main(seeds) -> None:
    results: dict[str, list[dict]] = {}
    for seed in seeds:
        for name, config in models(seed):
            pre, seconds = load(config)
            row = {"purity": purity(pre), "pretrain_s": pre.history["train_time_s"]}
            for n in (64, 1000):
                row.update({f"{k}@{n}": v for k, v in probe_table(pre, seed, n).items()})
            results.setdefault(name, []).append(row)
            print(seed, name, f"cached={pre.from_cache}", {k: round(v, 3) for k, v in row.items()},
                  flush=True)
    print("\nmean [min, max] over seeds", list(seeds))
    for name, rows in results.items():
        print(name)
        for key in rows[0]:
            print(f"  {key:16} {fmt([r[key] for r in rows])}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or SEEDS)
