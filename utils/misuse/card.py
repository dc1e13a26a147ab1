"""Numbers for the course model's model card: the model's quality, family by family. Chapter 9.

Mitchell et al. (2019) ask a model card to report metrics per *factor*, the
groups over which performance may differ. For a language model of the
synthetic language the natural factor is the sentence family, and the
language gives each family's best possible perplexity exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.language import SyntheticLanguage
from utils.data.text import Vocab
from utils.misuse.truth import _family_languages, family_entropy_rates

__all__ = ["family_perplexities", "sentence_nll"]


@torch.no_grad()
def sentence_nll(model: nn.Module, sentences: Sequence[Sequence[str]], vocab: Vocab,
                 batch_size: int = 256) -> np.ndarray:
    """Each sentence's total loss in nats, its words and closing ``<eos>`` read after ``<eos>``.

    Scored as in pretraining, so ``exp(sum / tokens)`` is the perplexity of
    chapter 4 with the ``<eos>`` separators counted. Returns ``(len(sentences),)``.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(sentences), batch_size):
        chunk = [[vocab.eos_id, *vocab.encode(s), vocab.eos_id]
                 for s in sentences[start:start + batch_size]]
        width = max(len(c) for c in chunk)
        ids = torch.full((len(chunk), width), vocab.eos_id, dtype=torch.long)
        targets = torch.full((len(chunk), width - 1), -100, dtype=torch.long)  # -100: not scored
        for row, seq in enumerate(chunk):
            ids[row, :len(seq)] = torch.tensor(seq)
            targets[row, :len(seq) - 1] = torch.tensor(seq[1:])
        logits, _ = model(ids[:, :-1].to(device))  # (batch, width - 1, vocab_size)
        nll = F.cross_entropy(logits.transpose(1, 2), targets.to(device), reduction="none")
        out.append(nll.sum(dim=1).double().cpu())  # (batch,)
    model.train(was_training)
    return torch.cat(out).numpy()


def family_perplexities(model: nn.Module, vocab: Vocab, sentences: Sequence[Sequence[str]],
                        config: CorpusConfig) -> list[dict]:
    """The model's perplexity on each sentence family of ``sentences``, beside the truth's.

    Each sentence is scored alone after ``<eos>``, its closing ``<eos>``
    counted. ``true_perplexity`` is the true language's on the same sentences
    (the best any model can do on them on average); ``family_floor`` is
    ``exp`` of the family's entropy rate when it is the only family, which a
    model of the mixture cannot reach because it must also tell the families
    apart. Returns one dict per family present. Chapter 9.
    """
    languages = _family_languages(config)
    language = SyntheticLanguage(config)
    floors = family_entropy_rates(config)
    families = [next((f for f, lang in languages.items() if lang.log_prob(s) > -math.inf), None)
                for s in sentences]
    nll = sentence_nll(model, sentences, vocab)
    rows = []
    for family in languages:
        inside = [i for i, f in enumerate(families) if f == family]
        if not inside:
            continue
        tokens = sum(len(sentences[i]) + 1 for i in inside)
        true_nll = -sum(language.log_prob(sentences[i]) for i in inside)
        rows.append({"family": family, "sentences": len(inside), "tokens": tokens,
                     "perplexity": math.exp(float(nll[inside].sum()) / tokens),
                     "true_perplexity": math.exp(true_nll / tokens),
                     "family_floor": math.exp(floors[family])})
    return rows
