"""The evaluation harness: task suites scored exactly, and what alignment costs. Chapter 5.

``evaluate_assistant`` takes any course language model (an ``embedding`` and a
``decoder``, read as ``model(tokens, state)``), adds the chat tokens if it has
none yet, answers every suite greedily and scores each answer with the exact
verifier: one row per suite in a ``pandas.DataFrame``. ``alignment_measures``
adds the numbers that say what the training cost: the KL from a reference
model along the model's own answers, perplexity on pretraining text (the
"alignment tax") and answer length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from utils.assistant.chat import chat_batch, chat_ready, prompt_ids
from utils.assistant.generate import answer, generate_ids
from utils.assistant.instructions import HELD_OUT_TYPES, Example, is_correct
from utils.data.corpus import SyntheticLanguage
from utils.data.text import Vocab
from utils.evaluate import perplexity
from utils.runtime import eval_mode

__all__ = ["alignment_measures", "evaluate_assistant", "kl_from_reference", "summarise_seeds"]


def evaluate_assistant(model: nn.Module, vocab: Vocab, suites: Mapping[str, Sequence[Example]],
                       language: SyntheticLanguage) -> pd.DataFrame:
    """Exact-match accuracy and mean answer length per suite (greedy answers), as a DataFrame.

    Columns: ``suite``, ``held_out`` (a type never trained on), ``n``,
    ``exact_match`` (share of answers the verifier accepts) and ``answer_length``
    (mean answer tokens, ``<end>`` not counted).
    """
    model = chat_ready(model, vocab)
    rows = []
    for name, suite in suites.items():
        answers = answer(model, [e.prompt for e in suite], vocab)
        rows.append({"suite": name, "held_out": name in HELD_OUT_TYPES, "n": len(suite),
                     "exact_match": float(np.mean([is_correct(e, a, language)
                                                   for e, a in zip(suite, answers, strict=True)])),
                     "answer_length": float(np.mean([len(a) for a in answers]))})
    return pd.DataFrame(rows)


@torch.no_grad()
def kl_from_reference(model: nn.Module, reference: nn.Module, prompts: Sequence[Sequence[str]],
                      vocab: Vocab) -> float:
    """Mean over prompts of KL(model || reference) along the model's greedy answer, in nats.

    Exact at every answer position (the full next-token distributions, not a
    sample), summed over the answer's tokens and its ``<end>``.
    """
    model, reference = chat_ready(model, vocab), chat_ready(reference, vocab)
    ids = [prompt_ids(p, vocab) for p in prompts]
    batch = chat_batch(ids, generate_ids(model, ids, vocab), vocab)
    with eval_mode(model), eval_mode(reference):
        log_p = F.log_softmax(model(batch.inputs)[0].double(), -1)  # (batch, seq, vocab)
        log_q = F.log_softmax(reference(batch.inputs)[0].double(), -1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # (batch, seq)
    return float((kl * batch.answer_mask).sum(-1).mean())


def alignment_measures(models: Mapping[str, nn.Module], reference: nn.Module, vocab: Vocab,
                       suites: Mapping[str, Sequence[Example]], language: SyntheticLanguage,
                       text: Sequence[Sequence[str]]) -> pd.DataFrame:
    """One row per model: accuracy on trained and held-out types, KL, perplexity, answer length.

    ``trained_types`` and ``held_out_types`` average the suites' exact match;
    ``kl`` is ``kl_from_reference`` over every suite's prompts; ``perplexity``
    is on ``text`` (pretraining sentences the model was not trained on).
    """
    prompts = [e.prompt for suite in suites.values() for e in suite]
    rows = []
    for name, model in models.items():
        scores = evaluate_assistant(model, vocab, suites, language)
        held = scores["held_out"]
        rows.append({"model": name,
                     "trained_types": scores.loc[~held, "exact_match"].mean(),
                     "held_out_types": scores.loc[held, "exact_match"].mean(),
                     "kl": kl_from_reference(model, reference, prompts, vocab),
                     "perplexity": perplexity(chat_ready(model, vocab), text, vocab),
                     "answer_length": scores["answer_length"].mean()})
    return pd.DataFrame(rows)


def summarise_seeds(rows: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """Each measure as "mean [min, max]" over the seeds, one row per ``by`` value (order kept)."""
    measures = [c for c in rows.columns if c not in (by, "seed")]

    def cell(values: pd.Series) -> str:
        return f"{values.mean():.3g} [{values.min():.3g}, {values.max():.3g}]"

    order = list(dict.fromkeys(rows[by]))
    table = rows.groupby(by)[measures].agg(cell).loc[order]
    return table
