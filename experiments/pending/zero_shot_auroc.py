"""Is the zero-shot verbaliser's margin informative even where its threshold 0 is not?

For each model of the learning curve (seeds 0-2): the margins' AUROC against the test
labels (threshold-free: 0.5 = no information), and the accuracy at threshold 0.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/zero_shot_auroc.py
"""

from __future__ import annotations

import numpy as np
from learning_curve import models
from probe_common import SEEDS, fmt
from sklearn.metrics import roc_auc_score

from utils.adapt_and_evaluate.zero_shot import _mask_id, zero_shot_margins
from utils.data.corpus import sentiment_task


def main() -> None:
    out: dict[str, list[tuple[float, float]]] = {}
    for seed in SEEDS:
        for name, pre in models(seed):
            _, test = sentiment_task(pre.config.corpus, n_train=256, n_test=500, seed=seed,
                                     test_overlap=0.8, label_noise=0.05)
            margins = zero_shot_margins(pre.model, pre.vocab, [s for s, _ in test],
                                        mask_id=_mask_id(pre))
            labels = np.array([y for _, y in test])
            out.setdefault(name, []).append((roc_auc_score(labels, margins),
                                             float(((margins > 0) == (labels == 1)).mean())))
    for name, values in out.items():
        auc, acc = zip(*values, strict=True)
        print(f"{name:12} AUROC {fmt(auc)}  accuracy at 0 {fmt(acc)}")


if __name__ == "__main__":
    main()
