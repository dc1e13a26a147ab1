"""Benchmark the course's LSTM training against the PyTorch word-language-model example.

Explained in chapter 4. Run ``python -m utils.lm.benchmark`` (``make bench``). In one
process, on the same King James Bible text and vocabulary, it measures

(a) training throughput (tokens/s) of the course's loop and model against a
    plain reference loop re-implemented from the defaults of PyTorch's
    word_language_model example (2-layer LSTM, 200 units, embeddings of 200,
    seq 35, batch 20, untied, dropout 0.2, SGD lr 20, clipping 0.25,
    sequence-major), at the same model size;
(b) the training time the course's default settings (``TrainConfig()``, which
    uses the fused loss of ``utils.lm.fused_loss``, with the output bias set to the
    log unigram frequencies by ``init_output_bias``) need to reach the validation
    perplexity the reference reaches after one epoch, divided by the reference's
    epoch time. The model is the same size as the reference's (untied, 2 x 200).

Runs are repeated and medians reported; the table goes to
``book/performance_results.csv``.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from utils.data.text import Vocab, lm_stream, load_kjv_text, tokenize
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.reference_loop import BatchFirst, ReferenceModel, reference_epoch
from utils.lm.training import (
    TrainConfig,
    evaluate_language_model,
    init_output_bias,
    train_language_model,
)
from utils.runtime.device import get_device
from utils.runtime.scoped import local_seed, num_threads

__all__ = ["BenchConfig", "flops_per_token", "matmul_peak_flops", "run_benchmark"]

RESULTS_CSV = Path(__file__).resolve().parents[2] / "book" / "performance_results.csv"


@dataclass(frozen=True)
class BenchConfig:
    """What the benchmark runs on. Explained in chapter 4."""

    max_chars: int = 1_000_000
    max_vocab: int = 10_000
    valid_fraction: float = 0.1
    runs: int = 3
    threads: int = 2
    seed: int = 0
    # Same model size for both: the reference example's defaults.
    emb_size: int = 200
    hidden_size: int = 200
    num_layers: int = 2
    dropout: float = 0.2
    # The reference example's training defaults.
    ref_lr: float = 20.0
    ref_batch_size: int = 20
    ref_seq_len: int = 35
    ref_clip: float = 0.25
    ref_eval_batch_size: int = 10
    # The course's run checks the validation perplexity about every this many tokens,
    # and gives up after this multiple of the reference's epoch time.
    eval_every_tokens: int = 8_000
    give_up_after: float = 1.5
    # The course's run starts from the unigram model (init_output_bias).
    unigram_bias: bool = True
    # Optimizer steps timed for the same-shape throughput rows.
    same_shape_steps: int = 60


# --- cost model ---


def flops_per_token(vocab_size: int, emb_size: int, hidden_size: int, num_layers: int) -> float:
    """Training FLOPs per token: LSTM gates plus the output projection, times 3 for backward.

    Explained in chapter 4. Each layer multiplies [input, h] by a (4*hidden, in+hidden)
    matrix (2 FLOPs per multiply-add); the projection is (vocab, hidden).
    """
    forward = 0.0
    in_size = emb_size
    for _ in range(num_layers):
        forward += 2 * 4 * hidden_size * (in_size + hidden_size)
        in_size = hidden_size
    forward += 2 * hidden_size * vocab_size
    return 3 * forward


def matmul_peak_flops(size: int = 1024, repeats: int = 10) -> float:
    """Measured float32 matmul FLOP/s of this machine (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


# --- the benchmark ---


def _data(bench: BenchConfig) -> tuple[Vocab, torch.Tensor, torch.Tensor]:
    lines = [tokenize(line) for line in load_kjv_text(bench.max_chars).splitlines()]
    split = int(len(lines) * (1 - bench.valid_fraction))
    vocab = Vocab(lines[:split], max_size=bench.max_vocab)
    return vocab, lm_stream(lines[:split], vocab), lm_stream(lines[split:], vocab)


def run_benchmark(bench: BenchConfig, course: TrainConfig, write_csv: Path | None = RESULTS_CSV,
                  progress: bool = True) -> list[dict[str, object]]:
    """Run (a) and (b) ``bench.runs`` times, interleaved; print and return the result rows.

    Runs on ``bench.threads`` CPU threads; the caller's thread count and random
    streams are restored afterwards.
    """
    with num_threads(bench.threads):
        return _run_benchmark(bench, course, write_csv, progress)


def _reference_run(bench: BenchConfig, vocab_size: int, train_stream: torch.Tensor,
                   valid_stream: torch.Tensor, seed: int) -> tuple[float, int, float]:
    """One seeded epoch of the reference loop: (seconds, tokens, validation perplexity)."""
    device = get_device()
    with local_seed(seed):  # initial weights and dropout masks
        ref = ReferenceModel(vocab_size, bench.emb_size, bench.hidden_size,
                             bench.num_layers, bench.dropout).to(device)
        seconds, tokens = reference_epoch(
            ref, train_stream, batch_size=bench.ref_batch_size, seq_len=bench.ref_seq_len,
            lr=bench.ref_lr, clip=bench.ref_clip, device=device)
    ppl = evaluate_language_model(BatchFirst(ref), valid_stream, bench.ref_eval_batch_size,
                                  bench.ref_seq_len)["perplexity"]
    return seconds, tokens, ppl


def _run_benchmark(bench: BenchConfig, course: TrainConfig, write_csv: Path | None,
                   progress: bool) -> list[dict[str, object]]:
    vocab, train_stream, valid_stream = _data(bench)
    model_config = ModelConfig(len(vocab), bench.emb_size, bench.hidden_size, bench.num_layers,
                               bench.dropout, tie_weights=False)
    say = print if progress else (lambda *a, **k: None)
    say(f"text: {bench.max_chars:,} chars, vocab_size {len(vocab)}, train {train_stream.numel():,}"
        f" tokens, valid {valid_stream.numel():,} tokens, {bench.threads} threads, "
        f"device {get_device()}")
    same_shape = replace(course, batch_size=bench.ref_batch_size, seq_len=bench.ref_seq_len,
                         epochs=1, max_steps=None, time_budget_s=None, eval_every=None,
                         target_perplexity=None)
    m: dict[str, list] = {k: [] for k in ("ref_tps", "ref_time", "ref_ppl", "same_tps",
                                          "plain_tps", "course_tps", "ttp", "reached")}
    for run in range(bench.runs):
        seed = bench.seed + run
        seconds, tokens, ppl = _reference_run(bench, len(vocab), train_stream, valid_stream, seed)
        m["ref_time"].append(seconds)
        m["ref_tps"].append(tokens / seconds)
        m["ref_ppl"].append(ppl)
        say(f"run {run + 1}: reference epoch {seconds:.1f} s, {tokens / seconds:,.0f} tok/s, "
            f"valid ppl {ppl:.1f}")

        # Course loop at the reference's batch shape: the loop and model, not the settings.
        # Fused and plain loss alternate so that both see the same machine load.
        for fused, key in ((True, "same_tps"), (False, "plain_tps")):
            with local_seed(seed):
                model = LSTMLanguageModel(model_config)
            history = train_language_model(
                model, train_stream, valid_stream,
                replace(same_shape, seed=seed, max_steps=bench.same_shape_steps,
                        fused_loss=fused), progress=False)
            m[key].append(history.tokens_per_s)

        # Course defaults: time until the reference's perplexity is reached.
        eval_every = max(1, round(bench.eval_every_tokens / (course.batch_size * course.seq_len)))
        config = replace(course, seed=seed, epochs=100, eval_every=eval_every,
                         target_perplexity=ppl, time_budget_s=bench.give_up_after * seconds)
        with local_seed(seed):
            model = LSTMLanguageModel(model_config)
        if bench.unigram_bias:
            init_output_bias(model, train_stream)
        history = train_language_model(model, train_stream, valid_stream, config, progress=False)
        m["course_tps"].append(history.tokens_per_s)
        hit = next((v for v in history.valid if v["perplexity"] <= ppl), None)
        m["reached"].append(hit is not None)
        m["ttp"].append((hit["train_time_s"] if hit else math.inf) / seconds)
        say(f"run {run + 1}: course same-shape {m['same_tps'][-1]:,.0f} tok/s (plain loss "
            f"{m['plain_tps'][-1]:,.0f}); course defaults {m['course_tps'][-1]:,.0f} tok/s, "
            f"reached ppl {ppl:.1f} in {m['ttp'][-1] * seconds:.1f} s "
            f"(step {hit['step'] if hit else '-'})")
    return _report(bench, course, len(vocab), m, write_csv, say)


def _report(bench: BenchConfig, course: TrainConfig, vocab_size: int, m: dict[str, list],
            write_csv: Path | None, say) -> list[dict[str, object]]:
    """The result table from the runs' measurements; printed, written, returned."""
    ref_tps, ref_time, ref_ppl, same_tps, plain_tps, course_tps, ttp, reached = (
        m[k] for k in ("ref_tps", "ref_time", "ref_ppl", "same_tps", "plain_tps",
                       "course_tps", "ttp", "reached"))
    fpt = flops_per_token(vocab_size, bench.emb_size, bench.hidden_size, bench.num_layers)
    peak = matmul_peak_flops()
    med = statistics.median
    throughput_ratio = med(course_tps) / med(ref_tps)
    ttp_ratio = med(ttp)
    rows: list[dict[str, object]] = [
        {"metric": "training throughput (tokens/s), median",
         "course": round(med(course_tps)), "reference": round(med(ref_tps)),
         "ratio or note": round(throughput_ratio, 3)},
        {"metric": "training throughput at the reference's batch 20 x seq 35 (tokens/s), median",
         "course": round(med(same_tps)), "reference": round(med(ref_tps)),
         "ratio or note": round(med(same_tps) / med(ref_tps), 3)},
        {"metric": "the same, course loop with the plain (unfused) loss (tokens/s), median",
         "course": round(med(plain_tps)), "reference": round(med(ref_tps)),
         "ratio or note": f"{med(plain_tps) / med(ref_tps):.3f}; fused / plain "
                          f"{med(same_tps) / med(plain_tps):.3f}"},
        {"metric": "time to the reference's 1-epoch validation perplexity / reference epoch time",
         "course": round(ttp_ratio, 3), "reference": 1.0,
         "ratio or note": f"reached in {sum(reached)}/{len(reached)} runs "
                          f"(inf: not within {bench.give_up_after}x the reference epoch)"},
        {"metric": "reference epoch time (s), median", "course": "", "reference":
         round(med(ref_time), 2), "ratio or note": ""},
        {"metric": "reference validation perplexity after 1 epoch, median", "course": "",
         "reference": round(med(ref_ppl), 2), "ratio or note": ""},
        {"metric": "achieved FLOP/s (3x forward FLOPs per token x tokens/s)",
         "course": f"{med(course_tps) * fpt:.3g}", "reference": f"{med(ref_tps) * fpt:.3g}",
         "ratio or note": f"of measured fp32 matmul peak {peak:.3g}: course "
                          f"{med(course_tps) * fpt / peak:.1%}, "
                          f"reference {med(ref_tps) * fpt / peak:.1%}"},
        {"metric": "settings", "course":
         f"{course.optimizer} lr {course.lr}, batch {course.batch_size}, seq {course.seq_len}, "
         f"clip {course.clip}, betas {course.betas}, warm-up {course.warmup_steps}, "
         f"fused loss {course.fused_loss}, unigram bias {bench.unigram_bias}",
         "reference": f"sgd lr {bench.ref_lr}, batch {bench.ref_batch_size}, seq "
                      f"{bench.ref_seq_len}, clip {bench.ref_clip}",
         "ratio or note": f"{bench.runs} runs, {bench.threads} threads, vocab_size {vocab_size}, "
                          f"{fpt / 1e6:.2f} MFLOP/token"},
    ]
    say(f"FLOP/s: course {med(course_tps) * fpt:.3g}, reference {med(ref_tps) * fpt:.3g}, "
        f"matmul peak {peak:.3g} ({med(course_tps) * fpt / peak:.1%} and "
        f"{med(ref_tps) * fpt / peak:.1%} of peak)")
    print(f"throughput ratio: {throughput_ratio:.3f}")
    print(f"time-to-perplexity ratio: {ttp_ratio:.3f}")
    if write_csv is not None:
        write_csv.parent.mkdir(parents=True, exist_ok=True)
        with open(write_csv, "w", newline="", encoding="utf-8") as f:
            fields = ["metric", "course", "reference", "ratio or note"]
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m utils.lm.benchmark [--runs N] [--max-chars N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=BenchConfig.runs)
    parser.add_argument("--max-chars", type=int, default=BenchConfig.max_chars)
    parser.add_argument("--threads", type=int, default=BenchConfig.threads)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--seq-len", type=int, default=TrainConfig.seq_len)
    parser.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps)
    parser.add_argument("--no-unigram-bias", action="store_true",
                        help="start the course's run from a zero output bias")
    parser.add_argument("--no-csv", action="store_true", help="do not write the results table")
    args = parser.parse_args(argv)
    bench = BenchConfig(runs=args.runs, max_chars=args.max_chars, threads=args.threads,
                        unigram_bias=not args.no_unigram_bias)
    course = TrainConfig(lr=args.lr, batch_size=args.batch_size, seq_len=args.seq_len,
                         warmup_steps=args.warmup_steps)
    run_benchmark(bench, course, write_csv=None if args.no_csv else RESULTS_CSV)


if __name__ == "__main__":
    main()
