"""A green-list watermark on the course's language model, and its z-score detector. Chapter 9.

Kirchenbauer et al. (2023): before each token, the previous token seeds a
random split of the vocabulary into a *green list* (a share ``gamma``) and a
red list; ``delta`` is added to the green logits before sampling. Text
written that way has more green tokens than chance, which anyone holding the
key can count without the model:

    z = (|s|_G - gamma T) / sqrt(T gamma (1 - gamma)),

where T is the number of scored tokens. The first token of a text has no
previous token in the text, so counting starts at the second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from utils.data.text import SPECIALS
from utils.lm.sampling import sample_next

__all__ = [
    "WatermarkConfig", "WatermarkedSample", "green_list", "green_matrix", "green_mask",
    "sample_watermarked", "substitute_tokens", "z_score", "z_scores",
]

# Mixes the key with the previous token id into one generator seed; any large odd
# constant works, it only keeps seeds of different keys apart.
_KEY_MULTIPLIER = 1_000_003


@dataclass(frozen=True)
class WatermarkConfig:
    """The watermark's knobs: green share ``gamma``, logit boost ``delta``, secret ``key``."""

    gamma: float = 0.25
    delta: float = 2.0
    key: int = 15485863

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1); got {self.gamma!r}")
        if not self.delta >= 0.0:
            raise ValueError(f"delta must be >= 0; got {self.delta!r}")
        if not isinstance(self.key, int) or self.key < 0:
            raise ValueError(f"key must be an integer >= 0; got {self.key!r}")


def green_list(previous_id: int, vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    """The green token ids after ``previous_id``: ``round(gamma * vocab_size)`` of them. Chapter 9.

    A ``torch.Generator`` seeded by the key and the previous token draws a random
    permutation of the vocabulary; its first ``round(gamma * vocab_size)`` ids are green.
    """
    generator = torch.Generator().manual_seed(key * _KEY_MULTIPLIER + int(previous_id))
    permutation = torch.randperm(vocab_size, generator=generator)  # (vocab_size,)
    return permutation[: round(gamma * vocab_size)]


def green_matrix(vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    """Row ``p`` marks the green list after token ``p``: bool ``(vocab_size, vocab_size)``.

    The vocabulary is small, so every list is drawn once up front. Chapter 9.
    """
    green = torch.zeros(vocab_size, vocab_size, dtype=torch.bool)
    for previous in range(vocab_size):
        green[previous, green_list(previous, vocab_size, gamma, key)] = True
    return green


def green_mask(ids: torch.Tensor, green: torch.Tensor) -> torch.Tensor:
    """Whether each token from the second on is green: ``(..., T - 1)`` for ids ``(..., T)``."""
    return green[ids[..., :-1], ids[..., 1:]]


def z_scores(ids: torch.Tensor, config: WatermarkConfig, vocab_size: int, *,
             ignore_repeats: bool = False) -> torch.Tensor:
    """The detector's z for each text in ``ids`` ``(n, T)`` (or one text ``(T,)``). Chapter 9.

    Counts green tokens from the second token on, so T - 1 tokens are scored.
    With ``ignore_repeats`` each distinct (previous, token) pair counts once:
    the z-test assumes every scored token is green by chance with probability
    gamma independently, which a text that repeats the same pairs (". <eos>",
    "<eos> the") breaks.
    """
    if ids.size(-1) < 2:
        raise ValueError("a text needs at least two tokens to score one")
    green = green_matrix(vocab_size, config.gamma, config.key)
    gamma = config.gamma
    if not ignore_repeats:
        hits = green_mask(ids, green).sum(dim=-1).double()  # (...,)
        scored = torch.full_like(hits, ids.size(-1) - 1)
    else:
        pairs = ids[..., :-1] * vocab_size + ids[..., 1:]  # (..., T - 1): one code per pair
        flat = pairs.reshape(-1, pairs.size(-1))
        distinct = [torch.unique(row) for row in flat]
        hits = torch.tensor([float(green.view(-1)[d].sum()) for d in distinct],
                            dtype=torch.double).view(pairs.shape[:-1])
        scored = torch.tensor([float(len(d)) for d in distinct],
                              dtype=torch.double).view(pairs.shape[:-1])
    return (hits - gamma * scored) / torch.sqrt(scored * gamma * (1.0 - gamma))


def z_score(ids, config: WatermarkConfig, vocab_size: int, *,
            ignore_repeats: bool = False) -> float:
    """The detector's z for one text of token ids (a list or a 1-d tensor). Chapter 9."""
    return float(z_scores(torch.as_tensor(ids, dtype=torch.long), config, vocab_size,
                          ignore_repeats=ignore_repeats))


@dataclass
class WatermarkedSample:
    """Sampled texts ``ids`` ``(n, T)``, the plain model's log-prob of each token ``(n, T)``,
    and the model's entropy (nats) at each step ``(n, T)``."""

    ids: torch.Tensor
    log_probs: torch.Tensor
    entropy: torch.Tensor

    @property
    def perplexity(self) -> float:
        """Perplexity of the texts under the model without the watermark."""
        return math.exp(-float(self.log_probs.double().mean()))

    @property
    def perplexity_ratio(self) -> float:
        """exp(mean(-log p(token) - H(step))): the perplexity paid for the watermark.

        Without it a token's surprise equals the step's entropy on average, so
        the ratio is 1 up to sampling noise; the boost picks tokens the model
        finds less likely than its own choices would be. Unlike the plain
        perplexity it does not fall when the watermark steers the text towards
        easier contexts.
        """
        return math.exp(float((-self.log_probs.double() - self.entropy.double()).mean()))


@torch.no_grad()
def sample_watermarked(model: nn.Module, n_texts: int, n_tokens: int,
                       config: WatermarkConfig, *, start_id: int, temperature: float = 1.0,
                       generator: torch.Generator | None = None) -> WatermarkedSample:
    """Sample ``n_texts`` texts of ``n_tokens`` tokens with the green-list boost. Chapter 9.

    Every text starts after ``start_id`` (the ``<eos>`` that precedes a sentence).
    ``delta = 0`` samples the plain model. Also records, for each token, its
    log-probability and the entropy under the model *without* the boost: the
    perplexity cost of the watermark and how much room each step had for it.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    vocab_size = model.decoder.out_features
    green = green_matrix(vocab_size, config.gamma, config.key).to(device)  # (V, V)
    previous = torch.full((n_texts,), start_id, dtype=torch.long, device=device)  # (n,)
    state = None
    ids, log_probs, entropy = [], [], []
    for _ in range(n_tokens):
        logits, state = model(previous[:, None], state)  # (n, 1, V)
        logits = logits[:, 0].float() / temperature  # (n, V)
        plain = torch.log_softmax(logits, dim=-1)  # (n, V)
        boosted = logits + config.delta * green[previous].float()  # (n, V)
        nxt = sample_next(boosted, 1.0, None, generator)  # (n,)
        ids.append(nxt)
        log_probs.append(plain.gather(1, nxt[:, None])[:, 0])
        entropy.append(-(plain.exp() * plain).sum(dim=-1))
        previous = nxt
    model.train(was_training)
    return WatermarkedSample(torch.stack(ids, 1).cpu(), torch.stack(log_probs, 1).cpu(),
                             torch.stack(entropy, 1).cpu())


def substitute_tokens(ids: torch.Tensor, share: float, vocab_size: int,
                      generator: torch.Generator) -> torch.Tensor:
    """Replace ``round(share * T)`` random positions of each text with random words. Chapter 9.

    The attacker's cheapest edit: each swap can turn two scored tokens red (its
    own and the next one, whose green list it seeds). Special tokens are never
    drawn as replacements.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1]; got {share!r}")
    out = ids.clone()
    n, length = out.shape
    k = round(share * length)
    for row in range(n):
        where = torch.randperm(length, generator=generator)[:k]
        out[row, where] = torch.randint(len(SPECIALS), vocab_size, (k,), generator=generator)
    return out

