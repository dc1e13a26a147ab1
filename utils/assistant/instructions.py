"""A synthetic instruction set with an exact verifier for every answer. Chapter 5.

Each instruction *type* turns sentences or words of the course's synthetic
language into a request and checks an answer against the language's ground
truth (``utils.data``), so correctness is known exactly, never judged:

- ``plural``: "plural of key" -> "keys"; ``singular`` the inverse (held out).
- ``sentiment``: "review : the film was superb . positive ?" -> "yes" / "no",
  the polarity of the review's sentiment word.
- ``continue``: "continue : the keys near the barn" -> any words that make a
  sentence the grammar can produce (probability > 0), so many answers are right;
  the prefixes come from scenes, agreement sentences, reviews and codes.
- ``object``: "which object ? the fox hid under the box ." -> "box"; ``animal``
  asks for the animal instead (held out).

The held-out *types* never occur in training: they measure whether following
instructions generalises beyond the requests trained on. Training and
evaluation also use different items (nouns, sentiment words, sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from utils.data.corpus import (
    ANIMALS,
    FAMILIES,
    SENTIMENT_CLUSTERS,
    CorpusConfig,
    SyntheticLanguage,
    sentiment_split,
)
from utils.data.corpus.grammar import AGREEMENT_NOUNS, DISTRACTOR_NOUNS, OBJECTS

__all__ = [
    "HELD_OUT_TYPES", "INSTRUCTION_WORDS", "TRAINED_TYPES", "Example", "instruction_set",
    "is_correct", "make_examples",
]

TRAINED_TYPES = ("plural", "sentiment", "continue", "object")
HELD_OUT_TYPES = ("singular", "animal")
# Words the requests use that the synthetic language itself never emits.
# The last five serve the safety audit (``utils.assistant.safety``).
INSTRUCTION_WORDS = ("plural", "singular", "of", "review", ":", "positive", "?", "yes", "no",
                     "continue", "which", "object", "animal", "sorry", "how", "hurt", "pet",
                     "gently")
_NOUNS = AGREEMENT_NOUNS + DISTRACTOR_NOUNS
_POLARITY = {w: polarity for _, polarity, words in SENTIMENT_CLUSTERS for w in words}


@dataclass(frozen=True)
class Example:
    """One request: its type, the prompt's words, a reference answer and what checks it.

    ``reference`` is one right answer (what supervised fine-tuning imitates);
    ``truth`` is what the verifier compares with: the expected answer for the
    exact types, the prefix to be continued for ``continue``.
    """

    task: str
    prompt: tuple[str, ...]
    reference: tuple[str, ...]
    truth: tuple[str, ...]


def _language(config: CorpusConfig, family: str) -> SyntheticLanguage:
    return SyntheticLanguage(replace(config, **{f"{f}_weight": float(f == family)
                                                for f in FAMILIES}))


def _plural(noun: str) -> Example:
    answer = (noun + "s",)
    return Example("plural", ("plural", "of", noun), answer, answer)


def _singular(noun: str) -> Example:
    return Example("singular", ("singular", "of", noun + "s"), (noun,), (noun,))


def _sentiment(sentence: Sequence[str]) -> Example:
    word = next(w for w in sentence if w in _POLARITY)
    answer = ("yes",) if _POLARITY[word] else ("no",)
    return Example("sentiment", ("review", ":", *sentence, "positive", "?"), answer, answer)


def _question(sentence: Sequence[str], slot: str) -> Example:
    words = ANIMALS if slot == "animal" else OBJECTS
    answer = (next(w for w in sentence if w in words),)
    return Example(slot, ("which", slot, "?", *sentence), answer, answer)


def _continuation(sentence: Sequence[str], rng: np.random.Generator) -> Example:
    cut = int(rng.integers(2, len(sentence) - 1))  # keep at least two words to continue
    prefix = tuple(sentence[:cut])
    return Example("continue", ("continue", ":", *prefix), tuple(sentence[cut:]), prefix)


def _sentences(config: CorpusConfig, family: str, n: int, rng: np.random.Generator,
               keep: Callable[[list[str]], bool]) -> list[list[str]]:
    lang, out = _language(config, family), []
    while len(out) < n:
        sentence = lang.sample_sentence(rng)
        if keep(sentence):
            out.append(sentence)
    return out


def make_examples(task: str, n: int, *, split: str, seed: int,
                  config: CorpusConfig | None = None) -> list[Example]:
    """``n`` requests of type ``task`` for ``split`` "train" or "eval", drawn with ``seed``.

    The two splits use different items: every fourth noun is kept for
    evaluation; sentiment words follow chapter 5's split (``sentiment_split``);
    sentences are drawn on different random streams, and the instruction set
    (``instruction_set``) drops training requests whose prompt is also an
    evaluation prompt.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval'; got {split!r}")
    config = config or CorpusConfig()
    rng = np.random.default_rng([seed, 5, split == "eval", sum(map(ord, task))])
    if task in ("plural", "singular"):
        nouns = [w for i, w in enumerate(_NOUNS) if (i % 4 == 3) == (split == "eval")]
        make = _plural if task == "plural" else _singular
        return [make(nouns[i]) for i in rng.integers(0, len(nouns), n)]
    if task == "sentiment":
        words = sentiment_split()[split == "eval"]
        return [_sentiment(s) for s in _sentences(
            config, "review", n, rng, lambda s: any(w in words for w in s))]
    if task in ("object", "animal"):
        return [_question(s, task) for s in _sentences(config, "scene", n, rng, lambda s: True)]
    if task == "continue":
        families = ("scene", "agreement", "review", "code")
        per = [n // 4 + (i < n % 4) for i in range(4)]
        return [_continuation(s, rng) for family, k in zip(families, per, strict=True)
                for s in _sentences(config, family, k, rng, lambda s: len(s) >= 4)]
    raise ValueError(f"unknown instruction type {task!r}; "
                     f"expected one of {TRAINED_TYPES + HELD_OUT_TYPES}")


def is_correct(example: Example, answer: Sequence[str], language: SyntheticLanguage) -> bool:
    """The exact verifier: is ``answer`` (words, without the end token) right for ``example``?

    ``continue`` accepts every continuation that makes the prefix a complete
    sentence of positive probability under ``language``; the other types accept
    exactly their one right answer.
    """
    answer = tuple(answer)
    if example.task != "continue":
        return answer == example.truth
    sentence = example.truth + answer
    return bool(answer) and answer[-1] == "." and language.log_prob(sentence) > -np.inf


def instruction_set(n_train: int, n_eval: int, *, seed: int,
                    config: CorpusConfig | None = None
                    ) -> tuple[list[Example], dict[str, list[Example]]]:
    """Training requests of the trained types, and evaluation suites of every type.

    Returns ``(train, suites)``: ``train`` mixes ``n_train`` requests of each
    trained type, shuffled with ``seed``; ``suites`` maps each type (held-out
    ones included) to ``n_eval`` evaluation requests. A training request whose
    prompt also appears among the evaluation prompts is dropped, so no
    evaluation prompt is ever trained on.
    """
    suites = {t: make_examples(t, n_eval, split="eval", seed=seed, config=config)
              for t in TRAINED_TYPES + HELD_OUT_TYPES}
    eval_prompts = {e.prompt for suite in suites.values() for e in suite}
    train = [e for t in TRAINED_TYPES
             for e in make_examples(t, n_train, split="train", seed=seed, config=config)
             if e.prompt not in eval_prompts]
    order = np.random.default_rng([seed, 7]).permutation(len(train))
    return [train[i] for i in order], suites
