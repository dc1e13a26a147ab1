# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 04: an LSTM language model, one step at a time
#
# Chapter 4 built the course's tiny foundation model from an
# embedding, an LSTM and a softmax, and trained it by maximum likelihood. In
# this lab you write its three moving parts yourself: one step of the LSTM
# from the gate equations of Chapter 4, one training step, and sampling with
# a temperature. Then you train a very small model with your own training
# step and let it write.
#
# Each exercise is a function to complete, with its check at the end of the
# same cell: run the cell, and the check tries your function on fresh
# random inputs and tells you what is wrong, never the answer.

# %% tags=["hide-cell"]
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else only the language is set.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("foundation-models-hands-on")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+https://github.com/fm-hands-on/course@v0.3.0"], check=True)

from utils.i18n import set_language

set_language("en")  # checks and parameter errors in English; the Chinese notebook: "zh_CN"

# %% [markdown]
# ## Parameters

# %% tags=["parameters"]
seed: int = 0  # seed of the corpus, the model and the checks' random inputs (an integer, at least 0)
n_sentences: int = 3000  # sentences of the small training corpus, 90 % for training (500 to 20000)
hidden_size: int = 32  # size of the small model's embedding and LSTM state (integer, 8 to 128)
epochs: int = 4  # passes of your training step over the small corpus (integer, 1 to 20)
temperature: float = 0.8  # sampling temperature of the last demo (number, 0 to 5; 0 means argmax)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    n_sentences=Integer(n_sentences, min=500, max=20_000),
    hidden_size=Integer(hidden_size, min=8, max=128),
    epochs=Integer(epochs, min=1, max=20),
    temperature=Real(temperature, min=0.0, max=5.0),
)

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.lstm_language_model import (
    check_lstm_step,
    check_sample_with_temperature,
    check_train_step,
)
from utils.data import CorpusConfig
from utils.lm import corpus_and_vocab

torch.manual_seed(params.seed)
corpus, vocab = corpus_and_vocab(CorpusConfig(seed=params.seed, n_sentences=params.n_sentences))
print(f"{len(corpus.train)} training sentences, vocabulary of {len(vocab)} words")
print("for example:", " ".join(corpus.train[0]))

# %% [markdown]
# ## Exercise 1: one LSTM step
#
# Given the input $x_t$ of shape `(batch, input_size)` and the previous state
# $h_{t-1}, c_{t-1}$, each `(batch, hidden_size)`, compute the new state with
# the gate equations of Chapter 4. The weights are stored as PyTorch stores
# them: `weight_ih` of shape `(4 * hidden_size, input_size)` holds $W_{ii}$,
# $W_{if}$, $W_{ig}$, $W_{io}$ stacked in the order **i, f, g, o**, and
# `weight_hh`, `bias_ih`, `bias_hh` likewise. `z.chunk(4, dim=-1)` splits
# the four blocks apart. Return the pair `(h_new, c_new)`.


# %%
def lstm_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor,
              weight_hh: torch.Tensor, bias_ih: torch.Tensor, bias_hh: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of an LSTM layer, as nn.LSTM computes it: returns (h_new, c_new)."""
    # BEGIN SOLUTION lstm_step
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh  # (batch, 4 * hidden_size)
    i, f, g, o = z.chunk(4, dim=-1)  # each (batch, hidden_size)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return h_new, c_new
    # END SOLUTION


check_lstm_step(lstm_step, seed=params.seed)

# %% [markdown]
# Your step, run along a sentence, is the whole LSTM layer. Here it reads the
# embedded words of a training sentence with the weights of a fresh
# `nn.LSTM`, and we compare every output with PyTorch's:

# %%
emb = nn.Embedding(len(vocab), 16)
lstm = nn.LSTM(16, 24, batch_first=True)
sentence = torch.tensor([vocab.encode(corpus.train[0])])  # (1, seq_len)
with torch.no_grad():
    xs = emb(sentence)  # (1, seq_len, 16)
    expected, _ = lstm(xs)  # (1, seq_len, 24)
    h = c = torch.zeros(1, 24)
    outputs = []
    for t in range(xs.shape[1]):
        h, c = lstm_step(xs[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0,
                         lstm.bias_ih_l0, lstm.bias_hh_l0)
        outputs.append(h)
    mine = torch.stack(outputs, dim=1)  # (1, seq_len, 24)
print(f"{xs.shape[1]} steps; largest difference from nn.LSTM: "
      f"{float((mine - expected).abs().max()):.2e}")

# %% [markdown]
# ## Exercise 2: one training step
#
# The course's model (`utils.lm.LSTMLanguageModel`) returns
# `logits, state`; the logits have shape `(batch, seq_len, vocab_size)` and
# `targets` has shape `(batch, seq_len)`. One training step:
#
# 1. run the model on `inputs`;
# 2. compute the mean cross-entropy: flatten the logits to
#    `(batch * seq_len, vocab_size)` and the targets to `(batch * seq_len,)`,
#    the same way, and call `F.cross_entropy`;
# 3. clear the old gradients with `optimizer.zero_grad()`, then `loss.backward()`;
# 4. clip the gradients' total norm to `clip` with `nn.utils.clip_grad_norm_`;
# 5. `optimizer.step()`, and return the loss as a number.


# %%
def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               targets: torch.Tensor, clip: float) -> float:
    """One clipped optimisation step on a batch; returns the batch's mean cross-entropy."""
    # BEGIN SOLUTION train_step
    logits, _ = model(inputs)  # (batch, seq_len, vocab_size)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()
    # END SOLUTION


check_train_step(train_step, seed=params.seed)

# %% [markdown]
# Now train a small model with your step. The text is one long stream of
# word ids cut into `batch_size` rows and read in windows of `seq_len` words;
# the target of each word is the word after it. Before training, its
# perplexity is close to the vocabulary size: it knows nothing.

# %%
from utils.data import batchify, lm_batches, lm_stream
from utils.lm import LSTMLanguageModel, ModelConfig, evaluate_language_model

model = LSTMLanguageModel(ModelConfig(vocab_size=len(vocab), emb_size=params.hidden_size,
                                      hidden_size=params.hidden_size, num_layers=1,
                                      dropout=0.0))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
train_data = batchify(lm_stream(corpus.train, vocab), batch_size=16)  # (16, tokens / 16)
valid_stream = lm_stream(corpus.valid, vocab)
before = evaluate_language_model(model, valid_stream, ignore_index=vocab.eos_id)["perplexity"]
print(f"untrained: validation perplexity {before:.1f} (vocabulary of {len(vocab)} words)")

# %% [markdown]
# Each epoch runs your `train_step` over every window of the stream. The
# course's own loop (`utils.lm.training`) also carries the LSTM state from one
# window to the next; this one starts each window afresh, which is simpler
# and only a little worse.

# %%
for epoch in range(1, params.epochs + 1):
    losses = [train_step(model, optimizer, inputs, targets, clip=0.5)
              for inputs, targets in lm_batches(train_data, seq_len=20)]
    valid = evaluate_language_model(model, valid_stream, ignore_index=vocab.eos_id)
    print(f"epoch {epoch}: mean training loss {sum(losses) / len(losses):.3f}, "
          f"validation perplexity {valid['perplexity']:.2f}")

# %% [markdown]
# ## Exercise 3: sampling with a temperature
#
# To write text, draw each next word from the model's distribution. Divide
# the logits by a temperature $\tau$ before the softmax: $\tau < 1$ sharpens the
# distribution, $\tau > 1$ flattens it, and $\tau \to 0$ always picks the most
# likely word. `logits` has shape `(rows, vocab_size)`; return one word id
# per row, shape `(rows,)`, drawn with `torch.multinomial(...,
# generator=generator)` so that a seeded generator repeats the same text.
# Treat `temperature == 0` as argmax, and raise `ValueError` for a negative
# temperature.


# %%
def sample_with_temperature(logits: torch.Tensor, temperature: float,
                            generator: torch.Generator) -> torch.Tensor:
    """One word id per row of logits, drawn from softmax(logits / temperature)."""
    # BEGIN SOLUTION sample_with_temperature
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)  # (rows, vocab_size)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (rows,)
    # END SOLUTION


check_sample_with_temperature(sample_with_temperature, seed=params.seed)

# %% [markdown]
# Let the model you trained write, one word at a time: feed it a word, sample
# the next from its logits, feed that back. The state carries the context.


# %%
@torch.no_grad()
def write(model: nn.Module, prompt: str, temperature: float, n_words: int = 25,
          seed: int = 0) -> str:
    """Continue `prompt` by sampling `n_words` words with your sampler."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([vocab.encode(["<eos>", *prompt.split()])])  # (1, prompt_len)
    state, words = None, []
    for _ in range(n_words):
        logits, state = model(tokens, state)  # (1, seq_len, vocab_size)
        next_id = sample_with_temperature(logits[:, -1], temperature, generator)  # (1,)
        words.append(vocab.itos[int(next_id)])
        tokens = next_id.view(1, 1)
    return " ".join(words)


for t in sorted({0.0, params.temperature, 1.5}):
    print(f"τ = {t:g}: the cat {write(model, 'the cat', t, seed=params.seed)}")

# %% [markdown]
# At $\tau = 0$ the model repeats its favourite sentence; as $\tau$ grows the text
# gets more varied and, past 1, less grammatical. The true language's
# entropy floor puts a number on how well any model can do:

# %%
from utils.data import SyntheticLanguage

floor = math.exp(SyntheticLanguage(corpus.config).entropy_rate())
final = evaluate_language_model(model, valid_stream, ignore_index=vocab.eos_id)["perplexity"]
print(f"your model: validation perplexity {final:.2f}; the true language: {floor:.2f}")
