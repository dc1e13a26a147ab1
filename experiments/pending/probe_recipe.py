"""The diagnosis of probe_features.py repeated on the models of the chosen recipe.

Same probes (64 and 1000 labels, no test sentiment word labelled) and purity, seeds 0-2,
for the GPT-like model with an untied output layer and the BERT-like one masking 30 %.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/probe_recipe.py
"""

from __future__ import annotations

from learning_curve import RECIPES
from probe_common import SEEDS, fmt, probe_table, purity
from recipe_sweep import variants

from utils.lm.pretrain_recipe import pretrain_with_recipe


def main() -> None:
    for kind, name in (("causal", "GPT-recipe"), ("masked", "BERT-recipe")):
        rows = []
        for seed in SEEDS:
            pre = pretrain_with_recipe(variants(kind, seed)[RECIPES[kind]])
            row = {"purity": purity(pre), "train_s": pre.history["train_time_s"]}
            for n in (64, 1000):
                row.update({f"{k}@{n}": v for k, v in probe_table(pre, seed, n).items()})
            rows.append(row)
        print(name)
        for key in rows[0]:
            print(f"  {key:16} {fmt([r[key] for r in rows])}")


if __name__ == "__main__":
    main()
