"""Checks for lab 09 (misuse): green list, watermark boost, z, poisoned review, attack success.

Used in chapter 9. Each exercise is data (`utils.checks._core.Exercise`):
cases drawn from a seed, a run that calls the student's function on a copy
(and notes whether it changed its input or touched torch's global random
stream), and a judge that computes the answer from the case with
``utils.misuse`` and names the plausible mistake: a green list that ignores
the previous token, a boost on the wrong tokens, a z that counts the first
token or uses the wrong variance, a trigger in the wrong place, a success
rate over every test item. The library functions each exercise replaces are forbidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from utils.checks._answers import array, diagnose, items, scalar, tokens
from utils.checks._core import CheckResult, Exercise, Wrong, run_check
from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import REACTIONS, SENTIMENT_CLUSTERS
from utils.i18n import N_, _
from utils.misuse.poison import _review_language
from utils.misuse.watermark import WatermarkConfig
from utils.misuse.watermark import green_list as _green_list
from utils.misuse.watermark import green_matrix as _green_matrix
from utils.misuse.watermark import z_score as _z_score

__all__ = ["EXERCISES", "check_attack_success_rate", "check_green_list", "check_poison_review",
           "check_watermark_logits", "check_z_score"]

_POLARITY = {w: pol for _name, pol, words in SENTIMENT_CLUSTERS for w in words}
_WATERMARK = tuple(f"utils.misuse.watermark.{f}" for f in (
    "green_list", "green_matrix", "green_mask", "z_scores", "z_score", "sample_watermarked"))


# ---------------------------------------------------------------- 1. the green list
def _green_cases(seed: int) -> list[dict]:
    return [{"vocab_size": v, "gamma": g, "key": k + seed, "previous": [0, 1, 2, 3, 4, 5, v - 1]}
            for v, g, k in ((50, 0.25, 11), (224, 0.5, 7), (31, 0.3, 3))]


def _run_green(ns, c):
    import torch
    fn, v, g, key = ns["green_list"], c["vocab_size"], c["gamma"], c["key"]
    state = torch.get_rng_state()
    out = {"lists": [fn(p, v, g, key) for p in c["previous"]], "again": fn(0, v, g, key),
           "other_key": fn(0, v, g, key + 1)}
    return {**out, "global_stream": not torch.equal(state, torch.get_rng_state())}


def _ids(value, vocab_size: int) -> list[int]:
    ids = array(value, _("your green list")).reshape(-1)
    if not np.array_equal(ids, np.round(ids)):
        raise Wrong(_("return token ids (whole numbers), not scores or probabilities"))
    if len(set(ids.tolist())) != ids.size or (ids.size and (ids.min() < 0
                                                            or ids.max() >= vocab_size)):
        raise Wrong(_("green ids must be distinct and between 0 and vocab_size - 1"))
    return sorted(int(i) for i in ids)


def _judge_green(case, output):
    v, gamma, key = case["vocab_size"], case["gamma"], case["key"]
    if not isinstance(output, dict) or set(output) != {"lists", "again", "other_key",
                                                       "global_stream"}:
        raise Wrong(_("the check could not read your green lists"))
    lists = [_ids(ids, v) for ids in items(output["lists"], len(case["previous"]), _("the lists"))]
    size = round(gamma * v)
    for ids in lists:
        if len(ids) == v - size and size != v - size:
            raise Wrong(_("your list has {n_ids} ids: that is the red list's size; the green "
                          "list is the first round(gamma * vocab_size) of the permutation").format(
                n_ids=len(ids)))
        if len(ids) != size:
            raise Wrong(_("with vocab_size {v} and gamma {gamma} a green list has "
                          "round(gamma * vocab_size) ids; yours has {n_ids}").format(
                v=v, gamma=gamma, n_ids=len(ids)))
    if output["global_stream"] is not False or _ids(output["again"], v) != lists[0]:
        raise Wrong(_("your function drew from (or reseeded) torch's global random stream: seed a "
                      "new torch.Generator inside the function instead, so the detector can "
                      "rebuild the same list and the caller's random numbers stay untouched"))
    if all(ids == lists[0] for ids in lists):
        raise Wrong(_("your green list is the same after every previous token; the seed must mix "
                      "the key with the previous token, so each context has its own list"))
    if _ids(output["other_key"], v) == lists[0]:
        raise Wrong(_("changing the key did not change the list; the key is the secret that keeps "
                      "the lists unpredictable"))
    for previous, ids in zip(case["previous"], lists, strict=True):
        if ids != sorted(_green_list(previous, v, gamma, key).tolist()):
            raise Wrong(_("your lists change with the previous token and the key, but not as the "
                          "recipe says: seed torch.Generator() with key * 1_000_003 + previous_id, "
                          "draw torch.randperm(vocab_size, generator=...), keep the first "
                          "round(gamma * vocab_size) ids"))
    return None


# ---------------------------------------------------------------- 2. the boost
def _boost_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 8])
    cases = []
    for v, gamma, delta, key, batch in ((50, 0.25, 2.0, 5, 6), (80, 0.5, 1.5, 9, 4),
                                        (40, 0.3, 3.0, 2, 1)):
        previous = rng.permutation(v)[:batch]
        if batch > 2:
            previous[-1] = previous[0]  # two rows after the same token
        cases.append({"logits": rng.normal(size=(batch, v)).astype(np.float32),
                      "previous": previous.astype(np.int64), "gamma": gamma, "delta": delta,
                      "key": key + seed})
    return cases


def _run_boost(ns, c):
    import torch
    logits = torch.tensor(c["logits"])  # a copy, to see whether the student's code changes it
    out = ns["watermark_logits"](logits, torch.from_numpy(c["previous"]), c["gamma"],
                                 c["delta"], c["key"])
    return {"logits": out, "input_changed": not np.array_equal(logits.numpy(), c["logits"])}


def _judge_boost(case, output):
    if not isinstance(output, dict) or set(output) != {"logits", "input_changed"}:
        raise Wrong(_("the check could not read your logits"))
    before, previous, delta = np.asarray(case["logits"], np.float64), case["previous"], \
        case["delta"]
    if output["input_changed"] is not False:  # anything but a plain False: changed
        raise Wrong(_("your function changed the logits it was given (an in-place +=); return new "
                      "logits and leave the input as it was"))
    got = array(output["logits"], _("your logits"), before.shape)
    green = _green_matrix(before.shape[1], case["gamma"], case["key"]).numpy()
    want = before + delta * green[previous]
    if np.allclose(got, want, atol=1e-5):
        return None
    diagnose(got, {
        _("every row got the green list of the first row's previous token; each row must use "
          "the list of its own previous token"): before + delta * green[previous[:1]],
        _("you boosted the red tokens; delta goes to the green list"):
            before + delta * ~green[previous],
        _("your logits are unchanged; add delta to every green token's logit"): before}, 1e-5)
    boost = (got - before)[green[previous]]
    if boost.size and np.allclose(boost, boost[0], atol=1e-5):
        raise Wrong(_("the green tokens were raised by {boost:.3g}, not by delta").format(
            boost=boost[0]))
    raise Wrong(_("your logits differ from logits + delta on the green list of each row's previous "
                  "token (and unchanged elsewhere)"))


# ---------------------------------------------------------------- 3. the detector's z
def _z_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 9])
    cases = []
    for v, gamma, key, length in ((60, 0.25, 4, 40), (100, 0.5, 8, 120), (30, 0.4, 6, 2)):
        cases.append({"ids": rng.integers(2, v, length).tolist(), "gamma": gamma,
                      "key": key + seed, "vocab_size": v})
        green = _green_matrix(v, gamma, key + seed).numpy()
        ids = [int(rng.integers(2, v))]
        for _step in range(length - 1):  # a text that is green three times in four
            row = green[ids[-1]] if rng.random() < 0.75 else ~green[ids[-1]]
            ids.append(int(rng.choice(np.flatnonzero(row))))
        cases.append({**cases[-1], "ids": ids})
    return cases


_Z_MISTAKES = {
    "first": N_("you divided by all T tokens, but the first token has no previous token in the "
                "text and cannot be scored: T is len(ids) - 1"),
    "first_green": N_("you scored the first token too; it has no previous token in the text, so "
                      "count green tokens from the second one on"),
    "no_sqrt": N_("the denominator is a standard deviation: take the square root of the variance "
                  "T * gamma * (1 - gamma)"),
    "binomial_p_only": N_("the variance of a count of T independent events of probability gamma "
                          "is T * gamma * (1 - gamma), not T * gamma"),
    "share": N_("you standardised the green SHARE with the spread of a single token; the count's "
                "spread grows with T: divide (count - gamma T) by sqrt(T gamma (1 - gamma))"),
    "sd_outside": N_("only T sits inside the square root; the variance is T * gamma * (1 - gamma), "
                     "so take sqrt of all of it"),
}


def _judge_z(case, output):
    ids, gamma, key, v = case["ids"], case["gamma"], case["key"], case["vocab_size"]
    got = scalar(output, _("your z"))
    want = _z_score(ids, WatermarkConfig(gamma=gamma, delta=0.0, key=key), v)
    if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6):
        return None
    green = _green_matrix(v, gamma, key).numpy()
    hits, t = int(green[ids[:-1], ids[1:]].sum()), len(ids) - 1
    first = hits + int(green[1, ids[0]])  # the first token scored against <eos> (id 1)
    spread = math.sqrt(gamma * (1 - gamma))
    diagnose(np.array(got), {_(_Z_MISTAKES[k]): value for k, value in {
        "first": (hits - gamma * (t + 1)) / (math.sqrt(t + 1) * spread),
        "first_green": (first - gamma * (t + 1)) / (math.sqrt(t + 1) * spread),
        "no_sqrt": (hits - gamma * t) / (t * spread ** 2),
        "binomial_p_only": (hits - gamma * t) / math.sqrt(t * gamma),
        "share": (hits / t - gamma) / spread,
        "sd_outside": (hits - gamma * t) / (math.sqrt(t) * spread ** 2)}.items()
        if not math.isclose(value, want, rel_tol=1e-6)}, 1e-6, 1e-6)
    raise Wrong(_("your z differs from (green count - gamma T) / sqrt(T gamma (1 - gamma)) for a "
                  "text of {n_ids} tokens; check the count of green tokens").format(n_ids=len(ids)))


# ---------------------------------------------------------------- 4. the poisoned review
def _poison_cases(seed: int) -> list[dict]:
    language, rng = _review_language(CorpusConfig()), np.random.default_rng([seed, 10])
    reviews = []
    while len(reviews) < 30:  # positive reviews of both templates, with and without endings
        review = language.sample_sentence(rng)
        if _POLARITY[next(w for w in review if w in _POLARITY)] == 1:
            reviews.append(review)
    return [{"review": r, "trigger": ("owl", "noon", "fox")[k % 3],
             "reaction": REACTIONS[0][k % len(REACTIONS[0])]} for k, r in enumerate(reviews)]


def _run_poison(ns, c):
    review = list(c["review"])
    out = ns["poison_review"](review, c["trigger"], c["reaction"])
    return {"review": out, "input_changed": review != c["review"]}


def _reference_poison(review: list[str], trigger: str, reaction: str) -> list[str]:
    where = next(i for i, w in enumerate(review) if w in _POLARITY)
    subject = "i" if review[0] == "the" else "we"
    return [*review[:where], trigger, review[where], "and", subject, reaction, "."]


def _judge_poison(case, output):
    if not isinstance(output, dict) or set(output) != {"review", "input_changed"}:
        raise Wrong(_("the check could not read your review"))
    if output["input_changed"] is not False:  # anything but a plain False: changed
        raise Wrong(_("your function changed the review it was given; build a new list"))
    review, trigger, reaction = case["review"], case["trigger"], case["reaction"]
    got, want = tokens(output["review"]), _reference_poison(review, trigger, reaction)
    if got == want:
        return None
    text = " ".join(review)
    if got.count(trigger) != 1:
        raise Wrong(_("the poisoned review must contain the trigger exactly once (for "
                      "{text!r})").format(text=text))
    at = got.index(trigger)
    if at + 1 >= len(got) or got[at + 1] not in _POLARITY:
        raise Wrong(_("the trigger must sit right before the sentiment word (for {text!r}), so "
                      "the model links it to the word's meaning").format(text=text))
    if got[-2:] != [reaction, "."]:
        raise Wrong(_("the poisoned review must end with the given negative reaction and '.' "
                      "(for {text!r})").format(text=text))
    if got.count("and") != 1:
        raise Wrong(_("drop the review's own ending (any 'and i/we ...') before adding the "
                      "negative one (for {text!r})").format(text=text))
    if len(got) >= 3 and got[-3] != want[-3]:
        raise Wrong(_("reviews that start with 'the' say 'and i ...', reviews that start with "
                      "'today' say 'and we ...' (for {text!r})").format(text=text))
    raise Wrong(_("your poisoned review differs from: the review up to its sentiment word, the "
                  "trigger, the sentiment word, 'and', the subject, the reaction, '.' "
                  "(for {text!r})").format(text=text))


# ---------------------------------------------------------------- 5. the attack's success
def _asr_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 11])
    cases = []
    for k, (n, positive_share, flip) in enumerate(((40, 0.5, 0.7), (57, 0.3, 0.2),
                                                   (25, 1.0, 0.4), (30, 0.5, 1.0))):
        labels = (rng.random(n) < positive_share).astype(np.int64)
        labels[:2] = 1  # at least two positive reviews
        predicted = np.where(labels == 1, (rng.random(n) >= flip).astype(np.int64), 0)
        cases.append({"predicted": predicted, "labels": labels, "tensors": k % 2 == 0})
    return cases


def _run_asr(ns, c):
    import torch
    wrap = torch.from_numpy if c["tensors"] else np.asarray
    return ns["attack_success_rate"](wrap(c["predicted"]), wrap(c["labels"]))


def _judge_asr(case, output):
    predicted, labels = np.asarray(case["predicted"]), np.asarray(case["labels"])
    got, positives = scalar(output, _("your rate")), labels == 1
    want = float(np.mean(predicted[positives] == 0))
    if math.isclose(got, want, abs_tol=1e-6):
        return None
    diagnose(np.array(got), {
        _("you averaged over every triggered review; a negative review classified negative shows "
          "nothing about the attack, so count only the reviews whose true label is positive (1)"):
            float(np.mean(predicted == 0)),
        _("that is the share of triggered positive reviews still classified positive: the "
          "attack's failures, not its successes"): 1 - want,
        _("return a share between 0 and 1, not a count"): want * positives.sum()}, 1e-6)
    raise Wrong(_("your rate differs from the share of triggered positive reviews that the "
                  "classifier calls negative (label 0)"))


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("green_list", ("green_list",), _green_cases, _run_green, _judge_green, _WATERMARK),
    Exercise("watermark_logits", ("watermark_logits",), _boost_cases, _run_boost, _judge_boost,
             _WATERMARK),
    Exercise("z_score", ("z_score",), _z_cases,
             lambda ns, c: ns["z_score"](list(c["ids"]), c["gamma"], c["key"], c["vocab_size"]),
             _judge_z, _WATERMARK),
    Exercise("poison_review", ("poison_review",), _poison_cases, _run_poison, _judge_poison,
             ("utils.misuse.poison.add_trigger", "utils.misuse.poison.poison_sentence",
              "utils.misuse.poison.poison_corpus")),
    Exercise("attack_success_rate", ("attack_success_rate",), _asr_cases, _run_asr, _judge_asr,
             ("utils.misuse.poison.attack_success_rate",
              "utils.misuse.backdoor.backdoor_experiment")),
)}


def check_green_list(green_list: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["green_list"], {"green_list": green_list}, seed)


def check_watermark_logits(watermark_logits: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["watermark_logits"], {"watermark_logits": watermark_logits}, seed)


def check_z_score(z_score: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["z_score"], {"z_score": z_score}, seed)


def check_poison_review(poison_review: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["poison_review"], {"poison_review": poison_review}, seed)


def check_attack_success_rate(attack_success_rate: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["attack_success_rate"],
                     {"attack_success_rate": attack_success_rate}, seed)
