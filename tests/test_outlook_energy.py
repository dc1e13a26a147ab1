"""Chapter 10's energy bill: the formula, its units, the power reading and the course's total.

Catches: an estimate that is not linear in time, watts or PUE; a unit slip
(seconds for hours, W for kW, lb for kg); Strubell's or Patterson's formula
mis-transcribed; RAPL subzones counted twice; a counter that cannot be read
or wraps taken as a measurement; a total that drops or double-counts runs.
"""

from __future__ import annotations

import json

import pytest

from utils.outlook import (
    DEFAULT_GRID_KG_PER_KWH,
    KG_PER_LB,
    PUBLISHED_FOOTPRINTS,
    EnergyEstimate,
    PowerDraw,
    assumed_power,
    carbon_kg,
    course_energy,
    energy_kwh,
    measure_power,
    patterson_mwh,
    pretrained_energy,
    read_rapl_joules,
    recorded_runs,
    strubell_kwh,
)
from utils.outlook.energy import ASSUMED_WATTS_PER_CORE, DRAM_WATTS_PER_GB


def test_units():
    assert energy_kwh(hours=1.0, watts=1000.0) == 1.0  # 1 kW for 1 h
    assert energy_kwh(hours=1.0, watts=1.0) == pytest.approx(1e-3)  # 1 Wh
    assert energy_kwh(hours=2.0, watts=500.0, pue=1.5) == pytest.approx(1.5)
    assert 0.954 * KG_PER_LB == pytest.approx(0.433, abs=5e-4)  # Strubell's US grid in kg
    assert DEFAULT_GRID_KG_PER_KWH == pytest.approx(0.954 * 0.45359237)
    assert carbon_kg(10.0, 0.5) == 5.0


def test_the_estimate_is_linear_in_time_power_and_pue():
    power = PowerDraw(12.0, "test")
    one = EnergyEstimate(3600.0, power, pue=1.0, grid_kg_per_kwh=0.4)
    assert one.kwh == pytest.approx(0.012)
    assert one.kg_co2e == pytest.approx(0.0048)
    for seconds in (0.0, 1.0, 1800.0, 7200.0, 1e6):
        est = EnergyEstimate(seconds, power, pue=1.0, grid_kg_per_kwh=0.4)
        assert est.kwh == pytest.approx(one.kwh * seconds / 3600.0)
    double = EnergyEstimate(3600.0, PowerDraw(24.0, "test"), pue=1.0)
    assert double.kwh == pytest.approx(2 * one.kwh)
    assert EnergyEstimate(3600.0, power, pue=1.58).kwh == pytest.approx(1.58 * one.kwh)
    assert "PUE 1.58" in EnergyEstimate(3600.0, power, pue=1.58).describe()


def test_strubell_and_patterson_formulas():
    # Strubell et al.: 1.58 t (p_c + p_r + g p_g) / 1000, t in hours.
    assert strubell_kwh(10.0, cpu_watts=100.0, dram_watts=20.0, gpu_watts=250.0, n_gpus=8) \
        == pytest.approx(1.58 * 10 * (100 + 20 + 8 * 250) / 1000)
    # Patterson et al.: hours x processors x watts x PUE / 10^6 MWh.
    assert patterson_mwh(100.0, processors=1000, average_watts=300.0, pue=1.1) \
        == pytest.approx(100 * 1000 * 300 * 1.1 / 1e6)


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        energy_kwh(-1.0, 10.0)
    with pytest.raises(ValueError):
        energy_kwh(1.0, 10.0, pue=0.9)  # a PUE below 1 would make energy from nothing
    with pytest.raises(ValueError):
        carbon_kg(1.0, -0.1)


def test_published_footprints_are_consistent():
    by_name = {f.name: f for f in PUBLISHED_FOOTPRINTS}
    gpt3 = by_name["GPT-3 training"]
    # 552 t from 1,287 MWh is a grid of about 0.43 kg/kWh, the order of a real grid's.
    assert 0.3 < gpt3.tonnes_co2e * 1000 / (gpt3.mwh * 1000) < 0.5
    nas = next(f for f in PUBLISHED_FOOTPRINTS if "architecture search" in f.name)
    assert nas.tonnes_co2e == pytest.approx(284.0, abs=0.1)  # 626,155 lb


def _fake_rapl(root, package_uj: int, subzone_uj: int = 5_000_000) -> None:
    (root / "intel-rapl:0").mkdir(parents=True, exist_ok=True)
    (root / "intel-rapl:0:0").mkdir(exist_ok=True)
    (root / "intel-rapl:0" / "energy_uj").write_text(f"{package_uj}\n")
    (root / "intel-rapl:0:0" / "energy_uj").write_text(f"{subzone_uj}\n")


def test_rapl_counts_packages_only(tmp_path):
    assert read_rapl_joules(tmp_path) is None  # nothing exposed
    _fake_rapl(tmp_path, 2_500_000)
    assert read_rapl_joules(tmp_path) == pytest.approx(2.5)


def test_measured_power_is_joules_over_seconds(tmp_path):
    _fake_rapl(tmp_path, 1_000_000)

    def workload():  # the package counter advances by 30 J
        _fake_rapl(tmp_path, 31_000_000)

    power = measure_power(workload, memory_gb=0.0, root=tmp_path)
    assert power.source.startswith("measured")
    assert power.watts > 1000  # 30 J in well under 30 ms


def test_without_a_counter_power_is_the_stated_assumption(tmp_path):
    power = measure_power(lambda: None, cores=2, memory_gb=4.0, root=tmp_path)
    assert power.source.startswith("assumed")
    assert power.watts == pytest.approx(2 * ASSUMED_WATTS_PER_CORE + 4 * DRAM_WATTS_PER_GB)
    assert power == assumed_power(2, 4.0)


def test_a_wrapped_counter_is_not_a_measurement(tmp_path):
    _fake_rapl(tmp_path, 9_000_000)
    power = measure_power(lambda: _fake_rapl(tmp_path, 1_000), root=tmp_path)
    assert power.source.startswith("assumed")


def test_recorded_runs_and_their_total(tmp_path):
    for name, meta in {"a": {"train_time_s": 10.0, "tokens": 100, "parameters": 5},
                       "b": {"train_time_s": 2.5}, "c": {"final_loss": 0.1}}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"metadata": meta}))
    (tmp_path / "broken.json").write_text("{not json")
    runs = recorded_runs(tmp_path)
    assert [r.name for r in runs] == ["a", "b"]
    assert runs[0].flops == 6 * 5 * 100 and runs[1].flops is None
    total = course_energy(runs, PowerDraw(36.0, "test"), pue=1.0)
    assert total.seconds == 12.5
    assert total.kwh == pytest.approx(12.5 / 3600 * 36 / 1000)


@pytest.mark.slow
def test_the_pretrained_model_costs_its_recorded_time_and_under_a_hundredth_of_a_kwh():
    from utils.lm import pretrained_model

    estimate = pretrained_energy()
    assert estimate.seconds == pretrained_model(progress=False).record.train_time_s
    assert 0 < estimate.kwh < 0.01
