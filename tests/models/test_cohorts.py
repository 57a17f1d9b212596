"""Cohort counts: the table checked cell by cell, and ``ctm fit --cohorts`` recovering the
sBG baseline of a segment from counts the simulation made with known alpha and beta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.cohorts import load_cohorts
from scenarios.study import draws_of
from sim.engine.simulation import simulate
from sim.inputs.errors import InputError
from tests.helpers import constant_hazard, ctm

A, B = 0.8, 12.0


def write(tmp_path, rows: list[tuple]) -> str:
    path = tmp_path / "cohorts.csv"
    pd.DataFrame(rows, columns=["segment", "month", "alive"]).to_csv(path, index=False)
    return str(path)


def test_a_wide_table_per_segment_any_row_order(tmp_path, demo_world):
    rows = [
        ("enterprise", 1, 80),
        ("household", 0, 100),
        ("enterprise", 0, 90),
        ("household", 1, 70),
        ("household", 2, 60),
    ]
    table = load_cohorts(write(tmp_path, rows), demo_world)
    assert list(table.columns) == ["household", "enterprise"]  # the world's order
    assert table["household"].tolist() == [100, 70, 60]
    assert table["enterprise"].iloc[:2].tolist() == [90, 80] and np.isnan(table["enterprise"][2])


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


def test_missing_column(tmp_path, demo_world):
    path = tmp_path / "cohorts.csv"
    path.write_text("segment,month\nhousehold,0\n")
    with pytest.raises(InputError, match="alive"):
        load_cohorts(path, demo_world)


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
