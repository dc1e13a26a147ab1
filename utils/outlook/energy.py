"""The energy bill of training: kWh and CO2e from time, power, PUE and the grid. Chapter 10.

Every estimate here is the same product, written out so that each assumption
can be seen and changed:

    kWh     = hours x watts x PUE / 1000
    kg CO2e = kWh x grid intensity (kg CO2e per kWh)

Strubell et al. (2019) wrote it as kWh = 1.58 t (p_c + p_r + g p_g) / 1000 with
CPU, DRAM and per-GPU watts and the 2018 average data-centre PUE of 1.58, and
0.954 lb CO2e per kWh for the US grid. Patterson et al. (2021) wrote it as
MWh = hours x processors x average watts x PUE / 10^6. The watts are the hard
part: a CPU that exposes Intel's RAPL energy counter
(``/sys/class/powercap/intel-rapl:*/energy_uj``) can be read; otherwise we
assume a share of a processor's thermal design power (TDP) per busy core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ASSUMED_WATTS_PER_CORE", "DEFAULT_GRID_KG_PER_KWH", "DEFAULT_PUE", "DRAM_WATTS_PER_GB",
    "KG_PER_LB", "STRUBELL_LB_PER_KWH", "STRUBELL_PUE", "EnergyEstimate", "PowerDraw",
    "assumed_power", "carbon_kg", "energy_kwh", "measure_power", "patterson_mwh",
    "read_rapl_joules", "strubell_kwh",
]

KG_PER_LB = 0.45359237  # exact, by definition of the international pound
STRUBELL_PUE = 1.58  # Strubell et al. 2019: the average data-centre PUE they used
STRUBELL_LB_PER_KWH = 0.954  # Strubell et al. 2019: US average, lb CO2e per kWh
DEFAULT_PUE = STRUBELL_PUE
# Strubell's US-average factor in kg; a course run could be anywhere, so we keep
# one published figure rather than guess the reader's grid.
DEFAULT_GRID_KG_PER_KWH = STRUBELL_LB_PER_KWH * KG_PER_LB  # about 0.433
# The assumption when no power counter is readable: a 120 W TDP server CPU with
# 12 cores, about 10 W per busy core (TDP over-states average draw, so this errs high).
ASSUMED_TDP_WATTS = 120.0
ASSUMED_TDP_CORES = 12
ASSUMED_WATTS_PER_CORE = ASSUMED_TDP_WATTS / ASSUMED_TDP_CORES
# Memory power per GB, the figure of the Green Algorithms calculator (Lannelongue et al. 2021).
DRAM_WATTS_PER_GB = 0.3725
RAPL_ROOT = Path("/sys/class/powercap")


def energy_kwh(hours: float, watts: float, pue: float = 1.0) -> float:
    """Energy in kWh of drawing ``watts`` for ``hours``, times the facility's PUE. Chapter 10."""
    if hours < 0 or watts < 0 or pue < 1.0:
        raise ValueError(f"need hours >= 0, watts >= 0 and pue >= 1; got {hours}, {watts}, {pue}")
    return hours * watts * pue / 1000.0


def carbon_kg(kwh: float, grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH) -> float:
    """Emissions in kg CO2e of ``kwh`` drawn from a grid of the given intensity. Chapter 10."""
    if kwh < 0 or grid_kg_per_kwh < 0:
        raise ValueError(f"need kwh >= 0 and grid intensity >= 0; got {kwh}, {grid_kg_per_kwh}")
    return kwh * grid_kg_per_kwh


def strubell_kwh(hours: float, cpu_watts: float, dram_watts: float, gpu_watts: float = 0.0,
                 n_gpus: int = 0, pue: float = STRUBELL_PUE) -> float:
    """Strubell et al.'s p_t = PUE * t * (p_c + p_r + g * p_g) / 1000, in kWh. Chapter 10."""
    return energy_kwh(hours, cpu_watts + dram_watts + n_gpus * gpu_watts, pue)


def patterson_mwh(hours: float, processors: int, average_watts: float, pue: float) -> float:
    """Patterson et al.'s MWh = hours * processors * average watts * PUE / 10^6. Chapter 10."""
    return energy_kwh(hours, processors * average_watts, pue) / 1000.0


@dataclass(frozen=True)
class PowerDraw:
    """Average power of a run and where the number came from ('RAPL' or an assumption)."""

    watts: float
    source: str


def assumed_power(cores: int = 1, memory_gb: float = 2.0) -> PowerDraw:
    """The stated assumption: ``ASSUMED_WATTS_PER_CORE`` per busy core plus DRAM. Chapter 10."""
    if cores < 1 or memory_gb < 0:
        raise ValueError(f"need cores >= 1 and memory_gb >= 0; got {cores}, {memory_gb}")
    watts = cores * ASSUMED_WATTS_PER_CORE + memory_gb * DRAM_WATTS_PER_GB
    return PowerDraw(watts, f"assumed: {cores} core(s) x {ASSUMED_WATTS_PER_CORE:g} W "
                            f"(TDP share) + {memory_gb:g} GB x {DRAM_WATTS_PER_GB} W/GB")


def read_rapl_joules(root: Path = RAPL_ROOT) -> float | None:
    """Sum of the CPU packages' RAPL energy counters in joules, or None where unreadable."""
    total, found = 0.0, False
    for counter in sorted(root.glob("intel-rapl:*/energy_uj")):
        if counter.parent.name.count(":") != 1:  # packages only; subzones are inside them
            continue
        try:
            total += int(counter.read_text().strip()) / 1e6
            found = True
        except (OSError, ValueError):  # often root-only since 2020 (a side channel)
            return None
    return total if found else None


def measure_power(workload: Callable[[], object], *, cores: int = 1, memory_gb: float = 2.0,
                  root: Path = RAPL_ROOT) -> PowerDraw:
    """Average watts while ``workload()`` runs: read from RAPL, else ``assumed_power``. Chapter 10.

    RAPL counts the whole CPU package, other programs included, so on a busy
    machine it over-states one run's share; a counter that wraps during the
    workload also falls back to the assumption.
    """
    before, start = read_rapl_joules(root), time.perf_counter()
    workload()
    seconds = time.perf_counter() - start
    after = read_rapl_joules(root)
    if before is None or after is None or after < before or seconds <= 0:
        return assumed_power(cores, memory_gb)
    dram = memory_gb * DRAM_WATTS_PER_GB
    return PowerDraw((after - before) / seconds + dram,
                     f"measured: RAPL package counters over {seconds:.1f} s + "
                     f"{memory_gb:g} GB x {DRAM_WATTS_PER_GB} W/GB")


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy and emissions of ``seconds`` of training at ``power``. Chapter 10."""

    seconds: float
    power: PowerDraw
    pue: float = DEFAULT_PUE
    grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH

    @property
    def kwh(self) -> float:
        """kWh = hours x watts x PUE / 1000."""
        return energy_kwh(self.seconds / 3600.0, self.power.watts, self.pue)

    @property
    def kg_co2e(self) -> float:
        """kg CO2e = kWh x grid intensity."""
        return carbon_kg(self.kwh, self.grid_kg_per_kwh)

    def describe(self) -> str:
        """One line with the figure and every assumption behind it."""
        return (f"{self.seconds:.0f} s at {self.power.watts:.1f} W ({self.power.source}), "
                f"PUE {self.pue:g}, grid {self.grid_kg_per_kwh:.3f} kg CO2e/kWh: "
                f"{self.kwh * 1000:.3g} Wh, {self.kg_co2e * 1000:.3g} g CO2e")
