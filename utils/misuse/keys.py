"""The watermark measured over several keys, and erased by resampling spans. Chapter 9.

One key is one draw of the green lists: with a language that repeats the same
token pairs, whether those pairs happen to be green moves both the detection
rate and the false alarms. ``sample_by_key`` draws, for each key, fresh
watermarked texts and texts of the same model *without* the watermark;
``detection_by_key`` counts the share of each flagged (detection, false
alarms); ``over_keys`` summarises the table by its mean and range.

``resample_spans`` is the paraphrase attack: spans of a watermarked text are
rewritten by the model without the boost, so the replacement words are fluent
but carry no mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch
from torch import nn

from utils.lm.sampling import sample_next
from utils.misuse.watermark import WatermarkConfig, sample_watermarked, z_scores

__all__ = ["detection_by_key", "over_keys", "resample_spans", "sample_by_key"]


def sample_by_key(model: nn.Module, keys: Sequence[int], config: WatermarkConfig, *,
                  n_texts: int, n_tokens: int, start_id: int,
                  seed: int = 0) -> dict[int, dict[str, torch.Tensor]]:
    """For each key, fresh watermarked and plain texts: ``{key: {name: (n, T) ids}}``. Chapter 9.

    ``config`` supplies gamma and delta. ``"watermarked"`` is sampled with the
    key's boost, ``"plain"`` by the same model with ``delta = 0``, so the false
    alarms are counted on text that never carried a mark. Each sample has its
    own generator, seeded from ``seed``, the key's position and which of the two
    samples it is, so adding keys at the end leaves the earlier keys' texts as they were.
    """
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must be distinct; got {list(keys)!r}")
    samples = {}
    for i, key in enumerate(keys):
        marked = replace(config, key=int(key))
        samples[int(key)] = {
            "watermarked": _draw(model, marked, n_texts, n_tokens, start_id, [seed, i, 0]),
            "plain": _draw(model, replace(marked, delta=0.0), n_texts, n_tokens, start_id,
                           [seed, i, 1]),
        }
    return samples


def detection_by_key(samples: dict[int, dict[str, torch.Tensor]], config: WatermarkConfig,
                     vocab_size: int, *, threshold: float = 4.0) -> pd.DataFrame:
    """Detection and false-alarm rates at ``z > threshold``, one row per key. Chapter 9.

    ``samples`` comes from ``sample_by_key``; each key's texts are scored with
    that key (``config`` supplies gamma), counting every pair and counting
    distinct pairs once. Columns: for each counting, the mean z and the share
    flagged of the watermarked texts ("detected") and of the plain ones
    ("false alarms").
    """
    rows = {}
    for key, texts in samples.items():
        scoring = replace(config, key=int(key))
        row = {}
        for counting, ignore in (("every pair", False), ("distinct pairs", True)):
            for name, rate in (("watermarked", "detected"), ("plain", "false alarms")):
                z = z_scores(texts[name], scoring, vocab_size, ignore_repeats=ignore)
                row[(counting, f"{name} mean z")] = float(z.mean())
                row[(counting, rate)] = float((z > threshold).double().mean())
        rows[int(key)] = row
    table = pd.DataFrame(rows).T
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["counting", ""])
    return table.rename_axis("key")


def _draw(model, config, n_texts, n_tokens, start_id, seed_words) -> torch.Tensor:
    generator = torch.Generator().manual_seed(_seed_from(seed_words))
    return sample_watermarked(model, n_texts, n_tokens, config, start_id=start_id,
                              generator=generator).ids


def _seed_from(words: Sequence[int]) -> int:
    # One generator seed from several integers, without collisions for small ones.
    seed = 0
    for word in words:
        seed = seed * 1_000_003 + int(word)
    return seed % (2**63)


def over_keys(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, smallest and largest value of each column over the keys (rows) of ``table``."""
    return table.agg(["mean", "min", "max"]).T


@torch.no_grad()
def resample_spans(model: nn.Module, ids: torch.Tensor, share: float, span: int, *,
                   start_id: int, generator: torch.Generator) -> torch.Tensor:
    """Rewrite a share of each text, span by span, with the model itself. Chapter 9.

    Each text of ``ids`` ``(n, T)`` is cut into blocks of ``span`` tokens and
    ``round(share * blocks)`` blocks, chosen at random, are sampled afresh from
    ``model`` (temperature 1, no watermark) given everything before them,
    including earlier rewritten blocks; the other tokens are kept. Returns the
    rewritten ``(n, T)`` ids. The paraphrase keeps the words fluent, which
    random substitution does not.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1]; got {share!r}")
    if span < 1:
        raise ValueError(f"span must be >= 1; got {span!r}")
    n, length = ids.shape
    n_blocks = -(-length // span)
    rewrite = torch.zeros(n, length, dtype=torch.bool)
    for row in range(n):
        blocks = torch.randperm(n_blocks, generator=generator)[: round(share * n_blocks)]
        for block in blocks.tolist():
            rewrite[row, block * span: (block + 1) * span] = True
    if not rewrite.any():
        return ids.clone()
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = ids.clone()
    previous = torch.full((n,), start_id, dtype=torch.long, device=device)
    state = None
    for t in range(length):
        logits, state = model(previous[:, None], state)  # (n, 1, V)
        fresh = sample_next(logits[:, 0].float(), 1.0, None, generator).cpu()  # (n,)
        out[:, t] = torch.where(rewrite[:, t], fresh, out[:, t])
        previous = out[:, t].to(device)
    model.train(was_training)
    return out
