"""The reference training loop of the benchmark: PyTorch's word_language_model example.

Explained on the performance page. Re-implemented from the example's description
and defaults (2-layer LSTM, sequence-major, dropout, plain SGD with clipping), so
that ``utils.lm.benchmark`` can time the course's loop against it in one process.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BatchFirst", "ReferenceModel", "reference_epoch"]


class ReferenceModel(nn.Module):
    """Encoder -> dropout -> LSTM (sequence-major) -> dropout -> decoder -> log-softmax."""

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, emb_size)
        self.rnn = nn.LSTM(emb_size, hidden_size, num_layers, dropout=dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor] | None):
        emb = self.drop(self.encoder(tokens))  # (seq_len, batch, emb_size)
        output, hidden = self.rnn(emb, hidden)  # (seq_len, batch, hidden_size)
        decoded = self.decoder(self.drop(output))  # (seq_len, batch, vocab_size)
        return F.log_softmax(decoded.view(-1, decoded.size(-1)), dim=1), hidden


class BatchFirst(nn.Module):
    """Lets the course's evaluator read the sequence-major reference model."""

    def __init__(self, model: ReferenceModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, state=None):
        log_probs, state = self.model(tokens.t(), state)  # (seq_len*batch, vocab_size)
        seq_len, batch = tokens.size(1), tokens.size(0)
        return log_probs.view(seq_len, batch, -1).transpose(0, 1), state  # (batch, seq_len, vocab)


def reference_epoch(model: ReferenceModel, train_stream: torch.Tensor, *, batch_size: int,
                    seq_len: int, lr: float, clip: float, device: torch.device
                    ) -> tuple[float, int]:
    """One epoch of the reference loop; returns (seconds, tokens)."""
    n = train_stream.numel() // batch_size
    # Sequence-major: column b is one stretch of text.
    data = train_stream[: n * batch_size].view(batch_size, n).t().contiguous()
    data = data.to(device)  # (n, batch)
    model.train()
    hidden = None
    tokens = 0
    start = time.perf_counter()
    for i in range(0, n - 1, seq_len):
        length = min(seq_len, n - 1 - i)
        inputs = data[i : i + length]  # (length, batch)
        targets = data[i + 1 : i + 1 + length].reshape(-1)  # (length*batch,)
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        model.zero_grad()
        output, hidden = model(inputs, hidden)
        loss = F.nll_loss(output, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        loss.item()
        tokens += targets.numel()
    return time.perf_counter() - start, tokens
