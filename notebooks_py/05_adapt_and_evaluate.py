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
#
# The algorithm written out here is the $F_1$ score, a few lines checked
# against `utils.evaluate`, because it is the number that tells the truth
# when accuracy does not. Every comparison runs over several seeds, with the
# range shown, and the scratch model is the control for the pretrained ones:
# the same classifier, the same labels, only without pretraining.

# %% tags=["hide-cell"]
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else only the language is set.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("foundation-models-hands-on")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+https://github.com/fm-hands-on/course@v0.3.0"], check=True)

from utils.i18n import set_language

set_language("en")  # checks and parameter errors in English; the Chinese notebook: "zh_CN"

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
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.adapt_and_evaluate import scratch_ceiling
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

# %% [markdown]
# Three labelled reviews of the kind the classifier trains on, and the best
# accuracy a model that knows only the labelled words can expect:

# %%
task_corpus = replace(pretrained.config.corpus, label_noise=params.label_noise)
examples, _ = sentiment_task(replace(task_corpus, seed=params.seed), n_train=3, n_test=1,
                             test_overlap=params.test_overlap)
for sentence, label in zip(examples.texts, examples.labels.tolist(), strict=True):
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
# $n$ labels trains on the first $n$ reviews. Three modes share everything
# else: `scratch` (fresh encoder, all trained), `frozen` (pretrained encoder
# fixed, head trained) and `finetune` (all trained, the encoder with the
# smaller learning rate).

# %%
from utils.adapt_and_evaluate import AdaptConfig, label_budget_experiment, summarise

budgets = sorted({int(round(b)) for b in np.geomspace(params.min_budget, params.max_budget,
                                                      params.n_budgets)})
seeds = list(range(params.seed, params.seed + params.n_seeds))
config = AdaptConfig(pooling=params.pooling, epochs=params.epochs, min_steps=params.min_steps,
                     lr=params.lr, encoder_lr=params.encoder_lr)
rows = label_budget_experiment(budgets, MODES, seeds, config=config, pretrained=pretrained,
                               n_test=params.n_test, label_noise=params.label_noise,
                               test_overlap=params.test_overlap, progress=False)
summary = summarise(rows)
curve = pd.DataFrame({m: [f"{summary[(m, b)]['mean']:.1%} [{summary[(m, b)]['min']:.1%}, "
                          f"{summary[(m, b)]['max']:.1%}]" for b in budgets] for m in MODES},
                     index=pd.Index(budgets, name="labels"))
best_pretrained = [max(summary[(m, b)]["mean"] for m in MODES[1:]) for b in budgets]
curve["advantage"] = [f"{a - summary[('scratch', b)]['mean']:+.1%}"
                      for a, b in zip(best_pretrained, budgets, strict=True)]
print(f"test accuracy, mean [min, max] over {len(seeds)} seeds")
curve

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

# %%
# The statements the next paragraph makes about the curve, measured on this run.
small, large = budgets[0], budgets[-1]
advantage = {b: a - summary[("scratch", b)]["mean"]
             for a, b in zip(best_pretrained, budgets, strict=True)}
pd.Series({
    f"scratch mean at {small} labels (chance 0.5)": f"{summary[('scratch', small)]['mean']:.1%}",
    "scratch's best seed at any budget, against its ceiling":
        f"{max(summary[('scratch', b)]['max'] for b in budgets):.1%} vs {ceiling:.1%}",
    f"lowest pretrained seed at {small} labels":
        f"{min(summary[(m, small)]['min'] for m in MODES[1:]):.1%}",
    f"advantage at {small} labels, at {large}": f"{advantage[small]:+.1%}, {advantage[large]:+.1%}",
}, name="measured").to_frame()

# %% [markdown]
# Read the curve from left to right, with the measurements above beside it
# (the paragraph describes the default run; check it against yours). With a
# handful of labels the scratch model is at chance: it has seen too few words to know any of them. It
# climbs as labels arrive and it learns more of the shared words, towards
# its ceiling, never past it: labels cannot teach it the words they never
# show. The pretrained modes are ahead on average from the smallest budget
# because their encoder already places each test word next to its synonyms,
# so a head trained on a few labels carries over to words the labels never
# show; but at the smallest budget the band reaches down to chance: with a
# handful of reviews one seed's draw can leave the head with nothing to
# learn from (all of one class, say), pretrained or not. Their advantage is largest
# at small budgets and shrinks as labels grow, the shape [Howard and Ruder (2018)](../book/references.md)
# report for ULMFiT. The bands show how much a single run can mislead at
# the smallest budgets, where one unlucky draw of a few reviews (all of one
# class, say) decides the result. The paired differences, seed by seed, at
# the budget we look at closely:

# %%
focus = min(budgets, key=lambda b: abs(b - params.focus_budget))  # the nearest curve budget
by_key = {(r["mode"], r["budget"], r["seed"]): r["accuracy"] for r in rows.to_dict("records")}
seconds = summarise(rows, key="train_s")
print("mean training time per run at the largest budget:\n"
      + ", ".join(f"{m} {seconds[(m, budgets[-1])]['mean']:.2f} s" for m in MODES))
pd.DataFrame({f"{mode} - scratch": [by_key[(mode, focus, s)] - by_key[("scratch", focus, s)]
                                    for s in seeds] for mode in ("frozen", "finetune")},
             index=pd.Index(seeds, name=f"seed ({focus} labels)")).style.format("{:+.1%}")

# %% [markdown]
# A paired difference compares the two modes on the same seed: the same
# labelled reviews, the same test reviews, so what differs is only the
# encoder. That removes the luck of the draw that dominates the bands of the
# figure: if every seed's difference has the same sign, the advantage is not
# an accident of one sample, even when the bands overlap.
#
# Frozen features and fine-tuning differ too. A head on frozen features can
# only draw a line through the features pretraining left; fine-tuning can
# also reshape the encoder for the task, which needs enough labels to pay
# and, with very few, can as easily fit the noise. Compare the two columns
# at the smallest and the largest budgets above; they differ even more in
# how sure they are of themselves.

# %% [markdown]
# ## Before pretraining, and without labels
#
# Two more rows put the curve in context. Before foundation models a text
# classifier was built for each task by hand: a person chose the features
# (here each word's TF-IDF weight, its count scaled down for words that occur
# in many reviews) and a logistic regression was fitted on the labelled
# reviews alone ([Chapter 1](../book/01_foundation_models.md) calls this feature engineering). It is
# the scratch model's situation with a simpler model: a test word no labelled
# review shows has no weight. At the other end, the pretrained model can
# classify with no labels at all, by prompting it ([Chapter 2](../book/02_self_supervised_learning.md)):
# after a review, "and i" goes on "smiled" or "sighed" in the pretraining
# text, so comparing the model's probabilities of the positive and the
# negative reactions there is a classifier (a verbaliser, [Schick and Schütze, 2021](../book/references.md)).
# Both run on the same labelled and test reviews as the curve.

# %%
from utils.adapt_and_evaluate.classical import classical_budget_experiment
from utils.adapt_and_evaluate.zero_shot import zero_shot_experiment

classical = classical_budget_experiment(budgets, seeds, corpus=pretrained.config.corpus,
                                        n_test=params.n_test, label_noise=params.label_noise,
                                        test_overlap=params.test_overlap)
zero_shot = zero_shot_experiment(pretrained, seeds, n_test=params.n_test,
                                 max_budget=max(budgets), label_noise=params.label_noise,
                                 test_overlap=params.test_overlap)
tfidf = summarise(classical)
zero = zero_shot.accuracy
print(f"zero-shot, no labels: {zero.mean():.1%} [{zero.min():.1%}, {zero.max():.1%}] "
      f"over {len(seeds)} seeds")
pd.DataFrame({"TF-IDF + logistic regression": [
    f"{tfidf[('tfidf', b)]['mean']:.1%} [{tfidf[('tfidf', b)]['min']:.1%}, "
    f"{tfidf[('tfidf', b)]['max']:.1%}]" for b in budgets],
    "fine-tuned (mean)": [f"{summary[('finetune', b)]['mean']:.1%}" for b in budgets]},
    index=pd.Index(budgets, name="labels"))

# %% mystnb={"figure": {"caption": "The classical TF-IDF logistic regression and the zero-shot verbaliser (at 0 labels, drawn left of the axis) beside the fine-tuned pretrained model; means over seeds with the range shaded or as error bars.", "name": "fig-adapt-classical-zero-shot"}}
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, table, mode in (("fine-tuned", summary, "finetune"), ("TF-IDF", tfidf, "tfidf")):
    mean = [table[(mode, b)]["mean"] for b in budgets]
    line, = ax.plot(budgets, mean, marker="o", label=name)
    ax.fill_between(budgets, [table[(mode, b)]["min"] for b in budgets],
                    [table[(mode, b)]["max"] for b in budgets], color=line.get_color(), alpha=0.2)
left = budgets[0] / 2  # where the 0-label point is drawn on the log axis
ax.errorbar([left], [zero.mean()], yerr=[[zero.mean() - zero.min()], [zero.max() - zero.mean()]],
            fmt="*", markersize=12, capsize=4, color="k", label="zero-shot (0 labels)")
ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance")
ax.set_xscale("log")
ax.set_xticks([left, *budgets], ["0", *[str(b) for b in budgets]])
ax.minorticks_off()
ax.set_xlabel("labelled training reviews")
ax.set_ylabel("test accuracy")
ax.set_ylim(0.3, 1.02)
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# The hand-made pipeline learns the words its labels show and only those, like
# the scratch model; pretraining replaces the feature engineering with
# features read from unlabelled text. The zero-shot row needs no labels, but
# only because the pretraining text happens to put reactions after reviews:
# a prompt works when the task is already written in the data.
#
# How sure is each mode? The experiment also recorded each model's mean
# confidence (the probability of the class it predicts) on the test
# reviews. A calibrated model's mean confidence equals its accuracy.

# %%
confidence = summarise(rows, key="confidence")
pd.DataFrame({m: [confidence[(m, b)]["mean"] - summary[(m, b)]["mean"] for b in budgets]
              for m in MODES}, index=pd.Index(budgets, name="labels")).style.format(
    "{:+.2f}").set_caption("mean confidence - accuracy, mean over seeds (positive: over-confident)")

# %% [markdown]
# A gap of zero is a calibrated mode. Read the scratch column from the top:
# with few labels its confidence runs far ahead of its accuracy, and the gap
# closes as labels arrive. The frozen head tends the other way, less sure
# than it is right. The next section looks at one model of each kind bin by
# bin.

# %% [markdown]
# ## A closer look at two models
#
# Take the better pretrained mode at the focus budget and, for contrast,
# the scratch model at the same budget; retrain both with the first seed
# (the same runs as in the curve) and keep their predicted probabilities on
# the test reviews.
#
# Accuracy is one number for both classes together. The report below splits
# it: for each class, precision (of the reviews predicted in the class, the
# share that are), recall (of the reviews in the class, the share found),
# their $F_1$, and the support, how many test reviews are in the class. A
# model can reach a decent accuracy while failing one class badly; the
# per-class rows show it.

# %%
from utils.adapt_and_evaluate import make_classifier, predict_proba, train_classifier
from utils.evaluate import accuracy, classification_report, confusion_matrix

best_mode = max(("frozen", "finetune"), key=lambda m: summary[(m, focus)]["mean"])
train, test = sentiment_task(replace(task_corpus, seed=seeds[0]), n_train=max(budgets),
                             n_test=params.n_test, test_overlap=params.test_overlap)
train = train[:focus]  # the curve's nested budgets: the first `focus` reviews
test_labels = test.labels
probs = {}
for mode in (best_mode, "scratch"):
    run = replace(config, mode=mode, seed=seeds[0])  # the curve's run at this budget
    model = make_classifier(pretrained, run)
    train_classifier(model, train.tokens, train.lengths, train.labels, run)
    probs[mode] = predict_proba(model, test.tokens, test.lengths)  # (n_test, 2)
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

# %%
from utils.evaluate import confidence_and_correct, expected_calibration_error, reliability_diagram

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
#
# ### $F_1$, written out
#
# For one class $c$: precision is the share of the reviews predicted $c$ that
# are $c$, recall the share of the reviews that are $c$ that were found, and
# $F_1$ their harmonic mean, 0 when both are 0. The macro-$F_1$ averages the
# classes' $F_1$ with equal weight, so a class of a few reviews counts as
# much as a class of hundreds. Checked against `utils.evaluate.f1_score` on
# both predictors below:

# %%
positives = np.flatnonzero(test_labels.numpy() == 1)
negatives = np.flatnonzero(test_labels.numpy() == 0)
n_neg = max(1, int(round(len(positives) * (1 - params.majority_share) / params.majority_share)))
keep = np.concatenate([positives, negatives[:n_neg]])
y_true = test_labels.numpy()[keep]
always_positive = np.ones_like(y_true)
pretrained_pred = probs[best_mode].argmax(dim=-1).numpy()[keep]
print(f"unbalanced test set: {len(y_true)} reviews, {y_true.mean():.1%} positive")


def f1_by_hand(y_true: np.ndarray, y_pred: np.ndarray, c: int = 1) -> float:
    """The harmonic mean of precision and recall for class c (0 when both are 0)."""
    found = np.sum((y_pred == c) & (y_true == c))
    precision = found / max(np.sum(y_pred == c), 1)  # 0 when c is never predicted
    recall = found / max(np.sum(y_true == c), 1)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


from utils.evaluate import f1_score

for pred in (always_positive, pretrained_pred):
    assert np.isclose(f1_by_hand(y_true, pred), f1_score(y_true, pred))
    macro = np.mean([f1_by_hand(y_true, pred, c) for c in (0, 1)])
    assert np.isclose(macro, f1_score(y_true, pred, average="macro"))

# %%
pd.DataFrame({name: {"accuracy": accuracy(y_true, pred), "F1 (positive)": f1_score(y_true, pred),
                     "recall (negative)": float(np.mean(pred[y_true == 0] == 0)),
                     "macro F1": f1_score(y_true, pred, average="macro")}
              for name, pred in (("always positive", always_positive),
                                 (best_mode, pretrained_pred))}).T.style.format(
    "{:.3f}").format("{:.1%}", subset="accuracy")

# %% [markdown]
# The majority predictor's accuracy and even its $F_1$ for the positive class
# look excellent; it has learned nothing, and the recall of the negative
# class (0) and the macro-$F_1$ say so at once. Report per-class metrics or
# their macro mean whenever the classes are unbalanced.
#
# ## What to take away
#
# - Pretraining pays most when labels are few: the pretrained modes lead the
#   scratch model by the widest margin at the smallest budgets, and the
#   scratch model cannot pass its ceiling however many labels it gets.
# - Single runs mislead at small budgets; the range over seeds and the paired
#   differences are the honest summary.
# - Confidence is a separate question from accuracy, and the two modes err in
#   opposite directions here; temperature scaling can correct either.
# - On unbalanced data, report per-class metrics or macro-$F_1$, never
#   accuracy alone.
