"""Cross-sell from the customers table: the conjugate fit recovers known add-on figures.

Data simulated with known values (the model's own assumptions: each customer keeps its
class, buys at most one add-on a month with its class's probability, each add-on's margin
exponential with its class's mean) go through the table's checks and the fit; the 90%
interval of every class's probability and margin holds the truth (for a fixed seed; that
the intervals hold it nine times in ten is checked over 100 tables, a slow test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from models.add_ons import check_add_ons, class_counts, posterior_draws
from models.draws import parameter_sets
from models.submodels import add_ons
from sim.inputs.world import LOYALTY_CLASSES

PROBABILITY = np.array([0.01, 0.02, 0.05, 0.10])
"""The truth: P(an add-on a month) of dissatisfied, satisfied, loyal and advocate."""
MARGIN = np.array([20.0, 25.0, 35.0, 45.0])
"""The truth: mean margin of one add-on, per class."""
SNAPSHOT = pd.Timestamp("2026-12-31")


def simulated(rng: np.random.Generator, customers: int = 4_000):
    """A customers table (households, in service at the snapshot, 1 to 36 months observed,
    add-ons and their margin as text, as a file gives them) and responses with each
    customer's class."""
    months = rng.integers(1, 37, customers)
    first = np.datetime64(f"{SNAPSHOT:%Y-%m}", "M") - (months - 1)  # month of the start
    starts = first.astype("datetime64[D]") + np.timedelta64(3, "D")
    cls = rng.choice(4, customers, p=[0.15, 0.45, 0.25, 0.15])
    bought = rng.binomial(months, PROBABILITY[cls])
    margin = np.where(bought > 0, rng.gamma(np.maximum(bought, 1), MARGIN[cls]), 0.0)
    ids = [f"C{i}" for i in range(customers)]
    table = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": pd.Categorical(["household"] * customers),
            "start": pd.to_datetime(starts).astype("datetime64[us]"),
            "end": pd.Series(pd.NaT, index=range(customers)).astype("datetime64[us]"),
            "add_ons": bought.astype(str),
            "add_on_margin": [f"{m:.2f}" for m in margin],
        }
    )
    responses = pd.DataFrame(
        {
            "customer_id": ids,
            "date": pd.Timestamp("2026-06-01"),
            "self_class": pd.Categorical(
                np.array(LOYALTY_CLASSES)[cls], LOYALTY_CLASSES, ordered=True
            ),
        }
    )
    return table, responses, months


def fitted(demo_world, seed: int, samples: int = 4_000):
    table, responses, months = simulated(np.random.default_rng(seed))
    checked = check_add_ons(table, "customers.csv", SNAPSHOT)
    counts = class_counts(demo_world, checked, responses, SNAPSHOT)
    draws = posterior_draws(demo_world, counts, samples, seed)
    return counts, draws, months


def test_the_table_is_read_with_its_months_observed(demo_world):
    """The months observed are those the table says (start month to the snapshot's), and
    the counts per class add up to the table's."""
    counts, _, months = fitted(demo_world, 1, samples=10)
    assert int(counts["months"].sum()) == int(months.sum())
    assert int(counts["customers"].sum()) == 4_000
    assert float(counts["months"].sel(segment="enterprise").sum()) == 0  # no data there


def test_the_fit_recovers_the_add_on_probability_and_margin(demo_world):
    """The 90% interval of each class's probability and mean margin holds the truth; the
    segments without data keep the world's values (zero add-ons in the demo world)."""
    _, draws, _ = fitted(demo_world, 1)
    household = {name: d.sel(segment="household") for name, d in draws.items()}
    for name, truth in (("add_on_probability", PROBABILITY), ("add_on_margin", MARGIN)):
        low, high = household[name].quantile([0.05, 0.95], dim="sample").values
        assert (low <= truth).all() and (truth <= high).all(), (name, low, high)
        assert (high - low < 0.6 * truth).all()  # informative: narrower than the truth's size
    for name in draws:
        np.testing.assert_array_equal(draws[name].sel(segment="enterprise").values, 0.0)


@pytest.mark.slow
def test_the_intervals_cover_the_truth_nine_times_in_ten(demo_world):
    """Over 100 simulated tables, each class's 90% interval of the probability holds the
    truth in about 90% of them: 400 intervals, the coverage within 4 binomial standard
    errors of 0.9 (sqrt(0.9 x 0.1 / 400) = 0.015: 0.84 to 0.96)."""
    held = []
    for seed in range(100):
        _, draws, _ = fitted(demo_world, seed, samples=2_000)
        p = draws["add_on_probability"].sel(segment="household")
        low, high = p.quantile([0.05, 0.95], dim="sample").values
        held.extend((low <= PROBABILITY) & (PROBABILITY <= high))
    coverage = np.mean(held)
    assert abs(coverage - 0.9) < 4 * np.sqrt(0.9 * 0.1 / len(held)), coverage


def test_the_posterior_is_the_conjugate_closed_form(demo_world):
    """The draws follow Beta(1 + k, 1 + n - k) and, for the mean margin, the inverse of
    Gamma(2 + k, a0 + M): their means against the closed forms (4 standard errors of the
    mean of 4,000 draws)."""
    counts, draws, _ = fitted(demo_world, 2)
    c = counts.sel(segment="household")
    k, n, total = c["add_ons"].values, c["months"].values, c["margin"].values
    p = draws["add_on_probability"].sel(segment="household").values
    expected = stats.beta(1 + k, 1 + n - k)
    se = expected.std() / np.sqrt(len(p))
    assert (np.abs(p.mean(axis=0) - expected.mean()) < 4 * se).all()
    prior = demo_world.segments[0].margin_per_month  # no add-on margin stated: a0 = margin
    a = draws["add_on_margin"].sel(segment="household").values
    mean = (prior + total) / (1 + k)  # E[1 / rate], rate ~ Gamma(2 + k, a0 + M)
    sd = mean / np.sqrt(k)  # sd of 1 / rate: mean / sqrt(shape - 2)
    assert (np.abs(a.mean(axis=0) - mean) < 4 * sd / np.sqrt(len(a))).all()


def test_the_posterior_carries_the_add_ons_into_the_simulation(demo_world, demo_params):
    """The sub-model puts its draws on the churn model's (chain, draw) grid, and each
    parameter set of the posterior (:func:`models.draws.parameter_sets`) takes them: draw i's
    add-on probability and margin are the sub-model's draw i, per segment and class."""
    table, responses, _ = simulated(np.random.default_rng(3), customers=500)
    checked = check_add_ons(table, "customers.csv", SNAPSHOT)
    grid = xr.Dataset(coords={"chain": [0, 1], "draw": np.arange(3)})
    found, draws = add_ons(demo_world, checked, responses, "customers.csv", grid, 1, SNAPSHOT)
    assert found.fitted and found.variables == ["add_on_probability", "add_on_margin"]
    assert draws["add_on_probability"].dims == ("chain", "draw", "segment", "loyalty")
    sets = list(parameter_sets(draws, demo_params))
    assert len(sets) == 6
    stacked = draws.stack(sample=("chain", "draw")).transpose("sample", "segment", "loyalty")
    for i, params in enumerate(sets):
        np.testing.assert_array_equal(
            params.add_on_probability, stacked["add_on_probability"].values[i]
        )
        np.testing.assert_array_equal(params.add_on_margin, stacked["add_on_margin"].values[i])
        assert params.has_add_ons
    not_fitted, nothing = add_ons(demo_world, checked, None, "customers.csv", grid, 1)
    assert not not_fitted.fitted and "self_class" in not_fitted.note and not nothing
