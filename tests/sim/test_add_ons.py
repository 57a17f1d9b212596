"""Cross-sell and up-sell: the add-on money of a run and after it against closed forms.

A world with a constant loyalty mix (no touchpoint moves the self-classification: gamma 0,
so every survivor is in class j with P_j from the cutpoints alone) and a constant hazard h
(one tenure band, no touchpoint effects) earns, per customer of the installed base who
survives month t, e = sum_j P_j (u_j m + p_j a_j) more on average: class j's margin uplift
u_j of the margin m, and its add-on bought with probability p_j at margin a_j. Survival to
the end of month t is (1 - h)^t and value at its end counts (1 + d)^-t, so

    run:      E[base_add_on_value] / N = e sum_{t=1..T} q^t,   q = (1 - h) / (1 + d),
    residual: each survivor at the end: e (1 - h) / (d + h) (the geometric tail),
    lifetime: e sum_{t>=1} q^t = e (1 - h) / (d + h).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit

from sim.agents.simulation import simulate as agents
from sim.engine.feedback import FeedbackCollector, demo_data
from sim.engine.population import class_probabilities, in_service
from sim.engine.results import outcomes
from sim.engine.simulation import Simulation, simulate
from sim.inputs.load import load_world
from sim.inputs.parameters import Parameters, from_world
from tests.sim.agents.test_simulation import assert_agree

H, D, M = 0.03, 0.01, 20.0
"""The monthly hazard, discount rate and margin of the test world."""
SHARES = np.array([0.1, 0.4, 0.3, 0.2])
"""P(dissatisfied), P(satisfied), P(loyal), P(advocate): the constant loyalty mix."""
PROBABILITY = np.array([0.0, 0.02, 0.05, 0.10])
ADD_ON_MARGIN = np.array([0.0, 30.0, 40.0, 50.0])
UPLIFT = np.array([-0.1, 0.0, 0.0, 0.2])
EXTRA = float(SHARES @ (UPLIFT * M + PROBABILITY * ADD_ON_MARGIN))
"""e: the expected add-on money of a survivor's month (2.44)."""


def constant_world(customers: float = 1_000.0) -> Parameters:
    """One segment, one touchpoint nobody meets, no prospects: a constant hazard H and a
    constant loyalty mix SHARES (cutpoints logit of the cumulative shares, gamma 0)."""
    return Parameters(
        segments=("solo",),
        touchpoints=("invoice",),
        ratings=np.array([[[0.2, 0.2, 0.2, 0.2, 0.2]]]),
        emotional_weight=np.array([0.5]),
        cost_per_contact=np.array([0.0]),
        start=np.array([[1.0]]),
        transitions=np.array([[[0.0, 0.0, 1.0]]]),
        dropout_odds=np.array([1.0]),
        onboarding=np.zeros((1, 1)),
        contacts=np.zeros((1, 1)),
        customers=np.array([customers]),
        prospects=np.array([0.0]),
        referral_rate=np.array([0.0]),
        revenue=np.array([40.0]),
        margin=np.array([M]),
        acquisition_cost=np.array([0.0]),
        band_starts=np.array([0.0]),
        alpha=np.array([[logit(H)]]),
        beta=np.zeros((1, 1)),
        cutpoints=logit(np.cumsum(SHARES)[:-1])[None, :],
        gamma=np.zeros(1),
        discount_rate=D,
        add_on_probability=PROBABILITY[None, :],
        add_on_margin=ADD_ON_MARGIN[None, :],
        margin_uplift=UPLIFT[None, :],
    )


def test_class_probabilities_are_the_stated_mix():
    """The ordered logistic with gamma 0 gives every customer the mix SHARES."""
    params = constant_world()
    shares = class_probabilities(params, np.zeros(3, np.int64), np.full((3, 1), np.nan))
    np.testing.assert_allclose(shares, np.tile(SHARES, (3, 1)), rtol=1e-12)
    assert EXTRA == pytest.approx(2.44)


def test_the_add_on_residual_is_the_geometric_tail():
    """Customers in service at a run's end, of any tenure (one band): R's add-on part is
    e (1 - h) / (d + h) each (the closed form of sum_k (1 + d)^-k (1 - h)^k e), and the
    whole R is the margin's plus it, (m + e)(1 - h) / (d + h) with no cost to serve."""
    params = constant_world()
    n = 5
    ended = in_service(
        params,
        12,
        np.zeros(n, np.int64),
        np.arange(n),
        np.array([0, 3, 0, 40, 7]),
        np.full(n, np.nan),
        np.full((n, 1), np.nan),
    )
    tail = EXTRA * (1 - H) / (D + H)
    np.testing.assert_allclose(ended.add_on_residual, tail, rtol=1e-12)
    np.testing.assert_allclose(ended.residual, (M + EXTRA) * (1 - H) / (D + H), rtol=1e-12)
    without = in_service(
        params.replace(add_on_probability=None, add_on_margin=None, margin_uplift=None),
        12,
        np.zeros(n, np.int64),
        np.arange(n),
        np.zeros(n, np.int64),
        np.full(n, np.nan),
        np.full((n, 1), np.nan),
    )
    np.testing.assert_array_equal(without.add_on_residual, 0.0)
    np.testing.assert_allclose(ended.residual - without.residual, tail, rtol=1e-12)


def test_the_add_on_residual_follows_the_views():
    """With gamma != 0 a customer's poor views move its class mix, and its add-on residual
    is e(x) (1 - h) / (d + h) with e(x) from the mix its views give."""
    params = constant_world().replace(gamma=np.array([1.5]))
    views = np.array([[1.0], [3.0], [5.0]])  # x = 1, 0, -1
    ended = in_service(
        params, 6, np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, np.int64),
        np.full(3, np.nan), views,
    )  # fmt: skip
    x = (3 - views[:, 0]) / 2
    below = expit(params.cutpoints[0][None, :] + 1.5 * x[:, None])
    shares = np.diff(np.hstack([np.zeros((3, 1)), below, np.ones((3, 1))]), axis=1)
    e = shares @ (UPLIFT * M + PROBABILITY * ADD_ON_MARGIN)
    np.testing.assert_allclose(ended.add_on_residual, e * (1 - H) / (D + H), rtol=1e-12)
    assert ended.add_on_residual[0] < ended.add_on_residual[1] < ended.add_on_residual[2]


RUNS, CUSTOMERS, MONTHS = 10, 2_000, 24


@pytest.fixture(scope="module")
def runs():
    """RUNS independent runs (other seeds) of the constant world: their counts."""
    params, out = constant_world(), []
    for seed in range(RUNS):
        run = Simulation(params, CUSTOMERS, MONTHS, seed)
        run.play()
        out.append(run.recorder.counts(**run.attrs))
    return out


@pytest.mark.slow
def test_the_run_add_on_value_equals_the_closed_form(runs):
    """base_add_on_value / N over the run against e sum_{t=1..T} q^t, q = (1 - h) / (1 + d)
    (36.74 here), within 4 standard errors of the mean of RUNS independent runs (the SE from
    their spread: 0.29, 0.8% of the value; seen 36.80; 4 SE: a false alarm about once in
    16,000 under normality)."""
    q = (1 - H) / (1 + D)
    expected = EXTRA * q * (1 - q**MONTHS) / (1 - q)
    per_customer = np.array([float(c["base_add_on_value"].sum()) / CUSTOMERS for c in runs])
    se = per_customer.std(ddof=1) / np.sqrt(RUNS)
    assert 0 < se < 0.02 * expected  # the replications are informative
    assert abs(per_customer.mean() - expected) < 4 * se, (per_customer.mean(), expected, se)


@pytest.mark.slow
def test_the_lifetime_add_on_value_equals_the_closed_form(runs):
    """add_on_lifetime_value (the run plus the residual) against e (1 - h) / (d + h) (59.17
    here), within 4 standard errors of RUNS runs (SE 0.30; seen 59.57); and each run's
    residual part is exactly its survivors at the end times the geometric tail, discounted
    to the run's start."""
    expected = EXTRA * (1 - H) / (D + H)
    lifetime = np.array(
        [
            float((c["base_add_on_value"] + c["base_add_on_residual"]).sum()) / CUSTOMERS
            for c in runs
        ]
    )
    se = lifetime.std(ddof=1) / np.sqrt(RUNS)
    assert abs(lifetime.mean() - expected) < 4 * se, (lifetime.mean(), expected, se)
    for c in runs:
        survivors = float(c["base_active"].isel(month=-1).sum())
        tail = survivors * EXTRA * (1 - H) / (D + H) * (1 + D) ** -MONTHS
        assert float(c["base_add_on_residual"].sum()) == pytest.approx(tail, rel=1e-12)


def test_add_on_money_is_part_of_margin_and_value():
    """margin less add_on_margin is the margin of the survivors alone (m each), and the
    add-on money is in the lifetime value: lifetime_value less add_on_lifetime_value is the
    same world's lifetime value without add-ons, run with the same seed."""
    first = Simulation(constant_world(), CUSTOMERS, MONTHS, 0)
    first.play()
    c = first.recorder.counts(**first.attrs)
    np.testing.assert_allclose(
        (c["margin"] - c["add_on_margin"]).values, M * c["active"].values, rtol=1e-12
    )
    plain = constant_world().replace(
        add_on_probability=None, add_on_margin=None, margin_uplift=None
    )
    run = Simulation(plain, CUSTOMERS, MONTHS, 0)
    run.play()
    without = run.recorder.counts(**run.attrs)
    np.testing.assert_array_equal(without["churned"].values, c["churned"].values)
    with_, none = outcomes(c, company=False), outcomes(without, company=False)
    assert float(none["add_on_lifetime_value"].sel(segment="all")) == 0.0
    np.testing.assert_allclose(
        with_["lifetime_value"] - with_["add_on_lifetime_value"],
        none["lifetime_value"],
        rtol=1e-12,
    )


def test_a_class_that_buys_nothing_draws_nothing():
    """Add-ons only for advocates: the other classes' survivors draw no add-on number, so
    the money is advocates' alone: at most their survivor-months times the margin, and
    churn, classes and every other count are those of the world without add-ons."""
    only = constant_world().replace(
        add_on_probability=np.array([[0.0, 0.0, 0.0, 0.5]]), margin_uplift=None
    )
    ds = simulate(only, customers=500, months=6, seed=3)
    advocates = ds["loyalty_mix"].sel(loyalty="advocate")
    bought = ds["add_on_margin"] / ADD_ON_MARGIN[3]
    assert (bought <= advocates).all() and float(bought.sum()) > 0
    assert np.allclose(bought, np.round(bought))
    plain = simulate(only.replace(add_on_probability=None), customers=500, months=6, seed=3)
    np.testing.assert_array_equal(plain["loyalty_mix"].values, ds["loyalty_mix"].values)


EXAMPLE = Path(__file__).parents[2] / "sim" / "worlds" / "cross_sell.yaml"
"""The bundled example of cross-sell and up-sell."""


def test_the_example_world_sells_add_ons_and_the_engines_agree():
    """The example world validates, its add-ons are bought (its loyal and advocate customers
    only), and the agent engine gives the compiled engine's results on it."""
    params = from_world(load_world(EXAMPLE))
    assert params.has_add_ons
    run = {"customers": 300, "months": 6, "seed": 2}
    twin = simulate(params, **run)
    assert float(twin["add_on_margin"].sum()) > 0
    assert_agree(twin, agents(params, **run))


def test_the_feedback_table_counts_the_add_ons_bought():
    """ctm demo-data of the example world (margin uplift left out, so that every add-on
    money is a purchase): the customers table's add-ons and their margin sum to the run's
    add-on margin, each purchase at its class's margin; a world without add-ons has no such
    columns."""
    params = from_world(load_world(EXAMPLE)).replace(margin_uplift=None)
    settings = {"customers": 400, "months": 6, "seed": 3}
    collector = FeedbackCollector(params, settings["seed"], settings["months"])
    results = simulate(params, **settings, observer=collector)
    table = collector.tables()["customers"]
    assert table["add_ons"].sum() > 0
    assert table["add_on_margin"].sum() == pytest.approx(float(results["add_on_margin"].sum()))
    margins = set(np.unique(params.add_on_margin[params.add_on_probability > 0]))
    bought = table[table["add_ons"] == 1]
    assert set(bought["add_on_margin"]) <= margins
    plain = params.replace(add_on_probability=None, add_on_margin=None)
    assert "add_ons" not in demo_data(plain, **settings)["customers"]
