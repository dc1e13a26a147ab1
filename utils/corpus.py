"""The course's synthetic language: a corpus whose true distribution is known exactly.

Used in chapters 3-6; documented as a datasheet in ``book/corpus_datasheet.md``.

The language is a mixture of five sentence *families* (scenes, long-range
agreement, reviews, occupations with pronouns, numeric codes). Each family is a
small probabilistic finite-state grammar over words. ``SyntheticLanguage``
merges them into one deterministic automaton: the words of a sentence so far
pick out exactly one state, so the true next-word distribution after any
prefix is a table look-up, ``log_prob`` is exact, and the entropy rate is an
exact sum over states.

Conventions shared with ``utils.ngram`` and ``utils.text``:

- a sentence is a list of lowercase tokens; punctuation marks are tokens;
- every sentence ends with ``"."`` and ``"."`` occurs nowhere else, so
  predicting ``"."`` *is* the end-of-sentence event;
- ``<eos>`` is never emitted by the grammar: language-model code puts it
  between sentences (``utils.text.lm_stream``) and the n-gram model pads the
  start of a sentence with it. Because it always follows ``"."`` it carries no
  information; ``entropy_rate(eos=True)`` counts it as a token.

The grammar's probabilities are fixed constants: the seed only changes which
sentences are drawn, never the language itself.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

__all__ = [
    "CANARY_DIGITS",
    "CANARY_PREFIX",
    "EOS",
    "GENDER_SWAPS",
    "OCCUPATIONS",
    "SENTIMENT_CLUSTERS",
    "UNK",
    "AgreementItem",
    "Corpus",
    "CorpusConfig",
    "SyntheticLanguage",
    "agreement_items",
    "canary_candidates",
    "canary_sentence",
    "exposure",
    "generate_corpus",
    "occupation_she_probability",
    "sentiment_split",
    "sentiment_task",
    "swap_gender",
]

# The same special tokens, in the same order, as ``utils.text.Vocab``.
UNK = "<unk>"
EOS = "<eos>"
SPECIALS = (UNK, EOS)

# ---------------------------------------------------------------- word lists
# Scenes: "the [little] cat sat on the [soft] mat [today] ."
ANIMALS = ("cat", "dog", "bird", "mouse", "fox", "rabbit", "horse", "duck", "goat", "frog",
           "owl", "pig")
SCENE_ADJECTIVES = ("little", "big", "young", "lazy", "sleepy", "clever")
# Each verb takes a few prepositions; probabilities are (preposition, weight).
SCENE_VERBS = {
    "sat": (("on", 0.7), ("by", 0.3)),
    "slept": (("on", 0.6), ("under", 0.4)),
    "jumped": (("on", 0.5), ("over", 0.5)),
    "hid": (("under", 0.6), ("behind", 0.4)),
    "ran": (("to", 0.6), ("past", 0.4)),
    "looked": (("at", 0.8), ("under", 0.2)),
}
SCENE_VERB_WEIGHTS = (0.3, 0.2, 0.15, 0.15, 0.1, 0.1)
OBJECTS = ("mat", "rug", "chair", "sofa", "bed", "floor", "box", "table", "fence", "wall",
           "tree", "door", "log", "basket", "bench")
OBJECT_ADJECTIVES = ("soft", "warm", "clean", "wooden", "blue", "green")
SCENE_TIMES = ("night", "noon", "dawn")

# Agreement: "the key(s) near the [old] [red] barn(s) [behind the gate(s)] is/are shiny ."
AGREEMENT_NOUNS = ("key", "lamp", "bell", "coin", "cup", "clock", "ship", "tower", "bridge",
                   "statue")
AGREEMENT_PREPOSITIONS = ("near", "behind", "beside", "above")
DISTRACTOR_AGE = ("old", "new", "small", "tall")
DISTRACTOR_COLOUR = ("red", "dark", "grey", "white")
DISTRACTOR_NOUNS = ("barn", "gate", "hill", "road", "pond", "shed")
AGREEMENT_PREDICATES = ("shiny", "broken", "heavy", "famous", "empty", "bright")

# Reviews: "the film was [very] superb [and i smiled] ." and "today was dull and we yawned ."
REVIEW_ITEMS = ("film", "movie", "show", "meal", "play", "song", "album", "concert", "hotel",
                "cafe")
INTENSIFIERS = ("very", "really", "quite", "truly")
# (name, polarity 1 = positive / 0 = negative, words). Every word of a cluster is
# used in exactly the same contexts with the same probabilities.
SENTIMENT_CLUSTERS = (
    ("quality+", 1, ("good", "great", "superb", "excellent", "splendid", "wonderful")),
    ("fun+", 1, ("fun", "delightful", "charming", "enjoyable", "amusing", "lively")),
    ("moving+", 1, ("moving", "touching", "beautiful", "heartfelt", "powerful", "stirring")),
    ("quality-", 0, ("bad", "awful", "terrible", "poor", "dreadful", "horrible")),
    ("dull-", 0, ("dull", "boring", "tedious", "bland", "tiresome", "lifeless")),
    ("messy-", 0, ("messy", "confusing", "clumsy", "sloppy", "muddled", "chaotic")),
)
REACTIONS = {1: ("smiled", "laughed", "cheered", "clapped", "danced", "sang"),
             0: ("sighed", "frowned", "yawned", "groaned", "grumbled", "left")}

# Occupations: (direction, strength). direction +1 leans "she", -1 leans "he",
# 0 is a control with no planted lean. The directions mirror stereotypes
# reported for real corpora so the fairness lab can compare; strengths are
# arbitrary and graded so a lab can check the model recovers their order.
OCCUPATIONS = {
    "nurse": (1, 1.0), "librarian": (1, 0.75), "teacher": (1, 0.5), "baker": (1, 0.25),
    "engineer": (-1, 1.0), "pilot": (-1, 0.75), "doctor": (-1, 0.5), "lawyer": (-1, 0.25),
    "writer": (0, 0.0), "painter": (0, 0.0), "chef": (0, 0.0), "clerk": (0, 0.0),
}
OCCUPATION_STATES = ("tired", "busy", "late", "ready", "sick", "away")
OCCUPATION_TASKS = ("shift", "report", "lunch", "work")
# Gendered words and their counterparts, for counterfactual data augmentation.
GENDER_SWAPS = (("he", "she"), ("his", "her"), ("man", "woman"))

# Codes and the privacy canary: "the code is 4 8 1 5 2 ."
CANARY_PREFIX = ("the", "code", "is")
CANARY_DIGITS = 5
DIGITS = tuple(str(d) for d in range(10))

_END = None  # a family state of None means the sentence has ended (after ".")
_FAMILIES = ("scene", "agreement", "review", "occupation", "code")


def _zipf(n: int) -> list[float]:
    """Weights 1, 1/2, ..., 1/n normalised: unequal but with plenty of entropy."""
    w = [1.0 / (r + 1) for r in range(n)]
    total = sum(w)
    return [x / total for x in w]


def _uniform(words: Sequence[str], mass: float, nxt: object) -> list[tuple[str, float, object]]:
    return [(w, mass / len(words), nxt) for w in words]


# ---------------------------------------------------------------- config
@dataclass(frozen=True)
class CorpusConfig:
    """Knobs of the synthetic corpus. Used in chapters 3-6.

    The five ``*_weight`` fields are the relative frequencies of the sentence
    families (normalised, so they need not sum to 1). ``gender_skew`` is the
    planted P(pronoun leans the occupation's way) for the strongest occupations;
    ``gender_cue`` the share of "said that" sentences that name the person's
    gender (", a woman ,"). ``canary`` is a string of five digits planted in the
    training split ``canary_insertions`` times (or ``None``). ``label_noise``
    flips labels of the sentiment task's training split.
    """

    seed: int = 0
    n_sentences: int = 20_000
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    scene_weight: float = 0.40
    agreement_weight: float = 0.25
    review_weight: float = 0.20
    occupation_weight: float = 0.13
    code_weight: float = 0.02
    gender_skew: float = 0.8
    gender_cue: float = 0.25
    canary: str | None = None
    canary_insertions: int = 0
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer; got {self.seed!r}")
        if not isinstance(self.n_sentences, int) or self.n_sentences < 1:
            raise ValueError(f"n_sentences must be a positive integer; got {self.n_sentences!r}")
        for name in ("valid_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5); got {getattr(self, name)!r}")
        weights = [getattr(self, f"{f}_weight") for f in _FAMILIES]
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                "the family weights (scene_weight, agreement_weight, review_weight, "
                f"occupation_weight, code_weight) must be >= 0 with a positive sum; got {weights}"
            )
        if not 0.5 <= self.gender_skew <= 1.0:
            raise ValueError(f"gender_skew must be in [0.5, 1.0]; got {self.gender_skew!r}")
        if not 0.0 <= self.gender_cue <= 1.0:
            raise ValueError(f"gender_cue must be in [0, 1]; got {self.gender_cue!r}")
        if not 0.0 <= self.label_noise <= 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5]; got {self.label_noise!r}")
        if self.canary is not None and not (
            isinstance(self.canary, str) and len(self.canary) == CANARY_DIGITS
            and self.canary.isdigit() and self.canary.isascii()
        ):
            raise ValueError(f"canary must be None or a string of {CANARY_DIGITS} digits, "
                             f"e.g. '48152'; got {self.canary!r}")
        if not isinstance(self.canary_insertions, int) or self.canary_insertions < 0:
            raise ValueError(f"canary_insertions must be an integer >= 0; "
                             f"got {self.canary_insertions!r}")
        if self.canary_insertions > 0 and self.canary is None:
            raise ValueError("canary_insertions > 0 needs a canary, e.g. canary='48152'")


def occupation_she_probability(config: CorpusConfig) -> dict[str, float]:
    """The planted P(she | occupation) in single-person sentences. Used in chapter 6.

    P(she) = 0.5 + direction * strength * (gender_skew - 0.5), with direction and
    strength from ``OCCUPATIONS``; P(he) is the rest.
    """
    return {occ: 0.5 + d * s * (config.gender_skew - 0.5) for occ, (d, s) in OCCUPATIONS.items()}


# ---------------------------------------------------------------- the families
def _family_transitions(config: CorpusConfig) -> Callable[[tuple], list[tuple[str, float, object]]]:
    """Return ``step(state) -> [(word, prob, next_state)]`` for every family state."""
    she = occupation_she_probability(config)
    occupations = tuple(OCCUPATIONS)
    animal_p = _zipf(len(ANIMALS))
    object_p = _zipf(len(OBJECTS))
    preps = sorted({p for options in SCENE_VERBS.values() for p, _ in options})

    def scene(s: tuple) -> list:
        tag = s[1]
        if tag == "start":
            return [("the", 1.0, ("scene", "det"))]
        if tag in ("det", "adj"):
            out = [] if tag == "adj" else _uniform(SCENE_ADJECTIVES, 0.25, ("scene", "adj"))
            mass = 1.0 if tag == "adj" else 0.75
            for a, p in zip(ANIMALS, animal_p, strict=True):
                out.append((a, mass * p, ("scene", "animal", a)))
            return out
        if tag == "animal":
            return [(v, p, ("scene", "verb", s[2], v))
                    for v, p in zip(SCENE_VERBS, SCENE_VERB_WEIGHTS, strict=True)]
        if tag == "verb":
            return [(p, w, ("scene", "prep", s[2], p)) for p, w in SCENE_VERBS[s[3]]]
        if tag == "prep":
            return [("the", 1.0, ("scene", "the", s[2], s[3]))]
        if tag in ("the", "oadj"):
            # Which objects are likely depends on the animal and the preposition,
            # four and more words back: a dependency beyond a trigram's reach.
            shift = (3 * ANIMALS.index(s[2]) + 5 * preps.index(s[3])) % len(OBJECTS)
            ranked = OBJECTS[shift:] + OBJECTS[:shift]
            mass = 1.0 if tag == "oadj" else 0.8
            oadj = ("scene", "oadj", *s[2:])
            out = [] if tag == "oadj" else _uniform(OBJECT_ADJECTIVES, 0.2, oadj)
            for o, p in zip(ranked, object_p, strict=True):
                out.append((o, mass * p, ("scene", "object")))
            return out
        if tag == "object":
            return [(".", 0.55, _END), ("today", 0.15, ("scene", "tail")),
                    ("again", 0.15, ("scene", "tail")), ("at", 0.15, ("scene", "at"))]
        if tag == "at":
            return _uniform(SCENE_TIMES, 1.0, ("scene", "tail"))
        if tag == "tail":
            return [(".", 1.0, _END)]
        raise KeyError(s)

    def agreement(s: tuple) -> list:
        tag = s[1]
        if tag == "start":
            return [("the", 1.0, ("agreement", "det"))]
        if tag == "det":
            plurals = [n + "s" for n in AGREEMENT_NOUNS]
            return (_uniform(AGREEMENT_NOUNS, 0.5, ("agreement", "subj", "sg"))
                    + _uniform(plurals, 0.5, ("agreement", "subj", "pl")))
        number = s[2] if len(s) > 2 else None
        if tag == "subj":
            return _uniform(AGREEMENT_PREPOSITIONS, 1.0, ("agreement", "prep", number, 1))
        if tag == "prep":
            return [("the", 1.0, ("agreement", "the", number, s[3]))]
        if tag in ("the", "age", "colour"):
            # Optional adjectives, age/size before colour; the distractor noun's
            # number is random, so it tells nothing about the verb.
            out = []
            if tag == "the":
                out += _uniform(DISTRACTOR_AGE, 0.35, ("agreement", "age", number, s[3]))
            if tag in ("the", "age"):
                out += _uniform(DISTRACTOR_COLOUR, 0.35, ("agreement", "colour", number, s[3]))
            rest = 1.0 - sum(p for _, p, _ in out)
            nxt = ("agreement", "noun", number, s[3])
            return (out + _uniform(DISTRACTOR_NOUNS, rest / 2, nxt)
                    + _uniform([n + "s" for n in DISTRACTOR_NOUNS], rest / 2, nxt))
        if tag == "noun":
            verb = [("is" if number == "sg" else "are", 1.0, ("agreement", "verb"))]
            if s[3] == 2:
                return verb
            return ([(w, p * 0.6, nxt) for w, p, nxt in verb]
                    + _uniform(AGREEMENT_PREPOSITIONS, 0.4, ("agreement", "prep", number, 2)))
        if tag == "verb":
            return _uniform(AGREEMENT_PREDICATES, 1.0, ("agreement", "pred"))
        if tag == "pred":
            return [(".", 1.0, _END)]
        raise KeyError(s)

    def review(s: tuple) -> list:
        tag = s[1]
        if tag == "start":
            return [("the", 0.7, ("review", "det")), ("today", 0.3, ("review", "today"))]
        if tag == "det":
            return _uniform(REVIEW_ITEMS, 1.0, ("review", "item"))
        if tag in ("item", "today"):
            return [("was", 1.0, ("review", "was", 1 if tag == "item" else 2))]
        if tag in ("was", "int"):
            out = [] if tag == "int" else _uniform(INTENSIFIERS, 0.3, ("review", "int", s[2]))
            mass = (1.0 if tag == "int" else 0.7) / len(SENTIMENT_CLUSTERS)
            for c, (_, _, words) in enumerate(SENTIMENT_CLUSTERS):
                out += _uniform(words, mass, ("review", "sent", s[2], c))
            return out
        if tag == "sent":
            # Template 1 may stop at the sentiment word; otherwise a reaction that
            # reveals the polarity follows. Template 2 always has the reaction.
            if s[2] == 1:
                return [(".", 0.4, _END), ("and", 0.6, ("review", "and", 1, s[3]))]
            return [("and", 1.0, ("review", "and", 2, s[3]))]
        if tag == "and":
            return [("i" if s[2] == 1 else "we", 1.0, ("review", "subj", s[3]))]
        if tag == "subj":
            cluster = s[2]
            polarity = SENTIMENT_CLUSTERS[cluster][1]
            # Each cluster prefers its own reactions (a rotated Zipf ranking), so
            # the contexts of a cluster's words are shared within the cluster only.
            shift = cluster % 3 * 2
            ranked = REACTIONS[polarity][shift:] + REACTIONS[polarity][:shift]
            return [(r, p, ("review", "end"))
                    for r, p in zip(ranked, _zipf(len(ranked)), strict=True)]
        if tag == "end":
            return [(".", 1.0, _END)]
        raise KeyError(s)

    def occupation(s: tuple) -> list:
        tag = s[1]
        if tag == "start":
            return [("the", 1.0, ("occupation", "det"))]
        if tag == "det":
            return [(o, 1.0 / len(occupations), ("occupation", "occ", o)) for o in occupations]
        if tag == "occ":
            # The pronoun's state carries only P(she), so occupations with equal
            # leans share states; "told" keeps the occupation for the pair.
            p, cue = she[s[2]], config.gender_cue
            return [("said", 0.6 * (1 - cue), ("occupation", "said", p)),
                    (",", 0.6 * cue, ("occupation", "comma", p)),
                    ("finished", 0.25, ("occupation", "finished", p)),
                    ("told", 0.15, ("occupation", "told", s[2]))]
        if tag == "said":
            return [("that", 1.0, ("occupation", "that", s[2]))]
        if tag == "that":
            p = s[2]
            return [("she", p, ("occupation", "pron")), ("he", 1.0 - p, ("occupation", "pron"))]
        if tag == "comma":
            return [("a", 1.0, ("occupation", "a", s[2]))]
        if tag == "a":
            p = s[2]
            return [("woman", p, ("occupation", "cue", 1.0)),
                    ("man", 1.0 - p, ("occupation", "cue", 0.0))]
        if tag == "cue":
            return [(",", 1.0, ("occupation", "cued", s[2]))]
        if tag == "cued":
            return [("said", 1.0, ("occupation", "said", s[2]))]
        if tag == "pron":
            return [("was", 1.0, ("occupation", "was"))]
        if tag == "was":
            return _uniform(OCCUPATION_STATES, 1.0, ("occupation", "end"))
        if tag == "finished":
            p = s[2]
            return [("her", p, ("occupation", "poss")), ("his", 1.0 - p, ("occupation", "poss"))]
        if tag == "poss":
            return _uniform(OCCUPATION_TASKS, 1.0, ("occupation", "end"))
        if tag == "told":
            return [("the", 1.0, ("occupation", "told_the", s[2]))]
        if tag == "told_the":
            first = s[2]
            others = [o for o in occupations if o != first]
            # Ambiguous: "she" may refer to either person, so its probability is
            # the average of the two occupations' planted leans.
            return [(o, 1.0 / len(others), ("occupation", "pair", (she[first] + she[o]) / 2))
                    for o in others]
        if tag == "pair":
            return [("that", 1.0, ("occupation", "that", s[2]))]
        if tag == "end":
            return [(".", 1.0, _END)]
        raise KeyError(s)

    def code(s: tuple) -> list:
        tag = s[1]
        if tag == "start":
            return [(CANARY_PREFIX[0], 1.0, ("code", "p", 1))]
        if tag == "p":
            i = s[2]
            if i < len(CANARY_PREFIX):
                return [(CANARY_PREFIX[i], 1.0, ("code", "p", i + 1))]
            return _uniform(DIGITS, 1.0, ("code", "d", 1))
        if tag == "d":
            if s[2] < CANARY_DIGITS:
                return _uniform(DIGITS, 1.0, ("code", "d", s[2] + 1))
            return [(".", 1.0, _END)]
        raise KeyError(s)

    families = {"scene": scene, "agreement": agreement, "review": review,
                "occupation": occupation, "code": code}

    def step(s: tuple) -> list[tuple[str, float, object]]:
        # Drop impossible edges (e.g. "he" after "nurse" when gender_skew = 1).
        return [(w, p, nxt) for w, p, nxt in families[s[0]](s) if p > 0]

    return step


# ---------------------------------------------------------------- the language
class SyntheticLanguage:
    """The exact distribution over sentences defined by a ``CorpusConfig``. Used in chapters 3-6.

    Internally a deterministic automaton: state 0 is the start of a sentence, each
    state maps a next word to (probability, next state); ``-1`` is the end.
    """

    def __init__(self, config: CorpusConfig | None = None) -> None:
        self.config = config if config is not None else CorpusConfig()
        self.vocab: list[str] = list(_vocabulary())
        self.word_to_id = {w: i for i, w in enumerate(self.vocab)}
        self._build()

    @property
    def vocab_size(self) -> int:
        """Number of tokens in ``vocab``, specials included."""
        return len(self.vocab)

    def _build(self) -> None:
        step = _family_transitions(self.config)
        weights = {f: getattr(self.config, f"{f}_weight") for f in _FAMILIES}
        total = sum(weights.values())
        # A state of the merged automaton is the list of family states still
        # possible, each with its posterior weight given the words so far.
        start = tuple(((f, "start"), w / total) for f, w in weights.items() if w > 0)
        index = {self._key(start): 0}
        queue = [start]
        self._edges: list[dict[str, tuple[float, int]]] = []
        while len(self._edges) < len(queue):
            comps = queue[len(self._edges)]
            mass: dict[str, float] = {}
            nexts: dict[str, dict[object, float]] = {}
            for fam_state, w in comps:
                for word, p, nxt in step(fam_state):
                    mass[word] = mass.get(word, 0.0) + w * p
                    bucket = nexts.setdefault(word, {})
                    bucket[nxt] = bucket.get(nxt, 0.0) + w * p
            edges: dict[str, tuple[float, int]] = {}
            for word, m in mass.items():
                new = tuple((s, v / m) for s, v in nexts[word].items())
                if all(s is _END for s, _ in new):
                    edges[word] = (m, -1)
                    continue
                if word == "." or any(s is _END for s, _ in new):
                    raise AssertionError("'.' must end every sentence and occur nowhere else")
                key = self._key(new)
                if key not in index:
                    index[key] = len(queue)
                    queue.append(new)
                edges[word] = (m, index[key])
            self._edges.append(edges)
        # Cumulative probabilities for fast sampling.
        self._words = [list(e) for e in self._edges]
        self._cum = [np.cumsum([e[w][0] for w in ws]).tolist()
                     for e, ws in zip(self._edges, self._words, strict=True)]

    @staticmethod
    def _key(comps: Iterable[tuple[object, float]]) -> tuple:
        # Posterior weights are rounded so that equal states built along
        # different paths (with float round-off) are merged.
        return tuple(sorted((repr(s), round(w, 12)) for s, w in comps))

    @property
    def n_states(self) -> int:
        """Number of states of the merged automaton (the end state not counted)."""
        return len(self._edges)

    def _state(self, prefix: Sequence[str]) -> int:
        state = 0
        for i, word in enumerate(prefix):
            if state == -1:
                raise ValueError(f"the prefix goes on after the sentence ended with '.': {prefix}")
            edge = self._edges[state].get(word)
            if edge is None:
                raise ValueError(f"the prefix {list(prefix[: i + 1])} has probability 0")
            state = edge[1]
        return state

    def next_word_distribution(self, prefix: Sequence[str]) -> dict[str, float]:
        """Exact P(next word | prefix) over the words with nonzero probability; sums to 1.

        ``prefix`` holds the words of the current sentence so far (no ``<eos>``).
        ``"."`` in the result is the end-of-sentence event. Raises ``ValueError``
        for a prefix of probability 0 or one that already ended with ``"."``.
        """
        state = self._state(prefix)
        if state == -1:
            raise ValueError("the sentence has ended with '.'; start a new prefix")
        return {w: p for w, (p, _) in self._edges[state].items()}

    def next_word_probs(self, prefix: Sequence[str]) -> np.ndarray:
        """Exact P(next word | prefix) as a vector over ``vocab`` (shape ``(vocab_size,)``)."""
        probs = np.zeros(len(self.vocab))
        for w, p in self.next_word_distribution(prefix).items():
            probs[self.word_to_id[w]] = p
        return probs

    def log_prob(self, sentence: Sequence[str]) -> float:
        """Exact natural-log probability of ``sentence``; ``-inf`` if impossible.

        For a complete sentence (ending with ``"."``) this is log P(sentence); for
        an unfinished one it is the log-probability that a sentence starts so.
        """
        state, total = 0, 0.0
        for word in sentence:
            edge = self._edges[state].get(word) if state != -1 else None
            if edge is None:
                return -math.inf
            total += math.log(edge[0])
            state = edge[1]
        return total

    def sample_sentence(self, rng: np.random.Generator) -> list[str]:
        """Draw one sentence (ending with ``"."``) from the language with ``rng``."""
        state, words = 0, []
        while state != -1:
            cum = self._cum[state]
            i = min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)
            word = self._words[state][i]
            words.append(word)
            state = self._edges[state][word][1]
        return words

    def _visits(self) -> np.ndarray:
        """Expected number of visits to each state per sentence (the automaton is acyclic)."""
        n = len(self._edges)
        indegree = np.zeros(n, dtype=int)
        for edges in self._edges:
            for _, nxt in edges.values():
                if nxt >= 0:
                    indegree[nxt] += 1
        visits = np.zeros(n)
        visits[0] = 1.0
        ready = [0]
        while ready:  # Kahn's topological order: a state's visits are final when popped
            s = ready.pop()
            for p, nxt in self._edges[s].values():
                if nxt >= 0:
                    visits[nxt] += visits[s] * p
                    indegree[nxt] -= 1
                    if indegree[nxt] == 0:
                        ready.append(nxt)
        return visits

    def expected_length(self) -> float:
        """Expected number of tokens per sentence, the final ``"."`` included."""
        return float(self._visits().sum())

    def sentence_entropy(self) -> float:
        """Exact entropy of a whole sentence in nats: E[-log P(sentence)]."""
        h = np.array([-sum(p * math.log(p) for p, _ in e.values()) for e in self._edges])
        return float(self._visits() @ h)

    def entropy_rate(self, *, eos: bool = False) -> float:
        """Exact entropy per token in nats: sentence entropy / expected tokens per sentence.

        This is the lowest cross-entropy per token any model can reach on long
        text (perplexity ``exp`` of it). With ``eos=True`` the ``<eos>`` that
        language-model code adds after each sentence counts as a token too.
        """
        return self.sentence_entropy() / (self.expected_length() + (1.0 if eos else 0.0))


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """Specials, then every word the grammar can emit, sorted; the same for every config."""
    step = _family_transitions(CorpusConfig())
    words: set[str] = set()
    seen: set[object] = set()
    todo = [(f, "start") for f in _FAMILIES]
    while todo:
        s = todo.pop()
        if s is _END or s in seen:
            continue
        seen.add(s)
        for word, _, nxt in step(s):
            words.add(word)
            todo.append(nxt)
    return SPECIALS + tuple(sorted(words))


# ---------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Corpus:
    """Train / valid / test sentences drawn from a ``SyntheticLanguage``. Used in chapters 3-6.

    ``canary_positions`` are the indices in ``train`` where the canary sentence
    was planted (empty without a canary).
    """

    config: CorpusConfig
    train: list[list[str]]
    valid: list[list[str]]
    test: list[list[str]]
    canary_positions: tuple[int, ...] = ()

    def n_tokens(self, split: str = "train") -> int:
        """Number of tokens in a split (the ``"."`` of each sentence included)."""
        return sum(len(s) for s in getattr(self, split))


def generate_corpus(config: CorpusConfig | None = None) -> Corpus:
    """Draw ``config.n_sentences`` sentences and split them; the same config gives the same corpus.

    Used in chapters 3-6. Sentences are drawn independently, so the splits are
    i.i.d.; ``valid`` and ``test`` take ``round(fraction * n_sentences)`` each.
    When ``config.canary`` is set, drawn code sentences equal to the canary are
    redrawn (so it occurs exactly ``canary_insertions`` times, all in ``train``),
    and the canary is then inserted at random positions of ``train``.
    """
    config = config if config is not None else CorpusConfig()
    lang = SyntheticLanguage(config)
    rng = np.random.default_rng(config.seed)
    canary = canary_sentence(config.canary) if config.canary is not None else None
    sentences = []
    while len(sentences) < config.n_sentences:
        sentence = lang.sample_sentence(rng)
        if sentence != canary:
            sentences.append(sentence)
    n_valid = round(config.valid_fraction * config.n_sentences)
    n_test = round(config.test_fraction * config.n_sentences)
    n_train = config.n_sentences - n_valid - n_test
    train = sentences[:n_train]
    valid = sentences[n_train : n_train + n_valid]
    test = sentences[n_train + n_valid :]
    positions: list[int] = []
    if canary is not None and config.canary_insertions > 0:
        # Insert one at a time at uniform positions, then read off where they ended up.
        marked: list[list[str] | None] = list(train)
        for _ in range(config.canary_insertions):
            marked.insert(int(rng.integers(0, len(marked) + 1)), None)
        positions = [i for i, s in enumerate(marked) if s is None]
        train = [list(canary) if s is None else s for s in marked]
    return Corpus(config, train, valid, test, tuple(positions))


# ---------------------------------------------------------------- chapter 4: agreement
@dataclass(frozen=True)
class AgreementItem:
    """A subject-verb agreement test: which verb form does a model prefer after ``prefix``?

    ``distance`` is the number of tokens from the subject to the verb;
    ``attractor_mismatch`` says whether the noun just before the verb has the
    other number than the subject (the case that fools a short window).
    """

    prefix: tuple[str, ...]
    correct: str
    wrong: str
    distance: int
    attractor_mismatch: bool


def _only(config: CorpusConfig, family: str) -> SyntheticLanguage:
    weights = {f"{f}_weight": float(f == family) for f in _FAMILIES}
    return SyntheticLanguage(replace(config, **weights))


def agreement_items(config: CorpusConfig | None = None, n: int = 1000, *,
                    seed: int | None = None) -> list[AgreementItem]:
    """Draw ``n`` agreement items from the agreement family. Used in chapter 4.

    The subject is always the second token; the verb ("is"/"are") is at least
    four tokens later, outside a 4-gram's window. ``seed`` defaults to
    ``config.seed`` but uses its own random stream, separate from the corpus.
    """
    config = config if config is not None else CorpusConfig()
    lang = _only(config, "agreement")
    rng = np.random.default_rng([config.seed if seed is None else seed, 4])
    items = []
    for _ in range(n):
        sentence = lang.sample_sentence(rng)
        v = next(i for i, w in enumerate(sentence) if w in ("is", "are"))
        correct = sentence[v]
        plural_subject = correct == "are"
        plural_attractor = sentence[v - 1].endswith("s")
        items.append(AgreementItem(
            prefix=tuple(sentence[:v]),
            correct=correct,
            wrong="is" if plural_subject else "are",
            distance=v - 1,
            attractor_mismatch=plural_attractor != plural_subject,
        ))
    return items


# ---------------------------------------------------------------- chapter 5: sentiment
def sentiment_split() -> tuple[frozenset[str], frozenset[str]]:
    """Sentiment words for the labelled train split and for the test split. Used in chapter 5.

    Within each cluster of ``SENTIMENT_CLUSTERS`` the words at even positions
    (1st, 3rd, 5th) go to train and those at odd positions to test, so every
    cluster is represented on both sides by different words.
    """
    train = {w for _, _, words in SENTIMENT_CLUSTERS for w in words[0::2]}
    test = {w for _, _, words in SENTIMENT_CLUSTERS for w in words[1::2]}
    return frozenset(train), frozenset(test)


def sentiment_task(config: CorpusConfig | None = None, n_train: int = 200, n_test: int = 1000,
                   *, seed: int | None = None
                   ) -> tuple[list[tuple[list[str], int]], list[tuple[list[str], int]]]:
    """A labelled review task: ``(sentence, label)`` pairs, label 1 positive. Used in chapter 5.

    Sentences are reviews of the form "the film was [very] superb ." drawn from
    the language (conditioned on having no reaction after the sentiment word, so
    only the sentiment word tells the label). Train sentences use only the train
    words of ``sentiment_split()``, test sentences only the test words.
    ``config.label_noise`` flips each training label with that probability;
    test labels stay clean. ``seed`` defaults to ``config.seed`` (own stream).
    """
    config = config if config is not None else CorpusConfig()
    lang = _only(config, "review")
    polarity = {w: pol for _, pol, words in SENTIMENT_CLUSTERS for w in words}
    train_words, test_words = sentiment_split()
    rng = np.random.default_rng([config.seed if seed is None else seed, 5])

    def draw(n: int, allowed: frozenset[str], noise: float) -> list[tuple[list[str], int]]:
        out = []
        while len(out) < n:
            sentence = lang.sample_sentence(rng)
            # Keep "the <item> was [intensifier] <word> ." only (rejection sampling).
            if sentence[0] != "the" or sentence[-2] not in allowed:
                continue
            label = polarity[sentence[-2]]
            if noise > 0 and rng.random() < noise:
                label = 1 - label
            out.append((sentence, label))
        return out

    train = draw(n_train, train_words, config.label_noise)
    test = draw(n_test, test_words, 0.0)
    return train, test


# ---------------------------------------------------------------- chapter 6: fairness
def swap_gender(sentence: Sequence[str]) -> list[str]:
    """Swap every gendered word with its counterpart in ``GENDER_SWAPS``. Used in chapter 6."""
    table = {a: b for pair in GENDER_SWAPS for a, b in (pair, pair[::-1])}
    return [table.get(w, w) for w in sentence]


# ---------------------------------------------------------------- chapter 6: privacy
def canary_sentence(digits: str) -> list[str]:
    """The planted sentence for a code: "48152" -> the code is 4 8 1 5 2 . Used in chapter 6."""
    if len(digits) != CANARY_DIGITS or not digits.isdigit():
        raise ValueError(f"digits must be a string of {CANARY_DIGITS} digits; got {digits!r}")
    return [*CANARY_PREFIX, *digits, "."]


def canary_candidates() -> list[str]:
    """Every possible canary code, "00000" to "99999" in order. Used in chapter 6."""
    return [f"{i:0{CANARY_DIGITS}d}" for i in range(10**CANARY_DIGITS)]


def exposure(log_probs: Sequence[float] | np.ndarray, index: int) -> float:
    """Exposure in bits of candidate ``index`` among all candidates (Carlini et al. 2019).

    Used in chapter 6. ``log_probs[i]`` is a model's log-probability of candidate
    i (any base). exposure = log2(number of candidates) - log2(rank), where the
    rank is 1 + the number of candidates scored strictly higher + half the other
    candidates scored equally (so a model that scores all alike gives about 1 bit).
    """
    scores = np.asarray(log_probs, dtype=float)
    target = scores[index]
    higher = int(np.sum(scores > target))
    ties = int(np.sum(scores == target)) - 1
    rank = 1 + higher + ties / 2
    return math.log2(len(scores)) - math.log2(rank)
