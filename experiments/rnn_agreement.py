"""Does a plain RNN learn long-range agreement? Chapter 4's claim, measured.

The vanilla ``nn.RNN`` language model (``utils.lm.rnn``) and the course's LSTM,
trained with the same recipe (``PretrainConfig()``: 10 epochs, Adam 5e-3,
clip 0.5) on the same corpus, seeds 0-2; agreement accuracy by subject-verb
distance on 1000 items per seed (``utils.evaluate.agreement``; the protocol of
Linzen et al., 2016 and Gulordava et al., 2018).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/rnn_agreement.py
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.data import CorpusConfig, agreement_items, lm_stream
from utils.evaluate import accuracy_by_distance, agreement_accuracy, lstm_verb_margins
from utils.lm import PretrainConfig, evaluate_language_model, pretrained_model, pretrained_rnn

SEEDS = (0, 1, 2)


def lstm_config(seed: int, epochs: int) -> PretrainConfig:
    """The course's recipe with corpus and training seed ``seed``."""
    base = PretrainConfig()
    return dataclasses.replace(base, corpus=CorpusConfig(seed=seed),
                               train=dataclasses.replace(base.train, epochs=epochs, seed=seed))


def main() -> None:
    table: dict[str, dict] = {"RNN": {}, "LSTM": {}}
    for seed in SEEDS:
        config = lstm_config(seed, 10)
        items = agreement_items(config.corpus, n=1000)
        for name, load in (("RNN", pretrained_rnn), ("LSTM", pretrained_model)):
            pre = load(config, progress=False)
            margins = lstm_verb_margins(pre.model, pre.vocab, items)
            ppl = evaluate_language_model(pre.model, lm_stream(pre.corpus.test, pre.vocab))
            row = table[name]
            row.setdefault("all", []).append(agreement_accuracy(margins))
            row.setdefault("ppl", []).append(ppl["perplexity"])
            row.setdefault("params", []).append(pre.model.num_parameters())
            for d, (acc, _n) in accuracy_by_distance(items, margins).items():
                row.setdefault(d, []).append(acc)
            print(seed, name, f"agreement {row['all'][-1]:.3f} ppl {row['ppl'][-1]:.2f} "
                  f"params {row['params'][-1]}", flush=True)
    for name, row in table.items():
        cells = [f"{k}: {np.mean(v):.3f} [{np.min(v):.3f}, {np.max(v):.3f}]"
                 for k, v in row.items()]
        print(name, " | ".join(cells))


if __name__ == "__main__":
    main()
