"""The retention check: the verdict per segment, the survey model's population-averaged
hazard, and (slow) a fit that cannot follow the data flagged while one that can is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit, logit

from models.baseline import BaselineModel
from models.lifetimes import customer_lifetimes, hazard_counts, simulate_customers
from models.retention import MISS_SHARE, check, population_hazard, retention_table, warnings_of


def test_a_segment_is_flagged_when_more_than_a_tenth_of_its_months_are_outside():
    months = np.arange(1, 11)
    band = {"fitted": 0.5, "fitted_low": 0.4, "fitted_high": 0.6}
    rows = []
    for segment, outside in (("a", 1), ("b", 2)):
        km = np.where(months <= outside, 0.7, 0.5)  # the first months above the band
        rows.append(pd.DataFrame({"segment": segment, "month": months, "km": km, **band}))
    found = check(pd.concat(rows))
    assert found["a"]["outside"] == 1 and found["a"]["warning"] is None  # 10%: not more
    assert found["b"]["share_outside"] == 0.2 and "leaves the 90% band" in found["b"]["warning"]
    assert warnings_of(found) == [found["b"]["warning"]]
    assert MISS_SHARE == 0.10


def test_the_retention_table_compares_like_months():
    """Its columns, its months (while 30 or more are at risk), and the fitted curve as the
    draws' mean survival with their 5% and 95% quantiles."""
    customers, dates = simulate_customers(np.full((1, 1), 0.05), ["s"], 400, 24, seed=2)
    lifetimes = customer_lifetimes(customers, "c.csv", dates["snapshot"])
    rng = np.random.default_rng(0)
    draws = rng.uniform(0.04, 0.06, (200, 1, 30))
    hazard = xr.DataArray(draws, dims=("sample", "segment", "month"), coords={"segment": ["s"]})
    table = retention_table(lifetimes, hazard)
    assert list(table.columns[:8]) == [
        "segment", "month", "km", "km_low", "km_high", "fitted", "fitted_low", "fitted_high",
    ]  # fmt: skip
    at_risk, _ = hazard_counts(lifetimes, ["s"])
    assert table["at_risk"].min() >= 30 and len(table) == np.flatnonzero(at_risk[0] >= 30)[-1] + 1
    survival = np.cumprod(1 - draws[:, 0, : len(table)], axis=1)
    np.testing.assert_allclose(table["fitted"], survival.mean(axis=0))
    np.testing.assert_allclose(table["fitted_high"], np.quantile(survival, 0.95, axis=0))


def test_the_survey_models_curve_averages_the_hazard_over_the_surveyed_views():
    """Month by month, expit(alpha[band] + beta x) averaged over the person-months answered
    at that tenure, or in the nearest window holding 50 answers (here all three)."""
    alpha = np.array([[[[logit(0.05), logit(0.02)]]]])  # (chain, draw, segment, band)
    beta = np.array([[[[1.0]]]])
    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw", "segment", "band"), alpha),
            "beta": (("chain", "draw", "segment", "touchpoint"), beta),
        },
        coords={"segment": ["s"], "touchpoint": ["invoice"], "chain": [0], "draw": [0]},
    )
    person_months = pd.DataFrame(
        {"segment": "s", "tenure": [0, 1, 5], "x_invoice": [1.0, -1.0, -1.0], "churned": 0}
    )
    hazard = population_hazard(posterior, person_months, ["invoice"], np.array([0, 3]), 5)

    def average(a):
        return (expit(a + 1) + 2 * expit(a - 1)) / 3

    expected = [average(logit(0.05))] * 3 + [average(logit(0.02))] * 2
    np.testing.assert_allclose(hazard.values[0, 0], expected)
    many = pd.DataFrame(  # 60 answers at each tenure 0..3: each month its own tenure's
        {"segment": "s", "tenure": np.repeat(np.arange(4), 60), "x_invoice": 0.0, "churned": 0}
    )
    many.loc[many["tenure"] == 3, "x_invoice"] = 1.0
    hazard = population_hazard(posterior, many, ["invoice"], np.array([0, 3]), 4)
    np.testing.assert_allclose(hazard.values[0, 0], [0.05, 0.05, 0.05, expit(logit(0.02) + 1)])


@pytest.fixture(scope="module")
def rising():
    """One segment whose churn rises with tenure (1% in month 1 to 6% by month 36, as
    customers reach a contract's end), 4,000 customers over 48 months."""
    t = np.arange(1, 49)
    hazard = expit(logit(0.01) + (logit(0.06) - logit(0.01)) * np.minimum(t - 1, 35) / 35)
    customers, dates = simulate_customers(hazard[None, :], ["s"], 4_000, 48, seed=21)
    return customer_lifetimes(customers, "c.csv", dates["snapshot"])


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "flagged"), [("sbg", True), ("walk", False)])
def test_a_model_that_cannot_follow_the_data_is_flagged(rising, kind, flagged):
    """The sBG's hazard can only fall with tenure, so fitted to a rising one its survival
    curve bends the wrong way: the observed curve leaves its band in far more than 10% of the
    months (94% seen); the walk follows the rise and stays inside (none seen)."""
    at_risk, churned = hazard_counts(rising, ["s"])
    model = BaselineModel(kind, seed=3).fit(at_risk, churned, ["s"])
    assert model.diagnostics_["ok"], model.diagnostics_
    found = check(retention_table(rising, model.hazard(at_risk.shape[1])))["s"]
    print(kind, found)
    assert (found["warning"] is not None) == flagged
    if flagged:
        assert found["share_outside"] > 0.5
