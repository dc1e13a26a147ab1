"""Cases and trusted references for lab 05b's checks (`utils.checks.assistant`).

Everything a check needs comes from here, never from the submission: chat
rows laid out by the chapter's own ``chat_batch`` (prompts left-padded,
answers right-padded, answers of different lengths), random logits, a small
random LSTM as policy and another as reference (as arrays), and answers of a
model to secret requests and to harmless look-alikes with every near miss the
counting must get right. The references are ``utils.assistant``'s own
``sft_loss``, ``answer_log_probs``, ``dpo_loss`` and ``leaks``. Chapter 5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from utils.assistant.chat import ASSISTANT, END, USER, ChatBatch, chat_batch
from utils.checks._core import Case
from utils.data.text import Vocab
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.runtime.scoped import local_seed

WORDS = tuple(f"w{i}" for i in range(7))
# A chat vocabulary of its own: ids 0 and 1 are <unk> and <eos>, then the chat tokens.
VOCAB = Vocab.from_dict({"tokens": ["<unk>", "<eos>", USER, ASSISTANT, END, *WORDS]})
MODEL = {"vocab_size": len(VOCAB), "emb_size": 6, "hidden_size": 8, "num_layers": 1,
         "dropout": 0.0, "tie_weights": False}


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _rows(rng: np.random.Generator, n: int, answer_lengths: tuple[int, int]
          ) -> tuple[list[list[int]], list[list[int]]]:
    """``n`` prompts (1 to 4 words) and answers, as ids of the chat format."""
    word_ids = [VOCAB.stoi[w] for w in WORDS]
    prompts = [[VOCAB.eos_id, VOCAB.stoi[USER],
                *rng.choice(word_ids, int(rng.integers(1, 5))).tolist(), VOCAB.stoi[ASSISTANT]]
               for _ in range(n)]
    answers = [rng.choice(word_ids, int(rng.integers(*answer_lengths))).tolist()
               for _ in range(n)]
    return prompts, answers


def batch_arrays(batch: ChatBatch) -> dict[str, np.ndarray]:
    return {k: _np(getattr(batch, k)) for k in ("inputs", "targets", "answer_mask", "text_mask")}


def batch_from(arrays: dict[str, np.ndarray]) -> ChatBatch:
    return ChatBatch(**{k: torch.from_numpy(np.array(arrays[k]))
                        for k in ("inputs", "targets", "answer_mask", "text_mask")})


# ---------------------------------------------------------------- answer-only SFT loss
def sft_cases(seed: int) -> list[Case]:
    """Chat rows (whole, unshifted) with logits for every position; one row answers 1 token."""
    rng = np.random.default_rng([seed, 51])
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for n in (3, 5, 8):
        prompts, answers = _rows(rng, n, (1, 6))
        answers[0] = answers[0][:1]  # one answer of a single word: the <end> matters
        batch = chat_batch(prompts, answers, VOCAB)
        tokens = torch.cat([batch.inputs, batch.targets[:, -1:]], dim=1)  # (rows, seq)
        is_answer = torch.cat([torch.zeros(n, 1, dtype=torch.bool), batch.answer_mask], dim=1)
        logits = torch.randn(*tokens.shape, len(VOCAB), generator=generator) * 2
        cases.append({"logits": _np(logits), "tokens": _np(tokens),
                      "is_answer": _np(is_answer), "batch": batch_arrays(batch)})
    return cases


class FixedLogits(nn.Module):
    """A stand-in model that returns the case's logits for the positions it reads."""

    def __init__(self, logits: np.ndarray) -> None:
        super().__init__()
        self.logits = torch.from_numpy(np.array(logits))

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.logits[:, : inputs.shape[1]], None


# ---------------------------------------------------------------- DPO
def lstm_from(state: dict[str, np.ndarray]) -> LSTMLanguageModel:
    with local_seed(0):  # nn.init draws from the global stream: leave no trace in it
        model = LSTMLanguageModel(ModelConfig(**MODEL))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return model


def _random_state(generator: torch.Generator, scale: float) -> dict[str, np.ndarray]:
    with local_seed(0):
        shapes = {k: v.shape for k, v in LSTMLanguageModel(ModelConfig(**MODEL))
                  .state_dict().items()}
    return {k: _np(torch.randn(s, generator=generator) * scale) for k, s in shapes.items()}


def dpo_cases(seed: int) -> list[Case]:
    """Pairs whose chosen answers are longer than the rejected ones, or shorter; two betas."""
    rng = np.random.default_rng([seed, 52])
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for n, beta, long_chosen in ((4, 0.5, True), (6, 2.0, False)):
        reference = _random_state(generator, 0.6)
        policy = {k: v + _np(torch.randn(v.shape, generator=generator) * 0.3)
                  for k, v in reference.items()}  # a policy a little way from its reference
        prompts, long = _rows(rng, n, (3, 7))
        _, short = _rows(rng, n, (1, 3))
        chosen, rejected = (long, short) if long_chosen else (short, long)
        cases.append({"policy": policy, "reference": reference, "beta": beta,
                      "chosen": batch_arrays(chat_batch(prompts, chosen, VOCAB)),
                      "rejected": batch_arrays(chat_batch(prompts, rejected, VOCAB))})
    return cases


# ---------------------------------------------------------------- leak and over-refusal rates
CANARY_WORDS = ("the", "code", "is")
SECRET = ("continue", ":", *CANARY_WORDS)
SPLIT = ("continue", ":", "the", "code")


def safety_cases(seed: int) -> list[Case]:
    """Answers to secret requests and look-alikes, with every near miss, in shuffled order."""
    rng = np.random.default_rng([seed, 53])
    cases = []
    for n_secret, n_look in ((9, 14), (16, 7), (12, 12)):
        canary = [str(d) for d in rng.integers(0, 10, 5)]
        other = [str((int(d) + 1) % 10) for d in canary]
        secret_answers = [
            (SECRET, canary),  # the plain leak
            (SECRET, [*canary, "<end>"]),
            (SPLIT, ["is", *canary]),  # a leak only prompt and answer together spell
            (SECRET, ["sorry"]),
            (SECRET, canary[:4]),  # four digits are not the canary
            (SECRET, other),
            (SECRET, ["sorry", *canary]),  # digits, but not after "code is"
            (SPLIT, canary),  # "the code 4 8 ...": no "is"
            (SECRET, ["w0", "code", "is", *canary]),  # spelled again inside the answer
        ]
        look_answers = [["gently"], ["sorry"], ["sorry", "gently"], ["gently", "sorry"], [],
                        ["w1"], ["sorry", "sorry"]]
        secret = [list(map(list, secret_answers[int(i)]))
                  for i in rng.integers(0, len(secret_answers), n_secret)]
        look = [list(look_answers[int(i)]) for i in rng.integers(0, len(look_answers), n_look)]
        secret[0] = [list(SECRET), list(canary)]  # at least one leak
        look[0] = ["sorry"]  # and one over-refusal
        cases.append({"secret": secret, "look_alikes": look, "canary": "".join(canary)})
    return cases
