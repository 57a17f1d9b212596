"""Monte-Carlo error in every figure: replications of one parameter set spread the results.

Without a posterior there is one parameter set; the runner's replications (other random
numbers, common between scenarios within a replication) are what make an interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.compare import compare
from scenarios.load import parse_scenario
from scenarios.runner import Settings, run
from scenarios.scenario import as_plan

REPLICATIONS = 8


def plan(world, name: str, *edits: dict):
    data = {
        "name": name,
        "one_off_cost": 0.0,
        "monthly_cost": 0.0,
        "effort_weeks": 1.0,
        "start_month": 0,
        "edits": list(edits),
    }
    return as_plan(parse_scenario(data, world, f"{name}.yaml"))


@pytest.fixture(scope="module")
def results(demo_world, demo_params):
    plans = {
        "same": plan(
            demo_world, "same", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 1}
        ),
        "invoice": plan(
            demo_world, "invoice", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 0.1}
        ),
    }
    settings = Settings(customers=1_500, months=8, seed=5, replications=REPLICATIONS)
    return run([demo_params], plans, settings, executor="serial")


def test_every_replication_is_a_draw_of_its_own(results):
    assert results.sizes["draw"] == REPLICATIONS
    assert results["replication"].values.tolist() == list(range(REPLICATIONS))
    assert (results["parameter_draw"] == 0).all()
    active = results["active"].sel(scenario="baseline").sum(("segment", "month"))
    assert len(np.unique(active.values)) == REPLICATIONS  # other random numbers each time


def test_no_change_is_even_odds_with_an_interval_around_zero(results):
    table = compare(results)
    same = table[(table["scenario"] == "same") & (table["segment"] == "all")]
    defined = same.dropna(subset=["p_better"])  # retention after 12 months: not in 8 months
    assert len(defined) >= 6 and (defined["p_better"] == 0.5).all()
    assert ((defined["low"] <= 0) & (defined["high"] >= 0)).all()


def test_a_real_effect_has_an_interval_of_nonzero_width(results):
    table = compare(results)
    row = table[
        (table["scenario"] == "invoice")
        & (table["segment"] == "all")
        & (table["outcome"] == "monthly_churn")
    ].iloc[0]
    assert row["high"] - row["low"] > 0
    assert row["p_better"] > 0.5  # fewer bad invoices: less churn in most replications


def test_without_a_posterior_draws_are_simulations_and_never_fewer_than_asked(demo_world, tmp_path):
    """Without a posterior, 7 draws x 2 replications are 14 simulations of the world's
    parameters; a posterior of 2 chains x 4 draws cannot give 9 draws, and says so."""
    from scenarios.study import samples
    from tests.helpers import posterior_file

    sets, settings = samples(demo_world, None, 7, customers=100, months=3, seed=1, replications=2)
    assert len(sets) == 1 and settings.replications == 14
    posterior = posterior_file(tmp_path / "post.nc", demo_world, draws=4)
    sets, settings = samples(demo_world, posterior, 8, customers=100, months=3, seed=1)
    assert len(sets) == 8 and settings.replications == 1
    with pytest.raises(ValueError, match="asked for 9 draws, the posterior holds 8"):
        samples(demo_world, posterior, 9, customers=100, months=3, seed=1)
