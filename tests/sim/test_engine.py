"""The engine against closed forms: geometric survival and retention-based lifetime value."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sim.engine.simulation import simulate
from tests.helpers import constant_hazard

N = 20_000


def exact_value_moments(margin: float, r: float, d: float, horizon: int) -> tuple[float, float]:
    """Mean and variance of one customer's discounted margin, by enumerating the churn month.

    A customer churning in month T (P = r^(T-1) (1-r)) earned the margins of months
    1..T-1; one alive after the horizon earned months 1..H. Margin of month t counts (1+d)^-t.
    """
    v = 1.0 / (1.0 + d)
    earned = margin * np.concatenate([[0.0], np.cumsum(v ** np.arange(1, horizon + 1))])
    p_churn = r ** np.arange(horizon) * (1 - r)  # churn in month 1..H
    probs = np.concatenate([p_churn, [r**horizon]])
    values = np.concatenate([earned[:horizon], [earned[horizon]]])
    mean = probs @ values
    return mean, probs @ (values - mean) ** 2


@pytest.fixture(scope="module")
def geometric(demo_params):
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=0.01)
    return params, simulate(params, customers=N, months=36, seed=7)


def test_retention_is_geometric(geometric):
    params, ds = geometric
    base = ds["cohort_size"].sel(cohort=0)
    retention = (ds["survivors"].sel(cohort=0).sum("segment") / base.sum("segment")).values
    t = np.arange(1, 37)
    expected = 0.95**t
    # Binomial standard error of a survival share out of N; 4 SE over 36 months keeps the
    # chance of a false failure below 0.3% while catching an error of a fraction of a percent.
    tolerance = 4 * np.sqrt(expected * (1 - expected) / N)
    assert np.all(np.abs(retention - expected) <= tolerance)


def test_finite_horizon_lifetime_value_matches_closed_form(geometric):
    params, ds = geometric
    margin = params.margin
    size = ds["cohort_size"].sel(cohort=0).values
    simulated = ds["cohort_value"].sel(cohort=0).values
    for s in range(len(margin)):
        mean, variance = exact_value_moments(margin[s], 0.95, 0.01, 36)
        closed = margin[s] * sum((0.95 / 1.01) ** t for t in range(1, 37))
        assert mean == pytest.approx(closed, rel=1e-12)  # enumeration agrees with the sum
        # 4 standard errors of a mean of size[s] independent customers.
        assert abs(simulated[s] / size[s] - closed) <= 4 * np.sqrt(variance / size[s])


def test_lifetime_value_tends_to_m_r_over_1_plus_d_minus_r(demo_params):
    """Reference: r = 0.8, d = 0.10 gives CLV = 2.667 m (shared/reference/README.md)."""
    params = constant_hazard(demo_params, hazard=0.2, discount_rate=0.10)
    ds = simulate(params, customers=N, months=120, seed=3)  # r^120 ~ 2e-12: no horizon left
    m = params.margin
    clv = (ds["cohort_value"].sel(cohort=0) / ds["cohort_size"].sel(cohort=0)).values
    for s in range(len(m)):
        _, variance = exact_value_moments(m[s], 0.8, 0.10, 120)
        size = ds["cohort_size"].sel(cohort=0).values[s]
        assert abs(clv[s] - m[s] * 0.8 / (1 + 0.10 - 0.8)) <= 4 * np.sqrt(variance / size)
        assert m[s] * 0.8 / (1 + 0.10 - 0.8) == pytest.approx(2.6667 * m[s], rel=1e-4)


def test_same_seed_same_results_different_seed_different(demo_params):
    first = simulate(demo_params, customers=2_000, months=12, seed=11)
    again = simulate(demo_params, customers=2_000, months=12, seed=11)
    other = simulate(demo_params, customers=2_000, months=12, seed=12)
    xr.testing.assert_identical(first, again)
    assert not first["churned"].equals(other["churned"])
    assert not first["prospects"].equals(other["prospects"])


def test_changing_one_touchpoint_does_not_reshuffle_other_draws(demo_params):
    """Common random numbers: worse renewal offers change nothing before they are used."""
    k = demo_params.touchpoints.index("renewal_offer")
    ratings = demo_params.ratings.copy()
    ratings[:, k] = [0.5, 0.3, 0.1, 0.05, 0.05]
    edited = demo_params.replace(ratings=ratings)
    base = simulate(demo_params, customers=5_000, months=3, seed=5)
    worse = simulate(edited, customers=5_000, months=3, seed=5)
    first = {"month": 0}  # later months see referrals, which depend on loyalty
    for name in ("prospects", "acquired", "active_start", "contacts"):
        xr.testing.assert_identical(base[name].sel(first), worse[name].sel(first))
    assert float(worse["churned"].sum()) > float(base["churned"].sum())


def test_sample_scales_prospects_with_the_base(demo_params):
    ds = simulate(demo_params, customers=23_200, months=6, seed=2)
    fraction = 23_200 / demo_params.customers.sum()
    expected = demo_params.prospects * fraction * 6
    observed = ds["prospects"].sum("month").values
    referrals = ds["prospects"].sum("month").values - expected  # advocates bring a few more
    assert ds.attrs["scale"] == pytest.approx(1 / fraction)
    assert np.all(observed >= expected - 4 * np.sqrt(expected))
    assert np.all(referrals <= 0.2 * expected + 4 * np.sqrt(expected))
