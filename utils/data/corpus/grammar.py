"""The grammar of the course's synthetic language: word lists and one function per sentence family.

Used in chapters 3-10; documented as a datasheet in ``book/corpus_datasheet.md``.

The language mixes five sentence *families* (scenes, long-range agreement,
reviews, occupations with pronouns, numeric codes). Each family is a small
probabilistic finite-state grammar: a function from a family state to its
outgoing edges ``[(word, probability, next_state)]``. ``utils.data.corpus.language``
merges them into one deterministic automaton.

Conventions shared with ``utils.lm.ngram`` and ``utils.data.text``:

- a sentence is a list of lowercase tokens; punctuation marks are tokens;
- every sentence ends with ``"."`` and ``"."`` occurs nowhere else, so
  predicting ``"."`` *is* the end-of-sentence event;
- ``<eos>`` is never emitted by the grammar: language-model code puts it
  between sentences (``utils.data.text.lm_stream``).

The probabilities are fixed constants: a seed only changes which sentences
are drawn, never the language itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = [
    "ANIMALS", "CANARY_DIGITS", "CANARY_PREFIX", "DIGITS", "FAMILIES", "GENDER_SWAPS",
    "OCCUPATIONS", "REVIEW_ITEMS", "SENTIMENT_CLUSTERS", "family_transitions",
    "occupation_she_probability",
]

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

FAMILIES = ("scene", "agreement", "review", "occupation", "code")
_END = None  # a family state of None means the sentence has ended (after ".")


def _zipf(n: int) -> list[float]:
    """Weights 1, 1/2, ..., 1/n normalised: unequal but with plenty of entropy."""
    w = [1.0 / (r + 1) for r in range(n)]
    total = sum(w)
    return [x / total for x in w]


def _uniform(words: Sequence[str], mass: float, nxt: object) -> list[tuple[str, float, object]]:
    return [(w, mass / len(words), nxt) for w in words]


# ---------------------------------------------------------------- config


# Derived once: the scene family's word weights and its prepositions in a fixed order.
_ANIMAL_P = _zipf(len(ANIMALS))
_OBJECT_P = _zipf(len(OBJECTS))
_PREPOSITIONS = sorted({p for options in SCENE_VERBS.values() for p, _ in options})
_OCCUPATION_NAMES = tuple(OCCUPATIONS)


def occupation_she_probability(gender_skew: float) -> dict[str, float]:
    """The planted P(she | occupation) in single-person sentences. Used in chapter 6.

    P(she) = 0.5 + direction * strength * (gender_skew - 0.5), with direction and
    strength from ``OCCUPATIONS`` and ``gender_skew`` a ``CorpusConfig`` field;
    P(he) is the rest.
    """
    return {occ: 0.5 + d * s * (gender_skew - 0.5) for occ, (d, s) in OCCUPATIONS.items()}


# ---------------------------------------------------------------- the families
def _scene(s: tuple) -> list:
    tag = s[1]
    if tag == "start":
        return [("the", 1.0, ("scene", "det"))]
    if tag in ("det", "adj"):
        out = [] if tag == "adj" else _uniform(SCENE_ADJECTIVES, 0.25, ("scene", "adj"))
        mass = 1.0 if tag == "adj" else 0.75
        for a, p in zip(ANIMALS, _ANIMAL_P, strict=True):
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
        shift = (3 * ANIMALS.index(s[2]) + 5 * _PREPOSITIONS.index(s[3])) % len(OBJECTS)
        ranked = OBJECTS[shift:] + OBJECTS[:shift]
        mass = 1.0 if tag == "oadj" else 0.8
        oadj = ("scene", "oadj", *s[2:])
        out = [] if tag == "oadj" else _uniform(OBJECT_ADJECTIVES, 0.2, oadj)
        for o, p in zip(ranked, _OBJECT_P, strict=True):
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


def _agreement(s: tuple) -> list:
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


def _review(s: tuple) -> list:
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


def _occupation(s: tuple, she: dict[str, float], cue: float) -> list:
    tag = s[1]
    if tag == "start":
        return [("the", 1.0, ("occupation", "det"))]
    if tag == "det":
        share = 1.0 / len(_OCCUPATION_NAMES)
        return [(o, share, ("occupation", "occ", o)) for o in _OCCUPATION_NAMES]
    if tag == "occ":
        # The pronoun's state carries only P(she), so _OCCUPATION_NAMES with equal
        # leans share states; "told" keeps the occupation for the pair.
        p = she[s[2]]
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
        others = [o for o in _OCCUPATION_NAMES if o != first]
        # Ambiguous: "she" may refer to either person, so its probability is
        # the average of the two occupations' planted leans.
        return [(o, 1.0 / len(others), ("occupation", "pair", (she[first] + she[o]) / 2))
                for o in others]
    if tag == "pair":
        return [("that", 1.0, ("occupation", "that", s[2]))]
    if tag == "end":
        return [(".", 1.0, _END)]
    raise KeyError(s)


def _code(s: tuple) -> list:
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


def family_transitions(gender_skew: float, gender_cue: float
                       ) -> Callable[[tuple], list[tuple[str, float, object]]]:
    """Return ``step(state) -> [(word, prob, next_state)]`` for every family state.

    Only the occupation family depends on the corpus's knobs: ``gender_skew``
    and ``gender_cue``, the ``CorpusConfig`` fields of those names. The grammar
    takes the two numbers rather than the config, so that the config (which
    validates against the grammar's families) is the only one of the two that
    imports the other.
    """
    she = occupation_she_probability(gender_skew)
    families = {"scene": _scene, "agreement": _agreement, "review": _review, "code": _code,
                "occupation": lambda s: _occupation(s, she, gender_cue)}

    def step(s: tuple) -> list[tuple[str, float, object]]:
        # Drop impossible edges (e.g. "he" after "nurse" when gender_skew = 1).
        return [(w, p, nxt) for w, p, nxt in families[s[0]](s) if p > 0]

    return step
