# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: mystnb,tags,-all
#     formats: notebooks///ipynb,notebooks_py///py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Few labels: adapting the pretrained model, and measuring it honestly
#
# [Chapter 5](../book/05_adapt_and_evaluate.md) claimed that a pretrained model needs far fewer
# labelled examples than one trained from scratch, and that its advantage
# shrinks as labels grow. This notebook measures both on a task with two
# knobs ([the corpus datasheet](../book/corpus_datasheet.md)): how many of the test reviews' sentiment
# words also occur in labelled training reviews (`test_overlap`), and how
# many training labels are wrong (`label_noise`). We train three kinds of
# classifier on growing numbers of labels, over several seeds, then look
# closely at two of them with a confusion matrix, per-class metrics and
# reliability diagrams, and finally watch accuracy mislead on an unbalanced
# test set.

# %% tags=["hide-cell"]
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else this cell does nothing.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("foundation-models-hands-on")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+https://github.com/fm-hands-on/course@v0.2.0"], check=True)

# %% [markdown]
# ## Parameters
#
# Change these to explore; instructors can set them with papermill.

# %% tags=["parameters"]
seed: int = 0  # first seed; the runs use seeds seed, seed+1, ... (integer, at least 0)
min_budget: int = 4  # fewest labelled reviews in the learning curve (integer, 2 to 500)
max_budget: int = 256  # most labelled reviews in the learning curve (integer, 10 to 5000)
n_budgets: int = 7  # label budgets, log-spaced from min_budget to max_budget (integer, 2 to 10)
n_seeds: int = 3  # seeds per (mode, budget): data draw and initialisation (integer, 1 to 10)
test_overlap: float = 0.8  # share of the test words that labelled reviews use too (number, 0 to 1)
label_noise: float = 0.05  # chance that a training label is flipped (number, 0 to 0.5)
focus_budget: int = 16  # labelled reviews of the two models looked at closely (integer, 2 to 5000)
epochs: int = 5  # passes over the labelled reviews, at least min_steps steps (integer, 1 to 50)
min_steps: int = 50  # fewest optimizer steps of any run, for tiny budgets (integer, 0 to 1000)
lr: float = 3e-3  # Adam learning rate of the head and of a scratch encoder (number, 1e-5 to 0.1)
encoder_lr: float = 5e-4  # Adam learning rate of the pretrained encoder when fine-tuning (1e-6 to 0.1)
pooling: str = "last"  # sentence summary fed to the head: "last" state or "mean" of all states
n_test: int = 500  # test reviews per seed (integer, 100 to 5000)
majority_share: float = 0.95  # share of positive reviews in the unbalanced test set (number, 0.5 to 0.99)
n_bins: int = 10  # equal-width confidence bins of the ECE and reliability diagram (integer, 2 to 50)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, ParameterError, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    min_budget=Integer(min_budget, min=2, max=500),
    max_budget=Integer(max_budget, min=10, max=5000),
    n_budgets=Integer(n_budgets, min=2, max=10),
    n_seeds=Integer(n_seeds, min=1, max=10),
    test_overlap=Real(test_overlap, min=0.0, max=1.0),
    label_noise=Real(label_noise, min=0.0, max=0.5),
    focus_budget=Integer(focus_budget, min=2, max=5000),
    epochs=Integer(epochs, min=1, max=50),
    min_steps=Integer(min_steps, min=0, max=1000),
    lr=Real(lr, min=1e-5, max=0.1),
    encoder_lr=Real(encoder_lr, min=1e-6, max=0.1),
    pooling=OneOf(pooling, ["last", "mean"]),
    n_test=Integer(n_test, min=100, max=5000),
    majority_share=Real(majority_share, min=0.5, max=0.99),
    n_bins=Integer(n_bins, min=2, max=50),
)
if params.max_budget <= params.min_budget:
    raise ParameterError(f"parameter 'max_budget' must be larger than min_budget "
                         f"({params.min_budget}); got {params.max_budget!r}")

# %% [markdown]
# ## The task
#
# The pretrained model of chapter 4 loads from the cache. The labelled task
# comes from the same synthetic language: reviews such as "the film was
# superb ." with label 1 for positive. Within each cluster of synonyms, the
# test reviews use three words. The labelled training reviews use the other
# three and, set by `test_overlap`, some of the test words as well; the
# rest of the test words never occur in a labelled review.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.adapt_and_evaluate import (
    AdaptConfig,
    label_budget_experiment,
    scratch_ceiling,
    summarise,
)
from utils.data import SENTIMENT_CLUSTERS, sentiment_split, sentiment_task, shared_test_words
from utils.lm import pretrained_model
from utils.notebook import use_course_style

use_course_style()
MODES = ("scratch", "frozen", "finetune")
pretrained = pretrained_model(progress=False)
train_words, test_words = sentiment_split()
shared = shared_test_words(params.test_overlap)
for name, _polarity, words in SENTIMENT_CLUSTERS:
    print(f"{name:<9} train: {', '.join(w for w in words if w in train_words):<30} test: "
          + ", ".join(w + ("*" if w in shared else "") for w in words if w in test_words))
print(f"* also in labelled reviews: {len(shared)} of {len(test_words)} test words")
examples, _ = sentiment_task(pretrained.config.corpus, n_train=3, n_test=1, seed=params.seed,
                             test_overlap=params.test_overlap, label_noise=params.label_noise)
for sentence, label in examples:
    print(f"  {' '.join(sentence):<34} label {label}")
ceiling = scratch_ceiling(params.test_overlap)
print(f"a model that knows only the labelled words can expect at most {ceiling:.1%} "
      "test accuracy")

# %% [markdown]
# A model trained only on the labelled reviews knows a test word only if
# some labelled review used it; for the others its embedding is whatever
# random numbers it started with, so on those reviews it can only guess.
# That caps its expected accuracy at the share of test reviews with a
# shared word plus half of the rest: the ceiling printed above. The
# pretrained model has read every word in unlabelled text, followed by
# reactions ("and i smiled", "and we groaned") that reveal its polarity.
#
# ## The learning curve
#
# For each seed, one labelled set and one test set are drawn; a budget of
# $b$ labels trains on the first $b$ reviews. Three modes share everything
# else: `scratch` (fresh encoder, all trained), `frozen` (pretrained encoder
# fixed, head trained) and `finetune` (all trained, the encoder with the
# smaller learning rate).

# %%
budgets = sorted({int(round(b)) for b in np.geomspace(params.min_budget, params.max_budget,
                                                      params.n_budgets)})
seeds = list(range(params.seed, params.seed + params.n_seeds))
config = AdaptConfig(pooling=params.pooling, epochs=params.epochs, min_steps=params.min_steps,
                     lr=params.lr, encoder_lr=params.encoder_lr)
rows = label_budget_experiment(budgets, MODES, seeds, config=config, pretrained=pretrained,
                               n_test=params.n_test, label_noise=params.label_noise,
                               test_overlap=params.test_overlap, progress=False)
summary = summarise(rows)
print(f"test accuracy, mean [min, max] over {len(seeds)} seeds")
print(f"{'budget':>7}" + "".join(f"{m:>22}" for m in MODES) + f"{'advantage':>11}")
for b in budgets:
    cells = [summary[(m, b)] for m in MODES]
    advantage = max(c["mean"] for c in cells[1:]) - cells[0]["mean"]
    print(f"{b:>7}" + "".join(f"{c['mean']:>8.1%} [{c['min']:.1%}, {c['max']:.1%}]"
                              for c in cells) + f"{advantage:>+11.1%}")

# %% [markdown]
# The last column is pretraining's advantage: the better pretrained mode's
# mean minus the scratch mean. The figure draws the mean over seeds and
# shades the range from the worst seed to the best. The dotted line is
# chance on a balanced test set, the dashed one the scratch model's ceiling.

# %% mystnb={"figure": {"caption": "Test accuracy against the number of labelled reviews (log scale) for a classifier trained from scratch, a head on frozen pretrained features, and full fine-tuning; lines are means over seeds, shaded bands the range from the worst to the best seed; the dashed line is the best a model that knows only the labelled words can expect.", "name": "fig-adapt-learning-curve"}}
fig, ax = plt.subplots(figsize=(7, 4.2))
for mode, marker in zip(MODES, ("o", "s", "^"), strict=True):
    mean = [summary[(mode, b)]["mean"] for b in budgets]
    low = [summary[(mode, b)]["min"] for b in budgets]
    high = [summary[(mode, b)]["max"] for b in budgets]
    line, = ax.plot(budgets, mean, marker=marker, label=mode)
    ax.fill_between(budgets, low, high, color=line.get_color(), alpha=0.2)
ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance")
ax.axhline(ceiling, color="grey", linestyle="--", linewidth=1, label="scratch ceiling")
ax.set_xscale("log")
ax.set_xticks(budgets, [str(b) for b in budgets])  # label the budgets themselves
ax.minorticks_off()
ax.set_xlabel("labelled training reviews")
ax.set_ylabel("test accuracy")
ax.set_ylim(0.3, 1.02)
ax.set_title("Pretraining pays off most when labels are few")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# Read the curve from left to right. With a handful of labels the scratch
# model is at chance: it has seen too few words to know any of them. It
# climbs as labels arrive and it learns more of the shared words, towards
# its ceiling, never past it: labels cannot teach it the words they never
# show. The pretrained modes are far ahead from the first handful of labels
# because their encoder already places each test word next to its synonyms,
# so a head trained on a few labels carries over to words the labels never
# show. Their advantage is largest
# at small budgets and shrinks as labels grow, the shape [Howard and Ruder (2018)](../book/references.md)
# report for ULMFiT. The bands show how much a single run can mislead at
# the smallest budgets, where one unlucky draw of a few reviews (all of one
# class, say) decides the result. The paired differences, seed by seed, at
# the budget we look at closely:

# %%
focus = min(budgets, key=lambda b: abs(b - params.focus_budget))  # the nearest curve budget
by_key = {(r["mode"], r["budget"], r["seed"]): r["accuracy"] for r in rows}
for mode in ("frozen", "finetune"):
    gains = [by_key[(mode, focus, s)] - by_key[("scratch", focus, s)] for s in seeds]
    print(f"{mode} - scratch at {focus} labels: "
          + ", ".join(f"{g:+.1%}" for g in gains) + f" (seeds {seeds})")
seconds = summarise(rows, key="train_s")
print("mean training time per run at the largest budget: "
      + ", ".join(f"{m} {seconds[(m, budgets[-1])]['mean']:.2f} s" for m in MODES))

# %% [markdown]
# Frozen features and fine-tuning differ too. A head on frozen features can
# only draw a line through the features pretraining left; fine-tuning can
# also reshape the encoder for the task, which needs enough labels to pay
# and, with very few, can as easily fit the noise. Compare the two columns
# at the smallest and the largest budgets above; they differ even more in
# how sure they are of themselves.
#
# How sure is each mode? The experiment also recorded each model's mean
# confidence (the probability of the class it predicts) on the test
# reviews. A calibrated model's mean confidence equals its accuracy.

# %%
confidence = summarise(rows, key="confidence")
print("mean confidence - accuracy, mean over seeds (positive: over-confident)")
print(f"{'budget':>7}" + "".join(f"{m:>10}" for m in MODES))
for b in budgets:
    print(f"{b:>7}" + "".join(
        f"{confidence[(m, b)]['mean'] - summary[(m, b)]['mean']:>+10.2f}" for m in MODES))

# %% [markdown]
# ## A closer look at two models
#
# Take the better pretrained mode at the focus budget and, for contrast,
# the scratch model at the same budget; retrain both with the first seed
# (the same runs as in the curve) and keep their predicted probabilities on
# the test reviews.

# %%
from utils.adapt_and_evaluate import (
    encode_sentences,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.evaluate import (
    accuracy,
    classification_report,
    confidence_and_correct,
    confusion_matrix,
    expected_calibration_error,
    f1_score,
    reliability_diagram,
)

best_mode = max(("frozen", "finetune"), key=lambda m: summary[(m, focus)]["mean"])
train, test = sentiment_task(pretrained.config.corpus, n_train=max(budgets),
                             n_test=params.n_test, seed=seeds[0],
                             test_overlap=params.test_overlap, label_noise=params.label_noise)
train = train[:focus]  # the curve's nested budgets: the first `focus` reviews
tokens, lengths = encode_sentences([s for s, _ in train], pretrained.vocab)
labels = torch.tensor([y for _, y in train])
test_tokens, test_lengths = encode_sentences([s for s, _ in test], pretrained.vocab)
test_labels = torch.tensor([y for _, y in test])
probs = {}
for mode in (best_mode, "scratch"):
    model = make_classifier(mode, pretrained, pooling=params.pooling, seed=seeds[0])
    train_classifier(model, tokens, lengths, labels, AdaptConfig(
        mode=mode, pooling=params.pooling, epochs=params.epochs, min_steps=params.min_steps,
        lr=params.lr, encoder_lr=params.encoder_lr, seed=seeds[0]))
    probs[mode] = predict_proba(model, test_tokens, test_lengths)  # (n_test, 2)
for mode, p in probs.items():
    print(f"--- {mode}, {focus} labels\n"
          + classification_report(test_labels, p.argmax(dim=-1), names=["negative", "positive"]))

# %% [markdown]
# The confusion matrices put the counts behind those numbers side by side:
# rows are the true class, columns the prediction, and a good model keeps
# its counts on the diagonal. Each count is written in white on a dark cell
# and in black on a light one.

# %% mystnb={"figure": {"caption": "Confusion matrices on the test reviews of the better pretrained classifier and of the scratch classifier, both trained on the focus budget; rows are the true class, columns the predicted class.", "name": "fig-adapt-confusion"}}
from matplotlib import colors as mcolors

names = ["negative", "positive"]
cmap, shade = plt.get_cmap("Blues"), mcolors.Normalize(vmin=0, vmax=len(test_labels))


def text_colour(count: int) -> str:
    """White on a dark cell, black on a light one, judged from the cell's own shade."""
    red, green, blue, _ = cmap(shade(count))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue  # sRGB weights
    return "white" if luminance < 0.5 else "black"


fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, (mode, p) in zip(axes, probs.items(), strict=True):
    matrix = confusion_matrix(test_labels, p.argmax(dim=-1), labels=[0, 1])
    ax.imshow(matrix, cmap=cmap, norm=shade)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color=text_colour(matrix[i, j]))
    ax.set_xticks([0, 1], names)
    ax.set_yticks([0, 1], names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    ax.set_title(f"{mode}: accuracy {accuracy(test_labels, p.argmax(dim=-1)):.1%}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Is the confidence trustworthy?
#
# [Guo et al. (2017)](../book/references.md) found modern deep networks *over*-confident:
# right less often than their confidence claims. That is a finding about
# large networks trained long on big labelled sets, not a law, and a small
# model trained briefly on a few labels can err either way. The reliability
# diagram shows which: each bar is the accuracy of the predictions whose
# confidence falls in that bin, drawn at the bin's position. Bars below the
# dashed diagonal mean over-confidence, bars above it under-confidence, and
# the expected calibration error ([Chapter 3](../book/03_maximum_likelihood.md)) is the bars' average
# distance from it, weighted by how many predictions each bin holds.

# %% mystnb={"figure": {"caption": "Reliability diagrams of the better pretrained classifier and of the scratch classifier on the test reviews: accuracy in each confidence bin against the bin's confidence; the dashed diagonal is perfect calibration, bars below it mean over-confidence, bars above it under-confidence.", "name": "fig-adapt-reliability"}}
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharey=True)
verdicts = []
for ax, (mode, p) in zip(axes, probs.items(), strict=True):
    conf, correct = confidence_and_correct(p, test_labels)
    ece = expected_calibration_error(conf, correct, n_bins=params.n_bins)
    diagram = reliability_diagram(conf, correct, n_bins=params.n_bins)
    used = diagram.count > 0
    ax.bar(diagram.edges[:-1][used], diagram.accuracy[used],
           width=float(diagram.edges[1] - diagram.edges[0]), align="edge", edgecolor="white")
    ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence")
    ax.set_title(f"{mode}, {focus} labels: ECE {ece:.3f}")
    gap = float(conf.mean() - correct.mean())
    verdicts.append(f"{mode}: mean confidence {float(conf.mean()):.3f}, accuracy "
                    f"{float(correct.mean()):.3f}, ECE {ece:.3f}: "
                    + ("over-confident" if gap > 0 else "under-confident")
                    + f" by {abs(gap):.3f}")
axes[0].set_ylabel("accuracy")
plt.show()
print("\n".join(verdicts))

# %% [markdown]
# The lines under the figure say, from this run, which way each model errs.
# A scratch model that has seen a word a few times grows confident about
# it, and it is just as confident on reviews whose word it never saw, where
# it guesses: confident and often wrong, the over-confidence Guo et al.
# describe. A head trained for a few dozen small steps on pretrained
# features can instead stay timid, with logits too small for the accuracy
# it reaches: under-confident. Either way the confidence cannot be read as a
# probability as it stands; temperature scaling (chapter 3) fits one number
# on held-out data to fix it, a number above 1 for over-confidence and below
# 1 for under-confidence.
#
# ## When accuracy misleads
#
# Keep only enough negative test reviews that positives make up
# `majority_share` of the set, and score a "classifier" that always says
# positive. Its accuracy equals the share of positives; its recall on the
# negative class, and so its macro-$F_1$, tell the truth.

# %%
positives = np.flatnonzero(test_labels.numpy() == 1)
negatives = np.flatnonzero(test_labels.numpy() == 0)
n_neg = max(1, int(round(len(positives) * (1 - params.majority_share) / params.majority_share)))
keep = np.concatenate([positives, negatives[:n_neg]])
y_true = test_labels.numpy()[keep]
always_positive = np.ones_like(y_true)
pretrained_pred = probs[best_mode].argmax(dim=-1).numpy()[keep]
print(f"unbalanced test set: {len(y_true)} reviews, {y_true.mean():.1%} positive")
print(f"{'':<18}{'accuracy':>10}{'F1 (positive)':>15}{'recall (neg.)':>15}{'macro F1':>10}")
for name, pred in (("always positive", always_positive), (best_mode, pretrained_pred)):
    neg_recall = float(np.mean(pred[y_true == 0] == 0))
    print(f"{name:<18}{accuracy(y_true, pred):>10.1%}{f1_score(y_true, pred):>15.3f}"
          f"{neg_recall:>15.3f}{f1_score(y_true, pred, average='macro'):>10.3f}")

# %% [markdown]
# The majority predictor's accuracy and even its $F_1$ for the positive class
# look excellent; it has learned nothing, and the recall of the negative
# class (0) and the macro-$F_1$ say so at once. Report per-class metrics or
# their macro mean whenever the classes are unbalanced.
