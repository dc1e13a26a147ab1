"""Chapter 5's learning curve for every architecture, with the classical and zero-shot rows.

Seed s pretrains each model on corpus seed s and draws task seed s (the labelled
and test reviews of ``label_budget_experiment``'s defaults: test_overlap 0.8,
label noise 0.05, 500 test reviews), seeds 0-2, budgets 4 / 16 / 64 / 256, full
fine-tuning. Rows: the LSTM (chapter 5's 10-epoch model, and a 4-epoch one at
the Transformers' budget), the GPT-like and BERT-like models with the course's
recipe (``TransformerPretrainConfig()``, 4 epochs, and 10 as the LSTM), each fine-tuned with the
pooling and encoder step size chosen on validation draws (``ENCODER_LR``); the
TF-IDF logistic regression; zero-shot prompting at 0 labels.

    cd experiments && OMP_NUM_THREADS=1 ../.venv/bin/python learning_curve.py
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd

from utils.adapt_and_evaluate import AdaptConfig, label_budget_experiment
from utils.adapt_and_evaluate.classical import classical_budget_experiment
from utils.adapt_and_evaluate.zero_shot import zero_shot_experiment
from utils.data import CorpusConfig
from utils.lm import (
    PretrainConfig,
    TransformerPretrainConfig,
    pretrained_model,
    pretrained_transformer,
)

SEEDS = (0, 1, 2)
BUDGETS = [4, 16, 64, 256]
ENCODER_LR = {"LSTM-10": 5e-4, "LSTM-4": 5e-4, "GPT-like": 5e-4, "BERT-like": 2e-3,
              "GPT-like-10": 5e-4, "BERT-like-10": 2e-3}


def lstm(seed: int, epochs: int):
    base = PretrainConfig()
    return pretrained_model(dataclasses.replace(
        base, corpus=CorpusConfig(seed=seed),
        train=dataclasses.replace(base.train, epochs=epochs, seed=seed)), progress=False)


def transformer(seed: int, objective: str, epochs: int = 4):
    base = TransformerPretrainConfig()
    return pretrained_transformer(dataclasses.replace(
        base, corpus=CorpusConfig(seed=seed), objective=objective,
        train=dataclasses.replace(base.train, seed=seed, epochs=epochs)), progress=False)


def models(seed: int):
    yield "LSTM-10", lstm(seed, 10)
    yield "LSTM-4", lstm(seed, 4)
    yield "GPT-like", transformer(seed, "causal")
    yield "BERT-like", transformer(seed, "masked")
    yield "GPT-like-10", transformer(seed, "causal", 10)
    yield "BERT-like-10", transformer(seed, "masked", 10)


def main() -> None:
    frames = []
    for seed in SEEDS:
        start = time.perf_counter()
        for name, pre in models(seed):
            config = AdaptConfig(mode="finetune", pooling="last", encoder_lr=ENCODER_LR[name])
            tuned = label_budget_experiment(BUDGETS, ("finetune",), (seed,), config=config,
                                            pretrained=pre, progress=False)
            zero = zero_shot_experiment(pre, (seed,), max_budget=max(BUDGETS))
            frames += [tuned.assign(model=name), zero.assign(model=name)]
            print(seed, name, tuned.accuracy.round(3).tolist(), "zero-shot",
                  round(float(zero.accuracy.iloc[0]), 3), flush=True)
        classical = classical_budget_experiment(BUDGETS, (seed,))
        frames.append(classical.assign(model="TF-IDF"))
        print(seed, "TF-IDF", classical.accuracy.round(3).tolist(),
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.concat(frames, ignore_index=True)[["model", "mode", "seed", "budget", "accuracy"]]
    table.to_csv("logs/learning_curve.csv", index=False)
    summary = table.groupby(["model", "budget"]).accuracy.agg(["mean", "min", "max", "count"])
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
