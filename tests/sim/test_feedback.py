"""Demo feedback data: reproducible, in the data contract, and faithful to the run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.data import BUNDLED, load_customers, load_events, load_responses
from sim.engine.feedback import demo_data, write_demo_data
from sim.engine.simulation import simulate

SETTINGS = {"customers": 5_000, "months": 24, "seed": 1}  # what `ctm demo-data` bundles


@pytest.fixture(scope="module")
def regenerated(demo_params, tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    tables = demo_data(demo_params, **SETTINGS)
    write_demo_data(tables, demo_params, folder, **SETTINGS)
    return folder, tables


def test_bundled_data_is_reproduced_by_its_seed(regenerated):
    folder, _ = regenerated
    for name in ("customers.csv", "responses.csv", "events.csv", "ratings.csv"):
        assert (folder / name).read_bytes() == (BUNDLED / name).read_bytes(), name
    xr.testing.assert_equal(
        xr.open_dataset(folder / "truth.nc", engine="h5netcdf").load(),
        xr.open_dataset(BUNDLED / "truth.nc", engine="h5netcdf").load(),
    )


def test_truth_records_the_installed_bases_tenure_mix(demo_params):
    """truth.nc holds the tenure mix the run drew the base's tenures from (the demo world's
    steady mix): P(tenure = t) by segment, t = 0 .. 600 months."""
    with xr.open_dataset(BUNDLED / "truth.nc", engine="h5netcdf") as truth:
        mix = truth["base_tenure"].load()
    assert mix.dims == ("segment", "tenure") and mix.sizes["tenure"] == 601
    np.testing.assert_array_equal(mix.values, demo_params.base_tenure)


def test_tables_pass_the_loaders_and_hang_together(demo_world):
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    responses = load_responses(BUNDLED / "responses.csv", demo_world, customers)
    events = load_events(BUNDLED / "events.csv", demo_world)
    when = responses.merge(customers, on="customer_id")
    assert (when["date"] >= when["start"]).all()
    assert ((when["date"] <= when["end"]) | when["end"].isna()).all()
    first_day = pd.Timestamp("2025-01-01")  # of the run: the installed base started by then
    acquired = customers.loc[customers["start"] > first_day, "customer_id"]
    assert acquired.isin(events["customer_id"]).all()  # every new customer walked a journey
    base = customers[customers["start"] <= first_day]
    assert not base["customer_id"].isin(events["customer_id"]).any()
    assert len(base) == 5_000 and base["start"].min() < pd.Timestamp("2010-01-01")
    assert events.groupby("customer_id")["timestamp"].is_monotonic_increasing.all()


def test_response_rate_and_churn_match_the_run(demo_params, regenerated):
    _, tables = regenerated
    run = simulate(demo_params, **SETTINGS)
    person_months = float(run["active_start"].sum())
    rate = len(tables["responses"]) / person_months
    # Binomial standard error of a share of 0.08 over ~220,000 person-months is 0.0006.
    assert abs(rate - 0.08) < 4 * np.sqrt(0.08 * 0.92 / person_months)
    churned = tables["customers"]["end"].notna().sum()
    assert churned == run["churned"].sum()
