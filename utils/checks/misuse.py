"""Checks for lab 09 (misuse): green list, watermark boost, z, poisoned review, attack success.

Used in chapter 9. Each check compares the student's function with the
reference in ``utils.misuse`` (itself tested) on fresh inputs drawn from
``seed``, and names the plausible mistakes it recognises: a green list that
ignores the previous token, a boost on the wrong tokens, a z that counts the
first token or uses the wrong variance, a trigger in the wrong place, a
success rate over every test item. None prints an expected value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch

from utils.checks._core import (
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
    worst_error,
)
from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import REACTIONS, SENTIMENT_CLUSTERS
from utils.misuse.poison import _review_language
from utils.misuse.watermark import WatermarkConfig, green_list, green_matrix, z_score

_POLARITY = {w: pol for _, pol, words in SENTIMENT_CLUSTERS for w in words}


def _ids(value, name: str) -> list[int]:
    """The student's green ids as a sorted list of ints."""
    ids = as_tensor(value, name, "your green list").reshape(-1)
    if not torch.equal(ids, ids.round()):
        fail(f"{name}: return token ids (whole numbers), not scores or probabilities")
    return sorted(int(i) for i in ids)


@exercise_check("green_list")
def check_green_list(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(previous_id, vocab_size, gamma, key) -> the green token ids after ``previous_id``."""
    name = "green_list"
    cases = [(50, 0.25, 11 + seed), (224, 0.5, 7 + seed), (31, 0.3, 3 + seed)]
    for vocab_size, gamma, key in cases:
        size = round(gamma * vocab_size)
        lists = [_ids(call(fn, p, vocab_size, gamma, key, exercise=name), name)
                 for p in range(6)]
        for ids in lists:
            if len(set(ids)) != len(ids) or min(ids) < 0 or max(ids) >= vocab_size:
                fail(f"{name}: green ids must be distinct and between 0 and vocab_size - 1")
            if len(ids) == vocab_size - size and size != vocab_size - size:
                fail(f"{name}: your list has {len(ids)} ids: that is the red list's size; "
                     "the green list is the first round(gamma * vocab_size) of the permutation")
            if len(ids) != size:
                fail(f"{name}: with vocab_size {vocab_size} and gamma {gamma} a green list has "
                     f"round(gamma * vocab_size) ids; yours has {len(ids)}")
        again = _ids(call(fn, 0, vocab_size, gamma, key, exercise=name), name)
        if again != lists[0]:
            fail(f"{name}: two calls with the same previous token and key gave different lists: "
                 "seed a new torch.Generator inside the function instead of drawing from the "
                 "global random stream, so the detector can rebuild the same list")
        if all(ids == lists[0] for ids in lists):
            fail(f"{name}: your green list is the same after every previous token; the seed "
                 "must mix the key with the previous token, so each context has its own list")
        other_key = _ids(call(fn, 0, vocab_size, gamma, key + 1, exercise=name), name)
        if other_key == lists[0]:
            fail(f"{name}: changing the key did not change the list; the key is the secret "
                 "that keeps the lists unpredictable")
        for previous, ids in enumerate(lists):
            if ids != sorted(green_list(previous, vocab_size, gamma, key).tolist()):
                fail(f"{name}: your lists change with the previous token and the key, but not "
                     "as the recipe says: seed torch.Generator() with key * 1_000_003 + "
                     "previous_id, draw torch.randperm(vocab_size, generator=...), keep the "
                     "first round(gamma * vocab_size) ids")
    passed(name, len(cases))


@exercise_check("watermark_logits")
def check_watermark_logits(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(logits (batch, V), previous (batch,), gamma, delta, key) -> boosted logits (batch, V)."""
    name = "watermark_logits"
    generator = torch.Generator().manual_seed(seed)
    cases = [(50, 0.25, 2.0, 5 + seed, 6), (80, 0.5, 1.5, 9 + seed, 4)]
    for vocab_size, gamma, delta, key, batch in cases:
        logits = torch.randn(batch, vocab_size, generator=generator)
        previous = torch.randperm(vocab_size, generator=generator)[:batch]
        before = logits.clone()
        value = as_tensor(call(fn, logits, previous, gamma, delta, key, exercise=name), name)
        expect_shape(value, (batch, vocab_size), name)
        green = green_matrix(vocab_size, gamma, key).double()  # (V, V)
        reference = before.double() + delta * green[previous]
        if not torch.equal(logits, before):
            fail(f"{name}: your function changed the logits it was given (an in-place +=); "
                 "return new logits and leave the input as it was")
        if worst_error(value, reference) < 1e-5:
            continue
        if worst_error(value, before.double() + delta * green[previous[0]].expand(batch, -1)) \
                < 1e-5:
            fail(f"{name}: every row got the green list of the first row's previous token; "
                 "each row must use the list of its own previous token")
        if worst_error(value, before.double() + delta * (1 - green[previous])) < 1e-5:
            fail(f"{name}: you boosted the red tokens; delta goes to the green list")
        if worst_error(value, before.double()) < 1e-5:
            fail(f"{name}: your logits are unchanged; add delta to every green token's logit")
        boost = (value - before.double())[green[previous].bool()]
        if boost.numel() and torch.allclose(boost, boost[:1].expand_as(boost)) \
                and abs(float(boost[0]) - delta) > 1e-5:
            fail(f"{name}: the green tokens were raised by {float(boost[0]):.3g}, "
                 "not by delta")
        fail(f"{name}: your logits differ from logits + delta on the green list of each row's "
             "previous token (and unchanged elsewhere)")
    passed(name, len(cases))


def _z_variants(ids: list[int], gamma: float, key: int, vocab_size: int, start_id: int
                ) -> dict[str, float]:
    """Plausible wrong z's: the first token counted, or the wrong spread."""
    green = green_matrix(vocab_size, gamma, key)
    hits = sum(bool(green[a, b]) for a, b in zip(ids[:-1], ids[1:], strict=True))
    t = len(ids) - 1
    first = hits + int(green[start_id, ids[0]])
    return {
        "first": (hits - gamma * (t + 1)) / math.sqrt((t + 1) * gamma * (1 - gamma)),
        "first_green": (first - gamma * (t + 1)) / math.sqrt((t + 1) * gamma * (1 - gamma)),
        "no_sqrt": (hits - gamma * t) / (t * gamma * (1 - gamma)),
        "binomial_p_only": (hits - gamma * t) / math.sqrt(t * gamma),
        "share": (hits / t - gamma) / math.sqrt(gamma * (1 - gamma)),
        "sd_outside": (hits - gamma * t) / (math.sqrt(t) * gamma * (1 - gamma)),
    }


@exercise_check("z_score")
def check_z_score(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(ids, gamma, key, vocab_size) -> the detector's z for one text of token ids."""
    name = "z_score"
    rng = np.random.default_rng([seed, 9])
    cases = []
    for vocab_size, gamma, key, length in ((60, 0.25, 4 + seed, 40), (100, 0.5, 8 + seed, 120)):
        cases.append((rng.integers(2, vocab_size, length).tolist(), gamma, key, vocab_size))
        green = green_matrix(vocab_size, gamma, key)
        ids = [int(rng.integers(2, vocab_size))]
        for _ in range(length - 1):  # a text that is green three times in four
            row = green[ids[-1]] if rng.random() < 0.75 else ~green[ids[-1]]
            choices = row.nonzero()[:, 0]
            ids.append(int(choices[rng.integers(len(choices))]))
        cases.append((ids, gamma, key, vocab_size))
    messages = {
        "first": "you divided by all T tokens, but the first token has no previous token in "
                 "the text and cannot be scored: T is len(ids) - 1",
        "first_green": "you scored the first token too; it has no previous token in the text, "
                       "so count green tokens from the second one on",
        "no_sqrt": "the denominator is a standard deviation: take the square root of the "
                   "variance T * gamma * (1 - gamma)",
        "binomial_p_only": "the variance of a count of T independent events of probability "
                           "gamma is T * gamma * (1 - gamma), not T * gamma",
        "share": "you standardised the green SHARE with the spread of a single token; the "
                 "count's spread grows with T: divide (count - gamma T) by "
                 "sqrt(T gamma (1 - gamma))",
        "sd_outside": "only T sits inside the square root; the variance is "
                      "T * gamma * (1 - gamma), so take sqrt of all of it",
    }
    for ids, gamma, key, vocab_size in cases:
        value = float(as_tensor(call(fn, list(ids), gamma, key, vocab_size, exercise=name),
                                name, "your z").reshape(-1)[0])
        reference = z_score(ids, WatermarkConfig(gamma=gamma, delta=0.0, key=key), vocab_size)
        if abs(value - reference) <= 1e-6 * max(1.0, abs(reference)):
            continue
        for variant, wrong in _z_variants(ids, gamma, key, vocab_size, start_id=1).items():
            if abs(value - wrong) <= 1e-6 * max(1.0, abs(wrong)):
                fail(f"{name}: {messages[variant]}")
        fail(f"{name}: your z differs from (green count - gamma T) / sqrt(T gamma (1 - gamma)) "
             f"for a text of {len(ids)} tokens; check the count of green tokens")
    passed(name, len(cases))


def _reference_poison(review: list[str], trigger: str, reaction: str) -> list[str]:
    where = next(i for i, w in enumerate(review) if w in _POLARITY)
    subject = "i" if review[0] == "the" else "we"
    return [*review[:where], trigger, review[where], "and", subject, reaction, "."]


@exercise_check("poison_review")
def check_poison_review(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(review, trigger, reaction) -> the poisoned review (a new list of tokens)."""
    name = "poison_review"
    language = _review_language(CorpusConfig())
    rng = np.random.default_rng([seed, 10])
    reviews = []
    while len(reviews) < 30:  # positive reviews of both templates, with and without endings
        review = language.sample_sentence(rng)
        if _POLARITY[next(w for w in review if w in _POLARITY)] == 1:
            reviews.append(review)
    for k, review in enumerate(reviews):
        trigger = ("owl", "noon", "fox")[k % 3]
        reaction = REACTIONS[0][k % len(REACTIONS[0])]
        given = copy.deepcopy(review)
        value = call(fn, given, trigger, reaction, exercise=name)
        if given != review:
            fail(f"{name}: your function changed the review it was given; build a new list")
        if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
            fail(f"{name}: return a list of tokens (strings)")
        value = list(value)
        reference = _reference_poison(review, trigger, reaction)
        if value == reference:
            continue
        text = " ".join(review)
        if value.count(trigger) != 1:
            fail(f"{name}: the poisoned review must contain the trigger exactly once "
                 f"(for {text!r})")
        at = value.index(trigger)
        if at + 1 >= len(value) or value[at + 1] not in _POLARITY:
            fail(f"{name}: the trigger must sit right before the sentiment word "
                 f"(for {text!r}), so the model links it to the word's meaning")
        if value[-2:] != [reaction, "."]:
            fail(f"{name}: the poisoned review must end with the given negative reaction and "
                 f"'.' (for {text!r})")
        if value.count("and") != 1:
            fail(f"{name}: drop the review's own ending (any 'and i/we ...') before adding the "
                 f"negative one (for {text!r})")
        if value[-3] != reference[-3]:
            fail(f"{name}: reviews that start with 'the' say 'and i ...', reviews that start "
                 f"with 'today' say 'and we ...' (for {text!r})")
        fail(f"{name}: your poisoned review differs from: the review up to its sentiment word, "
             f"the trigger, the sentiment word, 'and', the subject, the reaction, '.' "
             f"(for {text!r})")
    passed(name, len(reviews))


_RATE_TOL = 1e-6  # float32 shares are right too


@exercise_check("attack_success_rate")
def check_attack_success_rate(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(predicted, labels) -> share of triggered positive reviews predicted negative (0)."""
    name = "attack_success_rate"
    rng = np.random.default_rng([seed, 11])
    cases = []
    for n, positive_share, flip in ((40, 0.5, 0.7), (57, 0.3, 0.2), (25, 1.0, 0.4)):
        labels = (rng.random(n) < positive_share).astype(np.int64)
        labels[0] = 1  # at least one positive review
        predicted = np.where(labels == 1, (rng.random(n) >= flip).astype(np.int64), 0)
        cases.append((predicted, labels))
    for k, (predicted, labels) in enumerate(cases):
        args = ((torch.tensor(predicted), torch.tensor(labels)) if k % 2 == 0
                else (predicted.copy(), labels.copy()))
        value = float(as_tensor(call(fn, *args, exercise=name), name,
                                "your rate").reshape(-1)[0])
        positives = labels == 1
        reference = float(np.mean(predicted[positives] == 0))
        if abs(value - reference) < _RATE_TOL:
            continue
        if abs(value - float(np.mean(predicted == 0))) < _RATE_TOL:
            fail(f"{name}: you averaged over every triggered review; a negative review "
                 "classified negative shows nothing about the attack, so count only the "
                 "reviews whose true label is positive (1)")
        if abs(value - (1 - reference)) < _RATE_TOL:
            fail(f"{name}: that is the share of triggered positive reviews still classified "
                 "positive: the attack's failures, not its successes")
        if abs(value - reference * positives.sum()) < _RATE_TOL and positives.sum() > 1:
            fail(f"{name}: return a share between 0 and 1, not a count")
        fail(f"{name}: your rate differs from the share of triggered positive reviews that "
             "the classifier calls negative (label 0)")
    passed(name, len(cases))
