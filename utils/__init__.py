"""The `utils` package of Foundation Models, Hands-On.

One module per concern; notebooks import what they need from the module, for
example `from utils.params import validate`. The modules, in course order:

- `params`: validate a notebook's parameters (`validate`, `Integer`, `Real`, `OneOf`, `Boolean`).
- `checks`: exercise checks with specific feedback; one submodule per lab.
- `labs`: build each lab's student and solution notebooks from its one source.
- `colab`: the set-up cell every notebook starts with.
- `plots`: the course's colour-blind-safe figure style.
- `published`: published sizes of well-known foundation models (chapter 1).
- `corpus`: the synthetic language with known next-word probabilities (chapter 3 on).
- `ngram`: count-based n-gram language models (chapter 3).
- `calibration`: expected calibration error and temperature scaling (chapter 3).
- `widgets`: interactive explorers of next-word distributions (chapters 3 and 4).
- `device`: the compute device, chosen once, and the seed helper (chapter 4).
- `text`: tokeniser, vocabulary and language-model batches (chapter 4).
- `models`: the LSTM language model (chapter 4).
- `training`: training and evaluating a language model (chapter 4).
- `sampling`: sampling text with temperature and top-k (chapter 4).
- `cache`: the verified, atomically written model cache (chapter 4).
- `fused_loss`: the output layer and cross-entropy computed together, faster on a CPU (chapter 4).
- `pretrained`: the course's tiny foundation model, trained once and cached (chapter 4).
- `agreement`: long-range subject-verb agreement, LSTM against n-gram (chapter 4).
- `metrics`: accuracy, precision, recall, F1 and the confusion matrix (chapter 5).
- `adapt`: a classifier head on the pretrained model; label-budget experiments (chapter 5).
- `benchmark`: the course's training loop against the PyTorch example's (`make bench`).
"""

__all__ = [
    "adapt", "agreement", "benchmark", "cache", "calibration", "checks", "colab", "corpus",
    "device", "fused_loss", "labs", "metrics", "models", "ngram", "params", "plots",
    "pretrained", "published", "sampling", "text", "training", "widgets",
]
