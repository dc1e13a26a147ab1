"""Is DetectGPT's failure in chapter 9 the rewriter's? The curvature test with two rewriters.

Chapter 9's notebook finds DetectGPT near chance with chapter 4's masked-word
model as the rewriter. Here the same texts (the notebook's seeds: 50 machine
texts of 50 tokens at temperatures 0.5 and 1, 50 true-language texts, seeds
0-2, 10 rewrites each) are rewritten two ways: by the masked-word model, and by
the true language itself (``refill_from_language``: each chosen word redrawn
from the language's exact conditional given its sentence), an ideal rewriter
no real detector has. AUROC of the normalised score, mean [min, max] over seeds.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/detectgpt_rewriters.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from utils.data import SyntheticLanguage
from utils.lm import pretrained_model
from utils.lm.pretrained_transformer import TransformerPretrainConfig, pretrained_transformer
from utils.misuse import (
    WatermarkConfig,
    auroc,
    curvature_scores,
    perturbed_log_probs,
    refill_from_language,
    refill_words,
    sample_true_texts,
    sample_watermarked,
    score_tokens,
    text_log_probs,
)

SEEDS, TEMPERATURES, N_TEXTS, N_TOKENS, N_REWRITES = (0, 1, 2), (0.5, 1.0), 50, 50, 10


def main() -> None:
    lstm = pretrained_model(progress=False)
    bert = pretrained_transformer(TransformerPretrainConfig(corpus=lstm.config.corpus,
                                                            objective="masked"), progress=False)
    vocab, language = lstm.vocab, SyntheticLanguage(lstm.config.corpus)
    rewriters = {
        "masked-word model, 15 %": lambda x, g: refill_words(
            bert.model, x, 0.15, mask_id=len(vocab), window=bert.config.train.seq_len, generator=g),
        "masked-word model, 5 %": lambda x, g: refill_words(
            bert.model, x, 0.05, mask_id=len(vocab), window=bert.config.train.seq_len, generator=g),
        "true language, 5 %": lambda x, g: refill_from_language(x, 0.05, vocab, language, g),
        "true language, 15 %": lambda x, g: refill_from_language(x, 0.15, vocab, language, g),
    }

    def score(x):
        return text_log_probs(lstm.model, x, start_id=vocab.eos_id)

    print(f"AUROC, mean [min, max] over seeds {SEEDS}; {N_TEXTS} + {N_TEXTS} texts of "
          f"{N_TOKENS} tokens, {N_REWRITES} rewrites each; drop = mean nats a rewrite costs "
          "(machine / human)")
    for tau in TEMPERATURES:
        texts = []
        for seed in SEEDS:  # the notebook's texts: its `draw` offset 400 + seed, rng [0, 11, seed]
            machine = sample_watermarked(
                lstm.model, N_TEXTS, N_TOKENS, WatermarkConfig(delta=0.0), start_id=vocab.eos_id,
                temperature=tau, generator=torch.Generator().manual_seed(400 + seed)).ids
            people = sample_true_texts(language, vocab, N_TEXTS, N_TOKENS,
                                       np.random.default_rng([0, 11, seed]))
            texts.append(torch.cat([machine, people]))
        labels = np.r_[np.ones(N_TEXTS), np.zeros(N_TEXTS)]
        likelihood = [auroc(score_tokens(lstm.model, x, start_id=vocab.eos_id)[0].mean(1).numpy(),
                            labels) for x in texts]
        print(f"temperature {tau:g}: likelihood {np.mean(likelihood):.3f} "
              f"[{min(likelihood):.3f}, {max(likelihood):.3f}]")
        for name, rewrite in rewriters.items():
            start, aurocs, drops = time.perf_counter(), [], []
            for seed, x in zip(SEEDS, texts, strict=True):
                generator = torch.Generator().manual_seed(seed)  # the notebook's, for the first
                whole, rewrites = perturbed_log_probs(
                    x, score, lambda t, r=rewrite, g=generator: r(t, g), N_REWRITES)
                aurocs.append(auroc(curvature_scores(whole, rewrites), labels))
                drop = whole[:, None] - rewrites
                drops.append((drop[:N_TEXTS].mean(), drop[N_TEXTS:].mean()))
            machine_drop, human_drop = np.mean(drops, axis=0)
            print(f"  {name:24} DetectGPT {np.mean(aurocs):.3f} [{min(aurocs):.3f}, "
                  f"{max(aurocs):.3f}]  drop {machine_drop:5.1f} / {human_drop:5.1f} nats  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
