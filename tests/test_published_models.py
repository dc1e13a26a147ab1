"""The published model sizes of chapter 1: every figure pinned to its paper.

A changed number here must be a deliberate correction, checked against the
paper named in the entry's ``source``.
"""

import math
import re

import numpy as np
import pytest

from utils.data import (
    GPT3_REPORTED_TRAINING_FLOPS,
    PUBLISHED_MODELS,
    growth_per_year,
    published_model,
    training_flops,
)

# name: (year + (month - 1) / 12, parameters, training tokens or None)
PINNED = {
    "GPT": (2018 + 5 / 12, 117e6, None),  # Radford et al. 2019, Table 2 (117M)
    "BERT-Large": (2018 + 9 / 12, 340e6, None),
    "GPT-2": (2019 + 1 / 12, 1.5e9, None),  # 1542M, reported as 1.5B
    # Raffel et al. 2020, §3.7: 1M steps of 2^11 sequences of 512 tokens, "about
    # 1 trillion"; 2^35 is the baseline's, 32 times less.
    "T5-11B": (2019 + 9 / 12, 11e9, 1e12),
    "GPT-3": (2020 + 4 / 12, 175e9, 300e9),
    "Gopher": (2021 + 11 / 12, 280e9, 300e9),
    "Chinchilla": (2022 + 2 / 12, 70e9, 1.4e12),
    "PaLM": (2022 + 3 / 12, 540e9, 780e9),
    "LLaMA-65B": (2023 + 1 / 12, 65e9, 1.4e12),
    "Llama 2 70B": (2023 + 6 / 12, 70e9, 2e12),
    "Llama 3 405B": (2024 + 6 / 12, 405e9, 15.6e12),
}


def test_the_table_holds_exactly_the_pinned_models():
    assert [m.name for m in PUBLISHED_MODELS] == list(PINNED)


@pytest.mark.parametrize("name", list(PINNED))
def test_each_published_figure(name):
    year, parameters, tokens = PINNED[name]
    model = published_model(name)
    assert model.year == pytest.approx(year)
    assert model.parameters == parameters
    assert model.training_tokens == tokens


def test_t5_trained_on_about_a_trillion_tokens_not_the_baselines_2_to_the_35():
    t5 = published_model("T5-11B")
    assert t5.training_tokens == pytest.approx(1_000_000 * 2**11 * 512, rel=0.05)
    assert t5.training_tokens / 2**35 == pytest.approx(32, rel=0.1)  # "about 32 times" the baseline
    assert t5.tokens_per_parameter == pytest.approx(90.9, abs=0.1)
    assert "3.7" in t5.source


def test_every_model_names_its_source_and_a_bibliography_key(root):
    bib = (root / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.MULTILINE))
    for model in PUBLISHED_MODELS:
        assert re.search(r"\b(19|20)\d\d", model.source), model.name
        assert model.citation in keys, f"{model.name}: {model.citation} is not in references.bib"


def test_six_n_d_matches_the_compute_gpt3_reports():
    gpt3 = published_model("GPT-3")
    estimate = training_flops(gpt3.parameters, gpt3.training_tokens)
    assert estimate / GPT3_REPORTED_TRAINING_FLOPS == pytest.approx(1.0, abs=0.01)


def test_growth_per_year_is_numpys_least_squares_slope():
    window = [m for m in PUBLISHED_MODELS if m.training_tokens]
    for attribute in ("parameters", "training_tokens"):
        years = [m.year for m in window]
        logs = [math.log10(getattr(m, attribute)) for m in window]
        slope = np.polyfit(years, logs, 1)[0]
        assert growth_per_year(window, attribute) == pytest.approx(10**slope, rel=1e-9)


def test_growth_per_year_needs_two_years():
    with pytest.raises(ValueError, match="two different years"):
        growth_per_year([published_model("GPT-3")], "parameters")


def _window(start: str) -> list:
    first = published_model(start)
    return [m for m in PUBLISHED_MODELS if m.training_tokens and m.year >= first.year]


def test_data_grew_faster_than_models_from_gpt3_on_by_both_measures():
    # Chapter 1's notebook states the claim for this window only.
    window = _window("GPT-3")
    first, last = window[0], window[-1]
    assert (last.training_tokens / first.training_tokens
            > last.parameters / first.parameters)
    assert growth_per_year(window, "training_tokens") > growth_per_year(window, "parameters")


def test_from_t5_on_the_two_measures_disagree():
    # ... and says it does not hold from T5-11B (2019) on: the endpoints say
    # the models grew faster, the fitted line says the data did.
    window = _window("T5-11B")
    first, last = window[0], window[-1]
    assert (last.training_tokens / first.training_tokens
            < last.parameters / first.parameters)
    assert growth_per_year(window, "training_tokens") > growth_per_year(window, "parameters")
    later = [m.tokens_per_parameter for m in window[1:]]
    assert first.tokens_per_parameter > max(later)
