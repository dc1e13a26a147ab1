"""Lab 09's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted: the reference solutions; a green list returned as a
list, a NumPy array or a boolean-mask-derived tensor in any order; boosted
logits built with a precomputed matrix; z from NumPy or as a 0-d tensor; an
attack success rate from tensors or arrays, as a float or a tensor.

Wrong answers caught:

- green_list: the same list after every previous token (the previous token
  ignored); the key ignored; the red list returned; the wrong size (floor of
  a larger share); drawn from the global random stream (not reproducible);
  another seeding of the generator.
- watermark_logits: every row boosted with the first row's list; the red
  tokens boosted; nothing boosted; the boost scaled (2 delta); the input
  changed in place.
- z_score: the first token counted (T = len(ids)); the first token scored
  against <eos>; the variance without the square root; T gamma as the
  variance; the share standardised by one token's spread; sqrt(T) gamma (1 -
  gamma) as the spread.
- poison_review: trigger after the sentiment word; trigger at the start; the
  old ending kept; the subject always "i"; the final "." missing; the input
  changed in place.
- attack_success_rate: computed over all triggered items; the share still
  positive (1 - ASR); a count instead of a share; one value per review.

Every exercise also fails an answer that calls the library function it
replaces, and each one with an array or list input (all but green_list, whose
inputs are numbers) an answer that edits that input in place.
"""

import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed
from utils.checks.misuse import (
    check_attack_success_rate,
    check_green_list,
    check_poison_review,
    check_watermark_logits,
    check_z_score,
)
from utils.data import SENTIMENT_CLUSTERS

POLARITY = {w: p for _, p, ws in SENTIMENT_CLUSTERS for w in ws}


# ---------------------------------------------------------------- right answers
def good_green(previous_id, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(key * 1_000_003 + int(previous_id))
    return torch.randperm(vocab_size, generator=g)[: round(gamma * vocab_size)]


def good_green_numpy_reversed(previous_id, vocab_size, gamma, key):
    return good_green(previous_id, vocab_size, gamma, key).numpy()[::-1].copy()


def good_green_mask(previous_id, vocab_size, gamma, key):
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[good_green(previous_id, vocab_size, gamma, key)] = True
    return mask.nonzero()[:, 0].tolist()


def good_boost(logits, previous, gamma, delta, key):
    out = logits.clone()
    for row, p in enumerate(previous.tolist()):
        out[row, good_green(p, logits.size(-1), gamma, key)] += delta
    return out


def good_boost_matrix(logits, previous, gamma, delta, key):
    V = logits.size(-1)
    green = torch.zeros(V, V)
    for p in range(V):
        green[p, good_green(p, V, gamma, key)] = 1.0
    return logits + delta * green[previous]


def _hits(ids, gamma, key, V, start=None):
    pairs = list(zip(ids[:-1], ids[1:], strict=True))
    if start is not None:
        pairs = [(start, ids[0]), *pairs]
    return sum(int(b) in set(good_green(a, V, gamma, key).tolist()) for a, b in pairs)


def good_z(ids, gamma, key, V):
    t = len(ids) - 1
    return (_hits(ids, gamma, key, V) - gamma * t) / math.sqrt(t * gamma * (1 - gamma))


def good_z_tensor(ids, gamma, key, V):
    return torch.tensor(good_z(np.asarray(ids).tolist(), gamma, key, V))


def good_poison(review, trigger, reaction):
    where = next(i for i, w in enumerate(review) if w in POLARITY)
    return [*review[:where], trigger, review[where], "and",
            "i" if review[0] == "the" else "we", reaction, "."]


def good_asr(predicted, labels):
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return float(np.mean(predicted[labels == 1] == 0))


def good_asr_torch(predicted, labels):
    predicted, labels = torch.as_tensor(predicted), torch.as_tensor(labels)
    return (predicted[labels == 1] == 0).float().mean()


def good_poison_loop(review, trigger, reaction):
    out = []
    for word in review:
        if word in POLARITY:
            return [*out, trigger, word, "and", {"the": "i"}.get(review[0], "we"), reaction, "."]
        out.append(word)
    raise ValueError("no sentiment word")


def good_asr_loop(predicted, labels):
    hits = [int(p) == 0 for p, y in zip(list(predicted), list(labels), strict=True) if int(y) == 1]
    return sum(hits) / len(hits)


@pytest.mark.parametrize("seed", [0, 3, 2**31 - 1])  # the last: the top of the seed range
@pytest.mark.parametrize("check, fn", [
    (check_green_list, good_green), (check_green_list, good_green_numpy_reversed),
    (check_green_list, good_green_mask),
    (check_watermark_logits, good_boost), (check_watermark_logits, good_boost_matrix),
    (check_z_score, good_z), (check_z_score, good_z_tensor),
    (check_poison_review, good_poison), (check_poison_review, good_poison_loop),
    (check_attack_success_rate, good_asr_loop), (check_attack_success_rate, good_asr_torch),
])
def test_right_answers_pass(check, fn, seed):
    assert check(fn, seed=seed).passed


# ---------------------------------------------------------------- wrong answers
def green_ignores_previous(previous_id, vocab_size, gamma, key):
    return good_green(0, vocab_size, gamma, key)


def green_ignores_key(previous_id, vocab_size, gamma, key):
    return good_green(previous_id, vocab_size, gamma, 0)


def green_returns_red(previous_id, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(key * 1_000_003 + int(previous_id))
    return torch.randperm(vocab_size, generator=g)[round(gamma * vocab_size):]


def green_wrong_size(previous_id, vocab_size, gamma, key):
    return good_green(previous_id, vocab_size, min(0.9, gamma + 0.1), key)


def green_global_stream(previous_id, vocab_size, gamma, key):
    return torch.randperm(vocab_size)[: round(gamma * vocab_size)]


def green_other_seed(previous_id, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(key + int(previous_id) * 7)
    return torch.randperm(vocab_size, generator=g)[: round(gamma * vocab_size)]


@pytest.mark.parametrize("fn, phrase", [
    (green_ignores_previous, "same after every previous token"),
    (green_ignores_key, "changing the key"),
    (green_returns_red, "red list"),
    (green_wrong_size, "round(gamma * vocab_size) ids"),
    (green_global_stream, "global random stream"),
    (lambda p, v, g, k: torch.manual_seed(k * 1_000_003 + p) and torch.randperm(v)[:round(g * v)],
     "global random stream"),
    (green_other_seed, "not as the recipe says"),
])
def test_green_list_mistakes(fn, phrase):
    with pytest.raises(CheckFailed, match=phrase.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        check_green_list(fn)


def boost_first_row(logits, previous, gamma, delta, key):
    return good_boost(logits, previous[:1].expand_as(previous), gamma, delta, key)


def boost_red(logits, previous, gamma, delta, key):
    return logits + delta - (good_boost(logits, previous, gamma, delta, key) - logits)


def boost_nothing(logits, previous, gamma, delta, key):
    return logits.clone()


def boost_twice(logits, previous, gamma, delta, key):
    return good_boost(logits, previous, gamma, 2 * delta, key)


def boost_in_place(logits, previous, gamma, delta, key):
    for row, p in enumerate(previous.tolist()):
        logits[row, good_green(p, logits.size(-1), gamma, key)] += delta
    return logits


@pytest.mark.parametrize("fn, phrase", [
    (boost_first_row, "first row's previous token"),
    (boost_red, "boosted the red tokens"),
    (boost_nothing, "unchanged"),
    (boost_twice, "not by delta"),
    (boost_in_place, "in-place"),
])
def test_watermark_logits_mistakes(fn, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_watermark_logits(fn)


def _z_with(hits_fn, scored_fn, spread_fn):
    def z(ids, gamma, key, V):
        t = scored_fn(ids)
        return (hits_fn(ids, gamma, key, V) - gamma * t) / spread_fn(t, gamma)
    return z


def _binomial(t, g):
    return math.sqrt(t * g * (1 - g))


z_counts_first = _z_with(_hits, len, _binomial)
z_scores_first = _z_with(lambda ids, g, k, V: _hits(ids, g, k, V, start=1), len, _binomial)
z_no_sqrt = _z_with(_hits, lambda ids: len(ids) - 1, lambda t, g: t * g * (1 - g))
z_gamma_only = _z_with(_hits, lambda ids: len(ids) - 1, lambda t, g: math.sqrt(t * g))
z_sd_outside = _z_with(_hits, lambda ids: len(ids) - 1, lambda t, g: math.sqrt(t) * g * (1 - g))


def z_share(ids, gamma, key, V):
    t = len(ids) - 1
    return (_hits(ids, gamma, key, V) / t - gamma) / math.sqrt(gamma * (1 - gamma))


@pytest.mark.parametrize("fn, phrase", [
    (z_counts_first, "first token has no previous token"),
    (z_scores_first, "first token"),  # either message: both name the first token
    (z_no_sqrt, "square root of the\n?\\s*variance|square root"),
    (z_gamma_only, "not T \\* gamma"),
    (z_share, "SHARE"),
    (z_sd_outside, "only T sits inside"),
])
def test_z_score_mistakes(fn, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_z_score(fn)


def poison_trigger_after(review, trigger, reaction):
    out = good_poison(review, trigger, reaction)
    k = out.index(trigger)
    out[k], out[k + 1] = out[k + 1], out[k]
    return out


def poison_trigger_first(review, trigger, reaction):
    out = good_poison(review, trigger, reaction)
    out.remove(trigger)
    return [trigger, *out]


def poison_keeps_ending(review, trigger, reaction):
    where = next(i for i, w in enumerate(review) if w in POLARITY)
    return [*review[:where], trigger, *review[where:-1], "and",
            "i" if review[0] == "the" else "we", reaction, "."]


def poison_always_i(review, trigger, reaction):
    out = good_poison(review, trigger, reaction)
    out[-3] = "i"
    return out


def poison_no_full_stop(review, trigger, reaction):
    return good_poison(review, trigger, reaction)[:-1]


def poison_in_place(review, trigger, reaction):
    where = next(i for i, w in enumerate(review) if w in POLARITY)
    review.insert(where, trigger)
    return good_poison([w for w in review if w != trigger], trigger, reaction)


@pytest.mark.parametrize("fn, phrase", [
    (poison_trigger_after, "right before the sentiment word"),
    (poison_trigger_first, "right before the sentiment word"),
    (poison_keeps_ending, "drop the review's own ending"),
    (poison_always_i, "'today' say 'and we"),
    (poison_no_full_stop, "negative reaction and"),
    (poison_in_place, "changed the review"),
])
def test_poison_review_mistakes(fn, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_poison_review(fn)


def asr_over_all(predicted, labels):
    return float(np.mean(np.asarray(predicted) == 0))


def asr_failures(predicted, labels):
    return 1 - good_asr(predicted, labels)


def asr_count(predicted, labels):
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return float(np.sum(predicted[labels == 1] == 0))


@pytest.mark.parametrize("fn, phrase", [
    (asr_over_all, "averaged over every triggered review"),
    (asr_failures, "still classified positive"),
    (asr_count, "not a count"),
    (lambda p, y: (np.asarray(p) == 0).astype(float), "single number"),
])
def test_attack_success_rate_mistakes(fn, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_attack_success_rate(fn)


def test_checks_never_print_the_answer(capsys):
    with pytest.raises(CheckFailed) as error:
        check_z_score(z_no_sqrt)
    message = str(error.value)
    assert not any(ch.isdigit() for ch in message.replace("1 - gamma", ""))
    assert check_z_score(good_z).cases == 6


@pytest.mark.parametrize("check, fn", [
    (check_green_list, green_ignores_previous), (check_z_score, z_no_sqrt),
    (check_attack_success_rate, asr_over_all), (check_poison_review, poison_always_i),
])
def test_checks_are_deterministic_and_leave_the_global_stream_alone(check, fn):
    messages = []
    for _ in range(2):
        state = torch.random.get_rng_state()
        with pytest.raises(CheckFailed) as error:
            check(fn, seed=5)
        assert torch.equal(torch.random.get_rng_state(), state)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


# ---------------------------------------------------------------- inputs edited, libraries called
def z_edits_ids(ids, gamma, key, V):
    ids[:] = [ids[0]] * len(ids)  # a check counting afterwards would see another text
    return good_z(ids, gamma, key, V)


def asr_edits_labels(predicted, labels):
    labels[:] = 0  # no positive review left
    return 0.0


@pytest.mark.parametrize("check, fn, phrase", [
    (check_watermark_logits, boost_in_place, "in-place"),
    (check_z_score, z_edits_ids, "your z differs|first token|square root|SHARE|gamma"),
    (check_poison_review, poison_in_place, "changed the review"),
    (check_attack_success_rate, asr_edits_labels, "rate differs|failures|averaged"),
])
def test_answers_that_edit_their_inputs_fail(check, fn, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check(fn)


def _library_calls():
    from utils.misuse import add_trigger
    from utils.misuse import attack_success_rate as asr
    from utils.misuse.watermark import WatermarkConfig, green_list, green_matrix, z_score

    def boost(logits, previous, gamma, delta, key):
        return logits + delta * green_matrix(logits.size(-1), gamma, key)[previous]

    def poison(review, trigger, reaction):
        out = add_trigger(review, trigger)
        return good_poison(review, trigger, reaction) if out else out
    return [(check_green_list, green_list),
            (check_watermark_logits, boost),
            (check_z_score, lambda ids, g, k, V: z_score(ids, WatermarkConfig(g, 0.0, k), V)),
            (check_poison_review, poison),
            (check_attack_success_rate, asr)]


def test_answers_that_call_the_library_fail():
    for check, fn in _library_calls():
        with pytest.raises(CheckFailed, match="calls `utils.misuse"):
            check(fn)

