"""The course's tiny foundation model: an LSTM language model.

Explained in chapter 4: Embedding -> dropout -> LSTM -> dropout -> Linear gives,
at every position, a score (logit) for each word of the vocabulary being next.
Chapter 5 reuses ``features`` as a pretrained encoder under a classifier head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from utils.params import Boolean, Integer, Real, validate

__all__ = ["LSTMLanguageModel", "ModelConfig"]

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the LSTM language model. Explained in chapter 4."""

    vocab_size: int
    emb_size: int = 128
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = True

    def __post_init__(self) -> None:
        checked = validate(
            **{name: Integer(getattr(self, name), min=1)
               for name in ("vocab_size", "emb_size", "hidden_size", "num_layers")},
            dropout=Real(self.dropout, min=0.0, max=1.0, exclusive_max=True),
            tie_weights=Boolean(self.tie_weights),
        )
        for name, value in checked.as_dict().items():  # NumPy numbers become plain ones
            object.__setattr__(self, name, value)
        if self.tie_weights and self.emb_size != self.hidden_size:
            raise ValueError(
                "tie_weights=True shares one matrix between the embedding and the output layer, "
                f"so emb_size must equal hidden_size; got emb_size={self.emb_size}, "
                f"hidden_size={self.hidden_size}"
            )


class LSTMLanguageModel(nn.Module):
    """Embedding -> dropout -> LSTM -> dropout -> Linear to vocabulary logits.

    Explained in chapter 4.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.emb_size)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.emb_size,
            config.hidden_size,
            num_layers=config.num_layers,
            # nn.LSTM applies dropout between its layers only, never after the last one.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        # Small uniform weights keep the first logits near zero, i.e. the first
        # prediction near uniform, with perplexity near vocab_size.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if config.tie_weights:
            # One matrix both reads words in and scores them out (Press & Wolf, 2017).
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def _hidden(
        self, tokens: torch.Tensor, state: LSTMState | None
    ) -> tuple[torch.Tensor, LSTMState]:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, seq_len); got shape {tuple(tokens.shape)}")
        emb = self.drop(self.embedding(tokens))  # (batch, seq_len, emb_size)
        hidden, state = self.lstm(emb, state)  # (batch, seq_len, hidden_size)
        return hidden, state

    def forward(
        self, tokens: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """Next-token logits ``(batch, seq_len, vocab_size)`` and the LSTM state ``(h, c)``.

        Explained in chapter 4. Each of ``h`` and ``c`` is ``(num_layers, batch, hidden_size)``;
        pass the state back in to continue the same text.
        """
        hidden, state = self._hidden(tokens, state)
        logits = self.decoder(self.drop(hidden))  # (batch, seq_len, vocab_size)
        return logits, state

    def decoder_input(
        self, tokens: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """What ``forward`` feeds the decoder: top-layer states after dropout, and ``(h, c)``.

        Explained on the performance page: training computes the decoder and the loss
        together (``utils.lm.fused_loss``) from these ``(batch, seq_len, hidden_size)`` states;
        ``self.decoder(decoder_input(...)[0])`` equals ``forward``'s logits.
        """
        hidden, state = self._hidden(tokens, state)
        return self.drop(hidden), state  # (batch, seq_len, hidden_size)

    def features(self, tokens: torch.Tensor, state: LSTMState | None = None) -> torch.Tensor:
        """The top LSTM layer's hidden states ``(batch, seq_len, hidden_size)``.

        Explained in chapter 5: a classifier head on these adapts the pretrained model.
        """
        hidden, _ = self._hidden(tokens, state)
        return hidden  # (batch, seq_len, hidden_size)

    def num_parameters(self) -> int:
        """Number of trainable numbers; a tied matrix counts once. Explained in chapter 4."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
