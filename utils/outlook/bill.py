"""The course's own energy bill, beside published ones. Chapter 10 and the model card.

The language models the course trains through the model cache record their
training time (``train_time_s`` of a run's ``TrainingRecord``, in the cache's
metadata). ``recorded_runs`` reads those records; ``course_energy`` turns their
total into kWh and CO2e with ``utils.outlook.energy``; ``pretrained_energy``
gives the figure for the tiny foundation model itself, the one the model card reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from utils.data.published_models import training_flops
from utils.lm.pretrained import PretrainConfig, pretrained_model
from utils.outlook.energy import (
    DEFAULT_GRID_KG_PER_KWH,
    DEFAULT_PUE,
    KG_PER_LB,
    EnergyEstimate,
    PowerDraw,
    assumed_power,
)
from utils.runtime.cache import cache_dir

__all__ = ["PUBLISHED_FOOTPRINTS", "PublishedFootprint", "RecordedRun", "course_energy",
           "pretrained_energy", "recorded_runs"]


@dataclass(frozen=True)
class PublishedFootprint:
    """A published training footprint: energy (MWh, where given) and tonnes CO2e."""

    name: str
    source: str  # bibliography key
    mwh: float | None
    tonnes_co2e: float


# Strubell et al. 2019: the neural architecture search with a Transformer,
# 626,155 lb CO2e; one passenger's New York <-> San Francisco round trip by air, 1,984 lb.
# Patterson et al. 2021 (their estimate): GPT-3's training, about 1,287 MWh and 552 t CO2e.
PUBLISHED_FOOTPRINTS = (
    PublishedFootprint("Transformer with architecture search", "strubell2019energy", None,
                       626_155 * KG_PER_LB / 1000),
    PublishedFootprint("air travel, one passenger, New York-San Francisco and back",
                       "strubell2019energy", None, 1_984 * KG_PER_LB / 1000),
    PublishedFootprint("GPT-3 training", "patterson2021carbon", 1_287.0, 552.0),
)


@dataclass(frozen=True)
class RecordedRun:
    """One cached training run: its cache name, seconds of training, tokens and size if known."""

    name: str
    train_time_s: float
    tokens: int | None
    parameters: int | None

    @property
    def flops(self) -> float | None:
        """Training compute 6 N D, where both are recorded."""
        if self.tokens is None or self.parameters is None:
            return None
        return training_flops(self.parameters, self.tokens)


def recorded_runs(directory: str | Path | None = None) -> list[RecordedRun]:
    """Every run in the model cache that recorded its training time, by name. Chapter 10."""
    folder = Path(directory) if directory is not None else cache_dir()
    runs = []
    for sidecar in sorted(folder.glob("*.json")):
        try:
            metadata = json.loads(sidecar.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError, AttributeError):
            continue  # a damaged record: the cache itself rebuilds it when next asked
        seconds = metadata.get("train_time_s") if isinstance(metadata, dict) else None
        if isinstance(seconds, (int, float)) and seconds > 0:  # 0: a run that timed nothing
            measured = metadata.get("measured")
            parameters = measured.get("parameters") if isinstance(measured, dict) else None
            runs.append(RecordedRun(sidecar.stem, float(seconds), metadata.get("tokens") or None,
                                    parameters))
    return runs


def course_energy(runs: list[RecordedRun], power: PowerDraw | None = None, *,
                  pue: float = DEFAULT_PUE,
                  grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH) -> EnergyEstimate:
    """The energy and emissions of all ``runs`` together (one core each by default). Chapter 10."""
    return EnergyEstimate(sum(r.train_time_s for r in runs), power or assumed_power(),
                          pue, grid_kg_per_kwh)


def pretrained_energy(config: PretrainConfig | None = None, power: PowerDraw | None = None, *,
                      pue: float = DEFAULT_PUE,
                      grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH) -> EnergyEstimate:
    """Energy and CO2e of training the tiny foundation model (chapter 4), for its model card.

    Uses the training time recorded when the model was trained (it is trained
    now if the cache does not hold it). ``describe()`` states every assumption.
    """
    record = pretrained_model(config or PretrainConfig(), progress=False).record
    return EnergyEstimate(record.train_time_s, power or assumed_power(),
                          pue, grid_kg_per_kwh)
