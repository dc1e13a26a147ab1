"""Chapter 8's data security beyond training: the scrubber, scoring every format, unlearning.

The scrubber is tested on real strings with its real regular expression; the
scoring of a format against the canary's own scorer and against sentences
scored one at a time; the unlearning functions on small models: exact
unlearning must train on a text without the forgotten sentences, and gradient
ascent must lower their likelihood and nothing else's first.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.privacy import (
    MASK,
    SECRET_FORMATS,
    SECRETS,
    DPLanguageModel,
    PrivateTrainConfig,
    SecretFormat,
    canary_log2_probs,
    caught_by_scrubber,
    exact_unlearning,
    forget_set,
    format_log2_probs,
    gradient_ascent,
    scrub,
    scrub_sentences,
    secrets_run,
    secrets_vocab,
    sentence_losses,
    train_secrets,
    without,
)


def _tiny_model(vocab, seed: int = 0) -> DPLanguageModel:
    return DPLanguageModel(len(vocab), 16, generator=torch.Generator().manual_seed(seed)).eval()


@pytest.fixture(scope="module")
def vocab():
    return secrets_vocab(secrets_run("planted").corpus)


# ---------------------------------------------------------------- the scrubber
@pytest.mark.parametrize("text, expected", [
    ("the code is 4 8 1 5 2 .", f"the code is {MASK} ."),
    ("my pin is 48152 , call me", f"my pin is {MASK} , call me"),
    ("codes 1 2 3 4 5 and 6 7 8 9 0 .", f"codes {MASK} and {MASK} ."),
])
def test_the_scrubber_masks_five_digits_in_the_format_it_was_written_for(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "the code is four eight one five two .",  # spelled out
    "the code is 4 - 8 - 1 - 5 - 2 .",  # another separator
    "the code is 4-8-1-5-2 .",
    "the code is 4 8 .",  # split over two sentences: neither half has five digits
    "the code ends 1 5 2 .",
    "the code is 4 8 1 5 .",  # four digits are not a code
])
def test_the_scrubber_misses_the_variants(text):
    assert scrub(text) == text


def test_only_the_exact_format_of_the_experiment_is_caught():
    assert caught_by_scrubber() == {"exact": True, "spelled out": False, "dashes": False,
                                    "split": False}
    planted = forget_set()
    scrubbed = scrub_sentences(planted)
    exact = SECRET_FORMATS["exact"].render(SECRETS["exact"])[0]
    assert scrubbed[0] == ["the", "code", "is", MASK, "."] and planted[0] == exact
    assert scrubbed[1:] == planted[1:]  # every other format passes untouched


# ---------------------------------------------------------------- formats and scoring
def test_a_format_renders_its_code_and_checks_its_slots():
    assert SECRET_FORMATS["split"].render("85327") == [
        ["the", "code", "is", "8", "5", "."], ["the", "code", "ends", "3", "2", "7", "."]]
    assert SECRET_FORMATS["spelled out"].render("27406")[0][3:] == [
        "two", "seven", "four", "zero", "six", "."]
    with pytest.raises(ValueError, match="in order"):
        SecretFormat("bad", (("the", 1, 0, 2, 3, 4),))
    with pytest.raises(ValueError, match="5 digits"):
        SECRET_FORMATS["exact"].render("4815")


def test_the_exact_format_scores_as_the_canary_scorer(vocab):
    model = _tiny_model(vocab)
    ours = format_log2_probs(model, vocab, SECRET_FORMATS["exact"])
    theirs = canary_log2_probs(model, vocab)
    assert ours.shape == (10**5,)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def _direct_log2_prob(model, vocab, secret_format: SecretFormat, code: str) -> float:
    """One code's score, each sentence run through the model once, words before the
    first digit and after the last left out as ``format_log2_probs`` leaves them."""
    total = 0.0
    for template, sentence in zip(secret_format.templates, secret_format.render(code),
                                  strict=True):
        slots = [i for i, s in enumerate(template) if isinstance(s, int)]
        ids = torch.tensor([[vocab.eos_id, *vocab.encode(sentence)]])
        with torch.no_grad():
            log_p = F.log_softmax(model(ids)[0][0].double(), dim=-1)  # (len + 1, vocab_size)
        # Word i of the sentence is predicted at position i (after <eos> and the words before).
        total += sum(float(log_p[i, ids[0, i + 1]]) for i in range(slots[0], slots[-1] + 1))
    return total / math.log(2)


@pytest.mark.parametrize("name", ["spelled out", "dashes", "split"])
def test_every_format_scores_each_code_as_its_sentences_do_one_at_a_time(vocab, name):
    model = _tiny_model(vocab, seed=1)
    scores = format_log2_probs(model, vocab, SECRET_FORMATS[name])
    for code in ("00000", "27406", "61093", "85327", "99999"):
        direct = _direct_log2_prob(model, vocab, SECRET_FORMATS[name], code)
        assert scores[int(code)] == pytest.approx(direct, abs=1e-4), code


# ---------------------------------------------------------------- unlearning
def test_without_drops_every_copy_and_keeps_the_order():
    text = [["a", "."], ["b", "."], ["a", "."], ["c", "."]]
    assert without(text, [["a", "."]]) == [["b", "."], ["c", "."]]
    assert without(text, []) == text


def test_gradient_ascent_lowers_the_forgotten_sentences_likelihood_only_in_a_copy(vocab):
    model = _tiny_model(vocab, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    forget = forget_set()
    others = [["the", "cat", "sat", "on", "the", "mat", "."], ["the", "film", "was", "good", "."]]
    unlearned = gradient_ascent(model, forget, vocab, steps=20, lr=1e-2)
    gained = sentence_losses(unlearned, forget, vocab) - sentence_losses(model, forget, vocab)
    assert (gained > 0).all()  # each forgotten sentence became less likely
    # ... and more so than unrelated sentences, which the ascent never targets.
    drift = sentence_losses(unlearned, others, vocab) - sentence_losses(model, others, vocab)
    assert gained.mean() > drift.mean()
    for key, value in model.state_dict().items():  # the original is left as it was
        assert torch.equal(value, before[key]), key
    same = gradient_ascent(model, forget, vocab, steps=0)
    np.testing.assert_allclose(sentence_losses(same, forget, vocab),
                               sentence_losses(model, forget, vocab))
    with pytest.raises(ValueError):
        gradient_ascent(model, [], vocab, steps=1)


def test_exact_unlearning_retrains_on_a_text_without_the_forgotten_sentences(
        tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    small = secrets_run("planted", seed=3, insertions=2, epochs=1)
    small = dataclasses.replace(
        small, hidden_size=16, corpus=dataclasses.replace(small.corpus, n_sentences=300),
        train=PrivateTrainConfig(epochs=1, seed=3))
    planted = train_secrets(small)
    forget = {tuple(s) for s in forget_set()}
    assert sum(tuple(s) in forget for s in planted.train_text) == 2 * len(forget)
    retrained = exact_unlearning(planted)
    assert not any(tuple(s) in forget for s in retrained.train_text)  # never saw them
    assert retrained.train_text == without(planted.train_text, forget_set())
    assert retrained.config.insertions == 0 and retrained.config.seed == planted.config.seed
    with pytest.raises(ValueError, match="unscrubbed"):
        exact_unlearning(train_secrets(dataclasses.replace(small, scrub=True)))


# ---------------------------------------------------------------- the book's numbers
def test_every_number_the_chapter_glues_is_glued_by_its_notebook():
    from tests.conftest import ROOT

    page = (ROOT / "book" / "08_privacy.md").read_text(encoding="utf-8")
    notebook = (ROOT / "notebooks_py" / "08_privacy.py").read_text(encoding="utf-8")
    wanted = set(re.findall(r"\{glue:text\}`\.\./notebooks/08_privacy\.ipynb::(\w+):", page))
    # A key glued in a loop, f"unlearn_ga{steps}_bits", stands for any text in its braces.
    glued = [re.compile(re.sub(r"\\\{\w+\\\}", r"\\w+", re.escape(name)) + "$")
             for name in re.findall(r'glue\(f?"([^"]+)"', notebook)]
    assert wanted, "the chapter glues no number from its notebook"
    missing = {key for key in wanted if not any(p.match(key) for p in glued)}
    assert not missing, f"glued in the chapter but never in the notebook: {missing}"
