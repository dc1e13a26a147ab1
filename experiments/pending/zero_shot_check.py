"""Zero labels: does each pretrained model know a review's polarity? (Chapter 5's 0-label point.)

The verbaliser of ``utils.adapt_and_evaluate.zero_shot`` on the test reviews of
``label_budget_experiment`` (seeds 0-2). The prompt "and i" and the reaction
words come from the language's grammar, fixed before any run; nothing is tuned.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/zero_shot_check.py [recipe]
"""

from __future__ import annotations

import sys

from probe_common import SEEDS, fmt, load, lstm_config, transformer_config

from utils.adapt_and_evaluate.zero_shot import zero_shot_experiment


def main(epochs: int) -> None:
    table: dict[str, list[float]] = {}
    for seed in SEEDS:
        for name, config in (("LSTM", lstm_config(seed, epochs)),
                             ("GPT-like", transformer_config(seed, "causal", epochs)),
                             ("BERT-like", transformer_config(seed, "masked", epochs))):
            pre, _ = load(config)
            frame = zero_shot_experiment(pre, seeds=(seed,))
            table.setdefault(name, []).append(float(frame.accuracy.iloc[0]))
            print(seed, name, f"{table[name][-1]:.3f}", flush=True)
    for name, values in table.items():
        print(f"{name:10} zero-shot accuracy ({epochs} epochs): {fmt(values)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
