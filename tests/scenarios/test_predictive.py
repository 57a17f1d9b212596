"""Posterior predictive check of retention: Kaplan-Meier estimates and the predictive band."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.churn import ChurnModel
from models.data import BUNDLED, load_customers
from models.fitting import fit_churn, read_feedback
from scenarios.predictive import (
    demo_settings,
    kaplan_meier,
    replay_retention,
    retention_band,
    share_inside,
)


def customers_table(start: list[str], end: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({
        "start": pd.to_datetime(start).astype("datetime64[us]"),
        "end": pd.to_datetime(end).astype("datetime64[us]"),
    })  # fmt: skip


def test_kaplan_meier_hand_computed_with_censoring():
    """Six customers observed to 30 June 2024, and one starting after it (left out).

    Months served T (churned *, censored +): A 2*, B 6+, C 1*, D 3+, E 5*, F 6+ (F leaves in
    August, after the end of observation). At risk n_t and churns d_t by month t:
    t=1: 6, 1 (C); t=2: 5, 1 (A); t=3: 4, 0; t=4: 3, 0; t=5: 3, 1 (E); t=6: 2, 0. So
    S = 5/6, 5/6 * 4/5 = 2/3, 2/3, 2/3, 2/3 * 2/3 = 4/9, 4/9.
    """
    customers = customers_table(
        ["2024-01-05", "2024-01-10", "2024-03-01", "2024-04-01", "2024-02-01", "2024-01-01",
         "2024-07-01"],
        ["2024-02-20", None, "2024-03-15", None, "2024-06-30", "2024-08-31", None],
    )  # fmt: skip
    km = kaplan_meier(customers, pd.Timestamp("2024-06-30"))
    assert km.dims == ("month",)
    assert km["month"].values.tolist() == [1, 2, 3, 4, 5, 6]
    assert km["at_risk"].values.tolist() == [6, 5, 4, 3, 3, 2]
    assert km["churned"].values.tolist() == [1, 1, 0, 0, 1, 0]
    np.testing.assert_allclose(km.values, [5 / 6, 2 / 3, 2 / 3, 2 / 3, 4 / 9, 4 / 9], rtol=1e-12)
    # Greenwood at t=2: S sqrt(1 / (6 * 5) + 1 / (5 * 4)) = 2/3 sqrt(1/12).
    assert float(km["standard_error"][1]) == pytest.approx(2 / 3 * np.sqrt(1 / 12), rel=1e-12)
    # Default end of observation: the latest start or end (31 August): F then churns at 8.
    assert kaplan_meier(customers)["churned"].values.tolist()[-1] == 1


def constant_hazard_customers(hazard: float, n: int, calendar: int, seed: int) -> pd.DataFrame:
    """Starts uniform over ``calendar`` months, lifetimes Geometric(hazard) in months."""
    rng = np.random.default_rng(seed)
    first = pd.Period("2020-01", "M").ordinal + rng.integers(0, calendar, n)
    last = first + rng.geometric(hazard, n) - 1  # churns in its T-th month of service
    start, end = (pd.PeriodIndex.from_ordinals(m, freq="M") for m in (first, last))
    return customers_table(start.to_timestamp(), end.to_timestamp(how="end").normalize())


def test_kaplan_meier_recovers_a_constant_hazard():
    """20,000 customers, hazard 5% a month, staggered starts, censored after 24 months.

    The exact retention is S(t) = 0.95^t. Tolerance: 4 Greenwood standard errors in every
    month (a false alarm of 6e-5 per month, under 0.2% over 24 months). The same check
    against a hazard of 5.5% fails: the test can tell the curves apart.
    """
    customers = constant_hazard_customers(0.05, 20_000, 24, seed=4)
    km = kaplan_meier(customers, pd.Timestamp("2021-12-31"))
    assert km["month"].values.tolist() == list(range(1, 25))
    assert km["at_risk"][0] == 20_000  # everyone starts within observation
    assert 0 < km["at_risk"][-1] < 1_000  # censoring thins the risk set
    error = km["standard_error"].values

    def within(h: float) -> bool:
        return bool(np.all(np.abs(km.values - (1 - h) ** km["month"].values) <= 4 * error))

    assert within(0.05)
    assert not within(0.055)


def test_replay_with_the_demo_seed_reproduces_the_bundled_curve(demo_world, demo_params):
    """Replays are made as the demo was: the world's own parameters and seed give its data."""
    settings = demo_settings()
    assert settings == {
        "customers": 5000,
        "months": 24,
        "seed": 1,
        "response_rate": 0.08,
        "observed_until": pd.Timestamp("2026-12-31"),
    }
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    observed = kaplan_meier(customers, settings["observed_until"])
    replay = replay_retention(
        demo_params, settings["customers"], settings["months"], settings["seed"]
    )
    xr.testing.assert_identical(replay, observed)


def test_retention_band_shape_and_spread(demo_world, demo_params):
    """Three draws of a small world: dims (month, quantile), low <= high, curves decreasing."""
    S, K, B = (
        len(demo_params.segments),
        len(demo_params.touchpoints),
        len(demo_params.band_starts),
    )
    posterior = xr.Dataset(
        {"alpha": (("chain", "draw", "segment", "band"),
                   np.broadcast_to(demo_params.alpha, (2, 2, S, B)) + [[[[0.0]], [[0.5]]]]),
         "beta": (("chain", "draw", "segment", "touchpoint"),
                  np.broadcast_to(demo_params.beta, (2, 2, S, K)))},
        coords={"chain": [0, 1], "draw": [0, 1], "segment": list(demo_params.segments),
                "touchpoint": list(demo_params.touchpoints), "band": range(B)},
    )  # fmt: skip
    band = retention_band(posterior, demo_world, 3, seed=5, customers=300, months=6)
    assert band.dims == ("month", "quantile")
    assert band["quantile"].values.tolist() == [0.05, 0.95]
    assert band["month"].values.tolist() == [1, 2, 3, 4, 5, 6]
    assert (band.sel(quantile=0.05) <= band.sel(quantile=0.95)).all()
    assert (band.diff("month") <= 0).all()
    assert (band.sel(quantile=0.05) < band.sel(quantile=0.95)).any()  # the draws differ


def test_share_inside():
    months = {"month": [1, 2, 3, 4]}
    band = xr.DataArray(
        [[0.9, 1.0], [0.8, 0.9], [0.7, 0.8], [0.6, 0.7]],
        dims=("month", "quantile"),
        coords={**months, "quantile": [0.05, 0.95]},
    )
    observed = xr.DataArray(
        [0.95, 0.9, 0.6, 0.65, 0.5], dims="month", coords={"month": [1, 2, 3, 4, 5]}
    )  # month 5: not in the band
    assert share_inside(observed, band) == 0.75  # month 3 below its band; bounds inclusive


@pytest.fixture(scope="module")
def demo_fit(demo_world):
    """The churn model fitted to the bundled demo data, briefly: 300 draws and tuning steps
    (not converged by the 1.01 R-hat rule; enough for a band and for intervals)."""
    started = time.perf_counter()
    customers, responses, summary = read_feedback(
        demo_world, BUNDLED / "customers.csv", BUNDLED / "responses.csv"
    )
    fit = fit_churn(
        demo_world, customers, responses, summary, ChurnModel(draws=300, tune=300, seed=1)
    )
    print(f"\nfit {time.perf_counter() - started:.0f} s; {fit.model.diagnostics_}")
    return customers, fit


@pytest.mark.slow
def test_demo_retention_inside_the_posterior_predictive_band(demo_world, demo_fit):
    """The bundled demo's retention curve inside the model's 90% predictive band.

    Criterion (issue "Churn model"): the observed Kaplan-Meier curve lies inside the 5%-95%
    band of 40 replays in at least 90% of the 24 months. 40 draws spread over the fit's 600
    are enough for a band. Each replay simulates the demo's 5,000 customers over 24 months
    with another seed (:func:`scenarios.predictive.replay_retention`).

    The model is fitted on the months in which customers answered the survey
    (:func:`models.persons.person_months`). While it carried answers forward into later
    months, the replays lost customers faster than the data and the observed curve ran
    along the band's upper edge: inside in 38% to 88% of months, depending on the fit.
    """
    customers, fit = demo_fit
    started = time.perf_counter()
    settings = demo_settings()
    band = retention_band(
        fit.model.posterior_,
        demo_world,
        40,
        seed=2026,
        customers=settings["customers"],
        months=settings["months"],
        workers=2,
    )
    observed = kaplan_meier(customers, settings["observed_until"])
    share = share_inside(observed, band)
    table = band.to_pandas().assign(observed=observed.to_pandas()).round(4)
    print(
        f"\n{table.to_string()}\nshare inside: {share:.0%}; "
        f"replays {time.perf_counter() - started:.0f} s"
    )
    assert band.sizes["month"] == 24
    assert share >= 0.9


@pytest.mark.slow
def test_demo_fit_recovers_the_true_churn_parameters(demo_fit):
    """The demo data's true alpha and beta (``truth.nc``) inside their 94% intervals.

    Unlike the synthetic data of ``tests/models/test_churn.py``, the demo data come from the
    simulation, where views drift between survey answers: this is the check that the
    person-months the model sees measure what the simulation's hazard uses. Criterion of the
    issue's recovery test: all but at most one in 20 parameters inside, so at most 2 of the
    51 (42 effects and 9 baselines) outside. Band 3 (tenure 24 and more) is left out: a
    24-month run has no customer there, so its alpha is the prior's.
    """
    _, fit = demo_fit
    summary = fit.model.summary_
    with xr.open_dataset(BUNDLED / "truth.nc", engine="h5netcdf") as truth:
        true = {"alpha": truth["alpha"].isel(band=slice(0, 3)).load(), "beta": truth["beta"].load()}
    outside = []
    for name, values in true.items():
        for index in np.ndindex(values.shape):
            label = ", ".join(
                str(values[d].values[i]) for d, i in zip(values.dims, index, strict=True)
            )
            row = summary.loc[f"{name}[{label}]"]
            if not row["eti94_lb"] <= values.values[index] <= row["eti94_ub"]:
                outside.append(
                    f"{name}[{label}] = {values.values[index]:.2f} not in "
                    f"[{row['eti94_lb']:.2f}, {row['eti94_ub']:.2f}]"
                )
    print(f"\n{len(outside)} of 51 outside: {outside}")
    assert len(outside) <= 2
