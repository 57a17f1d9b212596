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


def test_kaplan_meier_with_delayed_entry_by_hand():
    """Left truncation: observed from 1 March to 31 August 2024; customers who started before
    March enter the estimate at the tenure they had then (lifelines is not installed, so the
    reference is this hand computation of the product-limit estimator with delayed entry).

    Entry e (months served before March), months served T (churned *, censored +), at risk in
    months e + 1..T: A e=3, T=5*; B e=2, T=8+; C 0, 1*; D 0, 3*; E e=9, T=12*; F 0, 4+;
    G left in January (never at risk in the window: left out); H e=1, T=2*. So n_t, d_t:
    t=1: C D F, 1; t=2: D F H, 1; t=3: B D F, 1; t=4: A B F, 0; t=5: A B, 1; t=6..8: B, 0;
    t=9: nobody (E enters at 10), 0; t=10, 11: E, 0; t=12: E, 1. S = 2/3, 4/9, 8/27, 8/27,
    4/27 through month 11, then 0. Without delayed entry B, A, E and H would count from their
    first month (n_1 = 7) and the curve would start at 6/7.
    """
    customers = customers_table(
        ["2023-12-01", "2024-01-01", "2024-03-10", "2024-04-01", "2023-06-01", "2024-05-01",
         "2023-10-01", "2024-02-01"],
        ["2024-04-20", None, "2024-03-25", "2024-06-30", "2024-05-15", None, "2024-01-31",
         "2024-03-31"],
    )  # fmt: skip
    km = kaplan_meier(customers, pd.Timestamp("2024-08-31"), pd.Timestamp("2024-03-01"))
    assert km["month"].values.tolist() == list(range(1, 13))
    assert km["at_risk"].values.tolist() == [3, 3, 3, 3, 2, 1, 1, 1, 0, 1, 1, 1]
    assert km["churned"].values.tolist() == [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    expected = [2 / 3, 4 / 9, 8 / 27, 8 / 27, *[4 / 27] * 7, 0.0]
    np.testing.assert_allclose(km.values, expected, rtol=1e-12, atol=0)
    # Greenwood at t=3: S sqrt(3 / (3 * 2)) = 8/27 sqrt(1/2).
    assert float(km["standard_error"][2]) == pytest.approx(8 / 27 * np.sqrt(0.5), rel=1e-12)
    naive = kaplan_meier(customers, pd.Timestamp("2024-08-31"))
    assert naive["at_risk"][0] == 8 and float(naive[0]) == pytest.approx(7 / 8)


def test_kaplan_meier_of_a_left_truncated_table_recovers_a_constant_hazard():
    """An installed base that joined over ten years before observation, Geometric(5%)
    lifetimes, and new customers during it: the table holds those in service at some time
    in the 24 months observed. With delayed entry the estimate is 0.95^t within 4 Greenwood
    standard errors in each of the first 60 months (as in the test below); counting every
    customer from its start instead leaves out the base's early leavers and overstates
    retention far beyond that."""
    rng = np.random.default_rng(8)
    origin = pd.Period("2020-01", "M").ordinal
    first = origin + rng.integers(-120, 24, 200_000)
    last = first + rng.geometric(0.05, len(first)) - 1
    kept = last >= origin  # in service at some time from January 2020 on
    start, end = (pd.PeriodIndex.from_ordinals(m[kept], freq="M") for m in (first, last))
    customers = customers_table(start.to_timestamp(), end.to_timestamp(how="end").normalize())
    until, since = pd.Timestamp("2021-12-31"), pd.Timestamp("2020-01-01")
    km = kaplan_meier(customers, until, since).isel(month=slice(0, 60))
    t = km["month"].values
    assert np.all(np.abs(km.values - 0.95**t) <= 4 * km["standard_error"].values)
    naive = kaplan_meier(customers, until).isel(month=slice(0, 60))
    assert np.any(np.abs(naive.values - 0.95**t) > 20 * naive["standard_error"].values)


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
        "observed_from": pd.Timestamp("2025-01-01"),
        "observed_until": pd.Timestamp("2026-12-31"),
    }
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    observed = kaplan_meier(customers, settings["observed_until"], settings["observed_from"])
    replay = replay_retention(
        demo_params, settings["customers"], settings["months"], settings["seed"]
    )
    xr.testing.assert_identical(replay, observed)


def test_retention_band_shape_and_spread(demo_world, demo_params):
    """Three draws of a small world: dims (month, quantile), low <= high, curves decreasing;
    cut at 6 months of tenure (the installed base's tenures reach decades)."""
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
    band = retention_band(posterior, demo_world, 3, seed=5, customers=300, months=6, longest=6)
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
    band of 40 replays in at least 90% of the months. 40 draws spread over the fit's 600
    are enough for a band. Each replay simulates the demo's 5,000 customers over 24 months
    with another seed (:func:`scenarios.predictive.replay_retention`).

    The installed base enters the data at its tenure on the run's first day (the world's
    steady mix), so the curves reach decades of tenure; both the observed curve and the
    replays count it at risk from that tenure on (delayed entry), and the check covers the
    tenures at which the data hold at least 100 customers at risk (the first 10 years),
    beyond which a month's curve moves by whole customers.

    The model is fitted on the months in which customers answered the survey
    (:func:`models.persons.person_months`). While it carried answers forward into later
    months, the replays lost customers faster than the data and the observed curve ran
    along the band's upper edge: inside in 38% to 88% of months, depending on the fit.
    """
    customers, fit = demo_fit
    started = time.perf_counter()
    settings = demo_settings()
    observed = kaplan_meier(customers, settings["observed_until"], settings["observed_from"])
    longest = int(observed["month"].where(observed["at_risk"] >= 100, drop=True).max())
    band = retention_band(
        fit.model.posterior_,
        demo_world,
        40,
        seed=2026,
        customers=settings["customers"],
        months=settings["months"],
        longest=longest,
        workers=2,
    )
    share = share_inside(observed, band)
    table = band.to_pandas().assign(
        observed=observed.to_pandas(), at_risk=observed["at_risk"].to_pandas()
    )
    outside = table[(table["observed"] < table[0.05]) | (table["observed"] > table[0.95])]
    print(
        f"\n{table.round(4).iloc[list(range(0, longest, 6))].to_string()}\n"
        f"outside:\n{outside.round(4).to_string()}\n"
        f"share inside: {share:.1%} of {longest} months; "
        f"replays {time.perf_counter() - started:.0f} s"
    )
    assert longest >= 60 and band.sizes["month"] == longest
    assert share >= 0.9


@pytest.mark.slow
def test_demo_fit_recovers_the_true_churn_parameters(demo_fit):
    """The demo data's true alpha and beta (``truth.nc``) inside their 94% intervals.

    Unlike the synthetic data of ``tests/models/test_churn.py``, the demo data come from the
    simulation, where views drift between survey answers: this is the check that the
    person-months the model sees measure what the simulation's hazard uses. Criterion of the
    issue's recovery test: all but at most one in 20 parameters inside, so at most 2 of the
    54 (42 effects and 12 baselines) outside. Band 3 (tenure 24 and more) counts since the
    installed base enters with its tenures (the world's steady mix: about half of it past
    24 months); before, a 24-month run had no customer there and its alpha was the prior's.

    On demo data of seeds 1 to 8 (``ctm demo-data --seed N``) this fit leaves 0 to 4 of the
    51 of bands 0-2 outside, 2.0 on average (1.6 with the whole base at tenure 0; 3.1
    expected of exact 94% intervals); the bundled seed leaves 2, both household effects a
    little below the truth, as the effects tend to be (0.2 posterior sd on average, with
    the base at tenure 0 too).
    """
    _, fit = demo_fit
    summary = fit.model.summary_
    with xr.open_dataset(BUNDLED / "truth.nc", engine="h5netcdf") as truth:
        true = {"alpha": truth["alpha"].load(), "beta": truth["beta"].load()}
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
    print(f"\n{len(outside)} of 54 outside: {outside}")
    assert len(outside) <= 2
