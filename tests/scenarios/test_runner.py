"""The runner: common random numbers, identical executors, resuming, and the comparison."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from scenarios.compare import compare, differences, economics
from scenarios.edits import schedule
from scenarios.load import parse_scenario
from scenarios.runner import BASELINE, Settings, run, simulate_piece
from scenarios.scenario import as_plan
from sim.engine.results import OUTCOMES

SMALL = Settings(customers=1_500, months=8, seed=3)


def plan(world, name: str, *edits: dict, start: int = 0, one_off: float = 0.0):
    data = {
        "name": name,
        "one_off_cost": one_off,
        "monthly_cost": 0.0,
        "effort_weeks": 1.0,
        "start_month": start,
        "edits": list(edits),
    }
    return as_plan(parse_scenario(data, world, f"{name}.yaml"))


@pytest.fixture(scope="module")
def plans(demo_world):
    return {
        "no change": plan(
            demo_world, "no change", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 1.0}
        ),
        "agents": plan(
            demo_world,
            "agents",
            {"kind": "fix", "touchpoint": "call_centre", "queue": {"extra_agents": 3}},
            start=2,
            one_off=10_000.0,
        ),
        "invoice": plan(
            demo_world, "invoice", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": "halve"}
        ),
    }


@pytest.fixture(scope="module")
def draws(demo_params):
    """Three parameter sets standing in for posterior draws: the churn effects scaled."""
    return [demo_params.replace(beta=demo_params.beta * f) for f in (0.8, 1.0, 1.2)]


@pytest.fixture(scope="module")
def serial(draws, plans):
    return run(draws, plans, SMALL, executor="serial")


def test_a_scenario_that_changes_nothing_differs_by_exactly_zero(serial):
    diff = differences(serial).sel(scenario="no change")
    defined = 0
    for name, values in diff.data_vars.items():  # NaN only where undefined (8-month run)
        finite = np.isfinite(values.values)
        assert (values.values[finite] == 0).all(), name
        defined += finite.sum()
    assert defined == (len(OUTCOMES) - 2) * 3 * 4  # but the two retentions, x draws x segments


def test_results_are_labelled(serial, draws):
    assert list(serial["scenario"].values) == [BASELINE, "no change", "agents", "invoice"]
    assert serial["churned"].dims == ("scenario", "draw", "segment", "month")
    assert serial.sizes["draw"] == len(draws)


def test_a_piece_holds_the_counts_of_the_full_results(demo_params, plans, demo_world):
    """simulate_piece reads the recorder directly; its counts are those of simulate's Dataset
    for the same run (a scenario starting in month 2, so the change of parameters counts)."""
    from sim.engine.simulation import simulate

    changes = schedule(demo_params, plans["agents"])
    piece = simulate_piece(changes, SMALL, seed=11)
    (_, first), *later = changes
    full = simulate(first, customers=SMALL.customers, months=SMALL.months, seed=11, changes=later)
    for name in ("prospects", "acquired", "active", "churned", "margin", "cost_to_serve"):
        np.testing.assert_array_equal(piece[name].values, full[name].values, err_msg=name)
    mix = full["loyalty_mix"]
    np.testing.assert_array_equal(piece["advocates"], mix.sel(loyalty="advocate"))
    np.testing.assert_array_equal(piece["dissatisfied"], mix.sel(loyalty="dissatisfied"))
    base = full["survivors"].sel(cohort=0)  # tenure t + 1 ends in month t
    np.testing.assert_array_equal(piece["base_active"], base.values)
    np.testing.assert_array_equal(piece["base_size"], full["cohort_size"].sel(cohort=0))
    np.testing.assert_array_equal(piece["base_value"], full["cohort_value"].sel(cohort=0))
    assert piece.attrs["scale"] == full.attrs["scale"]
    assert (piece["churned"].sum() > 0) and (piece["base_active"].values > 0).all()


def test_improvements_help_and_the_table_says_so(serial, plans):
    table = compare(serial)
    row = table[
        (table.scenario == "agents") & (table.segment == "all") & (table.outcome == "monthly_churn")
    ].iloc[0]
    assert row["difference"] < 0 and row["p_better"] == 1.0
    money = economics(serial, plans).set_index("scenario")
    assert money.loc["agents", "cost"] == pytest.approx(10_000 / (1 + 0.008) ** 3, rel=0.05)


@pytest.mark.slow  # 3.4 s: a process pool (make quick's 90 s)
def test_executors_give_identical_results(draws, plans, serial):
    xr.testing.assert_identical(serial, run(draws, plans, SMALL, executor="processes"))


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(draws, plans, serial):
    xr.testing.assert_identical(serial, run(draws, plans, SMALL, executor="local"))


def test_an_interrupted_run_resumes_to_the_same_results(draws, plans, serial, tmp_path):
    def interrupt(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(draws, plans, SMALL, executor="serial", store=tmp_path, progress=interrupt)
    saved = list(tmp_path.glob("pieces-*/*.npz"))
    assert len(saved) == 5 and not list(tmp_path.glob("pieces-*/*.partial"))
    seen = []
    resumed = run(
        draws,
        plans,
        SMALL,
        executor="serial",
        store=tmp_path,
        progress=lambda done, total: seen.append(done),
    )
    assert seen[0] == 5  # the five finished pieces were loaded, not simulated again
    xr.testing.assert_identical(serial, resumed)


def test_other_inputs_never_reuse_stored_pieces(draws, plans, tmp_path):
    run(draws[:1], plans, SMALL, executor="serial", store=tmp_path)
    other = Settings(customers=1_500, months=8, seed=4)
    run(draws[:1], plans, other, executor="serial", store=tmp_path)
    assert len(list(tmp_path.glob("pieces-*"))) == 2


@pytest.mark.parametrize(
    "name, edit",
    [
        ("staffing", {"kind": "fix", "touchpoint": "call_centre", "queue": {"extra_agents": 1}}),
        ("rating fix", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": "halve"}),
    ],
)
def test_common_random_numbers_cut_the_variance_of_differences(demo_world, demo_params, name, edit):
    """Churned customers of a scenario less the baseline's, over 8 seeds: with common random
    numbers (the runner's way: the same seed) against the scenario run with other seeds.
    Differences with independent seeds carry two runs' sampling noise; with common numbers
    mostly the scenario's effect. Asserted: variance at least 4 times smaller (seen: far more)."""
    settings = Settings(customers=1_500, months=8, seed=11)
    changes = schedule(demo_params, plan(demo_world, name, edit))

    def churned(changes, seed: int) -> float:
        return float(simulate_piece(changes, settings, seed)["churned"].sum())

    seeds = [settings.piece_seed(0, r) for r in range(8)]
    base = np.array([churned([(0, demo_params)], s) for s in seeds])
    common = np.array([churned(changes, s) for s in seeds])
    independent = np.array([churned(changes, s + 1) for s in seeds])
    ratio = np.var(independent - base, ddof=1) / np.var(common - base, ddof=1)
    assert ratio >= 4, ratio


def test_a_damaged_piece_is_simulated_again(draws, plans, serial, tmp_path):
    """A piece file cut short (a crash mid-write) or of another shape: deleted and simulated
    again, and the results are those of a run straight through."""
    run(draws, plans, SMALL, executor="serial", store=tmp_path)
    saved = sorted(tmp_path.glob("pieces-*/*.npz"))
    saved[0].write_bytes(saved[0].read_bytes()[:100])  # cut short
    saved[1].write_bytes(b"not a piece")
    seen = []
    again = run(
        draws, plans, SMALL, executor="serial", store=tmp_path,
        progress=lambda done, total: seen.append(done),
    )  # fmt: skip
    assert seen[0] == len(saved) - 2  # the two damaged ones were not taken
    xr.testing.assert_identical(serial, again)


def test_a_store_another_live_run_holds_is_refused(draws, plans, tmp_path):
    """Two runs writing one store would mix and delete each other's pieces: the second is
    refused while the first's process lives; a lock left by a dead process is taken over."""
    from scenarios.runner import StoreBusy

    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "lock").write_text(str(os.getpid()))  # this process: alive
    with pytest.raises(StoreBusy, match=f"process {os.getpid()}"):
        run(draws, plans, SMALL, executor="serial", store=tmp_path)
    (tmp_path / "lock").write_text("999999999")  # no such process
    run(draws[:1], plans, SMALL, executor="serial", store=tmp_path)
    assert not (tmp_path / "lock").exists()


@pytest.mark.slow  # 2 s: the agents' sweep (make quick's 90 s)
def test_the_agents_run_the_same_study(draws, plans, serial, tmp_path):
    """The agent engine gives the study's counts (a plan that adds agents from month 2
    included): integers identical, money within 1e-9; and as both engines give the same
    results, a store filled by one serves the other."""
    agents = run(draws[:2], plans, replace(SMALL, engine="agents"), executor="serial")
    twin = serial.isel(draw=slice(0, 2))
    assert agents.attrs.pop("engine") == "agents" and twin.attrs.pop("engine") == "compiled"
    for name in twin.data_vars:
        np.testing.assert_allclose(agents[name], twin[name], rtol=1e-9, err_msg=name)
    np.testing.assert_array_equal(agents["churned"], twin["churned"])
    run(draws[:1], plans, SMALL, executor="serial", store=tmp_path)
    seen = []
    stored = replace(SMALL, engine="agents")
    run(draws[:1], plans, stored, "serial", store=tmp_path, progress=lambda d, t: seen.append(d))
    assert seen[0] == len(plans) + 1  # every piece loaded, none simulated again


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine is 'simpy'"):
        Settings(engine="simpy")
