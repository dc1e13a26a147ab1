"""Chapter 5's learning curve for every architecture, the classical row and zero-shot.

Seed s pretrains each model on corpus seed s and draws task seed s (labelled
and test reviews of ``label_budget_experiment``'s defaults: test_overlap 0.8,
label noise 0.05, 500 test reviews), seeds 0-2, budgets 4 / 16 / 64 / 256.
Rows: the LSTM (chapter 5's 10-epoch model and the notebook's 4-epoch one),
the GPT-like and BERT-like models with today's recipe (``pretrained_transformer``,
4 epochs) and with the recipe chosen on validation draws (``RECIPES``), each
adapted as chosen on validation draws (``ADAPT``); the classical TF-IDF
logistic regression; the zero-shot verbaliser at 0 labels.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/learning_curve.py
"""

from __future__ import annotations

import sys

import pandas as pd
from probe_common import SEEDS, load, lstm_config, transformer_config
from recipe_sweep import variants

from utils.adapt_and_evaluate import AdaptConfig, label_budget_experiment
from utils.adapt_and_evaluate.classical import classical_budget_experiment
from utils.adapt_and_evaluate.prompted import prompted_budget_experiment
from utils.adapt_and_evaluate.zero_shot import zero_shot_experiment
from utils.lm.pretrain_recipe import pretrain_with_recipe

BUDGETS = [4, 16, 64, 256]
# Chosen on validation task seeds 100-101 (experiments/adaptation_select.py, logs/).
RECIPES = {"causal": "untied", "masked": "mask0.3"}
ADAPT = {"LSTM-10": ("last", 5e-4), "LSTM-4": ("last", 5e-4),
         "GPT-4": ("last", 5e-4), "BERT-4": ("mean", 5e-4),
         "GPT-recipe": ("last", 5e-4), "BERT-recipe": ("last", 2e-3)}


def models(seed: int):
    yield "LSTM-10", load(lstm_config(seed, 10))[0]
    yield "LSTM-4", load(lstm_config(seed, 4))[0]
    yield "GPT-4", load(transformer_config(seed, "causal"))[0]
    yield "BERT-4", load(transformer_config(seed, "masked"))[0]
    for kind, name in (("causal", "GPT-recipe"), ("masked", "BERT-recipe")):
        yield name, pretrain_with_recipe(variants(kind, seed)[RECIPES[kind]])


def finetune_rows(name: str, pre, seed: int) -> pd.DataFrame:
    pooling, encoder_lr = ADAPT[name]
    config = AdaptConfig(mode="finetune", pooling="last" if pooling == "prompt" else pooling,
                         encoder_lr=encoder_lr)
    if pooling == "prompt":
        frame = prompted_budget_experiment(BUDGETS, (seed,), config=config, pretrained=pre)
    else:
        frame = pd.DataFrame(label_budget_experiment(BUDGETS, ("finetune",), (seed,),
                                                     config=config, pretrained=pre,
                                                     progress=False))
    return frame.assign(model=name, pooling=pooling)


def main(names: list[str]) -> None:
    frames = []
    for seed in SEEDS:
        for name, pre in models(seed):
            if names and name not in names:
                continue
            frames.append(finetune_rows(name, pre, seed))
            zero = zero_shot_experiment(pre, (seed,), max_budget=max(BUDGETS))
            frames.append(zero.assign(model=name))
            print(seed, name, frames[-2].accuracy.round(3).tolist(),
                  "zero-shot", round(float(zero.accuracy.iloc[0]), 3), flush=True)
        frames.append(classical_budget_experiment(BUDGETS, (seed,)).assign(model="TF-IDF"))
    table = pd.concat(frames, ignore_index=True)
    table.to_csv("logs/learning_curve.csv", index=False)
    summary = table.groupby(["model", "budget"]).accuracy.agg(["mean", "min", "max", "count"])
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main(sys.argv[1:])
