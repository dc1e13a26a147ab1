"""Tests for utils.runtime.run: one cached run, loaded the second time, retrained when damaged."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd
import pytest
import torch
from torch import nn

import utils.runtime.cache as cache
from utils.runtime import Run, TrainingRecord, cached_run, config_columns, thin
from utils.runtime.run import run_key


@dataclass(frozen=True)
class _Inner:
    lr: float = 0.1


@dataclass(frozen=True)
class _Config:
    version: ClassVar[int] = 1

    width: int = 3
    seed: int = 0
    inner: _Inner = field(default_factory=_Inner)


@dataclass(frozen=True)
class _SameFields:
    """The fields of ``_Config``, another meaning: must never share its cache entry."""

    version: ClassVar[int] = 1

    width: int = 3
    seed: int = 0
    inner: _Inner = field(default_factory=_Inner)


class _Counting:
    """A builder and a trainer that count their calls; training draws from the global stream."""

    def __init__(self) -> None:
        self.built = self.trained = 0

    def build(self, config) -> nn.Module:
        self.built += 1
        return nn.Linear(config.width, 2)

    def train(self, model: nn.Module, config) -> TrainingRecord:
        self.trained += 1
        with torch.no_grad():
            model.weight.add_(torch.randn_like(model.weight))  # seeded by cached_run
        return TrainingRecord(steps=3, tokens=30, train_time_s=0.5, train_loss=(2.0, 1.0, 0.5),
                              valid=({"loss": 0.7},), measured={"note": "x"})


def _equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_second_call_loads_the_same_model_and_record(tmp_path):
    counter = _Counting()
    first = cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    second = cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    assert isinstance(first, Run) and (first.from_cache, second.from_cache) == (False, True)
    assert counter.trained == 1 and counter.built == 2
    assert _equal(first.model, second.model)
    assert first.record == second.record
    assert second.record.measured == {"note": "x"} and second.record.valid[0]["loss"] == 0.7
    assert not second.model.training  # returned in evaluation mode


def test_the_seed_decides_the_model_and_the_callers_stream_is_left_alone(tmp_path):
    counter = _Counting()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = cached_run("toy", _Config(seed=0), counter.build, counter.train, directory=tmp_path / "a")
    assert torch.equal(torch.rand(3), before)  # as if cached_run had drawn nothing
    torch.manual_seed(999)  # another global state: the same model
    b = cached_run("toy", _Config(seed=0), counter.build, counter.train, directory=tmp_path / "b")
    c = cached_run("toy", _Config(seed=1), counter.build, counter.train, directory=tmp_path / "c")
    assert _equal(a.model, b.model) and not _equal(a.model, c.model)


def test_configs_that_differ_never_share_an_entry(tmp_path):
    counter = _Counting()
    for config in (_Config(), _Config(width=4), _Config(inner=_Inner(0.2)), _SameFields()):
        assert not cached_run("toy", config, counter.build, counter.train,
                              directory=tmp_path).from_cache
    assert not cached_run("other", _Config(), counter.build, counter.train,
                          directory=tmp_path).from_cache
    assert counter.trained == 5
    keys = {run_key("toy", _Config()), run_key("toy", _Config(width=4)),
            run_key("toy", _SameFields()), run_key("other", _Config())}
    assert len(keys) == 4


def test_a_new_config_version_retrains(tmp_path, monkeypatch):
    counter = _Counting()
    cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    monkeypatch.setattr(_Config, "version", 2)
    assert not cached_run("toy", _Config(), counter.build, counter.train,
                          directory=tmp_path).from_cache
    assert counter.trained == 2


def test_a_stale_format_version_retrains(tmp_path, monkeypatch):
    counter = _Counting()
    cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    monkeypatch.setattr(cache, "FORMAT_VERSION", cache.FORMAT_VERSION + 1)
    monkeypatch.setattr("utils.runtime.run.FORMAT_VERSION", cache.FORMAT_VERSION)
    assert not cached_run("toy", _Config(), counter.build, counter.train,
                          directory=tmp_path).from_cache


@pytest.mark.parametrize("damage", ["truncate", "flip", "sidecar"])
def test_a_damaged_file_warns_and_retrains_the_same_model(tmp_path, damage):
    counter = _Counting()
    first = cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    key = run_key("toy", _Config())
    pt, sidecar = tmp_path / f"{key}.pt", tmp_path / f"{key}.json"
    if damage == "truncate":
        pt.write_bytes(pt.read_bytes()[:20])
    elif damage == "flip":
        data = bytearray(pt.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pt.write_bytes(bytes(data))
    else:
        sidecar.write_text("{not json", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="retraining"):
        again = cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path)
    assert not again.from_cache and counter.trained == 2
    assert _equal(first.model, again.model)  # seeded: the retrain is the same model
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt file is sound
        assert cached_run("toy", _Config(), counter.build, counter.train,
                          directory=tmp_path).from_cache


def test_a_failed_training_leaves_no_file_behind(tmp_path):
    def failing(model, config):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cached_run("toy", _Config(), _Counting().build, failing, directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_a_write_is_atomic(tmp_path, monkeypatch):
    """A crash while writing the weights leaves no partial file a later call could load."""
    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cached_run("toy", _Config(), _Counting().build, _Counting().train, directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.setattr(os, "replace", real_replace)
    counter = _Counting()
    assert not cached_run("toy", _Config(), counter.build, counter.train,
                          directory=tmp_path).from_cache


def test_cache_files_are_plain_tensors_and_json(tmp_path):
    cached_run("toy", _Config(), _Counting().build, _Counting().train, directory=tmp_path)
    key = run_key("toy", _Config())
    payload = torch.load(tmp_path / f"{key}.pt", weights_only=True)
    assert set(payload["state_dict"]) == {"weight", "bias"}
    metadata = json.loads((tmp_path / f"{key}.json").read_text())["metadata"]
    assert metadata["steps"] == 3 and metadata["measured"] == {"note": "x"}


def test_bad_configs_and_trainers_are_refused(tmp_path):
    @dataclass
    class Mutable:
        version: ClassVar[int] = 1
        seed: int = 0

    @dataclass(frozen=True)
    class Unversioned:
        seed: int = 0

    counter = _Counting()
    with pytest.raises(TypeError, match="frozen dataclass"):
        cached_run("toy", Mutable(), counter.build, counter.train, directory=tmp_path)
    with pytest.raises(TypeError, match="version"):
        cached_run("toy", Unversioned(), counter.build, counter.train, directory=tmp_path)
    with pytest.raises(ValueError, match="seed"):
        cached_run("toy", _Config(seed=-1), counter.build, counter.train, directory=tmp_path)
    with pytest.raises(TypeError, match="TrainingRecord"):
        cached_run("toy", _Config(), counter.build, lambda m, c: {"steps": 1},
                   directory=tmp_path)


def test_thin_and_config_columns():
    assert thin(list(range(10)), at_most=4) == (0, 2, 4, 6, 8)
    assert thin([1.0, 2.0]) == (1.0, 2.0)
    row = config_columns(_Config(width=5, inner=_Inner(0.3)))
    assert row == {"width": 5, "seed": 0, "inner.lr": 0.3}
    assert list(pd.DataFrame([row]).columns) == ["width", "seed", "inner.lr"]


def test_a_book_build_logs_each_run_as_trained_then_loaded(tmp_path, monkeypatch):
    from utils.runtime.run_log import read_run_log

    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv("COURSE_RUN_LOG", str(log))
    monkeypatch.setenv("COURSE_RUN_DOC", "notebooks/04_transformer|e1")
    counter = _Counting()
    cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path / "cache")
    cached_run("toy", _Config(), counter.build, counter.train, directory=tmp_path / "cache")
    entries = list(read_run_log(log))
    assert [(e["doc"], e["execution"], e["name"], e["trained"]) for e in entries] == [
        ("notebooks/04_transformer", "e1", "toy", True),
        ("notebooks/04_transformer", "e1", "toy", False)]
    assert all(e["train_time_s"] == 0.5 and e["seconds"] >= 0 for e in entries)


def test_no_log_is_written_outside_a_book_build(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_RUN_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    cached_run("toy", _Config(), _Counting().build, _Counting().train, directory=tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_a_line_cut_short_is_skipped(tmp_path):
    from utils.runtime.run_log import read_run_log

    log = tmp_path / "runs.jsonl"
    log.write_text('{"doc": "a", "execution": "1", "name": "x", "trained": true}\n'
                   '{"doc": "a", "exe')
    assert [e["name"] for e in read_run_log(log)] == ["x"]
