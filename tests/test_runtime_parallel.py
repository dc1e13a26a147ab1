"""Independent runs side by side (utils.runtime.parallel_map), and the scaling grid that uses it.

Catches: results that come back out of order or depend on the number of
workers; a worker that multiplies on more than one thread (its numbers would
then differ from the serial path's); an initializer that does not reach the
workers; a bad worker count accepted; a grid that trains differently in parallel;
cached runs that start a pool of workers only to be loaded.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from utils.outlook import ScalingGridConfig, run_scaling_grid
from utils.outlook.multimodal import ClipTrainConfig, trained_clip
from utils.runtime import parallel, parallel_map, train_side_by_side, worker_count

_OFFSET: list[int] = []


def _set_offset(offset: int) -> None:
    _OFFSET[:] = [offset]


def _shifted_square(x: int) -> tuple[int, int]:
    """x² plus the worker's offset, and the threads the call ran on."""
    return x * x + _OFFSET[0], torch.get_num_threads()


def _seeded_matmul_sum(seed: int) -> float:
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(300, 300, generator=generator)
    return float((a @ a).sum())


@pytest.mark.parametrize("workers", [1, 2])
def test_results_keep_their_order_and_every_call_runs_on_one_thread(workers):
    out = parallel_map(_shifted_square, range(7), initializer=_set_offset, initargs=(10,),
                       workers=workers)
    assert [value for value, _ in out] == [x * x + 10 for x in range(7)]
    assert {threads for _, threads in out} == {1}


def test_numbers_do_not_depend_on_the_number_of_workers():
    serial = parallel_map(_seeded_matmul_sum, range(4), workers=1)
    assert parallel_map(_seeded_matmul_sum, range(4), workers=2) == serial


def test_the_callers_thread_count_is_restored():
    before = torch.get_num_threads()
    parallel_map(_shifted_square, [1], initializer=_set_offset, initargs=(0,), workers=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("asked", ["0", "-1", "two", "1.5"])
def test_a_bad_worker_count_is_refused(monkeypatch, asked):
    monkeypatch.setenv("COURSE_WORKERS", asked)
    with pytest.raises(ValueError, match="COURSE_WORKERS"):
        worker_count()


def test_the_worker_count_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_WORKERS", "3")
    assert worker_count() == 3


def test_a_grid_trained_side_by_side_equals_one_trained_run_by_run(tmp_path, monkeypatch):
    corpus = dataclasses.replace(ScalingGridConfig().corpus, n_sentences=4_000)
    grid = ScalingGridConfig(hidden_sizes=(4, 8), token_budgets=(6_000, 12_000), corpus=corpus)
    tables = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / workers))
        monkeypatch.setenv("COURSE_WORKERS", workers)
        tables[workers] = run_scaling_grid(grid, progress=False)
        assert not tables[workers]["from_cache"].any()
    columns = ["hidden_size", "tokens", "parameters", "loss"]
    pd.testing.assert_frame_equal(tables["1"][columns], tables["2"][columns])
    # And a second pass loads every run.
    assert run_scaling_grid(grid, progress=False)["from_cache"].all()


def _tiny_clip_configs(seeds) -> list:
    images = dataclasses.replace(ClipTrainConfig().images, n=64)
    return [ClipTrainConfig(images=images, steps=3, batch_size=16, seed=s) for s in seeds]


def test_runs_trained_side_by_side_equal_runs_trained_here_and_are_then_loaded(tmp_path,
                                                                               monkeypatch):
    configs = _tiny_clip_configs(range(3))
    trained = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / workers))
        monkeypatch.setenv("COURSE_WORKERS", workers)
        trained[workers] = train_side_by_side(trained_clip, configs, run_name="clip")
        assert [run.config for run in trained[workers]] == configs
        assert not any(run.from_cache for run in trained[workers])
    for here, there in zip(trained["1"], trained["2"], strict=True):
        for a, b in zip(here.model.state_dict().values(), there.model.state_dict().values(),
                        strict=True):
            assert torch.equal(a, b)

    def no_workers(*args):
        raise AssertionError("worker processes started to load cached runs")

    monkeypatch.setattr(parallel, "_in_workers", no_workers)
    loaded = train_side_by_side(trained_clip, configs, run_name="clip")
    assert all(run.from_cache for run in loaded)
    # One run missing: the pool starts again.
    with pytest.raises(AssertionError, match="worker processes started"):
        train_side_by_side(trained_clip, _tiny_clip_configs(range(4)), run_name="clip")
