"""A pretraining recipe for the tiny Transformers that makes them transfer. Chapters 4-5.

``pretrained_transformer`` trains the GPT-like and BERT-like models with the
LSTM's recipe: a constant step size after a short warm-up, 64 windows per step,
a decoder tied to the embedding and, for BERT, every chosen word replaced by
``<mask>``. At the notebook's budget that is only a few hundred optimizer steps,
and the sentiment words' embeddings never learn which reviews they share
(``experiments/probe_features.py``). ``RecipeConfig`` names the factors that
decide it, one field each, so that each can be varied alone:

- ``batch_size`` and ``lr`` (in ``pretrain.train``): more, smaller steps over the same tokens;
- ``schedule``: ``"constant"`` after the warm-up, or ``"cosine"`` decay to zero (Loshchilov &
  Hutter, 2017), the schedule GPT-2 and BERT were trained with;
- ``tied``: one matrix for the input embedding and the output layer, or two;
- ``masking``: BERT's ``"80/10/10"`` corruption (of the chosen words 80 % become ``<mask>``,
  10 % a random word, 10 % stay) or ``"always"`` ``<mask>``.

``pretrain_with_recipe(recipe)`` trains and caches a model like ``pretrained_transformer``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from utils.data.text import SPECIALS, batchify, lm_batches, lm_stream
from utils.lm.cache import config_key, load_or_create
from utils.lm.device import get_device
from utils.lm.masked import IGNORE
from utils.lm.pretrained import Pretrained, corpus_and_vocab
from utils.lm.pretrained_transformer import TransformerPretrainConfig
from utils.lm.scoped import local_seed
from utils.lm.training import evaluate_language_model
from utils.lm.transformer import TransformerLanguageModel

__all__ = ["MASKINGS", "SCHEDULES", "RecipeConfig", "corrupt_tokens", "learning_rate",
           "pretrain_with_recipe", "transfer_recipe"]

SCHEDULES = ("constant", "cosine")
MASKINGS = ("always", "80/10/10")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RecipeConfig:
    """Model, data and the pretraining factors of a Transformer. Chapters 4-5."""

    pretrain: TransformerPretrainConfig = field(default_factory=TransformerPretrainConfig)
    schedule: str = "constant"
    tied: bool = True
    masking: str = "always"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {self.schedule!r}")
        if self.masking not in MASKINGS:
            raise ValueError(f"masking must be one of {MASKINGS}; got {self.masking!r}")
        if not isinstance(self.tied, bool):
            raise ValueError(f"tied must be True or False; got {self.tied!r}")

    @property
    def corpus(self):
        """The corpus configuration, where chapter 5's experiment looks for it."""
        return self.pretrain.corpus


def transfer_recipe(pretrain: TransformerPretrainConfig | None = None) -> RecipeConfig:
    """The recipe measured to transfer at today's cost (``experiments/``), for either objective.

    Chapters 4-5. Same steps, sizes and schedule as ``pretrain``; the GPT-like
    model gets an untied output layer, the BERT-like model hides 30 % of the
    words instead of 15 % (twice the masked-word signal per pass). The other
    factors (cosine schedule, a larger step, smaller batches, 80/10/10) did not
    help on validation draws.
    """
    pretrain = pretrain or TransformerPretrainConfig()
    if pretrain.objective == "masked":
        return RecipeConfig(dataclasses.replace(pretrain, mask_rate=0.3))
    return RecipeConfig(pretrain, tied=False)


def learning_rate(step: int, total_steps: int, peak: float, warmup_steps: int,
                  schedule: str) -> float:
    """The step size of optimizer step ``step`` (0-based) of ``total_steps``. Chapter 4.

    A linear warm-up from ``peak / warmup_steps`` to ``peak`` over the first
    ``warmup_steps`` steps, then ``peak`` (constant) or ``peak * (1 + cos(pi p)) / 2``
    with ``p`` the share of the remaining steps done (cosine), which ends near zero.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if schedule == "constant":
        return peak
    done = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))


def corrupt_tokens(tokens: torch.Tensor, *, mask_id: int, rate: float, masking: str,
                   n_words: int, first_word: int, generator: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs with a ``rate`` share of positions corrupted, and targets at those positions.

    Chapter 4. ``"always"`` puts ``mask_id`` at every chosen position; ``"80/10/10"``
    (Devlin et al., 2019) puts ``mask_id`` at 80 % of them, a random word id from
    ``[first_word, n_words)`` at 10 % and leaves 10 % as they are, so the model cannot
    learn that only ``<mask>`` positions matter. Targets hold the original id at
    chosen positions and ``-100`` elsewhere.
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1); got {rate!r}")
    if masking not in MASKINGS:
        raise ValueError(f"masking must be one of {MASKINGS}; got {masking!r}")
    draw = torch.rand(tokens.shape, generator=generator)  # (batch, seq)
    chosen = draw < rate
    targets = tokens.masked_fill(~chosen, IGNORE)
    if masking == "always":
        return tokens.masked_fill(chosen, mask_id), targets
    # One more uniform draw splits the chosen positions 80 / 10 / 10.
    split = torch.rand(tokens.shape, generator=generator)
    random_words = torch.randint(first_word, n_words, tokens.shape, generator=generator)
    inputs = tokens.masked_fill(chosen & (split < 0.8), mask_id)
    swap = chosen & (split >= 0.8) & (split < 0.9)
    inputs = torch.where(swap, random_words, inputs)
    return inputs, targets


def _build(recipe: RecipeConfig, vocab_size: int, eos_id: int) -> TransformerLanguageModel:
    model = TransformerLanguageModel(recipe.pretrain.model_config(vocab_size, eos_id))
    if not recipe.tied:
        # A separate output matrix, initialised like every other weight.
        model.decoder.weight = nn.Parameter(torch.randn_like(model.embedding.weight) * 0.02)
    return model


def _train(model: TransformerLanguageModel, recipe: RecipeConfig, stream: torch.Tensor,
           mask_id: int, first_word: int, n_words: int) -> dict:
    config, train = recipe.pretrain, recipe.pretrain.train
    masked = config.objective == "masked"
    device = get_device()
    model.to(device).train()
    data = batchify(stream, train.batch_size).to(device)  # (batch_size, n)
    total = train.epochs * math.ceil((data.size(1) - 1) / train.seq_len)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr, betas=train.betas)
    generator = torch.Generator().manual_seed(train.seed)
    losses, tokens, seconds, step = [], 0, 0.0, 0
    for _ in range(train.epochs):
        state = None
        for window, targets in lm_batches(data, train.seq_len):
            start = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total, train.lr, train.warmup_steps,
                                            recipe.schedule)
            if masked:
                inputs, targets = corrupt_tokens(window.cpu(), mask_id=mask_id,
                                                 rate=config.mask_rate, masking=recipe.masking,
                                                 n_words=n_words, first_word=first_word,
                                                 generator=generator)
                logits = model.decoder(model.features(inputs.to(device)))
                targets = targets.to(device)
            else:
                logits, state = model(window, state)  # state: the last tokens, no graph
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=IGNORE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if train.clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), train.clip)
            optimizer.step()
            losses.append(loss.item())
            seconds += time.perf_counter() - start
            tokens += window.numel()
            step += 1
    model.eval()
    thin = max(1, len(losses) // 400)
    return {"train_loss": losses[::thin], "steps": step, "tokens": tokens,
            "train_time_s": seconds}


def pretrain_with_recipe(recipe: RecipeConfig | None = None, *, progress: bool = False
                         ) -> Pretrained:
    """Load a Transformer pretrained with ``recipe`` from the cache, or train and cache it.

    Chapters 4-5. Seeded by ``recipe.pretrain.train.seed`` without touching the
    caller's random streams. For the masked objective the ``<mask>`` id is
    ``len(vocab)``, as in ``pretrained_transformer``; random replacement words
    are drawn from the vocabulary's words, never its special tokens.
    ``progress`` is accepted for a common call shape; training prints nothing.
    """
    recipe = recipe or RecipeConfig()
    corpus, vocab = corpus_and_vocab(recipe.pretrain.corpus)
    with local_seed(recipe.pretrain.train.seed):
        model = _build(recipe, len(vocab), vocab.eos_id)
    key = "transformer-recipe-" + config_key({"config": dataclasses.asdict(recipe),
                                              "format": FORMAT_VERSION})
    trained_now = False

    def train() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        first_word = len(SPECIALS)  # the vocabulary lists its special tokens first
        with local_seed(recipe.pretrain.train.seed):
            record = _train(model, recipe, lm_stream(corpus.train, vocab), len(vocab),
                            first_word, len(vocab))
        if recipe.pretrain.objective == "causal":
            record["valid"] = [evaluate_language_model(model, lm_stream(corpus.valid, vocab))]
        return model.state_dict(), record

    state_dict, history = load_or_create(key, train)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.to(get_device()).eval()
    return Pretrained(model=model, vocab=vocab, corpus=corpus, config=recipe,
                      history=history, from_cache=not trained_now)
