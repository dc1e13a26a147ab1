"""Numbers the book's prose states come from the runs, not from the keyboard.

A chapter page pastes a notebook's measurement with
``{glue:text}`path/to/notebook.ipynb::key:format```; the notebook stores it with
``glue("key", value)`` (``utils.notebook.glue``). These tests check, without
executing anything, that every pasted key is glued by the notebook it names,
and that the typed numbers these pastes replaced do not come back.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from utils.data.corpus.grammar import SENTIMENT_CLUSTERS

BOOK = ROOT / "book"
PASTE = re.compile(r"\{glue:text\}`([^`:]+\.ipynb)::([\w-]+)(?::[^`]*)?`")
GLUE_CALL = re.compile(r"""\bglue\(\s*["']([\w-]+)["']""")
# A key built in a loop, glue(f"cost_ratio_{d:g}", ...): each {field} stands for a word.
GLUE_TEMPLATE = re.compile(r"""\bglue\(\s*f["']([\w{}:.!-]+)["']""")

# Typed results that a glued or printed measurement replaced: (file, literal).
REPLACED = [
    ("book/02_self_supervised_learning.md", "about 5 for characters, 76 for BPE tokens"),
    ("book/01_foundation_models.md", "trains in about a minute"),
    ("book/04_lstm_language_model.md", "about a minute"),
    ("notebooks_py/01_foundation_models.py", "in about a minute"),
    ("notebooks_py/04_lstm_language_model.py", "about a minute"),
    ("notebooks_py/02_self_supervised_learning.py", "128 numbers"),
    ("notebooks_py/03_maximum_likelihood.py", "straight line of slope about"),
    ("book/06_fairness.md", "−0.001 to +0.008"),
    ("book/06_fairness.md", "0.011 to 0.023"),
    ("book/06_fairness.md", "0.014 to 0.020"),
    ("book/06_fairness.md", "3.2-point"),
    ("book/06_fairness.md", "0.021 to 0.025"),
    ("book/06_fairness.md", "about −0.05 to about −0.2"),
    ("book/06_fairness.md", "from 0.24 (range 0.16 to 0.38)"),
    ("book/06_fairness.md", "(0.07, range 0.005 to 0.16)"),
    ("book/06_fairness.md", "0.589 (0.570 to 0.607)"),
    ("book/06_fairness.md", "0.007 to 0.013"),
    ("book/06_fairness.md", "from 0.038 to about"),
    ("book/06_fairness.md", "from 0.68 on the fitted half"),
    ("book/06_fairness.md", "(0.67 to 0.55)"),
    ("book/06_fairness.md", "0.005 on the fitted half"),
    ("book/06_fairness.md", "(0.03 to 0.17)"),
    ("book/07_interpretability.md", "38 to 57 %"),
    ("book/07_interpretability.md", "0 to 19 %"),
    ("book/07_interpretability.md", "58 % of the reviews"),
    ("book/07_interpretability.md", "+0.62"),
    ("book/07_interpretability.md", "70 to 93 %"),
    ("book/07_interpretability.md", "gradient × input to 37 %"),
    ("notebooks_py/10_outlook.py", "trains in about a minute"),
]


def pastes(text: str) -> list[tuple[str, str]]:
    """The (notebook path, key) of every cross-page glue paste in ``text``.

    >>> pastes("took {glue:text}`../notebooks/04_x.ipynb::training_seconds:.0f` s")
    [('../notebooks/04_x.ipynb', 'training_seconds')]
    """
    return PASTE.findall(text)


def glued_keys(source: str) -> set[str]:
    """The keys a notebook's text twin glues.

    >>> sorted(glued_keys('glue("a", 1)\\nglue( \\'b\\', x)\\nprint("glue(c)")'))
    ['a', 'b']
    """
    return set(GLUE_CALL.findall(source))


def glued_templates(source: str) -> list[re.Pattern]:
    """The keys a notebook glues in a loop, as patterns a pasted key must match whole.

    >>> [bool(p.fullmatch("ratio_0.5")) for p in glued_templates('glue(f"ratio_{d:g}", r)')]
    [True]
    """
    fields = re.compile(r"\{[^}]*\}")
    return [re.compile("[\\w.-]+".join(map(re.escape, fields.split(template))))
            for template in GLUE_TEMPLATE.findall(source)]


def is_glued(key: str, source: str) -> bool:
    """Whether the notebook text ``source`` glues ``key``, literally or from a template."""
    return key in glued_keys(source) or any(p.fullmatch(key) for p in glued_templates(source))


def _pages() -> list:
    return sorted(BOOK.glob("*.md"))


def test_some_page_pastes_a_measured_number():
    assert any(pastes(p.read_text(encoding="utf-8")) for p in _pages())


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_every_pasted_key_is_glued_by_its_notebook(page):
    for notebook, key in pastes(page.read_text(encoding="utf-8")):
        ipynb = (page.parent / notebook).resolve()
        assert ipynb.exists(), f"{page.name} pastes from a missing notebook {notebook}"
        twin = ROOT / "notebooks_py" / f"{ipynb.stem}.py"
        assert is_glued(key, twin.read_text(encoding="utf-8")), (
            f"{page.name} pastes {key!r}, which {twin.name} never glues")


def test_a_missing_key_is_caught():
    twin = (ROOT / "notebooks_py" / "04_lstm_language_model.py").read_text(encoding="utf-8")
    assert "training_seconds" in glued_keys(twin)
    assert "training_minutes" not in glued_keys(twin)
    assert not is_glued("training_minutes", twin)
    looped = 'for d in deltas:\n    glue(f"cost_ratio_{d:g}", r)'
    assert is_glued("cost_ratio_2", looped) and not is_glued("cost_perplexity_2", looped)


@pytest.mark.parametrize(("path", "literal"), REPLACED)
def test_a_replaced_typed_number_does_not_come_back(path, literal):
    assert literal not in (ROOT / path).read_text(encoding="utf-8")


def test_notebook_02_counts_match_the_grammar():
    """Notebook 02's prose counts the sentiment words; the grammar defines them."""
    words = sum(len(members) for _, _, members in SENTIMENT_CLUSTERS)
    cluster = {len(members) for _, _, members in SENTIMENT_CLUSTERS}
    assert len(cluster) == 1, "the prose assumes clusters of one size"
    text = (ROOT / "notebooks_py" / "02_self_supervised_learning.py").read_text(encoding="utf-8")
    assert f"{words} sentiment words" in text
    assert f"among the other {words - 1}" in text
    assert f"{cluster.pop() - 1} of the {words - 1}" in text


def test_model_card_reads_a_low_membership_auroc_as_a_reversed_score():
    """An AUROC below 0.5 is the attack's score pointing the wrong way, not "no leak"."""
    card = (BOOK / "model_card.md").read_text(encoding="utf-8")
    assert "so it shows no leak" not in card
    assert "points the wrong way" in card and "1 - np.mean(aucs)" in card


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_every_cross_page_paste_has_a_format(page):
    """myst-nb reads `path::key` without a format as the key `path:` (and the build fails)."""
    bare = re.findall(r"\{glue:text\}`[^`]+\.ipynb::[\w-]+`", page.read_text(encoding="utf-8"))
    assert not bare, f"{page.name}: give each paste a format, e.g. ::key:s or ::key:.2f: {bare}"
