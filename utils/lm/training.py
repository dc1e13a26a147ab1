"""Train and evaluate the LSTM language model.

Explained in chapter 4: minimise the cross-entropy of the next token (the
negative log-likelihood of chapter 3) with Adam, walking along the text with
truncated back-propagation through time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.data.text import batchify, lm_batches
from utils.lm.fused_loss import DEFAULT_CHUNK_ROWS, fused_linear_cross_entropy
from utils.runtime.device import get_device
from utils.runtime.precision import matmul_dtype
from utils.runtime.run import TrainingRecord, thin
from utils.runtime.scoped import eval_mode, local_seed

__all__ = [
    "History", "TrainConfig", "evaluate_language_model", "init_output_bias", "train_language_model",
]

_OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: step size, batch shape, how long, and the seed. Explained in chapter 4.

    Training stops after ``epochs`` passes over the text, or earlier at ``max_steps``
    optimizer steps, after ``time_budget_s`` seconds of training, or once the
    validation perplexity (checked every ``eval_every`` steps and after each epoch)
    is at most ``target_perplexity``. ``fused_loss`` computes the output layer and
    the cross-entropy together (``utils.lm.fused_loss``; the performance page): the same
    loss and gradients, faster on a CPU. ``warmup_steps`` ramps the step size up
    linearly from ``lr / warmup_steps`` over the first steps.
    """

    # The settings that pretrain the course's model (utils.lm.pretrained), checked on the
    # King James text against the reference loop (utils.lm.benchmark): 64 rows keep two
    # CPU threads busier than 32 and halve the optimizer's passes per token, and with
    # Adam at 5e-3 the loop reached the reference's one-epoch perplexity after 36-40 % of
    # an epoch's tokens (seeds 0 and 1), against 43-51 % at the former 32 rows and 1.5e-3.
    lr: float = 5e-3
    batch_size: int = 64
    seq_len: int = 35
    epochs: int = 1
    max_steps: int | None = None
    time_budget_s: float | None = None
    clip: float | None = 0.5
    seed: int = 0
    optimizer: str = "adam"
    eval_every: int | None = None
    target_perplexity: float | None = None
    fused_loss: bool = True
    warmup_steps: int = 0
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        for name in ("batch_size", "seq_len", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name in ("max_steps", "eval_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
        for name in ("time_budget_s", "clip", "target_perplexity"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None; got {value!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0; got {self.warmup_steps!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}; got {self.optimizer!r}")


@dataclass
class History:
    """What happened during training. Explained in chapter 4.

    ``train_loss`` has one entry per optimizer step; ``valid`` one dict per
    evaluation with keys epoch, step, tokens, train_time_s, loss, perplexity,
    accuracy. ``train_time_s`` counts training only, not evaluation.
    """

    train_loss: list[float] = field(default_factory=list)
    valid: list[dict[str, float]] = field(default_factory=list)
    train_time_s: float = 0.0
    tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        """Training throughput: tokens processed per second of training."""
        return self.tokens / self.train_time_s if self.train_time_s > 0 else 0.0

    def to_record(self, **measured) -> TrainingRecord:
        """This history as a cacheable ``TrainingRecord`` (curve thinned), with ``measured``."""
        return TrainingRecord(steps=len(self.train_loss), tokens=self.tokens,
                              train_time_s=self.train_time_s, train_loss=thin(self.train_loss),
                              valid=tuple(self.valid), measured=measured)


@torch.no_grad()
def evaluate_language_model(
    model: nn.Module,
    stream: torch.Tensor,
    batch_size: int = 64,
    seq_len: int = 35,
    ignore_index: int | None = None,
) -> dict[str, float]:
    """Mean next-token cross-entropy (nats), perplexity and top-1 accuracy on ``stream``.

    Explained in chapter 4. Dropout is off while evaluating; the model's
    training mode is restored afterwards (``utils.runtime.scoped.eval_mode``). Targets
    equal to ``ignore_index`` are not scored: pass the ``<eos>`` id to score
    exactly the tokens an n-gram model scores (every word of every sentence, not
    the separators between them).
    """
    device = next(model.parameters()).device
    data = batchify(stream, batch_size).to(device)  # (batch_size, n)
    total_loss, correct, count = 0.0, 0, 0
    state = None
    with eval_mode(model):
        for inputs, targets in lm_batches(data, seq_len):
            logits, state = model(inputs, state)  # (batch, seq_len, vocab_size)
            flat = logits.reshape(-1, logits.size(-1))  # (batch*seq_len, vocab_size)
            flat_targets = targets.reshape(-1)  # (batch*seq_len,)
            scored = (flat_targets != ignore_index if ignore_index is not None
                      else torch.ones_like(flat_targets, dtype=torch.bool))
            total_loss += F.cross_entropy(flat[scored], flat_targets[scored],
                                          reduction="sum").item()
            correct += (flat[scored].argmax(dim=-1) == flat_targets[scored]).sum().item()
            count += int(scored.sum())
    if count == 0:
        raise ValueError("nothing to score: the stream is too short for one batch, or every "
                         "target equals ignore_index")
    loss = total_loss / count
    return {"loss": loss, "perplexity": math.exp(loss), "accuracy": correct / count}


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    try:
        # The fused kernel updates all parameters in one pass: ~3x faster than the loop on a CPU.
        return torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without it
        return torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)


@torch.no_grad()
def init_output_bias(model: nn.Module, train_stream: torch.Tensor, smoothing: float = 1.0) -> None:
    """Set the decoder's bias to the log unigram frequencies of ``train_stream``.

    Explained on the performance page. With near-zero weights the untrained model
    then predicts every word with its frequency in the training text: it starts at
    the unigram perplexity instead of ``vocab_size``, and the optimizer does not
    spend its first steps learning word frequencies. ``smoothing`` is added to
    every count, so unseen words keep a finite score.
    """
    bias = model.decoder.bias
    counts = torch.bincount(train_stream.flatten().cpu(), minlength=bias.numel()).double()
    probs = (counts + smoothing) / (counts.sum() + smoothing * bias.numel())
    bias.copy_(probs.log().to(bias.dtype))


def _step_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, state,
               fused: bool):
    """The mean next-token cross-entropy of one batch and the LSTM state after it."""
    decoder = getattr(model, "decoder", None)
    if fused and hasattr(model, "decoder_input") and isinstance(decoder, nn.Linear):
        hidden, state = model.decoder_input(inputs, state)  # (batch, seq_len, hidden_size)
        # The output layer's products in bfloat16 where the process chose it (the performance
        # page); the plain path below stays in float32.
        loss = fused_linear_cross_entropy(hidden.reshape(-1, hidden.size(-1)), decoder.weight,
                                          decoder.bias, targets.reshape(-1), DEFAULT_CHUNK_ROWS,
                                          matmul_dtype(inputs.device))
        return loss, state
    logits, state = model(inputs, state)  # (batch, seq_len, vocab_size)
    # One big (batch*seq_len, vocab_size) cross-entropy: the projection and the softmax
    # are most of the cost, so they run as single large kernels.
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)), state


def train_language_model(
    model: nn.Module,
    train_stream: torch.Tensor,
    valid_stream: torch.Tensor,
    config: TrainConfig,
    progress: bool = True,
) -> History:
    """Train ``model`` on a token-id stream and return its ``History``. Explained in chapter 4.

    Seeded by ``config.seed`` (``utils.runtime.scoped.local_seed``: the caller's random
    streams are left as they were); the device comes from ``utils.runtime.device.get_device``.
    """
    with local_seed(config.seed):
        return _train(model, train_stream, valid_stream, config, progress)


def _train(model: nn.Module, train_stream: torch.Tensor, valid_stream: torch.Tensor,
           config: TrainConfig, progress: bool) -> History:
    """The loop of ``train_language_model``, run inside its seeded block."""
    device = get_device()
    model.to(device)
    model.train()
    train_data = batchify(train_stream, config.batch_size).to(device)  # (batch_size, n)
    steps_per_epoch = math.ceil((train_data.size(1) - 1) / config.seq_len)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = _make_optimizer(model, config)
    history = History()
    bar = tqdm(total=total_steps, disable=not progress, desc="training", unit="step")
    step = 0

    def validate(epoch: int) -> bool:
        """Record validation metrics; True when the target perplexity is reached."""
        metrics = evaluate_language_model(model, valid_stream, config.batch_size, config.seq_len)
        history.valid.append(
            {"epoch": epoch, "step": step, "tokens": history.tokens,
             "train_time_s": history.train_time_s, **metrics}
        )
        ppl = metrics["perplexity"]
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val_ppl=f"{ppl:.1f}")
        return config.target_perplexity is not None and ppl <= config.target_perplexity

    done = False
    for epoch in range(1, config.epochs + 1):
        state = None
        for inputs, targets in lm_batches(train_data, config.seq_len):
            start = time.perf_counter()
            if state is not None:
                # Truncated BPTT: keep the state's values, cut the graph behind them.
                state = tuple(s.detach() for s in state)
            if config.warmup_steps and step <= config.warmup_steps:
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * min(1.0, (step + 1) / config.warmup_steps)
            loss, state = _step_loss(model, inputs, targets, state, config.fused_loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            loss_value = loss.item()  # waits for the device, so the timing is honest
            history.train_time_s += time.perf_counter() - start
            history.tokens += targets.numel()
            history.train_loss.append(loss_value)
            step += 1
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss_value:.3f}")
            if config.eval_every is not None and step % config.eval_every == 0 and validate(epoch):
                done = True
            if config.max_steps is not None and step >= config.max_steps:
                done = True
            if config.time_budget_s is not None and history.train_time_s >= config.time_budget_s:
                done = True
            if done:
                break
        if not history.valid or history.valid[-1]["step"] != step:
            done = validate(epoch) or done
        if done:
            break
    bar.close()
    return history
