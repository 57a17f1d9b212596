"""The executive review runs on the demo, and its tables are the library's own."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

import scenarios
from notebooks.report import execute
from tests.helpers import ctm, posterior_file
from tests.helpers import notebook_outputs as outputs

pytestmark = pytest.mark.slow  # each runs a notebook with papermill

PLAN = "All examples together"
SMALL = {"draws": 3, "customers": 300, "months": 13, "seed": 1}


@pytest.fixture(scope="module")
def executed(tmp_path_factory, demo_world):
    """The notebook run on small settings, and ``ctm compare`` run with the same ones."""
    tmp = tmp_path_factory.mktemp("executive")
    posterior = posterior_file(tmp / "posterior.nc", demo_world)
    files = sorted((Path(scenarios.__file__).parent / "examples").glob("*.yaml"))
    tables = tmp / "tables"
    notebook = execute(
        "executive_review",
        {
            "posterior": str(posterior),
            "scenarios": [str(f) for f in files],
            "plan": PLAN,
            "executor": "serial",
            "tables": str(tables),
            **SMALL,
        },
        tmp / "executive.ipynb",
    )
    done = ctm(
        "compare",
        "demo",
        *map(str, files),
        "--posterior",
        str(posterior),
        *[part for name, value in SMALL.items() for part in (f"--{name}", str(value))],
        "--plan",
        PLAN,
        "--serial",
        "--out",
        str(tmp / "cli"),
    )
    assert done.returncode == 0, done.stderr
    return nbformat.read(notebook, as_version=4), tables, tmp / "cli"


def test_tables_are_the_ones_ctm_compare_writes(executed):
    _, tables, cli = executed
    for name in ("comparison", "economics"):
        mine, theirs = (pd.read_csv(folder / f"{name}.csv") for folder in (tables, cli))
        assert not mine.empty
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)
    head = pd.read_csv(tables / "headline.csv").set_index("outcome")
    assert head.loc[["retention_12", "lifetime_value", "nps"], "mean"].notna().all()
    assert (head["low"] <= head["mean"]).all() or head["mean"].isna().any()
    comparison = pd.read_csv(tables / "comparison.csv")
    assert set(comparison["scenario"]) == set(pd.read_csv(tables / "economics.csv")["scenario"])
    assert PLAN in set(comparison["scenario"])


def test_results_are_outputs_figures_included(executed):
    notebook, _, _ = executed
    assert not outputs(notebook, "stderr")  # executives see no warnings
    assert len(outputs(notebook, "image/png")) >= 4
    assert len(outputs(notebook, "text/html")) >= 3  # the tables


def test_the_recommendation_names_the_best_scenario_by_the_rule(executed):
    notebook, tables, _ = executed
    money = pd.read_csv(tables / "economics.csv")
    money["net"] = money["value_gain"] - money["cost"]
    likely = money[money["p_gain_exceeds_cost"] >= 0.5]
    texts = outputs(notebook, "text/markdown")
    (text,) = [t for t in texts if "Recommendation:" in t or "No plan is more likely" in t]
    assert texts[0] == text  # the review opens with the decision
    if len(likely):
        best = likely.sort_values("net", ascending=False, kind="stable")["scenario"].iloc[0]
        assert text.startswith(f"**Recommendation:** **{best}**")
    else:
        closest = money.sort_values(["p_gain_exceeds_cost", "net"], ascending=False, kind="stable")[
            "scenario"
        ].iloc[0]
        assert f"The closest is **{closest}**" in text
    assert any("did not pass" in t or "passed its convergence" in t for t in texts)


def test_the_decision_states_its_figures_and_what_they_rest_on(executed):
    """The recommended (or closest) plan's value gained with its interval, cost, P(gain >
    cost) and payback come from the economics; every plan that removes a touchpoint states its
    assumption against its break-even figures; the measure of value and the run's size are
    said once, before the detailed tables."""
    notebook, tables, _ = executed
    money = pd.read_csv(tables / "economics.csv")
    removals = pd.read_csv(tables / "removals.csv")
    texts = outputs(notebook, "text/markdown")
    decision = texts[0]
    best = money.set_index("scenario").loc[decision.split("**")[3]]
    assert f"Lifetime value gained: {best['value_gain']:+,.0f} EUR (90% interval " in decision
    assert f"P(gain > cost): {best['p_gain_exceeds_cost']:.0%}" in decision
    assert "Payback: " in decision
    assert set(removals["scenario"]) == {"Close the stores", PLAN}
    for name in removals["scenario"]:  # the recommended plan's, or among the others
        (line,) = [ln for ln in decision.splitlines() if f"**{name}**" in ln and "assumes" in ln]
        assert "the plan assumes 50% go on and 50% are lost (stated in the scenario)" in line
    (measure,) = [t for t in texts if t.startswith("**How value is counted: lifetime value.**")]
    assert "customers the company goes on winning after the run" in measure
    (sources,) = [t for t in texts if t.startswith("**Where the numbers come from.**")]
    assert "3 posterior draws x 1 simulation of each x 300 simulated customers x 13 months" in (
        sources
    )
    assert (
        texts.index(measure)
        < texts.index(sources)
        < [i for i, t in enumerate(texts) if t.startswith("Without any change")][0]
    )
