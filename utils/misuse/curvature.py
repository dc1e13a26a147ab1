"""DetectGPT's curvature test: does a text sit at a peak of the model's log-probability? Chapter 9.

Mitchell et al. (2023): rewrite a few words of a text many times with a
masked-word model, and compare the source model's log-probability of the text
with that of its rewrites,

    d(x) = (log p(x) - mean_i log p(x~_i)) / std_i log p(x~_i).

Text the model sampled tends to sit where small rewrites lose probability
(d large); text people wrote loses or gains about equally (d near 0). The
detector needs the source model's likelihood and a perturber, but neither the
true language nor any labelled text.

``refill_words`` is the course's perturber: it hides a share of a text's
words behind ``<mask>`` and samples new ones from chapter 4's masked-word
model. ``refill_from_language`` is the ideal perturber no real detector has:
it redraws each chosen word from the true language given the rest of its
sentence, so every rewrite of a grammatical sentence stays grammatical.
``perturbed_log_probs`` and ``curvature_scores`` are written for any scorer and
perturber, so a test can check the score with a perturber whose behaviour is
known.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from utils.data.corpus.language import SyntheticLanguage
from utils.data.text import SPECIALS, Vocab
from utils.misuse.detect import score_tokens

__all__ = [
    "curvature_scores", "mask_words", "perturbed_log_probs", "refill_from_language",
    "refill_words", "text_log_probs",
]


def mask_words(ids: torch.Tensor, share: float, generator: torch.Generator, *,
               n_special: int = len(SPECIALS)) -> torch.Tensor:
    """Which positions of each text ``(n, T)`` to rewrite: bool ``(n, T)``. Chapter 9.

    ``round(share * w)`` of each text's ``w`` words, drawn without replacement;
    special tokens (ids below ``n_special``: ``<unk>``, ``<eos>``) are never
    chosen, so sentence boundaries stay where they were.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1); got {share!r}")
    words = ids >= n_special  # (n, T)
    noise = torch.rand(ids.shape, generator=generator).masked_fill(~words, 2.0)  # specials last
    order = noise.argsort(dim=1)  # (n, T): words in random order, then the specials
    k = torch.round(share * words.sum(dim=1).double()).long()  # (n,)
    chosen = torch.arange(ids.size(1))[None, :] < k[:, None]  # (n, T) in the shuffled order
    return torch.zeros_like(words).scatter(1, order, chosen)


@torch.no_grad()
def refill_words(mlm: nn.Module, ids: torch.Tensor, share: float, *, mask_id: int, window: int,
                 generator: torch.Generator, n_special: int = len(SPECIALS)) -> torch.Tensor:
    """Rewrite a ``share`` of the words of each text ``(n, T)`` with a masked-word model.

    The chosen words (``mask_words``) become ``mask_id`` and the model fills
    each from both sides, sampling one word per position from its prediction
    (specials and ``<mask>`` excluded), all positions in one pass as T5 fills
    DetectGPT's spans. The model reads the text in windows of at most
    ``window`` tokens, the length it was pretrained on. A filled word may be
    the original one, so the share changed is at most ``share``. Chapter 9.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1; got {window!r}")
    chosen = mask_words(ids, share, generator, n_special=n_special)  # (n, T)
    inputs = ids.masked_fill(chosen, mask_id)
    was_training = mlm.training
    mlm.eval()
    device = next(mlm.parameters()).device
    logits = torch.cat([mlm.decoder(mlm.features(inputs[:, i: i + window].to(device))).cpu()
                        for i in range(0, ids.size(1), window)], dim=1)  # (n, T, V + 1)
    mlm.train(was_training)
    words = logits[chosen][:, n_special:mask_id].float()  # (masked, words of the vocabulary)
    draws = torch.multinomial(torch.softmax(words, dim=-1), 1, generator=generator)[:, 0]
    out = ids.clone()
    out[chosen] = draws + n_special
    return out


def refill_from_language(ids: torch.Tensor, share: float, vocab: Vocab,
                         language: SyntheticLanguage, generator: torch.Generator) -> torch.Tensor:
    """Rewrite a ``share`` of the words of each text ``(n, T)`` from the true language.

    Each chosen word (``mask_words``), in turn, is redrawn from the language's
    exact conditional given the rest of its sentence (the tokens between two
    ``<eos>``; an unfinished last sentence counts as a prefix): every candidate
    word is put in its place and weighted by the sentence's probability. A
    word in a sentence the language cannot produce is kept. Slow (one
    probability per candidate word), so meant for few texts. Chapter 9.
    """
    chosen = mask_words(ids, share, generator)
    candidates = vocab.itos[len(SPECIALS):]
    out = ids.clone()
    for row in range(len(out)):
        text = out[row].tolist()
        for position in torch.nonzero(chosen[row]).flatten().tolist():
            start = max((i for i in range(position) if text[i] == vocab.eos_id), default=-1) + 1
            end = next((i for i in range(position, len(text)) if text[i] == vocab.eos_id),
                       len(text))
            sentence = vocab.decode(text[start:end])
            log_p = torch.empty(len(candidates), dtype=torch.double)
            for j, word in enumerate(candidates):
                sentence[position - start] = word
                log_p[j] = language.log_prob(sentence)
            if torch.isinf(log_p).all():
                continue
            pick = torch.multinomial(torch.softmax(log_p, dim=0), 1, generator=generator)
            text[position] = len(SPECIALS) + int(pick)
        out[row] = torch.tensor(text)
    return out


def text_log_probs(model: nn.Module, ids: torch.Tensor, *, start_id: int,
                   batch_size: int = 1000) -> np.ndarray:
    """Log-probability (nats) of each whole text ``(n, T)`` under a next-word model: ``(n,)``."""
    return np.concatenate([score_tokens(model, ids[i: i + batch_size], start_id=start_id)[0]
                           .double().sum(dim=1).numpy() for i in range(0, len(ids), batch_size)])


def perturbed_log_probs(ids: torch.Tensor, log_prob: Callable[[torch.Tensor], np.ndarray],
                        perturb: Callable[[torch.Tensor], torch.Tensor], n_perturbations: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``log p`` of each text ``(n,)`` and of ``n_perturbations`` rewrites of it ``(n, k)``.

    ``log_prob`` scores texts ``(m, T)`` -> ``(m,)``; ``perturb`` rewrites
    texts ``(m, T)`` -> ``(m, T)`` (its randomness is its own). All rewrites
    are made and scored in one batch. Chapter 9.
    """
    if n_perturbations < 1:
        raise ValueError(f"n_perturbations must be >= 1; got {n_perturbations!r}")
    copies = ids.repeat_interleave(n_perturbations, dim=0)  # (n k, T): text 0 k times, then 1...
    rewritten = perturb(copies)
    if rewritten.shape != copies.shape:
        raise ValueError(f"perturb changed the shape {tuple(copies.shape)} to "
                         f"{tuple(rewritten.shape)}")
    return log_prob(ids), log_prob(rewritten).reshape(len(ids), n_perturbations)


def curvature_scores(log_p: np.ndarray, perturbed: np.ndarray, *,
                     normalise: bool = True) -> np.ndarray:
    """DetectGPT's score of each text: ``log p(x)`` minus the mean over its rewrites ``(n,)``.

    ``log_p`` ``(n,)``, ``perturbed`` ``(n, k)``. With ``normalise`` (the
    paper's better variant) the difference is divided by the standard
    deviation of the rewrites' log-probabilities (the sample one, n - 1; the
    authors' code divides by n, which rescales every score alike and leaves the
    ranking unchanged). A text whose rewrites all score the same keeps the bare
    difference. Higher means "more likely the model's". Chapter 9.
    """
    log_p, perturbed = np.asarray(log_p, dtype=float), np.asarray(perturbed, dtype=float)
    if perturbed.ndim != 2 or perturbed.shape[0] != log_p.shape[0]:
        raise ValueError(f"perturbed must be (n, k) for n = {log_p.shape[0]}; "
                         f"got {perturbed.shape}")
    difference = log_p - perturbed.mean(axis=1)
    if not normalise:
        return difference
    if perturbed.shape[1] < 2:
        raise ValueError("normalising needs at least two perturbations per text")
    spread = perturbed.std(axis=1, ddof=1)
    return np.divide(difference, spread, out=difference.copy(), where=spread > 0)
