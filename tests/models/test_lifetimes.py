"""Lifetimes of a customers table: censoring at the snapshot, truncation at the window's start,
the counts the hazard models fit, and the Kaplan-Meier estimates held against lifelines.

lifelines is the independent reference: its ``KaplanMeierFitter`` with ``entry=`` is the
product-limit estimator with delayed entry. Both estimates below are sums and products of the
same whole counts, so they agree to rounding: a tolerance of 1e-9 (absolute, on survival
between 0 and 1) leaves room for nothing but floating-point error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from models.data import load_customers
from models.fitting import truncation_hint
from models.lifetimes import (
    customer_lifetimes,
    hazard_counts,
    kaplan_meier,
    product_limit,
    simulate_customers,
)
from scenarios.predictive import kaplan_meier as project_kaplan_meier
from sim.inputs.errors import InputError

HAZARD = np.array([[0.06, 0.04, 0.03, 0.025, 0.03, 0.04, 0.05, 0.04, 0.03]])
"""Falls, rises, falls: the last value holds after month 9."""


@pytest.fixture(scope="module")
def table():
    """2,000 customers starting over 36 months, the table taken at the end and holding only
    those in service from month 12 on (left-truncated)."""
    return simulate_customers(HAZARD, ["s"], 2_000, 36, seed=11, observed_from=12)


def lifelines_curve(durations, events, entry=None) -> pd.Series:
    """lifelines' survival at t = 1, 2, ... (a step function), on one row per customer."""
    fitted = KaplanMeierFitter().fit(durations, events, entry=entry)
    curve = fitted.survival_function_["KM_estimate"]
    months = np.arange(1, int(max(durations)) + 1)
    return curve.reindex(curve.index.union(months)).ffill().loc[months]


@pytest.mark.parametrize("truncated", [False, True])
def test_the_counts_product_limit_equals_lifelines(table, truncated):
    """The counts at risk and churning by month (what the hazard models fit) give, by the
    product-limit formula, lifelines' Kaplan-Meier on the individual customers, with and
    without delayed entry."""
    customers, dates = table
    since = dates["observed_from"] if truncated else None
    lifetimes = customer_lifetimes(customers, "t.csv", dates["snapshot"], since)
    at_risk, churned = hazard_counts(lifetimes, ["s"])
    rows = lifetimes.loc[lifetimes.index.repeat(lifetimes["weight"])]  # one row per customer
    entry = rows["entry"].to_numpy() if truncated else None
    expected = lifelines_curve(rows["exit"].to_numpy(), rows["churned"].to_numpy(), entry)
    np.testing.assert_allclose(product_limit(at_risk, churned)[0], expected, rtol=0, atol=1e-9)
    # the grouped, weighted fit of models.lifetimes.kaplan_meier is the same estimate
    ours = kaplan_meier(lifetimes, len(expected))
    np.testing.assert_allclose(ours["km"], expected, rtol=0, atol=1e-9)
    assert (ours["km_low"] <= ours["km"]).all() and (ours["km"] <= ours["km_high"]).all()
    if truncated:  # the truncation matters: counted from the start, the curve is higher
        naive = customer_lifetimes(customers, "t.csv", dates["snapshot"])
        assert (product_limit(*hazard_counts(naive, ["s"]))[0][:12] > expected[:12] + 0.01).all()


@pytest.mark.parametrize("truncated", [False, True])
def test_the_projects_kaplan_meier_equals_lifelines(table, truncated):
    """scenarios.predictive.kaplan_meier, the project's own estimator (the posterior predictive
    check's), against lifelines on the same table, with and without entry times."""
    customers, dates = table
    since = dates["observed_from"] if truncated else None
    ours = project_kaplan_meier(customers, dates["snapshot"], since)
    first = customers["start"].dt.to_period("M").array.asi8
    last = pd.Timestamp(dates["snapshot"]).to_period("M").ordinal
    churned = customers["end"].notna().to_numpy()
    ends = customers["end"].dt.to_period("M").array.asi8
    durations = np.where(churned, ends, last) - first + 1
    entry = None
    if truncated:
        entry = np.maximum(pd.Timestamp(since).to_period("M").ordinal - first, 0)
    expected = lifelines_curve(durations, churned, entry)
    np.testing.assert_allclose(ours.values, expected.values, rtol=0, atol=1e-9)


def test_censoring_and_truncation_by_hand(demo_world):
    """Four customers, the snapshot on 30 June 2024, observed from 1 March 2024."""
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "segment": pd.Categorical(["household"] * 4, categories=demo_world.segment_ids),
            "start": pd.to_datetime(["2024-01-10", "2023-11-05", "2024-05-02", "2024-02-01"]),
            "end": pd.to_datetime(["2024-04-20", None, "2024-07-15", "2024-06-30"]),
        }
    )
    lifetimes = customer_lifetimes(
        customers, "c.csv", pd.Timestamp("2024-06-30"), pd.Timestamp("2024-03-01")
    )
    found = {(r.entry, r.exit, r.churned) for r in lifetimes.itertuples() for _ in range(r.weight)}
    assert found == {
        (2, 4, True),  # a: entered in its 3rd month (March), left in its 4th (April)
        (4, 8, False),  # b: started in November, in service at the snapshot: 8 months
        (0, 2, False),  # c: leaves after the snapshot: censored after May and June
        (1, 5, True),  # d: left on the snapshot day, in its 5th month
    }


@pytest.mark.parametrize(
    ("row", "column", "options", "message"),
    [
        (2, "start", {"snapshot": "2024-06-30"}, "is after the snapshot 2024-06-30"),
        (1, "end", {"observed_from": "2024-03-01"}, "is before --observed-from 2024-03-01"),
    ],
)
def test_impossible_customers_are_refused(tmp_path, demo_world, row, column, options, message):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,segment,start,end\n"
        "a,household,2024-01-10,2024-02-20\n"
        "b,household,2024-07-02,\n"
        "c,household,2024-03-05,\n"
    )
    customers = load_customers(path, demo_world)
    since = options.get("observed_from")
    with pytest.raises(InputError) as error:
        customer_lifetimes(
            customers,
            str(path),
            pd.Timestamp(options.get("snapshot", "2024-12-31")),
            None if since is None else pd.Timestamp(since),
        )
    (line,) = error.value.lines()
    assert line.startswith(f"{path}: row {row}, column {column}: ") and message in line, line


def test_segments_come_from_the_table_without_a_world(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,segment,start,end\n1,retail,2024-01-01,\n2,b2b,2024-01-01,\n3,retail,2024-02-01,\n"
    )
    customers = load_customers(path, None)
    assert list(customers["segment"].cat.categories) == ["retail", "b2b"]
    path.write_text("customer_id,segment,start,end\n1,all,2024-01-01,\n")
    with pytest.raises(InputError) as error:
        load_customers(path, None)
    (line,) = error.value.lines()
    assert "row 1, column segment" in line and "word the tool uses" in line


def test_a_truncated_table_without_observed_from_gets_a_hint(table):
    customers, dates = table
    assert "--observed-from" in truncation_hint(customers)
    whole, _ = simulate_customers(HAZARD, ["s"], 500, 36, seed=1)
    assert truncation_hint(whole) is None
