"""One pretraining factor at a time: what makes the tiny Transformers' features transfer?

Each variant changes one factor of the notebook's 4-epoch recipe
(``utils.lm.pretrain_recipe.RecipeConfig``) and is scored on validation draws
of the review task only (task seed 100 + seed), never on the learning curve's
test reviews: the sentiment words' neighbour purity, the best frozen probe
(64 labels, no test word in the labelled reviews), and chapter 5's fine-tuning
at 64 labels with mean and last pooling.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/recipe_sweep.py causal|masked [seed] [names...]
"""

from __future__ import annotations

import dataclasses
import sys

from probe_common import probe_table, purity, transformer_config

from utils.adapt_and_evaluate import AdaptConfig, label_budget_experiment
from utils.lm.pretrain_recipe import RecipeConfig, pretrain_with_recipe

VALIDATION = 100


def variants(objective: str, seed: int) -> dict[str, RecipeConfig]:
    base = transformer_config(seed, objective)
    train = base.train

    def with_train(**changes):
        return dataclasses.replace(base, train=dataclasses.replace(train, **changes))

    out = {
        "base": RecipeConfig(base),
        "cosine": RecipeConfig(base, schedule="cosine"),
        "lr1e-2+cosine": RecipeConfig(with_train(lr=1e-2), schedule="cosine"),
        "lr1e-3": RecipeConfig(with_train(lr=1e-3)),
        "batch16": RecipeConfig(with_train(batch_size=16)),
        "batch16+cosine": RecipeConfig(with_train(batch_size=16), schedule="cosine"),
        "untied": RecipeConfig(base, tied=False),
        "epochs8": RecipeConfig(with_train(epochs=8)),
        "width128": RecipeConfig(dataclasses.replace(base, d_model=128, d_ff=256)),
    }
    if objective == "masked":
        out["80/10/10"] = RecipeConfig(base, masking="80/10/10")
        out["mask0.3"] = RecipeConfig(dataclasses.replace(base, mask_rate=0.3))
        out["untied+80/10/10"] = RecipeConfig(base, tied=False, masking="80/10/10")
        out["mask0.3+80/10/10"] = RecipeConfig(dataclasses.replace(base, mask_rate=0.3),
                                               masking="80/10/10")
    return out


def finetune(pre, pooling: str, seed: int) -> float:
    rows = label_budget_experiment([64], modes=("finetune",), seeds=(VALIDATION + seed,),
                                   config=AdaptConfig(pooling=pooling), pretrained=pre,
                                   progress=False)
    return rows[0]["accuracy"]


def main(objective: str, seed: int, names: list[str]) -> None:
    for name, recipe in variants(objective, seed).items():
        if names and name not in names:
            continue
        pre = pretrain_with_recipe(recipe)
        probes = probe_table(pre, VALIDATION + seed, 64)
        best = max(probes, key=probes.get)
        print(f"{objective} seed {seed} {name:15} steps {pre.history['steps']:5d} "
              f"time {pre.history['train_time_s']:5.1f}s purity {purity(pre):.3f} "
              f"probe {best} {probes[best]:.3f} "
              f"finetune mean {finetune(pre, 'mean', seed):.3f} "
              f"last {finetune(pre, 'last', seed):.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0, sys.argv[3:])
