"""Tests for utils.runtime.cache: keys, round trip, corruption, two processes at once."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import utils.runtime.cache as cache
from utils.lm.lstm import ModelConfig
from utils.runtime.cache import cache_dir, config_key, load_or_create


@dataclass(frozen=True)
class _Other:
    vocab_size: int


def test_config_key_is_canonical():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": (1, 2), "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})
    assert len(config_key({"a": 1})) == 16
    assert config_key(ModelConfig(100)) == config_key(ModelConfig(100))
    assert config_key(ModelConfig(100)) != config_key(ModelConfig(101))
    # Same fields, different class: a different key.
    assert config_key(_Other(5)) != config_key({"vocab_size": 5})
    with pytest.raises(TypeError, match="cannot hash"):
        config_key({"a": object()})


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("COURSE_CACHE_DIR")
    assert cache_dir().name == "foundation-models-hands-on"


def _weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g), "b": torch.arange(5)}


class _Counter:
    """A create_fn that counts its calls."""

    def __init__(self, seed: int = 0) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self):
        self.calls += 1
        return _weights(self.seed), {"perplexity": 12.5, "vocab": ["a", "b"]}


def _assert_same(state: dict[str, torch.Tensor], seed: int = 0) -> None:
    expected = _weights(seed)
    assert state.keys() == expected.keys()
    for name in expected:
        assert torch.equal(state[name], expected[name])


def test_round_trip(tmp_path):
    create = _Counter()
    state, meta = load_or_create("k1", create, directory=tmp_path)
    again, meta2 = load_or_create("k1", create, directory=tmp_path)
    assert create.calls == 1
    _assert_same(again)
    assert meta == meta2 == {"perplexity": 12.5, "vocab": ["a", "b"]}
    sidecar = json.loads((tmp_path / "k1.json").read_text())
    assert sidecar["key"] == "k1" and len(sidecar["sha256"]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.json", "k1.lock", "k1.pt"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage_sidecar", "no_sidecar"])
def test_corrupt_file_warns_and_retrains(tmp_path, damage):
    create = _Counter()
    load_or_create("k2", create, directory=tmp_path)
    pt, sidecar = tmp_path / "k2.pt", tmp_path / "k2.json"
    data = pt.read_bytes()
    if damage == "truncate":
        pt.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        pt.write_bytes(data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:])
    elif damage == "garbage_sidecar":
        sidecar.write_text("{not json")
    else:
        sidecar.unlink()
    with pytest.warns(RuntimeWarning, match=r"cached model .*k2\.pt is corrupt .*; retraining"):
        state, meta = load_or_create("k2", create, directory=tmp_path)
    assert create.calls == 2
    _assert_same(state)
    # The rebuilt file is valid: it loads with no warning and no third run.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state, _ = load_or_create("k2", create, directory=tmp_path)
    assert create.calls == 2
    _assert_same(state)


def test_stale_version_warns_and_retrains(tmp_path):
    load_or_create("k3", _Counter(seed=1), directory=tmp_path, version=1)
    create = _Counter(seed=2)
    with pytest.warns(RuntimeWarning, match="is stale"):
        state, _ = load_or_create("k3", create, directory=tmp_path, version=2)
    assert create.calls == 1
    _assert_same(state, seed=2)


def test_bad_key_and_bad_metadata(tmp_path):
    with pytest.raises(ValueError, match="cache key"):
        load_or_create("../evil", _Counter(), directory=tmp_path)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        load_or_create("k4", lambda: (_weights(), {"x": object()}), directory=tmp_path)


def _slow_create(count_file: str) -> dict[str, torch.Tensor]:
    """Appends a line to count_file, then works for a while; runs in child processes."""
    with open(count_file, "a") as f:
        f.write("ran\n")
    time.sleep(1.0)
    return _weights()


def _ask(directory: str, count_file: str, barrier) -> None:
    import functools

    barrier.wait()
    state, _ = load_or_create("shared", functools.partial(_slow_create, count_file),
                              directory=directory)
    _assert_same(state)


def test_two_processes_train_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    count_file = tmp_path / "count.txt"
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_ask, args=(str(tmp_path), str(count_file), barrier))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert count_file.read_text().count("ran") == 1
    state, _ = load_or_create("shared", lambda: pytest.fail("should load"), directory=tmp_path)
    _assert_same(state)
    assert not list(tmp_path.glob("*.tmp"))


def test_lock_without_fcntl(tmp_path, monkeypatch):
    # The fallback lock (an O_EXCL lock file) must also let only one caller train.
    monkeypatch.setattr(cache, "_fcntl", None)
    count_file = tmp_path / "count.txt"
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            state, _ = load_or_create("nofcntl", lambda: _slow_create(str(count_file)),
                                      directory=tmp_path)
            _assert_same(state)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert count_file.read_text().count("ran") == 1
    assert not (tmp_path / "nofcntl.lock").exists()  # released


def test_files_are_plain_tensors(tmp_path):
    load_or_create("k5", _Counter(), directory=tmp_path)
    payload = torch.load(Path(tmp_path) / "k5.pt", weights_only=True)
    assert payload["key"] == "k5" and payload["version"] == cache.FORMAT_VERSION


def test_a_retrain_gives_the_same_model(tmp_path, monkeypatch):
    """utils.lm.pretrained's claim: the same configuration always gives the same weights.

    Trained twice into two empty caches (as after a lost or corrupt file), from
    different states of the global random stream, the models are identical; another
    training seed gives another model.
    """
    from utils.data.corpus import CorpusConfig
    from utils.lm.pretrained import PretrainConfig, pretrained_model
    from utils.lm.training import TrainConfig

    def config(seed):
        return PretrainConfig(corpus=CorpusConfig(n_sentences=300), emb_size=16,
                              hidden_size=16, train=TrainConfig(batch_size=8, seq_len=12,
                                                                max_steps=6, seed=seed))

    def train(directory, seed, global_seed):
        monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / directory))
        torch.manual_seed(global_seed)
        result = pretrained_model(config(seed), progress=False)
        assert not result.from_cache  # trained now, not loaded
        return result.model.state_dict()

    first, again = train("a", 0, 1), train("b", 0, 2)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    other = train("c", 1, 1)
    assert not all(torch.equal(first[k], other[k]) for k in first)
