"""Value drivers from posterior draws: odds ratios, intervals, ranks and plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.drivers import sentence, value_drivers
from notebooks.touchpoint_plots import plot_value_drivers


@pytest.fixture(scope="module")
def posterior() -> xr.Dataset:
    """Known draws: beta ~ Normal(effect, 0.1), mu ~ Normal(effect, 0.1), 4,000 draws."""
    rng = np.random.default_rng(3)
    effect = {"invoice": 0.3, "call_centre": 0.9, "app": -0.05}
    touchpoints, segments = list(effect), ["household", "enterprise"]
    centre = np.array(list(effect.values()))
    mu = centre + 0.1 * rng.standard_normal((2, 2000, 3))
    beta = centre + 0.1 * rng.standard_normal((2, 2000, 2, 3))
    return xr.Dataset(
        {
            "mu": (("chain", "draw", "touchpoint"), mu),
            "beta": (("chain", "draw", "segment", "touchpoint"), beta),
        },
        coords={"touchpoint": touchpoints, "segment": segments},
    )


def test_odds_ratios_and_intervals_are_quantiles_of_exp_beta(posterior):
    table = value_drivers(posterior)
    row = table[(table.segment == "all") & (table.touchpoint == "invoice")].iloc[0]
    draws = np.exp(posterior["mu"].sel(touchpoint="invoice").values.ravel())
    assert row.odds_ratio == pytest.approx(np.median(draws))
    assert (row.low, row.high) == pytest.approx(tuple(np.quantile(draws, [0.05, 0.95])))
    # Normal(0.3, 0.1): exp of its 5% and 95% points, to within sampling error of 4,000 draws.
    assert row.low == pytest.approx(np.exp(0.3 - 1.645 * 0.1), rel=0.02)


def test_ranked_by_effect_within_each_segment(posterior):
    table = value_drivers(posterior)
    assert list(table.segment.unique()) == ["all", "household", "enterprise"]
    top = table[table["rank"] == 1]
    assert (top.touchpoint == "call_centre").all()
    assert table.groupby("segment")["odds_ratio"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_plain_words():
    raise_ = pd.Series(
        {"segment": "all", "touchpoint": "invoice", "odds_ratio": 1.35, "low": 1.20, "high": 1.52}
    )
    assert sentence(raise_) == (
        "A poor view of the invoice raises the monthly odds of churn "
        "by 35% (20% to 52%, 90% interval)."
    )
    unclear = raise_.copy()
    unclear[["segment", "odds_ratio", "low", "high"]] = ["small_business", 1.05, 0.9, 1.2]
    assert (
        "has no clear effect on the monthly odds of churn for small business: +5% (-10% "
        "to +20%" in sentence(unclear)
    )


def test_plot_has_one_row_per_touchpoint(posterior):
    figure = plot_value_drivers(value_drivers(posterior), {"call_centre": "Call centre"})
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "Call centre"
    assert "odds ratio" in ax.get_xlabel()
