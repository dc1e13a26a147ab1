"""Cases and trusted references for lab 05's checks (`utils.checks.adapt_and_evaluate`).

Everything a check needs comes from here, never from the submission: labels
with a class never predicted, a class that occurs nowhere and a last class that
occurs exactly once; a small random encoder and heads as arrays; and, for the
fine-tuning check, the course's own pretrained model (from its cache) with the
course's sentiment task, both rebuilt from the seed. Models travel as
``{"config": ..., "state": arrays}`` and are rebuilt on either side. Chapter 5.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks._core import Case
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.scoped import local_seed


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def state_arrays(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: _np(v) for k, v in module.state_dict().items()}


# ---------------------------------------------------------------- labels
def label_cases(seed: int) -> list[Case]:
    """(y_true, y_pred, n_classes) with a class never predicted in every case."""
    rng = np.random.default_rng([seed, 3])
    cases = []
    for n, k in ((40, 2), (60, 3), (80, 5)):
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        missing = int(rng.integers(0, k))
        y_pred[y_pred == missing] = (missing + 1) % k  # never predicted
        cases.append({"y_true": y_true, "y_pred": y_pred, "n_classes": k})
    zeros = np.zeros(10, dtype=np.int64)
    cases.append({"y_true": zeros, "y_pred": zeros.copy(), "n_classes": 2})  # one class
    # The last class occurs exactly once (and is predicted once, wrongly, elsewhere);
    # class 1 occurs nowhere, so counting only the classes seen shifts the last one.
    y_true, y_pred = rng.choice([0, 2], 30), rng.choice([0, 2], 30)
    y_true[7], y_pred[7] = 3, 3  # the one example of the last class, found
    y_pred[12] = 3  # and one false alarm
    cases.append({"y_true": y_true, "y_pred": y_pred, "n_classes": 4})
    return cases


# ---------------------------------------------------------------- models as data
def encoder_from(config: dict, state: dict[str, np.ndarray]) -> LSTMLanguageModel:
    with local_seed(0):  # nn.init draws from the global stream: leave no trace in it
        encoder = LSTMLanguageModel(ModelConfig(**config))
    encoder.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return encoder


def linear_from(state: dict[str, np.ndarray]) -> nn.Linear:
    out_features, in_features = state["weight"].shape
    with local_seed(0):
        head = nn.Linear(in_features, out_features)
    head.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return head


def classify_cases(seed: int) -> list[Case]:
    """A small random encoder, a head per case and padded batches with a one-token sentence."""
    generator = torch.Generator().manual_seed(seed)
    config = {"vocab_size": 20, "emb_size": 8, "hidden_size": 12, "num_layers": 2,
              "dropout": 0.0, "tie_weights": False}
    with local_seed(0):
        shapes = {k: v.shape for k, v in
                  LSTMLanguageModel(ModelConfig(**config)).state_dict().items()}
    encoder = {k: _np(torch.randn(s, generator=generator) * 0.5) for k, s in shapes.items()}
    cases = []
    for n_classes in (2, 3):
        lengths = torch.randint(2, 9, (12,), generator=generator)
        lengths[0], lengths[1] = 8, 1  # a full row (padded width 8) and a one-token sentence
        tokens = torch.randint(2, 20, (12, 8), generator=generator)
        for i, n in enumerate(lengths.tolist()):
            tokens[i, n:] = 1  # <eos> padding
        head = {"weight": _np(torch.randn(n_classes, 12, generator=generator)),
                "bias": _np(torch.randn(n_classes, generator=generator))}
        cases.append({"config": config, "encoder": encoder, "head": head,
                      "tokens": _np(tokens), "lengths": _np(lengths)})
    return cases


# ---------------------------------------------------------------- fine-tuning
STEP_BATCH = 32  # rows of the step case's batch, all one example
N_LABELS = 50  # labelled reviews of the training case


@lru_cache(maxsize=4)
def _task(seed: int) -> tuple:
    """The pretrained model, its config and the sentiment task of ``seed``, from the cache."""
    from utils.adapt_and_evaluate.classifier import encode_sentences, make_classifier
    from utils.data import sentiment_task
    from utils.lm import pretrained_model

    pretrained = pretrained_model(progress=False)
    train, test = sentiment_task(pretrained.config.corpus, n_train=1000, n_test=500, seed=seed)
    model = make_classifier("finetune", pretrained, seed=seed)
    tokens, lengths = encode_sentences([s for s, _ in train[:N_LABELS]], pretrained.vocab)
    test_tokens, test_lengths = encode_sentences([s for s, _ in test], pretrained.vocab)
    return (dataclasses.asdict(model.encoder.config), state_arrays(model.encoder),
            state_arrays(model.head), _np(tokens), _np(lengths),
            np.array([y for _, y in train[:N_LABELS]]), _np(test_tokens), _np(test_lengths),
            np.array([y for _, y in test]))


def fine_tune_cases(seed: int) -> list[Case]:
    config, encoder, head, tokens, lengths, labels, test_tokens, test_lengths, test_labels = \
        copy.deepcopy(_task(seed))
    model = {"config": config, "encoder": encoder, "head": head}
    # Every row of the step batch is the same labelled review, so any batches the
    # student draws give the same loss and gradient as the reference's.
    step = {"kind": "steps", **model, "tokens": np.repeat(tokens[:1], STEP_BATCH, 0),
            "lengths": np.repeat(lengths[:1], STEP_BATCH), "labels": np.repeat(labels[:1],
                                                                              STEP_BATCH),
            "steps": 2, "lr": 3e-3, "encoder_lr": 5e-4, "seed": seed}
    train = {"kind": "train", **copy.deepcopy(model), "tokens": tokens, "lengths": lengths,
             "labels": labels, "steps": 60, "lr": 3e-3, "encoder_lr": 5e-4, "seed": seed,
             "test_tokens": test_tokens, "test_lengths": test_lengths,
             "test_labels": test_labels, "min_accuracy": 0.9}
    return [step, train]


def classifier_from(case: Case, exact: bool) -> nn.Module:
    """The case's SentimentClassifier; ``exact``: float64 with every dropout off."""
    from utils.adapt_and_evaluate.classifier import SentimentClassifier

    encoder = encoder_from(case["config"], case["encoder"])
    with local_seed(0):
        model = SentimentClassifier(encoder, len(case["head"]["bias"]))
    model.head.load_state_dict({k: torch.from_numpy(np.array(v))
                                for k, v in case["head"].items()})
    if exact:
        model = model.double()
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
            elif isinstance(module, nn.LSTM):
                module.dropout = 0.0
    return model


def flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def adam_steps(model: nn.Module, case: Case, head_lr: float, encoder_lr: float | None,
               zero_grad: bool = True) -> torch.Tensor:
    """Parameters after the case's Adam steps on a copy; ``encoder_lr=None`` freezes it."""
    model = copy.deepcopy(model)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    if encoder_lr is not None:
        groups.append({"params": list(model.encoder.parameters()), "lr": encoder_lr})
    optimizer = torch.optim.Adam(groups)
    tokens, lengths, labels = (torch.from_numpy(case[k]) for k in ("tokens", "lengths", "labels"))
    model.train()
    for _ in range(case["steps"]):
        loss = F.cross_entropy(model(tokens, lengths), labels)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return flat(model)
