"""Cohort counts: the table checked cell by cell (counts that rise and inconsistent at-risk
counts refused, naming row and column), its lifetimes (censoring and truncation), the table
``ctm cohorts`` makes from a customers table, and ``ctm fit --cohorts`` recovering the sBG
baseline of a segment from counts the simulation made with known alpha and beta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.cohorts import cohort_lifetimes, cohort_table, load_cohorts
from models.lifetimes import customer_lifetimes, hazard_counts, simulate_customers
from scenarios.study import draws_of
from sim.engine.simulation import simulate
from sim.inputs.errors import InputError
from tests.helpers import constant_hazard, ctm

A, B = 0.8, 12.0


def write(tmp_path, rows: list[tuple], columns=("segment", "month", "alive")) -> str:
    path = tmp_path / "cohorts.csv"
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return str(path)


def test_the_old_format_is_one_cohort_per_segment_in_any_row_order(tmp_path, demo_world):
    rows = [
        ("enterprise", 1, 80),
        ("household", 0, 100),
        ("enterprise", 0, 90),
        ("household", 1, 70),
        ("household", 2, 60),
    ]
    table = load_cohorts(write(tmp_path, rows), demo_world)
    assert table["segment"].tolist() == ["household"] * 3 + ["enterprise"] * 2  # world order
    assert table["alive"].tolist() == [100, 70, 60, 90, 80]
    assert table["at_risk"].tolist() == [100, 100, 70, 90, 90]  # the month before's alive
    assert set(table["cohort"]) == {""}


def test_cohorts_with_at_risk_counts_become_censored_and_truncated_lifetimes(tmp_path, demo_world):
    """Two household cohorts: one from month 0, with 5 customers no longer followed in month
    2 (at risk 75 of the 80 alive); one first observed at month 3 (left-truncated)."""
    rows = [
        ("household", "2024-01", 0, 100, None),
        ("household", "2024-01", 1, 80, None),
        ("household", "2024-01", 2, 70, 75),
        ("household", "2023-10", 3, 50, None),
        ("household", "2023-10", 4, 45, 50),
    ]
    path = write(tmp_path, rows, ("segment", "cohort", "month", "alive", "at_risk"))
    table = load_cohorts(path, demo_world)
    lifetimes = cohort_lifetimes(table)
    at_risk, churned = hazard_counts(lifetimes, ["household"])
    # month 1: 100 at risk, 20 churn; month 2: 75 at risk (5 censored), 5 churn; month 3:
    # no one (the late cohort enters after 3 months); month 4: 50 at risk, 5 churn
    assert at_risk[0].tolist() == [100, 75, 0, 50]
    assert churned[0].tolist() == [20, 5, 0, 5]
    assert int(lifetimes["weight"].sum()) == 150


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        ([("nobody", 0, 10)], "row 1, column segment", "unknown segment 'nobody'"),
        (
            [("household", 0, 10), ("household", 2, 5)],
            "row 2, column month",
            "has month 2 where month 1 was expected",
        ),
        (
            [("household", 0, 10), ("household", 0, 9)],
            "row 2, column month",
            "has month 0 where month 1 was expected",
        ),
        (
            [("household", 0, 10), ("household", 1, 12)],
            "row 2, column alive",
            "more customers alive in month 1 than the month before",
        ),
        ([("household", 0, -3)], "row 1, column alive", "count -3, expected a whole number >= 0"),
        ([("household", 0.5, 3)], "row 1, column month", "month 0.5, expected a whole number"),
        ([("household", 0, 0)], "row 1, column alive", "no customers in month 0"),
    ],
)
def test_bad_cohort_tables_name_row_and_column(tmp_path, demo_world, rows, where, message):
    with pytest.raises(InputError) as error:
        load_cohorts(write(tmp_path, rows), demo_world)
    (line,) = error.value.lines()
    assert where in line and message in line, line


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        (  # more at risk than were alive the month before
            [("household", "2024-01", 0, 10, None), ("household", "2024-01", 1, 8, 11)],
            "row 2, column at_risk",
            "has 11 at risk in month 1 but 10 alive in month 0",
        ),
        (  # more alive than at risk
            [("household", "2024-01", 0, 10, None), ("household", "2024-01", 1, 9, 8)],
            "row 2, column alive",
            "has 9 alive in month 1 but 8 at risk",
        ),
        (  # at risk on a cohort's first row
            [("household", "2024-01", 0, 10, 12)],
            "row 1, column at_risk",
            "expected it empty",
        ),
        (
            [("household", "Jan", 0, 10, None)],
            "row 1, column cohort",
            "cohort 'Jan' cannot be read, expected the month the cohort started, YYYY-MM",
        ),
    ],
)
def test_inconsistent_at_risk_counts_are_refused(tmp_path, demo_world, rows, where, message):
    path = write(tmp_path, rows, ("segment", "cohort", "month", "alive", "at_risk"))
    with pytest.raises(InputError) as error:
        load_cohorts(path, demo_world)
    (line,) = error.value.lines()
    assert line.startswith(f"{path}: {where}:") and message in line, line


def test_missing_column(tmp_path, demo_world):
    path = tmp_path / "cohorts.csv"
    path.write_text("segment,month\nhousehold,0\n")
    with pytest.raises(InputError, match="alive"):
        load_cohorts(path, demo_world)


def test_a_cohort_table_from_customers_holds_the_same_counts(tmp_path, demo_world):
    """``ctm cohorts``' table (one cohort per segment and start month) read back gives exactly
    the customers table's counts at risk and churning by month of service: censoring at the
    snapshot and truncation at the window's start included."""
    hazard = np.array([[0.08, 0.05, 0.03, 0.03, 0.04, 0.06], [0.02] * 6])
    customers, dates = simulate_customers(
        hazard, ["household", "enterprise"], 400, 30, seed=3, observed_from=10
    )
    customers["segment"] = customers["segment"].astype(pd.CategoricalDtype(demo_world.segment_ids))
    table = cohort_table(customers, "customers.csv", dates["snapshot"], dates["observed_from"])
    assert list(table.columns) == ["segment", "cohort", "month", "alive", "at_risk"]
    path = tmp_path / "cohorts.csv"
    table.to_csv(path, index=False)
    again = cohort_lifetimes(load_cohorts(path, demo_world))
    direct = customer_lifetimes(
        customers, "customers.csv", dates["snapshot"], dates["observed_from"]
    )
    segments = demo_world.segment_ids
    got, expected = hazard_counts(again, segments), hazard_counts(direct, segments)
    np.testing.assert_array_equal(got[0], expected[0])  # at risk
    np.testing.assert_array_equal(got[1], expected[1])  # churned
    assert table.groupby(["segment", "cohort"])["month"].min().max() > 0  # truncated cohorts


@pytest.fixture(scope="module")
def counts(demo_params, tmp_path_factory) -> str:
    """Households' cohort simulated with an sBG baseline (alpha 0.8, beta 12), 24 months:
    the installed base all at tenure 0 (``tenure_mix: new``), so that it is one cohort from
    its start, as the counts say."""
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=0.01)
    sbg = np.full((len(params.segments), 2), np.nan)
    sbg[0] = A, B
    new = np.ones((len(params.segments), 1))  # every customer of the base at tenure 0
    params = params.replace(sbg=sbg, queues={}, base_tenure=new)
    ds = simulate(params, customers=8_000, months=24, seed=5)
    cohort = ds.sel(cohort=0).isel(segment=0)
    alive = np.concatenate([[cohort["cohort_size"].item()], cohort["survivors"].values])
    path = tmp_path_factory.mktemp("cohorts") / "cohorts.csv"
    pd.DataFrame({"segment": "household", "month": range(25), "alive": alive.astype(int)}).to_csv(
        path, index=False
    )
    return str(path)


@pytest.mark.slow
def test_fit_cohorts_alone_recovers_the_sbg_baseline(counts, tmp_path, demo_world):
    out = tmp_path / "posterior.nc"
    done = ctm("fit", "--cohorts", counts, "--draws", "500", "--tune", "500", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "household: alpha" in done.stdout
    posterior = xr.open_datatree(out, engine="h5netcdf")["posterior"].to_dataset()
    household = posterior["sbg"].sel(segment="household")
    for name, truth in (("alpha", A), ("beta", B)):
        low, high = household.sel(sbg_parameter=name).quantile([0.03, 0.97]).values
        assert low <= truth <= high, (name, low, high)
    assert posterior["sbg"].sel(segment="enterprise").isnull().all()
    sets = draws_of(demo_world, out, 4)  # the simulation takes them: households sBG only
    assert all(np.isfinite(p.sbg[0]).all() and np.isnan(p.sbg[1:]).all() for p in sets)
    assert len({float(p.sbg[0, 0]) for p in sets}) == 4
