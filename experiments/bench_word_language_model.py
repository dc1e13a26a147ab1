"""Time the course's training loop against PyTorch's own word_language_model example.

Explained on the performance page. ``utils.lm.benchmark`` (``make bench``) times the
course's loop against a re-implementation of the example; this script runs the
example itself. Given the folder that holds the example's ``main.py``, ``model.py``
and ``data.py`` (a checkout of github.com/pytorch/examples, ``word_language_model/``),
it

1. writes the benchmark's King James split to a scratch folder as the
   ``train.txt``/``valid.txt``/``test.txt`` that the example's ``data.py`` reads: one
   line per line of text, words separated by spaces, words outside the course's
   vocabulary written as ``<unk>``, so that the example's token stream is the
   course's stream word for word (checked before anything is timed);
2. runs the example's ``main.py`` in a subprocess for one epoch with its own defaults
   (2 x 200 LSTM, batch 20, bptt 35, SGD lr 20, clip 0.25, dropout 0.2; only its
   ``--log-interval`` is shortened) and parses what it prints: the ms/batch of every
   log interval and the validation perplexity after the epoch;
3. trains the course's model of the same size with the course's defaults
   (``TrainConfig()``, fused loss, unigram output bias) on the same split until it
   reaches the example's one-epoch validation perplexity;

and prints the throughput ratio (course tokens/s over the example's) and the
time-to-perplexity ratio (the course's training time to that perplexity over the
example's training time for the epoch). Runs alternate and medians are reported.

    python experiments/bench_word_language_model.py /path/to/examples/word_language_model

or ``make bench EXAMPLE=/path/to/examples/word_language_model``. The scratch folder
(``--workdir``, default in the system's temporary folder) is not part of the course.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from utils.data.text import Vocab, lm_stream, load_kjv_text, tokenize  # noqa: E402
from utils.lm.benchmark import BenchConfig  # noqa: E402
from utils.lm.lstm import LSTMLanguageModel, ModelConfig  # noqa: E402
from utils.lm.training import TrainConfig, init_output_bias, train_language_model  # noqa: E402
from utils.runtime import precision  # noqa: E402
from utils.runtime.scoped import local_seed, num_threads  # noqa: E402

RESULTS_CSV = ROOT / "book" / "performance_example_results.csv"
# What the example prints every --log-interval batches, and after each epoch.
_INTERVAL = re.compile(r"\|\s*(\d+)/\s*(\d+) batches .*?ms/batch\s+([\d.]+)")
_EPOCH = re.compile(r"end of epoch\s+1 \| time:\s*([\d.]+)s \| valid loss\s+([\d.]+)")
# The example's defaults (main.py's argparse), which this script does not change.
EXAMPLE_BATCH, EXAMPLE_BPTT, EXAMPLE_SEED = 20, 35, 1111
# How often the example prints its ms/batch: more often than its default 200, so that an
# epoch of this text gives several readings. Printing changes nothing in the training.
LOG_INTERVAL = 50


@dataclass(frozen=True)
class ExampleRun:
    """What one run of the example's main.py reported."""

    ms_per_batch: list[float]  # one per log interval, the first one included
    batches: int  # batches in the epoch
    epoch_s: float  # the example's own epoch time, its validation pass included
    valid_ppl: float

    @property
    def tokens_per_s(self) -> float:
        """Median over the log intervals after the first (which includes start-up)."""
        steady = self.ms_per_batch[1:] or self.ms_per_batch
        return EXAMPLE_BATCH * EXAMPLE_BPTT * 1000 / statistics.median(steady)

    @property
    def train_s(self) -> float:
        """Training time of the epoch: its batches at the mean reported ms/batch."""
        return self.batches * statistics.fmean(self.ms_per_batch) / 1000


def split(bench: BenchConfig) -> tuple[Vocab, list[list[str]], list[list[str]]]:
    """The benchmark's train and validation lines (``utils.lm.benchmark``), tokenized."""
    lines = [tokenize(line) for line in load_kjv_text(bench.max_chars).splitlines()]
    cut = int(len(lines) * (1 - bench.valid_fraction))
    vocab = Vocab(lines[:cut], max_size=bench.max_vocab)
    return vocab, lines[:cut], lines[cut:]


def write_corpus(folder: Path, vocab: Vocab, train: list[list[str]],
                 valid: list[list[str]]) -> None:
    """train/valid/test.txt as the example's data.py reads them; test is a slice of valid."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, lines: list[list[str]]) -> None:
        text = "".join(" ".join(vocab.decode(vocab.encode(words))) + "\n" for words in lines)
        (folder / name).write_text(text, encoding="utf-8")

    write("train.txt", train)
    write("valid.txt", valid)
    write("test.txt", valid[:200])  # the example scores it once after training


def check_corpus(folder: Path, vocab: Vocab, stream: torch.Tensor, name: str) -> int:
    """Read ``name`` the way the example's data.py does; fail unless it is ``stream``.

    Returns the number of word types the example's dictionary will hold for this file.
    """
    words = []
    with open(folder / name, encoding="utf8") as f:
        for line in f:
            words.extend(line.split() + ["<eos>"])
    if vocab.encode(words) != stream.tolist():
        raise RuntimeError(f"{name} does not read back as the course's token stream")
    return len(set(words))


def run_example(example: Path, data: Path, workdir: Path, seed: int, threads: int,
                timeout_s: float) -> ExampleRun:
    """One epoch of the example's main.py, its defaults otherwise; parse what it prints."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(example / "main.py"), "--data", str(data), "--epochs", "1",
           "--seed", str(seed), "--save", str(workdir / "model.pt"),
           "--log-interval", str(LOG_INTERVAL)]
    done = subprocess.run(cmd, cwd=example, env=env, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    intervals = _INTERVAL.findall(done.stdout)
    epoch = _EPOCH.search(done.stdout)
    if not intervals or epoch is None:
        raise RuntimeError(f"cannot read the example's output:\n{done.stdout[-2000:]}")
    return ExampleRun(ms_per_batch=[float(ms) for _, _, ms in intervals],
                      batches=int(intervals[0][1]), epoch_s=float(epoch.group(1)),
                      valid_ppl=math.exp(float(epoch.group(2))))


def run_course(bench: BenchConfig, course: TrainConfig, vocab_size: int, train: torch.Tensor,
               valid: torch.Tensor, seed: int, target_ppl: float,
               budget_s: float) -> tuple[float, float]:
    """The course's defaults until ``target_ppl``: (tokens/s, training seconds or inf)."""
    model_config = ModelConfig(vocab_size, bench.emb_size, bench.hidden_size, bench.num_layers,
                               bench.dropout, tie_weights=False)
    eval_every = max(1, round(bench.eval_every_tokens / (course.batch_size * course.seq_len)))
    config = replace(course, seed=seed, epochs=100, eval_every=eval_every,
                     target_perplexity=target_ppl, time_budget_s=budget_s)
    with local_seed(seed):
        model = LSTMLanguageModel(model_config)
    init_output_bias(model, train)
    history = train_language_model(model, train, valid, config, progress=False)
    hit = next((v for v in history.valid if v["perplexity"] <= target_ppl), None)
    return history.tokens_per_s, hit["train_time_s"] if hit else math.inf


@contextlib.contextmanager
def output_precision(name: str):
    """Train with ``$COURSE_PRECISION=name`` inside the block (utils.runtime.precision)."""
    before = os.environ.get("COURSE_PRECISION")
    os.environ["COURSE_PRECISION"] = name
    precision.get_precision.cache_clear()
    try:
        yield precision.get_precision()
    finally:
        if before is None:
            del os.environ["COURSE_PRECISION"]
        else:
            os.environ["COURSE_PRECISION"] = before
        precision.get_precision.cache_clear()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", type=Path, help="folder with the example's main.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=BenchConfig.threads)
    parser.add_argument("--max-chars", type=int, default=BenchConfig.max_chars)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "course-word-language-model")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one run of the example may take")
    parser.add_argument("--bfloat16", action="store_true",
                        help="also train the course's loop with its output layer in bfloat16")
    parser.add_argument("--no-csv", action="store_true", help="do not write the results table")
    args = parser.parse_args(argv)
    if not (args.example / "main.py").is_file():
        parser.error(f"{args.example} has no main.py")
    bench = BenchConfig(max_chars=args.max_chars, threads=args.threads, runs=args.runs)
    course = TrainConfig()
    vocab, train_lines, valid_lines = split(bench)
    train, valid = lm_stream(train_lines, vocab), lm_stream(valid_lines, vocab)
    data = args.workdir / "data"
    write_corpus(data, vocab, train_lines, valid_lines)
    types = check_corpus(data, vocab, train, "train.txt")
    check_corpus(data, vocab, valid, "valid.txt")
    print(f"{train.numel():,} train and {valid.numel():,} valid tokens, course vocab "
          f"{len(vocab)}, example vocab {types}, {args.threads} threads, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    precisions = ["float32"] + (["bfloat16"] if args.bfloat16 else [])
    ex_runs, course_tps, ttp = [], {p: [] for p in precisions}, {p: [] for p in precisions}
    for run in range(args.runs):
        start = time.perf_counter()
        ex = run_example(args.example, data, args.workdir, EXAMPLE_SEED + run, args.threads,
                         args.timeout)
        ex_runs.append(ex)
        line = (f"run {run + 1}: example {ex.tokens_per_s:,.0f} tok/s, epoch {ex.train_s:.1f} s "
                f"training ({ex.epoch_s:.1f} s with validation), valid ppl {ex.valid_ppl:.2f}")
        for name in precisions:
            with num_threads(args.threads), output_precision(name) as used:
                if used != name:
                    raise RuntimeError(f"this machine cannot train in {name}")
                tps, seconds = run_course(bench, course, len(vocab), train, valid, run,
                                          ex.valid_ppl, bench.give_up_after * ex.train_s)
            course_tps[name].append(tps)
            ttp[name].append(seconds / ex.train_s)
            line += f"; course {name} {tps:,.0f} tok/s, reached it in {seconds:.1f} s"
        print(f"{line}; {time.perf_counter() - start:.0f} s wall, load "
              f"{os.getloadavg()[0]:.2f}", flush=True)
    rows = report(ex_runs, course_tps, ttp, course, args.threads)
    if not args.no_csv:
        with open(RESULTS_CSV, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def report(ex_runs: list[ExampleRun], course_tps: dict[str, list[float]],
           ttp: dict[str, list[float]], course: TrainConfig,
           threads: int) -> list[dict[str, object]]:
    """Print the two ratios per precision; return the table's rows (medians and ranges)."""
    med = statistics.median
    ex_tps = [r.tokens_per_s for r in ex_runs]

    def spread(values: list[float], digits: int) -> str:
        return f"{min(values):.{digits}f} to {max(values):.{digits}f}"

    rows: list[dict[str, object]] = []
    for name in course_tps:
        tps, times = course_tps[name], ttp[name]
        tp_ratios = [c / e for c, e in zip(tps, ex_tps, strict=True)]
        print(f"{name}: throughput ratio: {med(tps) / med(ex_tps):.3f} "
              f"(per run {spread(tp_ratios, 3)})")
        print(f"{name}: time-to-perplexity ratio: {med(times):.3f} (per run {spread(times, 3)})")
        rows += [
            {"metric": f"training throughput (tokens/s), median; course's output layer in {name}",
             "course": round(med(tps)), "example": round(med(ex_tps)),
             "ratio or note": f"{med(tps) / med(ex_tps):.3f} (runs {spread(tp_ratios, 2)})"},
            {"metric": f"time to the example's 1-epoch validation perplexity / its epoch time; "
                       f"{name}",
             "course": round(med(times), 3), "example": 1.0,
             "ratio or note": f"runs {spread(times, 2)}; reached in "
                              f"{sum(math.isfinite(t) for t in times)}/{len(times)}"},
        ]
    rows += [
        {"metric": "example's epoch training time (s), median", "course": "",
         "example": round(med([r.train_s for r in ex_runs]), 1),
         "ratio or note": f"runs {spread([r.train_s for r in ex_runs], 1)}"},
        {"metric": "example's validation perplexity after 1 epoch, median", "course": "",
         "example": round(med([r.valid_ppl for r in ex_runs]), 2),
         "ratio or note": f"runs {spread([r.valid_ppl for r in ex_runs], 1)}"},
        {"metric": "settings",
         "course": f"{course.optimizer} lr {course.lr}, batch {course.batch_size}, seq "
                   f"{course.seq_len}, fused loss {course.fused_loss}, unigram bias",
         "example": f"main.py defaults, --epochs 1, seeds {EXAMPLE_SEED}+run",
         "ratio or note": f"{len(ex_runs)} runs, {threads} threads"},
    ]
    return rows


if __name__ == "__main__":
    main()
