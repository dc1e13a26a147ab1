"""Interactive explorers (ipywidgets) and the static figures the book shows in their place.

Used in chapter 3 (an n-gram's next-word distribution as the corpus grows) and
chapter 4 (a model's as training goes on). In the rendered book a widget is
drawn once, frozen, so every explorer here has a static twin that draws the
same bars as a grid of small multiples.

A *distribution* is a mapping from word to probability; the explorers take
one per *setting* (a corpus size, a training epoch, ...), already computed,
so moving a slider only redraws.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.lm.sampling import softmax_at_temperature

__all__ = ["at_temperature", "next_word_explorer", "next_word_grid", "plot_next_word"]

Distribution = Mapping[str, float]
OTHERS = "(others)"


def at_temperature(distribution: Distribution, temperature: float) -> dict[str, float]:
    """p(w)^(1/T) renormalised: the distribution at temperature T (zeros stay zero). Chapter 3."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}")
    words = list(distribution)
    p = torch.tensor([distribution[w] for w in words], dtype=torch.float64)
    q = softmax_at_temperature(p.log(), temperature)  # the course's one temperature transform
    return dict(zip(words, q.tolist(), strict=True))


def _shown_words(distributions: Sequence[Distribution], truth: Distribution | None,
                 top_k: int) -> list[str]:
    # The same words in every panel, so bars do not jump about between settings:
    # the truth's most likely words, else those of the last (largest) setting.
    ranking = truth if truth is not None else distributions[-1]
    return [w for w, _ in sorted(ranking.items(), key=lambda item: -item[1])[:top_k]]


def plot_next_word(ax: plt.Axes, distribution: Distribution, words: Sequence[str], *,
                   truth: Distribution | None = None, title: str = "") -> None:
    """Bars of P(word) for ``words`` plus one for all other words; the truth as markers."""
    heights = [distribution.get(w, 0.0) for w in words]
    heights.append(max(0.0, 1.0 - sum(heights)))
    labels = [*words, OTHERS]
    positions = np.arange(len(labels))
    ax.bar(positions, heights, color="#0072B2", label="estimate")
    if truth is not None:
        true_heights = [truth.get(w, 0.0) for w in words]
        true_heights.append(max(0.0, 1.0 - sum(true_heights)))
        ax.plot(positions, true_heights, linestyle="none", marker="D", color="#D55E00",
                markersize=5, label="truth")
    ax.set_xticks(positions, labels, rotation=90, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)


def next_word_grid(distributions: Mapping[Hashable, Distribution], temperatures: Sequence[float],
                   *, truth: Distribution | None = None, top_k: int = 8, prefix: str = "",
                   setting_label: str = "setting") -> plt.Figure:
    """Small multiples: one row per setting, one column per temperature. Chapter 3.

    The static twin of ``next_word_explorer`` for the book.
    """
    settings = list(distributions)
    words = _shown_words([distributions[s] for s in settings], truth, top_k)
    fig, axes = plt.subplots(len(settings), len(temperatures), squeeze=False, sharey=True,
                             figsize=(2.6 * len(temperatures) + 0.6, 2.3 * len(settings) + 0.8))
    for row, setting in enumerate(settings):
        for col, temperature in enumerate(temperatures):
            ax = axes[row, col]
            plot_next_word(ax, at_temperature(distributions[setting], temperature), words,
                           truth=truth, title=f"{setting_label} {setting}, τ = {temperature:g}")
            if row < len(settings) - 1:
                ax.tick_params(labelbottom=False)
            if col == 0:
                ax.set_ylabel("probability")
    if truth is not None:
        axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f'Next word after "{prefix}"' if prefix else "Next-word distribution")
    fig.tight_layout()
    return fig


def next_word_explorer(distributions: Mapping[Hashable, Distribution], *,
                       truth: Distribution | None = None, temperature: float = 1.0,
                       top_k: int = 8, prefix: str = "", setting_label: str = "setting"):
    """A slider over settings and one over temperature, redrawing the next-word bars. Chapter 3.

    ``distributions`` maps each setting (corpus size, epoch, ...) to a
    distribution over words; ``truth``, when known, is drawn as markers.
    Returns the widget (display it, or make it a cell's last expression).
    """
    import ipywidgets as widgets

    settings = list(distributions)
    words = _shown_words([distributions[s] for s in settings], truth, top_k)
    # "initial" sizes each label to its text; the default width cuts "temperature" short.
    label_style = {"description_width": "initial"}
    setting = widgets.SelectionSlider(options=[(str(s), s) for s in settings],
                                      value=settings[-1], description=setting_label,
                                      style=label_style, continuous_update=False)
    temp = widgets.FloatLogSlider(value=temperature, base=10, min=-1, max=1, step=0.05,
                                  description="temperature", style=label_style,
                                  continuous_update=False)

    def draw(setting: Hashable, temperature: float) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        plot_next_word(ax, at_temperature(distributions[setting], temperature), words,
                       truth=truth, title=f'after "{prefix}": {setting_label} {setting}, '
                                          f"τ = {temperature:.2g}")
        ax.set_ylabel("probability")
        if truth is not None:
            ax.legend(loc="upper right")
        plt.show()

    output = widgets.interactive_output(draw, {"setting": setting, "temperature": temp})
    return widgets.VBox([widgets.HBox([setting, temp]), output])
