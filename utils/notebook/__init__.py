"""What a notebook's first cells use: parameter validation, the Colab set-up, plot style, widgets,
and `glue`, which hands a measured number to the book's prose.

Layer: top, beside the checks; uses ``utils.lm`` (the explorer widget's softmax) and
``utils.params``. Notebooks import it; inside the package only the teaching tools do.
"""

from __future__ import annotations

from utils.notebook.colab import (  # noqa: F401
    REPOSITORY_URL,
    SETUP_CELL,
)
from utils.notebook.glue import (  # noqa: F401
    glue,
)
from utils.notebook.plots import (  # noqa: F401
    COLOURS,
    LINESTYLES,
    MARKERS,
    OKABE_ITO,
    plain_log_ticks,
    use_course_style,
)
from utils.notebook.seeding import (  # noqa: F401
    set_seed,
)
from utils.notebook.widgets import (  # noqa: F401
    at_temperature,
    next_word_explorer,
    next_word_grid,
    plot_next_word,
)
from utils.params import (  # noqa: F401
    Boolean,
    Integer,
    OneOf,
    ParameterError,
    Params,
    Real,
    validate,
)

__all__ = [
    "Boolean",
    "COLOURS",
    "Integer",
    "LINESTYLES",
    "MARKERS",
    "OKABE_ITO",
    "OneOf",
    "ParameterError",
    "Params",
    "REPOSITORY_URL",
    "Real",
    "SETUP_CELL",
    "at_temperature",
    "glue",
    "next_word_explorer",
    "next_word_grid",
    "plain_log_ticks",
    "plot_next_word",
    "set_seed",
    "use_course_style",
    "validate",
]
