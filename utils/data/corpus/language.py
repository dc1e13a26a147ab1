"""The synthetic language as one deterministic automaton: exact probabilities and entropy.

Used in chapters 3-10. The words of a sentence so far pick out exactly one
state, so the true next-word distribution after any prefix is a table look-up,
``log_prob`` is exact, and the entropy rate is an exact sum over states.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import _END, FAMILIES, family_transitions
from utils.data.text import SPECIALS

__all__ = ["SyntheticLanguage"]


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
        step = family_transitions(self.config.gender_skew, self.config.gender_cue)
        weights = {f: getattr(self.config, f"{f}_weight") for f in FAMILIES}
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
    default = CorpusConfig()
    step = family_transitions(default.gender_skew, default.gender_cue)
    words: set[str] = set()
    seen: set[object] = set()
    todo = [(f, "start") for f in FAMILIES]
    while todo:
        s = todo.pop()
        if s is _END or s in seen:
            continue
        seen.add(s)
        for word, _, nxt in step(s):
            words.add(word)
            todo.append(nxt)
    return SPECIALS + tuple(sorted(words))
