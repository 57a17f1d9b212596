"""The strategist notebook on small settings: it runs, shows its results as outputs, and its
schedule, comparison and economics are what :func:`scenarios.planning.staged` and
:func:`scenarios.study.run_study` give for the same staged scenarios, its best plan under a
budget what :func:`scenarios.budget.best_plan` gives."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from notebooks.report import execute
from scenarios.budget import Limits, best_plan, candidate_plans
from scenarios.load import load_scenario, scenario_files
from scenarios.planning import staged
from scenarios.runner import Settings
from scenarios.scenario import as_plan
from scenarios.study import draws_of, run_study
from tests.helpers import notebook_outputs as outputs
from tests.helpers import posterior_file
from tests.helpers import read_csv as read

pytestmark = pytest.mark.slow  # each runs a notebook with papermill

SMALL = {"draws": 2, "customers": 300, "months": 12, "seed": 1, "executor": "serial"}
PLAN = "Staged plan"
CAPACITY = 4.0
"""Person-weeks a month: small enough that the clearer invoice waits for the team."""
BUDGET = {"budget": 250_000.0, "effort_weeks": 30.0,
          "candidates": ["fix invoice", "fix website", "fix order", "remove tv_ad"]}  # fmt: skip
"""The best plan's limits and candidates: a few quick wins, so the sweep stays small."""


@pytest.fixture(scope="module")
def strategist(tmp_path_factory, demo_world) -> tuple[Path, Path, nbformat.NotebookNode]:
    """The notebook run on the bundled examples: (posterior, tables, executed notebook)."""
    folder = tmp_path_factory.mktemp("strategist")
    posterior = posterior_file(folder / "posterior.nc", demo_world)
    tables = folder / "tables"
    executed = execute(
        "strategist_plan",
        {
            **SMALL,
            "posterior": str(posterior),
            "tables": str(tables),
            "plan": PLAN,
            "team_weeks_per_month": CAPACITY,
            **BUDGET,
        },
        folder / "strategist.ipynb",
    )
    return posterior, tables, nbformat.read(executed, as_version=4)


@pytest.fixture(scope="module")
def expected(demo_world):
    """The staged plan and schedule of the bundled examples, from the library."""
    chosen = [load_scenario(path, demo_world) for path in scenario_files(None)]
    return staged(chosen, PLAN, CAPACITY)


def test_results_are_outputs_figures_included(strategist):
    _, _, notebook = strategist
    # Gantt, active and margin over time, retention, two segment plots, forest, economics,
    # the frontier
    assert len(outputs(notebook, "image/png")) == 9
    # schedule, comparison, economics, the frontier, the candidates
    assert len(outputs(notebook, "text/html")) == 5
    text = "\n".join(outputs(notebook, "text/markdown"))
    assert "Clearer invoice starts in month 6 instead of 4" in text
    assert "**Outside the run**" in text and "Close the stores" in text
    assert f"**{PLAN}** against the baseline" in text
    assert "Best plan within 250,000" in text and "The budget counts one-off plus" in text
    assert not outputs(notebook, "stderr")


def test_schedule_is_the_staged_one(strategist, expected):
    _, tables, _ = strategist
    _, schedule = expected
    shown = read(tables / "schedule.csv")
    pd.testing.assert_frame_equal(shown, schedule, check_dtype=False)
    assert shown["start_month"].tolist() == [0, 2, 3, 6, 12]


def test_comparison_and_economics_are_run_studys(strategist, expected, demo_world, tmp_path):
    posterior, tables, _ = strategist
    plan, _ = expected
    plans = {s.name: as_plan(s) for s in plan.scenarios} | {PLAN: plan}
    settings = Settings(customers=SMALL["customers"], months=SMALL["months"], seed=SMALL["seed"])
    study = run_study(
        demo_world, plans, draws_of(demo_world, posterior, SMALL["draws"]), settings, "serial", None
    )
    for name, table in (("comparison", study.comparison), ("economics", study.money)):
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        shown = read(tables / f"{name}.csv")
        assert len(shown) > 0
        pd.testing.assert_frame_equal(
            shown, read(tmp_path / f"{name}.csv"), check_exact=False, rtol=1e-12
        )
    assert set(read(tables / "comparison.csv")["scenario"]) == {*plans}
    money = read(tables / "economics.csv").set_index("scenario")
    assert money.loc[PLAN, "effort_weeks"] == plan.effort_weeks == 88


def test_best_plan_is_best_plans(strategist, demo_world):
    """The frontier and the candidates the notebook shows are :func:`best_plan`'s for the same
    candidates, limits, draws and team."""
    posterior, tables, _ = strategist
    plans, bases = candidate_plans(demo_world, BUDGET["candidates"])
    settings = Settings(customers=SMALL["customers"], months=SMALL["months"], seed=SMALL["seed"])
    found = best_plan(
        demo_world,
        plans,
        draws_of(demo_world, posterior, SMALL["draws"]),
        settings,
        Limits(BUDGET["budget"], BUDGET["effort_weeks"]),
        "serial",
        team_weeks_per_month=CAPACITY,
        bases=bases,
    )
    for name, table in (("frontier", found.frontier), ("candidates", found.options)):
        shown = read(tables / f"{name}.csv")
        assert len(shown) > 0
        expected = tables.parent / f"expected_{name}.csv"
        table.to_csv(expected, index=False)
        pd.testing.assert_frame_equal(shown, read(expected), check_exact=False, rtol=1e-12)
    frontier = read(tables / "frontier.csv")
    assert frontier["net_value"].is_monotonic_increasing
