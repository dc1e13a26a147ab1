"""The source article's Keras model, and its faithful PyTorch twin: one next word per window.

Chapter 4. The article's model is ``Embedding -> LSTM(units=hidden_size) ->
Dense(vocab_size, activation="softmax")``: without ``return_sequences`` the
LSTM returns its *last* state only, so each window of ``window`` words gives one
prediction, the word after it, and ``model.evaluate`` reports that word's
accuracy. The course's model predicts at every position instead.

``LastStateLanguageModel`` is that model in PyTorch with Keras's defaults, so
the two frameworks' differences are visible in one place:

- Keras's LSTM has one bias per gate; PyTorch's has two (``bias_ih`` and
  ``bias_hh``, added together). The twin keeps ``bias_hh`` at zero and frozen.
- ``unit_forget_bias=True``: the forget gate's bias starts at 1 (PyTorch: uniform).
- Initialisations: input weights Glorot-uniform, recurrent weights orthogonal,
  embedding uniform in ±0.05, Dense Glorot-uniform with zero bias (PyTorch:
  uniform in ±1/√hidden for the LSTM, N(0, 1) for the embedding).
- Adam's ε is 1e-7 in Keras, 1e-8 in PyTorch; Keras's default step is 1e-3.
- ``fit`` shuffles the windows every epoch and the layer is stateless: every
  window starts from a zero state (the course's model carries its state along
  the text instead).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from utils.data.corpus import CorpusConfig
from utils.data.text import lm_stream
from utils.lm.pretrained import corpus_and_vocab
from utils.runtime import Run, TrainingRecord, cached_run, eval_mode, get_device, thin

__all__ = ["LastStateConfig", "LastStateLanguageModel", "evaluate_next_word",
           "next_word_windows", "pretrained_last_state"]

KERAS_ADAM_EPS = 1e-7


@dataclass(frozen=True)
class LastStateConfig:
    """The article's model and its training, with Keras's defaults. Chapter 4."""

    # Bump when training code changes the weights a config produces (cached runs then retrain).
    version: ClassVar[int] = 1

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    emb_size: int = 128
    hidden_size: int = 128
    window: int = 35
    lr: float = 1e-3
    batch_size: int = 64
    steps: int = 760  # as many optimizer steps as the course's 10-epoch LSTM
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("emb_size", "hidden_size", "window", "batch_size", "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")


class LastStateLanguageModel(nn.Module):
    """Embedding -> LSTM -> last state -> Linear: logits of the word after a window. Chapter 4."""

    def __init__(self, vocab_size: int, emb_size: int = 128, hidden_size: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.lstm = nn.LSTM(emb_size, hidden_size, batch_first=True)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        self._keras_init(hidden_size)

    @torch.no_grad()
    def _keras_init(self, hidden: int) -> None:
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        for gate in self.lstm.weight_ih_l0.split(hidden):  # Keras initialises each gate's kernel
            nn.init.xavier_uniform_(gate)
        nn.init.orthogonal_(self.lstm.weight_hh_l0)
        self.lstm.bias_ih_l0.zero_()
        self.lstm.bias_ih_l0[hidden: 2 * hidden] = 1.0  # PyTorch's gate order: i, f, g, o
        self.lstm.bias_hh_l0.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)  # one bias per gate, as in Keras
        nn.init.xavier_uniform_(self.decoder.weight)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens: torch.Tensor, state=None) -> tuple[torch.Tensor, None]:
        """Logits ``(batch, 1, vocab_size)`` of the word after each window; stateless."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, window); got shape {tuple(tokens.shape)}")
        _, (h, _) = self.lstm(self.embedding(tokens))  # h: (1, batch, hidden_size)
        return self.decoder(h[-1])[:, None, :], None


def next_word_windows(stream: torch.Tensor, window: int, stride: int = 1
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``window``-token stretch of ``stream`` (every ``stride``-th start) and the next token.

    Chapter 4: the article's training examples, ``(n, window)`` inputs and ``(n,)`` targets.
    """
    if stream.dim() != 1 or len(stream) <= window:
        raise ValueError(f"need a 1-D stream longer than window={window}; "
                         f"got shape {tuple(stream.shape)}")
    starts = torch.arange(0, len(stream) - window, stride)
    inputs = stream[starts[:, None] + torch.arange(window)[None, :]]
    return inputs, stream[starts + window]


@torch.no_grad()
def evaluate_next_word(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                       batch_size: int = 512) -> dict[str, float]:
    """Accuracy and perplexity of the word after each window, read from a zero state. Chapter 4.

    Works for any model whose ``forward(tokens)`` gives per-position logits: the
    last position's are scored, so the course's every-position LSTM is scored on
    exactly the same predictions (what ``model.evaluate`` would report).
    """
    device = next(model.parameters()).device
    total, correct = 0.0, 0
    with eval_mode(model):
        for i in range(0, len(inputs), batch_size):
            logits = model(inputs[i: i + batch_size].to(device))[0][:, -1]  # (batch, vocab)
            y = targets[i: i + batch_size].to(device)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(-1) == y).sum())
    loss = total / len(targets)
    return {"loss": loss, "perplexity": math.exp(loss), "accuracy": correct / len(targets)}


def _train(model: LastStateLanguageModel, inputs: torch.Tensor, targets: torch.Tensor,
           config: LastStateConfig) -> TrainingRecord:
    device = get_device()
    model.to(device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.lr, eps=KERAS_ADAM_EPS)
    generator = torch.Generator().manual_seed(config.seed)
    order, position, losses, seconds = torch.randperm(len(targets), generator=generator), 0, [], 0.0
    for _ in range(config.steps):
        if position + config.batch_size > len(order):  # a new epoch, shuffled as fit does
            order, position = torch.randperm(len(targets), generator=generator), 0
        batch = order[position: position + config.batch_size]
        position += config.batch_size
        start = time.perf_counter()
        logits = model(inputs[batch].to(device))[0][:, -1]
        loss = F.cross_entropy(logits, targets[batch].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - start
        losses.append(loss.item())
    model.eval()
    windows = config.steps * config.batch_size
    return TrainingRecord(steps=config.steps, tokens=windows * config.window,
                          train_time_s=seconds, train_loss=thin(losses),
                          measured={"windows": windows})


def pretrained_last_state(config: LastStateConfig | None = None
                          ) -> Run[LastStateConfig, LastStateLanguageModel]:
    """The article's model trained on the course's corpus, from the cache or trained now.

    Chapter 4. Seeded by ``config.seed`` (initial weights and window order)
    without touching the caller's random streams.
    """
    config = config or LastStateConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)

    def build(c: LastStateConfig) -> LastStateLanguageModel:
        return LastStateLanguageModel(len(vocab), c.emb_size, c.hidden_size).to(get_device())

    def train(model: LastStateLanguageModel, c: LastStateConfig) -> TrainingRecord:
        inputs, targets = next_word_windows(lm_stream(corpus.train, vocab), c.window)
        return _train(model, inputs, targets, c)

    return cached_run("last-state-lm", config, build, train, vocab=vocab, corpus=corpus,
                      train_text=corpus.train)
