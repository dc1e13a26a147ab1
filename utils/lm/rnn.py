"""A plain (Elman) recurrent language model, the LSTM's ungated ancestor. Chapter 4.

Same layers and interface as ``LSTMLanguageModel`` (embedding, dropout, a
recurrent layer, a tied decoder; ``forward``, ``decoder_input``, ``features``),
with ``nn.RNN``'s update h_t = tanh(W x_t + U h_{t-1} + b) in place of the
LSTM's gated one. ``pretrained_rnn`` trains it on the same corpus with the
LSTM's recipe, so that ``utils.evaluate``'s agreement measures can test the
textbook expectation that an ungated network loses a subject's number over a
long distance.
"""

from __future__ import annotations

import torch
from torch import nn

from utils.data.text import lm_stream
from utils.lm.lstm import ModelConfig
from utils.lm.pretrained import PretrainConfig, corpus_and_vocab
from utils.lm.training import train_language_model
from utils.runtime import Run, TrainingRecord, cached_run, get_device

__all__ = ["RNNLanguageModel", "pretrained_rnn"]

RNNState = tuple[torch.Tensor]  # (h,), a tuple so the training loop can detach it like (h, c)


class RNNLanguageModel(nn.Module):
    """Embedding -> dropout -> tanh RNN -> dropout -> Linear to vocabulary logits. Chapter 4."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.emb_size)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = nn.RNN(config.emb_size, config.hidden_size, num_layers=config.num_layers,
                          nonlinearity="tanh", batch_first=True,
                          dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # as the LSTM: near-uniform start
        nn.init.zeros_(self.decoder.bias)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def _hidden(self, tokens: torch.Tensor, state: RNNState | None
                ) -> tuple[torch.Tensor, RNNState]:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, seq_len); got shape {tuple(tokens.shape)}")
        emb = self.drop(self.embedding(tokens))  # (batch, seq_len, emb_size)
        hidden, h = self.rnn(emb, None if state is None else state[0])
        return hidden, (h,)  # (batch, seq_len, hidden_size), ((num_layers, batch, hidden),)

    def forward(self, tokens: torch.Tensor, state: RNNState | None = None
                ) -> tuple[torch.Tensor, RNNState]:
        """Next-token logits ``(batch, seq_len, vocab_size)`` and the state ``(h,)``."""
        hidden, state = self._hidden(tokens, state)
        return self.decoder(self.drop(hidden)), state

    def decoder_input(self, tokens: torch.Tensor, state: RNNState | None = None
                      ) -> tuple[torch.Tensor, RNNState]:
        """What ``forward`` feeds the decoder (states after dropout), and the state."""
        hidden, state = self._hidden(tokens, state)
        return self.drop(hidden), state

    def features(self, tokens: torch.Tensor, state: RNNState | None = None) -> torch.Tensor:
        """The top layer's hidden states ``(batch, seq_len, hidden_size)`` (chapter 5's head)."""
        return self._hidden(tokens, state)[0]

    def num_parameters(self) -> int:
        """Number of trainable numbers; a tied matrix counts once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def pretrained_rnn(config: PretrainConfig | None = None, *, progress: bool = False
                   ) -> Run[PretrainConfig, RNNLanguageModel]:
    """Load the plain RNN trained with ``config`` (the LSTM's recipe) from the cache, or train it.

    Chapter 4. The same corpus, batches, step size and passes as
    ``utils.lm.pretrained_model(config)``; only the recurrent cell differs.
    """
    config = config or PretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)

    def build(c: PretrainConfig) -> RNNLanguageModel:
        return RNNLanguageModel(c.model_config(len(vocab))).to(get_device())

    def train(model: RNNLanguageModel, c: PretrainConfig) -> TrainingRecord:
        return train_language_model(model, lm_stream(corpus.train, vocab),
                                    lm_stream(corpus.valid, vocab), c.train,
                                    progress=progress).to_record()

    return cached_run("rnn-lm", config, build, train, vocab=vocab, corpus=corpus,
                      train_text=corpus.train)
