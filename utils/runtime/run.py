"""One way to train, cache and reuse a model: ``cached_run`` returns a ``Run``. Chapter 4.

Every model the course trains for a notebook is a *run*. A frozen dataclass
configuration decides it completely, its seed included (``config.seed``); a
*builder* makes the untrained model from the configuration and a *trainer*
trains it and returns a ``TrainingRecord``. ``cached_run`` builds the model
under the seed (``local_seed``: the caller's random streams are left alone),
then loads its weights from the model cache when the cache holds this run, or
trains it, under the same seed, and saves it. A retrain after a damaged file
therefore gives the same model again.

One version rule: the cache key covers ``utils.runtime.cache.FORMAT_VERSION``
(how a cache entry is laid out) and the configuration class's ``version``
(a ``ClassVar``: bump it when a change of training recipe changes what a
configuration produces). The class's name is in the key too, so two
configuration types with equal fields never share an entry. A run trained with
the output layer in bfloat16 (``utils.runtime.precision``) has the precision in
its key too, so it never replaces or stands in for the float32 run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import torch
from torch import nn

from utils.runtime.cache import FORMAT_VERSION, cache_dir, config_key, load_or_create
from utils.runtime.precision import get_precision
from utils.runtime.run_log import log_run
from utils.runtime.scoped import local_seed

__all__ = ["Run", "RunConfig", "TrainingRecord", "cached_run", "config_columns", "is_cached",
           "thin"]

# A loss curve kept in the cache's metadata has at most this many points.
_CURVE_POINTS = 400


class RunConfig(Protocol):
    """What ``cached_run`` needs of a configuration: a frozen dataclass with these two."""

    version: ClassVar[int]

    @property
    def seed(self) -> int: ...


ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=nn.Module)


def thin(values: Sequence[float], at_most: int = _CURVE_POINTS) -> tuple[float, ...]:
    """Every k-th value, k chosen so that at most about ``at_most`` remain (the first kept)."""
    step = max(1, len(values) // at_most)
    return tuple(values[::step])


@dataclass(frozen=True)
class TrainingRecord:
    """How a run was trained, as it is kept in the cache. Chapter 4.

    ``train_loss`` is the training loss per step, thinned to about 400 points
    (``thin``); ``valid`` one dict per validation (loss, perplexity, ...);
    ``measured`` what the experiment recorded during training besides (an
    exposure per epoch, a gap trajectory, a test loss). Everything is plain
    JSON: numbers, strings, lists and dicts.
    """

    steps: int
    tokens: int = 0
    train_time_s: float = 0.0
    train_loss: tuple[float, ...] = ()
    valid: tuple[dict[str, float], ...] = ()
    measured: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        """Training throughput: tokens processed per second of training."""
        return self.tokens / self.train_time_s if self.train_time_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the record (the cache's metadata)."""
        return {"steps": self.steps, "tokens": self.tokens, "train_time_s": self.train_time_s,
                "train_loss": list(self.train_loss), "valid": [dict(v) for v in self.valid],
                "measured": dict(self.measured)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingRecord:
        """The record ``to_json`` wrote."""
        return cls(steps=int(data["steps"]), tokens=int(data["tokens"]),
                   train_time_s=float(data["train_time_s"]),
                   train_loss=tuple(data["train_loss"]), valid=tuple(data["valid"]),
                   measured=dict(data["measured"]))


@dataclass(frozen=True)
class Run(Generic[ConfigT, ModelT]):
    """A trained model with the configuration that decides it and how it was trained. Chapter 4.

    ``from_cache`` says whether the weights were loaded rather than trained now.
    A model that reads text also carries its ``vocab``, its ``corpus`` and the
    ``train_text`` it was trained on (the corpus's training sentences unless the
    experiment changed them: deduplicated, poisoned, augmented).
    """

    config: ConfigT
    model: ModelT
    record: TrainingRecord
    from_cache: bool
    vocab: Any = None
    corpus: Any = None
    train_text: Any = None


def _check_config(config: Any) -> None:
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)
            and type(config).__dataclass_params__.frozen):
        raise TypeError(f"a run's config must be a frozen dataclass; got {type(config).__name__}")
    version = getattr(type(config), "version", None)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TypeError(f"{type(config).__name__} needs a class attribute `version: ClassVar[int]`")
    seed = config.seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{type(config).__name__}.seed must be an integer >= 0; got {seed!r}")


def run_key(name: str, config: Any) -> str:
    """The cache key of the run ``name`` with ``config``: the name and a hash of the rest."""
    keyed = {"config": config, "version": type(config).version, "format": FORMAT_VERSION}
    precision = get_precision()
    if precision != "float32":  # float32 runs keep the keys they always had
        keyed["precision"] = precision
    return f"{name}-" + config_key(keyed)


def is_cached(name: str, config: Any, directory: str | Path | None = None) -> bool:
    """Whether the model cache holds the run ``name`` with ``config`` (not yet verified)."""
    folder = Path(directory) if directory is not None else cache_dir()
    key = run_key(name, config)
    return (folder / f"{key}.pt").is_file() and (folder / f"{key}.json").is_file()


def cached_run(name: str, config: ConfigT, build: Callable[[ConfigT], ModelT],
               train: Callable[[ModelT, ConfigT], TrainingRecord], *,
               directory: str | Path | None = None, **carried: Any) -> Run[ConfigT, ModelT]:
    """Load the run ``name`` with ``config`` from the model cache, or train and cache it. Chapter 4.

    ``build(config)`` makes the untrained model (on the device it should live
    on) and ``train(model, config)`` trains it in place and returns its
    ``TrainingRecord``; both run inside ``local_seed(config.seed)``. The model
    comes back in evaluation mode. ``carried`` (``vocab``, ``corpus``,
    ``train_text``) is passed on to the ``Run`` unchanged.
    """
    _check_config(config)
    started = time.perf_counter()
    with local_seed(config.seed):
        model = build(config)
    trained_now = False

    def create() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        nonlocal trained_now
        with local_seed(config.seed):
            record = train(model, config)
        if not isinstance(record, TrainingRecord):
            raise TypeError(f"the trainer of run {name!r} must return a TrainingRecord; "
                            f"got {type(record).__name__}")
        trained_now = True
        return model.state_dict(), record.to_json()

    key = run_key(name, config)
    state_dict, metadata = load_or_create(key, create, version=FORMAT_VERSION, directory=directory)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.eval()
    record = TrainingRecord.from_json(metadata)
    log_run(name, trained=trained_now, seconds=time.perf_counter() - started,
            train_time_s=record.train_time_s, key=key)
    return Run(config=config, model=model, record=record, from_cache=not trained_now, **carried)


def config_columns(config: Any, prefix: str = "") -> dict[str, Any]:
    """A configuration's fields as one flat dict, nested ones as ``outer.inner``. Chapter 4.

    Experiments over several seeds put these in their DataFrame, one row per
    run, so every setting that made a number stands beside it.
    """
    columns: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            columns.update(config_columns(value, f"{prefix}{f.name}."))
        else:
            columns[f"{prefix}{f.name}"] = value
    return columns
