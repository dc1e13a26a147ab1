"""Numbers a chapter quotes from an experiment script's log agree with that log.

Some results are too slow for a notebook: a script in ``experiments/`` runs
them and keeps its output in ``experiments/logs/``, and the chapter quotes it.
These tests read the logs and fail when a page's figure no longer matches, so
rerunning an experiment without updating its chapter (or the reverse) is caught.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import ROOT

LOGS = ROOT / "experiments" / "logs"


def _page(name: str) -> str:
    return " ".join((ROOT / "book" / name).read_text(encoding="utf-8").split())


def _tokeniser_summary() -> dict[str, tuple[str, str, str]]:
    """Level -> (mean, lowest, highest) bits per character, as the script prints them."""
    text = (LOGS / "tokeniser_bits_per_char.log").read_text(encoding="utf-8")
    rows = re.findall(r"^(character|BPE|word)\s+bits/char ([\d.]+) \(([\d.]+)-([\d.]+)\)", text,
                      flags=re.M)
    assert len(rows) == 3, "the tokeniser log's summary lines changed form"
    return {level: (mean, low, high) for level, mean, low, high in rows}


@pytest.mark.parametrize("level", ["character", "BPE", "word"])
def test_chapter_2_quotes_the_tokeniser_experiments_bits_per_character(level):
    mean, low, high = _tokeniser_summary()[level]
    page = _page("02_self_supervised_learning.md")
    assert re.search(rf"{re.escape(mean)}\b[^.]*?\(?(range )?{re.escape(low)} to "
                     rf"{re.escape(high)}[);]", page), (
        f"chapter 2 should quote {level}: {mean} bits per character ({low} to {high})")


LEARNING_CURVE_ROWS = {  # the table's row label -> the model's name in learning_curve.csv
    "LSTM, 10 passes": "LSTM-10",
    "GPT-like, 10 passes": "GPT-like-10",
    "BERT-like, 10 passes": "BERT-like-10",
    "LSTM, 4 passes": "LSTM-4",
    "GPT-like, 4 passes": "GPT-like",
    "BERT-like, 4 passes": "BERT-like",
    "TF-IDF + logistic regression": "TF-IDF",
}


def _cell(accuracies: pd.Series) -> str:
    percent = 100 * accuracies
    return f"{percent.mean():.1f} ({percent.min():.1f}–{percent.max():.1f})"


def expected_row(curve: pd.DataFrame, model: str) -> list[str]:
    """The table's cells for ``model``: zero-shot, then each label budget, mean (range) in %."""
    rows = curve[curve["model"] == model]
    zero_shot = rows[rows["mode"] == "zero-shot"]["accuracy"]
    cells = [_cell(zero_shot) if len(zero_shot) else "—"]
    trained = rows[rows["mode"] != "zero-shot"]
    cells += [_cell(trained[trained["budget"] == b]["accuracy"]) for b in (4, 16, 64, 256)]
    return cells


@pytest.mark.parametrize("label", LEARNING_CURVE_ROWS)
def test_section_4t_learning_curve_table_is_the_logged_one(label):
    curve = pd.read_csv(LOGS / "learning_curve.csv")
    table = (ROOT / "book" / "04_transformer.md").read_text(encoding="utf-8")
    row = next((line for line in table.splitlines() if line.startswith(f"| {label} |")), None)
    assert row is not None, f"§4T's learning-curve table has no row {label!r}"
    cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
    assert cells == expected_row(curve, LEARNING_CURVE_ROWS[label])


def _tied_gpt_at_64_labels() -> list[int]:
    """The tied GPT-like model's accuracy (%) at 64 labels, per pretraining seed 0, 1, 2."""
    text = (LOGS / "learning_curve_tied_recipe.log").read_text(encoding="utf-8")
    runs = {int(seed): [float(a) for a in accuracies.split(",")]
            for seed, accuracies in re.findall(r"^(\d) GPT-4 \[([^\]]*)\]", text, flags=re.M)}
    budgets = [4, 16, 64, 256]  # the order the script prints
    return [round(100 * runs[seed][budgets.index(64)]) for seed in sorted(runs)]


def test_the_tied_transformers_seeds_are_quoted_as_logged():
    first, second, third = _tied_gpt_at_64_labels()
    assert f"{first} %, {second} % and {third} %" in _page("04_transformer.md")
    assert f"fell to {min(first, second, third)} % on one of three" in _page(
        "01_foundation_models.md")


def _half_up(number: str, places: int) -> str:
    """Round a logged decimal as a reader would (3.635 -> 3.64), not as binary floats do."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(number).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _summary(log: str, label: str) -> tuple[str, str, str]:
    """(mean, lowest, highest) of a ``label  mean [low, high]`` line of an experiment's log."""
    text = (LOGS / log).read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(label)}:?\s+([\d.]+) \[([\d.]+), ([\d.]+)\]", text, flags=re.M)
    assert match, f"{log} has no summary line {label!r}"
    return match.groups()


def _ppl(log: str, label: str) -> str:
    mean, low, high = (_half_up(x, 2) for x in _summary(log, label))
    return f"{mean} ({low}–{high})"


def test_chapter_4_quotes_the_rnn_agreement_runs():
    page = _page("04_lstm_language_model.md")
    text = (LOGS / "rnn_agreement.log").read_text(encoding="utf-8")
    rnn = re.search(r"^RNN all: [\d.]+ .*?\| ppl: ([\d.]+) \[([\d.]+), ([\d.]+)\]", text, re.M)
    lstm = re.search(r"^LSTM all: ([\d.]+) \[([\d.]+), ([\d.]+)\] \| ppl: ([\d.]+) "
                     r"\[([\d.]+), ([\d.]+)\]", text, re.M)
    rnn_ppl = "{} ({}–{})".format(*(_half_up(x, 2) for x in rnn.groups()))
    lstm_ppl = "{} ({}–{})".format(*(_half_up(x, 2) for x in lstm.groups()[3:]))
    acc, low, high = (_half_up(str(100 * float(x)), 1).rstrip("0").rstrip(".")
                      for x in lstm.groups()[:3])
    assert f"the LSTM on {acc} % ({low}–{high} %), with perplexities {rnn_ppl} and {lstm_ppl}" \
        in page


@pytest.mark.parametrize(("label", "row"), [("article", "the article's, last state only"),
                                            ("course", "the course's, every position")])
def test_chapter_4_last_state_table_is_the_logged_one(label, row):
    acc = [_half_up(str(100 * float(x)), 1) for x in
           _summary("last_state_model.log", f"{label} accuracy")]
    ppl = _ppl("last_state_model.log", f"{label} perplexity")
    expected = f"| {row} | {acc[0]} % ({acc[1]}–{acc[2]} %) | {ppl} |"
    assert expected in (ROOT / "book" / "04_lstm_language_model.md").read_text(encoding="utf-8")
