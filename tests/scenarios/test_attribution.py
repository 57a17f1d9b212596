"""Attribution: simulated removal effects against the exact chain, the never-bad churn
counterfactual with common random numbers, and ``ctm attribution`` end to end.

Tolerance of the removal effects: 4 standard errors of the simulated effect (delta method for
a ratio of paired means, :mod:`scenarios.attribution`). The chain is exact for the walk: a
rating is drawn afresh at every visit, so the walk follows the rows averaged over ratings
(:func:`scenarios.chains.effective_transitions`); no special parameter set is needed. About
26 comparisons at 4 SE: a false alarm about once in 600 runs (the seed is fixed, so a run
either passes or not).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios.attribution import churn_avoided, journey_effects, never_bad_plans
from scenarios.runner import Settings, run
from tests.helpers import ctm

PROSPECTS = 50_000


@pytest.fixture(scope="module")
def effects(demo_params) -> pd.DataFrame:
    return journey_effects([demo_params], prospects=PROSPECTS, seed=1)


def test_simulated_removal_effects_agree_with_the_exact_chain(effects):
    visited = effects[effects["visits"] > 0]
    assert len(visited) == 2 * 13  # 5 + 5 + 3 touchpoints met by the three segments, 2 ways
    assert (np.abs(visited["simulated"] - visited["exact"]) <= 4 * visited["se"] + 1e-12).all()
    unknown = visited[(visited["exact"] > 0) & (visited["exact"] < 1)]
    assert (unknown["se"] > 0).all() and (unknown["low"] < unknown["simulated"]).all()
    assert (effects.loc[effects["visits"] == 0, ["exact", "simulated"]] == 0).all(axis=None)


def test_the_check_would_see_a_chain_without_the_dropout_rule(demo_params, effects):
    """The same check against effects computed as if bad experiences changed nothing
    (dropout odds 1): many differ by more than 4 standard errors, so the test has power."""
    naive = journey_effects([demo_params.replace(dropout_odds=np.ones(3))], prospects=100)
    off = np.abs(effects["simulated"] - naive["exact"]) > 4 * effects["se"] + 1e-12
    assert off.sum() >= 5


def test_draws_with_one_journey_are_simulated_once(demo_params, effects):
    """Draws differing only in churn parameters share the journey: the averages and the
    Monte-Carlo standard error are those of one set (not shrunk by the number of draws)."""
    draws = [demo_params.replace(beta=demo_params.beta * f) for f in (0.5, 1.5)]
    pd.testing.assert_frame_equal(journey_effects(draws, prospects=PROSPECTS, seed=1), effects)


def test_never_bad_churn_is_zero_without_an_effect_and_positive_with_one(demo_world, demo_params):
    """Invoice with beta = 0 and gamma = 0 (no loyalty effect either, so referrals, and with
    them the call centre's load, stay the same): never bad changes no one's churn, exactly,
    in every draw and segment (common random numbers). The app with a large beta: never bad
    avoids churn in every draw."""
    invoice, app = (demo_params.touchpoints.index(t) for t in ("invoice", "app"))
    gamma = demo_params.gamma.copy()
    gamma[invoice] = 0.0
    draws = []
    for strength in (2.0, 2.5, 3.0):
        beta = demo_params.beta.copy()
        beta[:, invoice], beta[:, app] = 0.0, strength
        draws.append(demo_params.replace(beta=beta, gamma=gamma))
    plans, skipped = never_bad_plans(demo_world, ["invoice", "app"])
    assert not skipped
    results = run(draws, plans, Settings(customers=1_500, months=8, seed=5), executor="serial")
    share = churn_avoided(results)
    invoice_share = share.sel(touchpoint="invoice")
    # NaN only where the baseline lost no one (enterprise: about 13 customers in the sample)
    assert ((invoice_share == 0) | invoice_share.isnull()).all()
    assert (invoice_share.sel(segment=["household", "all"]) == 0).all()
    assert share.sizes == {"touchpoint": 2, "draw": 3, "segment": 4}
    assert (share.sel(touchpoint="app", segment="all") > 0.02).all(), share.sel(touchpoint="app")


def test_ctm_attribution_end_to_end(tmp_path):
    out = tmp_path / "attribution"
    done = ctm(
        "attribution",
        "demo",
        "--customers",
        "1500",
        "--months",
        "6",
        "--draws",
        "1",
        "--prospects",
        "2000",
        "--serial",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "Sales lost without each touchpoint" in done.stdout and "installer" in done.stdout
    churn = pd.read_csv(out / "churn.csv")
    assert set(churn["segment"]) == {"household", "small_business", "enterprise", "all"}
    assert len(churn) == 14 * 4
    journeys = pd.read_parquet(out / "journeys.parquet")
    assert len(journeys) == 2 * 3 * 14
    assert {"exact", "simulated", "low", "high"} <= set(journeys.columns)
    assert (out / "attribution.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # pieces removed
