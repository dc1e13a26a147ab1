"""The pronoun gap of a language model beside the corpus's planted truth. Chapter 6.

For an occupation o and a context such as "the nurse said that",

    gap(o) = log P(she | context) - log P(he | context)

The synthetic language gives the true gap exactly (``SyntheticLanguage``), so
amplification = model gap - true gap is measured without sampling error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import OCCUPATIONS
from utils.data.corpus.language import SyntheticLanguage
from utils.data.text import Vocab
from utils.runtime.scoped import eval_mode

__all__ = ["TEMPLATES", "log_prob_gap", "model_gaps", "warm_histories", "true_gaps", "gap_table",
           "training_text_gaps", "gap_summary"]

# Context template -> (female word, male word) that the grammar lets follow it.
TEMPLATES = {"the {} said that": ("she", "he"), "the {} finished": ("her", "his")}


def log_prob_gap(p_female: float | np.ndarray, p_male: float | np.ndarray) -> np.ndarray:
    """log P(female word) - log P(male word), elementwise (natural log)."""
    return np.log(np.asarray(p_female, dtype=float)) - np.log(np.asarray(p_male, dtype=float))


def warm_histories(sentences: Sequence[Sequence[str]], vocab: Vocab, n_histories: int = 20,
                   sentences_each: int = 5, seed: int = 0) -> list[list[int]]:
    """Token ids of ``n_histories`` short texts of held-out sentences, each ending in ``<eos>``.

    The model is trained on one long stream and never starts from an empty
    state, so a context read from a zero state is off its training
    distribution; reading it after a few ordinary sentences is not.
    """
    rng = np.random.default_rng(seed)
    histories = []
    for _ in range(n_histories):
        ids: list[int] = []
        for j in rng.choice(len(sentences), size=sentences_each, replace=False):
            ids += [*vocab.encode(sentences[j]), vocab.eos_id]
        histories.append(ids)
    return histories


@torch.no_grad()
def model_gaps(model: torch.nn.Module, vocab: Vocab, histories: Sequence[Sequence[int]],
               template: str = "the {} said that",
               occupations: Sequence[str] = tuple(OCCUPATIONS)) -> np.ndarray:
    """The model's gap for each occupation, averaged over ``histories``: ``(len(occupations),)``.

    Each context is read after one history (token ids ending in ``<eos>``, see
    ``warm_histories``); the gap is the mean over histories.
    """
    female, male = TEMPLATES[template]
    device = next(model.parameters()).device
    context = [vocab.encode(template.format(o).split()) for o in occupations]
    total = np.zeros(len(occupations))
    with eval_mode(model):
        for history in histories:
            rows = [[*history, *c] for c in context]
            tokens = torch.tensor(rows, device=device)  # (n_occupations, len)
            logits, _ = model(tokens)  # (n_occupations, len, vocab_size)
            log_p = torch.log_softmax(logits[:, -1].double(), dim=-1)  # (n_occ, vocab_size)
            total += (log_p[:, vocab.stoi[female]] - log_p[:, vocab.stoi[male]]).cpu().numpy()
    return total / len(histories)


def true_gaps(config: CorpusConfig, template: str = "the {} said that",
              occupations: Sequence[str] = tuple(OCCUPATIONS)) -> np.ndarray:
    """The exact gap the corpus's language plants, shape ``(len(occupations),)``."""
    female, male = TEMPLATES[template]
    lang = SyntheticLanguage(config)
    out = []
    for o in occupations:
        dist = lang.next_word_distribution(template.format(o).split())
        out.append(log_prob_gap(dist[female], dist[male]))
    return np.array(out, dtype=float)


def training_text_gaps(sentences: Sequence[Sequence[str]], template: str = "the {} said that",
                       occupations: Sequence[str] = tuple(OCCUPATIONS)
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The gap counted in a text (log of count ratio) and its standard error.

    Counts the sentences that start with the context and go on with the female
    or male word. The standard error of a log-odds from counts f and m is
    sqrt(1/f + 1/m): how far a gap can sit from the truth by sampling alone.
    """
    female, male = TEMPLATES[template]
    counts = {o: [0, 0] for o in occupations}
    for s in sentences:
        for o in occupations:
            context = template.format(o).split()
            if list(s[:len(context)]) == context and len(s) > len(context):
                nxt = s[len(context)]
                if nxt in (female, male):
                    counts[o][nxt == male] += 1
    f = np.array([counts[o][0] for o in occupations], dtype=float)
    m = np.array([counts[o][1] for o in occupations], dtype=float)
    return np.log(f) - np.log(m), np.sqrt(1 / f + 1 / m)


def gap_table(model: torch.nn.Module, vocab: Vocab, config: CorpusConfig,
              histories: Sequence[Sequence[int]], template: str = "the {} said that"
              ) -> pd.DataFrame:
    """One row per occupation: planted direction and strength, true gap, model gap, amplification.

    ``amplification`` = model gap - true gap; ``amplified`` is it times the
    planted direction, so positive means the model leans further the planted
    way than the truth (zero for the controls, which have no direction).
    """
    occupations = tuple(OCCUPATIONS)
    model_gap = model_gaps(model, vocab, histories, template, occupations)
    true_gap = true_gaps(config, template, occupations)
    frame = pd.DataFrame({
        "occupation": occupations,
        "direction": [OCCUPATIONS[o][0] for o in occupations],
        "strength": [OCCUPATIONS[o][1] for o in occupations],
        "true_gap": true_gap, "model_gap": model_gap,
    })
    frame["amplification"] = frame["model_gap"] - frame["true_gap"]
    frame["amplified"] = frame["amplification"] * frame["direction"]
    return frame


def gap_summary(table: pd.DataFrame) -> dict[str, float]:
    """Sign agreement, Spearman rho with the planted signed strengths, controls, amplification."""
    skewed = table[table["direction"] != 0]
    controls = table[table["direction"] == 0]
    planted = table["direction"] * table["strength"]
    return {
        "sign_agreement": float((np.sign(skewed["model_gap"]) == skewed["direction"]).mean()),
        "spearman_rho": float(spearmanr(planted, table["model_gap"]).statistic),
        "max_abs_control_gap": float(controls["model_gap"].abs().max()),
        "mean_abs_gap": float(table["model_gap"].abs().mean()),
        "mean_amplified": float(skewed["amplified"].mean()),
    }
