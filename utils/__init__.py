"""The `utils` package of Foundation Models, Hands-On: grouped by concern, in layers.

Each subpackage's ``__init__`` is its public face, so a notebook writes
``from utils.lm import train_language_model``. From the bottom layer up (a
layer imports only from layers below it; ``tests/test_layers.py`` enforces it):

- `i18n`: the language of the course's messages (English or Chinese), through `gettext`.
- `params`: parameter validation.
- `runtime`: the model cache and the one cached run (`cached_run`, `Run`), device choice,
  scoped state (`local_seed`).
- `data`: the synthetic corpus, text pipelines, published model sizes.
- `lm`: n-gram and LSTM language models, training, sampling, the cached tiny foundation model.
- `evaluate`: classification metrics, calibration, long-range agreement.
- `adapt`: the classifier head on the pretrained model and the label-budget experiment.
- `privacy` (and the other social-impact subpackages): audits of the model, chapters 6-9.
- `notebook`, `checks`, `teaching`: what notebooks, labs and instructors use on top.
"""
