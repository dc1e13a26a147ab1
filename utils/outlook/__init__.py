"""Applications and outlook: a scaling law whose floor is known, and the energy bill. Chapter 10.

Layer: a social-impact subpackage; uses ``utils.lm``, ``utils.data`` and ``utils.runtime`` only.
"""

from __future__ import annotations

from utils.outlook.bill import (  # noqa: F401
    PUBLISHED_FOOTPRINTS,
    PublishedFootprint,
    RecordedRun,
    course_energy,
    pretrained_energy,
    recorded_runs,
)
from utils.outlook.energy import (  # noqa: F401
    DEFAULT_GRID_KG_PER_KWH,
    DEFAULT_PUE,
    KG_PER_LB,
    STRUBELL_LB_PER_KWH,
    STRUBELL_PUE,
    EnergyEstimate,
    PowerDraw,
    assumed_power,
    carbon_kg,
    energy_kwh,
    measure_power,
    patterson_mwh,
    read_rapl_joules,
    strubell_kwh,
)
from utils.outlook.grid import (  # noqa: F401
    FULL_GRID,
    ScalingGridConfig,
    ScalingRunConfig,
    entropy_floor,
    grid_data,
    run_scaling_grid,
)
from utils.outlook.scaling import (  # noqa: F401
    ScalingFit,
    compute_optimal,
    fit_scaling_law,
    jackknife_floor,
    scaling_law,
)

__all__ = [
    "DEFAULT_GRID_KG_PER_KWH",
    "DEFAULT_PUE",
    "FULL_GRID",
    "KG_PER_LB",
    "PUBLISHED_FOOTPRINTS",
    "PublishedFootprint",
    "RecordedRun",
    "STRUBELL_LB_PER_KWH",
    "STRUBELL_PUE",
    "EnergyEstimate",
    "PowerDraw",
    "ScalingFit",
    "ScalingGridConfig",
    "ScalingRunConfig",
    "assumed_power",
    "carbon_kg",
    "compute_optimal",
    "course_energy",
    "energy_kwh",
    "fit_scaling_law",
    "grid_data",
    "jackknife_floor",
    "measure_power",
    "patterson_mwh",
    "pretrained_energy",
    "read_rapl_joules",
    "recorded_runs",
    "run_scaling_grid",
    "scaling_law",
    "strubell_kwh",
    "entropy_floor",
]
