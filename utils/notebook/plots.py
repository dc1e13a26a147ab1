"""One plotting style for every notebook: readable, colour-blind safe.

`use_course_style()` sets matplotlib's defaults once per notebook;
`plain_log_ticks(ax.yaxis)` labels a logarithmic axis with plain numbers. The
colours are the Okabe-Ito palette, chosen to stay distinguishable for the
common forms of colour blindness; line styles and markers also differ, so no
figure relies on colour alone.
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler
from matplotlib import ticker

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
COLOURS = [OKABE_ITO[name] for name in
           ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]
LINESTYLES = ["-", "--", "-.", ":", "-", "--", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


def use_course_style() -> None:
    """Set the course's figure defaults (size, fonts, colour-blind-safe colours)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.frameon": False,
        "axes.prop_cycle": cycler(color=COLOURS) + cycler(linestyle=LINESTYLES),
    })


def _plain_number(value: float, _position: object = None) -> str:
    """A tick label without scientific notation where it reads better: 2, 0.5, 300.

    >>> [_plain_number(v) for v in (2.0, 0.5, 300.0, 1e-3)]
    ['2', '0.5', '300', '0.001']
    """
    return f"{value:g}"


def plain_log_ticks(axis: mpl.axis.Axis) -> None:
    """Label a logarithmic axis with plain numbers ("2, 3, 5") instead of "2×10⁰".

    Matplotlib labels the minor ticks of a log axis that spans less than about
    a decade in scientific notation; this keeps its choice of which ticks to
    label (so a wide axis stays uncluttered) and only changes how they read.
    """
    axis.set_major_formatter(ticker.FuncFormatter(_plain_number))
    axis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
