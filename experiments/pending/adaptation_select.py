"""Choose each architecture's adaptation (pooling, step sizes) on validation draws only.

Grid: pooling last / mean / prompt (``utils.adapt_and_evaluate.prompted``) ×
the encoder's step size 5e-4 / 2e-3 (head 3e-3, chapter 5's steps), fine-tuning
on 64 labels of chapter 5's task; scored on validation task seeds 100 and 101
(their own labelled and held-out reviews), never on the learning curve's
seeds 0-2. The pretrained model is seed 0's.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/adaptation_select.py lstm|causal|masked [variant]
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from probe_common import load, lstm_config
from recipe_sweep import variants

from utils.adapt_and_evaluate import AdaptConfig, label_budget_experiment
from utils.adapt_and_evaluate.prompted import prompted_budget_experiment
from utils.lm.pretrain_recipe import pretrain_with_recipe

VALIDATION_SEEDS = (100, 101)


def accuracy(pre, pooling: str, encoder_lr: float) -> list[float]:
    config = AdaptConfig(mode="finetune", pooling="last" if pooling == "prompt" else pooling,
                         encoder_lr=encoder_lr)
    if pooling == "prompt":
        frame = prompted_budget_experiment([64], VALIDATION_SEEDS, config=config, pretrained=pre)
        return frame.accuracy.tolist()
    rows = label_budget_experiment([64], modes=("finetune",), seeds=VALIDATION_SEEDS,
                                   config=config, pretrained=pre, progress=False)
    return [r["accuracy"] for r in rows]


def main(kind: str, variant: str) -> None:
    if kind == "lstm":
        pre, _ = load(lstm_config(0, 4))
    else:
        pre = pretrain_with_recipe(variants(kind, 0)[variant])
    for pooling, encoder_lr in itertools.product(("last", "mean", "prompt"), (5e-4, 2e-3)):
        values = accuracy(pre, pooling, encoder_lr)
        print(f"{kind} {variant} pooling {pooling:6} encoder_lr {encoder_lr:.0e} "
              f"validation {np.mean(values):.3f} {[round(v, 3) for v in values]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "base")
