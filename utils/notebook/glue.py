"""Hand a notebook's measured numbers to the book's prose.

In the book, myst-nb stores each glued value in the executed notebook, and a
chapter page pastes it with ``{glue:text}`` (``path::key`` from another page),
so the text states what the run measured. In JupyterLab or Colab, where myst-nb
is absent and nothing pastes, the call does nothing: the notebook prints its
numbers itself.
"""

from __future__ import annotations

from typing import Any

try:
    from myst_nb import glue as _myst_nb_glue
except ImportError:  # outside the book's build tools
    _myst_nb_glue = None


def glue(name: str, value: Any) -> None:
    """Store ``value`` under ``name`` for the book's pages, without displaying it here.

    >>> glue("answer", 42)  # displays nothing, in the book or outside it
    """
    if _myst_nb_glue is not None:
        _myst_nb_glue(name, value, display=False)
