"""The `utils` package of Foundation Models, Hands-On.

One module per concern; notebooks import what they need from the module, for
example `from utils.params import validate`. The public modules:

- `params`: validate a notebook's parameters (`validate`, `Integer`, `Real`, `OneOf`, `Boolean`).
- `checks`: exercise checks with specific feedback; one submodule per lab.
- `labs`: build each lab's student and solution notebooks from its one source.
- `plots`: the course's colour-blind-safe figure style.
- `published`: published sizes of well-known foundation models (chapter 1).
- `colab`: the set-up cell every notebook starts with.
"""

__all__ = ["checks", "colab", "labs", "params", "plots", "published"]
