"""Tests for models.arrivals: counting new customers, the conjugate posterior, the demo data.

Tolerances are stated where they are used. Nothing here samples with MCMC; all tests are fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from models.arrivals import ArrivalModel, installed_base, monthly_starts, observation_start
from models.data import BUNDLED, load_customers
from sim.inputs.load import load_world
from tests.helpers import absorbing_chain, averaged_over_ratings

SEGMENTS = ["household", "small_business", "enterprise"]


def customers_table(segment: list[str], start: list[str], end: list[str | None]) -> pd.DataFrame:
    """A customers table in the loaders' format."""
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(segment))],
            "segment": pd.Categorical(segment, categories=SEGMENTS),
            "start": pd.to_datetime(start).astype("datetime64[us]"),
            "end": pd.to_datetime(end).astype("datetime64[us]"),
        }
    )


def simulate_customers(rates: np.ndarray, months: int, base: int, seed: int) -> pd.DataFrame:
    """An installed base on the first day, then Poisson(rates[s]) new customers a month."""
    rng = np.random.default_rng(seed)
    new = rng.poisson(rates, size=(months, len(rates)))  # (month, segment), month 1..months
    month = np.concatenate(
        [np.zeros(base, int), np.repeat(np.arange(1, months + 1), new.sum(axis=1))]
    )
    segment = np.concatenate(
        [
            rng.integers(0, len(rates), base),
            np.concatenate([np.repeat(np.arange(len(rates)), row) for row in new]),
        ]
    )
    starts = pd.period_range("2024-01", periods=months + 1, freq="M").to_timestamp()
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(month)).astype(str),
            "segment": pd.Categorical.from_codes(segment, categories=SEGMENTS),
            "start": starts[month].astype("datetime64[us]"),
            "end": pd.Series(pd.NaT, index=range(len(month)), dtype="datetime64[us]"),
        }
    )


def test_counts_window_and_installed_base():
    """Observation begins in the first month with a departure (January): the customers who
    started in or before it are the installed base, whenever they started; empty months
    count as zeros; ends extend the window; an explicit window is respected."""
    customers = customers_table(
        ["household", "household", "enterprise", "household", "enterprise", "household",
         "household", "enterprise"],
        ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-10", "2024-04-01", "2024-04-30",
         "2019-07-01", "2022-11-01"],
        [None, "2024-06-15", None, None, None, None, "2024-01-31", None],
    )  # fmt: skip
    assert str(observation_start(customers)) == "2024-01"
    assert installed_base(customers).tolist() == [True] * 3 + [False] * 3 + [True] * 2
    counts = monthly_starts(customers)
    assert counts.dims == ("segment", "month")
    assert counts["segment"].values.tolist() == SEGMENTS
    assert pd.DatetimeIndex(counts["month"].values).strftime("%Y-%m").tolist() == [
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
        "2024-06",
    ]
    assert counts.values.tolist() == [[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 0]]
    window = monthly_starts(customers, first_month="2024-01", last_month="2024-03")
    assert window.values.tolist() == [[2, 1, 0], [0, 0, 0], [1, 0, 0]]
    nobody_left = customers.assign(end=pd.NaT).iloc[:6]  # the first start's month then
    assert str(observation_start(nobody_left)) == "2024-01"
    with pytest.raises(ValueError, match="holds no month"):
        monthly_starts(customers, first_month="2024-05", last_month="2024-03")


def test_conjugate_posterior_is_exact():
    """shape = a0 + sum y, rate = b0 + M; the mean is (a0 + sum y) / (b0 + M) to rounding
    (1e-12 relative), and the interval is the Gamma quantiles themselves."""
    customers = simulate_customers(np.array([30.0, 5.0, 0.4]), months=12, base=100, seed=1)
    model = ArrivalModel(prior_shape=2.0, prior_rate=0.5).fit(customers)
    total = model.counts_.sum("month").values
    assert model.counts_.sizes["month"] == 12
    np.testing.assert_allclose(model.mean_.values, (2.0 + total) / (0.5 + 12), rtol=1e-12)
    interval = model.interval(0.9)
    expected = stats.gamma.ppf([[0.05], [0.95]], 2.0 + total, scale=1 / 12.5)
    np.testing.assert_allclose([interval["lower"], interval["upper"]], expected, rtol=1e-12)


def test_sample_and_prospects():
    """Draws average to the posterior mean within 4 Monte Carlo standard errors
    (sd / sqrt(draws); a false alarm about once in 16,000); the same seed gives the same
    draws, so prospects are exactly new customers / conversion, draw by draw."""
    model = ArrivalModel(seed=3).fit(simulate_customers(np.array([30.0, 5.0, 0.4]), 24, 50, 2))
    draws = model.sample(20_000)
    assert draws.dims == ("draw", "segment")
    sd = np.sqrt(model.shape_) / model.rate_
    assert np.all(np.abs(draws.mean("draw") - model.mean_) <= 4 * sd / np.sqrt(20_000))
    conversion = np.array([0.2, 0.5, 1.0])
    prospects = model.sample(20_000, conversion=conversion)
    np.testing.assert_allclose(prospects.values, draws.values / conversion)
    per_draw = xr.DataArray(
        np.full((20_000, 3), 0.25), dims=("draw", "segment"), coords={"segment": SEGMENTS}
    )
    np.testing.assert_allclose(model.sample(20_000, per_draw).values, draws.values * 4)
    np.testing.assert_allclose(
        model.interval(conversion=conversion)["mean"], model.mean_ / conversion
    )
    with pytest.raises(ValueError, match="probability"):
        model.sample(10, conversion=[0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="draws"):
        model.sample(10, conversion=np.full((5, 3), 0.5))


def test_recovery_coverage():
    """True rates inside the 94% interval in 91%-97% of 200 data sets x 3 segments.

    If the coverage is 94%, the hits are Binomial(600, 0.94): sd 1.0 point, so 91%-97% is
    about +-3.1 sd, a false alarm about 0.2% of the time (the seeds are fixed: the test is
    deterministic). An interval 30% too narrow covers about 80%. The enterprise rate (0.4 a month,
    about 10 customers in 24 months) is where a prior that mattered would show.
    """
    rates = np.array([70.0, 13.0, 0.4])
    hits = 0
    for seed in range(200):
        interval = ArrivalModel().fit(simulate_customers(rates, 24, 20, seed)).interval(0.94)
        hits += int(((interval["lower"] <= rates) & (rates <= interval["upper"])).sum())
    print(f"arrival 94% interval coverage: {hits / 600:.3f}")
    assert 0.91 <= hits / 600 <= 0.97


def test_demo_rates_match_the_world(demo_params):
    """The bundled demo data give the world's monthly new customers per segment.

    The demo run simulated 5,000 of the world's 232,000 customers, and prospects scaled alike
    (fraction f). A prospect of segment s buys with the conversion q_s of the journey chain
    (fundamental matrix, tests.sim.test_journey). Prospects also come from referrals: each
    advocate brings referral_rate_s a month, so the expected new customers a month are

        q_s (f prospects_per_month_s + referral_rate_s x advocates_s),

    advocates_s estimated as customers in service each month times the advocate share of
    the segment's survey answers. This must lie inside the 99% posterior interval (about
    +-5% for households; the estimate of the referrals adds about 1% more). Without the
    referrals the household rate (61.0) falls outside it (66-75): the test can tell.
    """
    world = load_world("demo")
    truth = xr.open_dataset(BUNDLED / "truth.nc")
    fraction = int(truth.attrs["customers"]) / demo_params.customers.sum()
    customers = load_customers(BUNDLED / "customers.csv", world)
    responses = pd.read_csv(BUNDLED / "responses.csv", dtype={"customer_id": str})
    segment = responses["customer_id"].map(customers.set_index("customer_id")["segment"])
    months = pd.period_range("2025-01", periods=int(truth.attrs["months"]), freq="M")
    model = ArrivalModel().fit(customers)
    # The installed base started over decades before the run (its tenures): none of it counts.
    assert customers["start"].min() < pd.Timestamp("2000-01-01")
    assert pd.Timestamp(model.counts_["month"].values[0]) == pd.Timestamp("2025-02-01")
    assert int(model.counts_.sum()) == (customers["start"] > pd.Timestamp("2025-01-01")).sum()
    assert (customers["start"] <= pd.Timestamp("2025-01-01")).sum() == 5_000
    interval = model.interval(0.99)
    assert interval["mean"].values.round(1).tolist() == [70.3, 13.2, 0.5]
    for s, name in enumerate(demo_params.segments):
        conversion, _ = absorbing_chain(demo_params.start[s], averaged_over_ratings(demo_params, s))
        mine = customers[customers["segment"] == name]
        in_service = [
            ((mine["start"] <= m.start_time) & ~(mine["end"] <= m.end_time)).sum()
            for m in months[:-2]
        ]  # advocates of month m bring buyers in month m + 2
        share = (responses.loc[segment == name, "self_class"] == "advocate").mean()
        referred = demo_params.referral_rate[s] * share * np.sum(in_service) / (len(months) - 1)
        expected = conversion * (fraction * demo_params.prospects[s] + referred)
        bounds = interval.sel(segment=name)
        print(
            f"{name}: expected {expected:.2f}, posterior {float(bounds['mean']):.2f} "
            f"[{float(bounds['lower']):.2f}, {float(bounds['upper']):.2f}]"
        )
        assert float(bounds["lower"]) <= expected <= float(bounds["upper"])
    household = absorbing_chain(demo_params.start[0], averaged_over_ratings(demo_params, 0))[0]
    assert household * fraction * demo_params.prospects[0] < float(interval["lower"][0])


def test_bad_settings():
    with pytest.raises(ValueError, match="prior_shape"):
        ArrivalModel(prior_shape=0)
    with pytest.raises(ValueError, match="seed"):
        ArrivalModel(seed=-1)
    model = ArrivalModel().fit(simulate_customers(np.array([3.0, 2.0, 1.0]), 6, 5, 0))
    with pytest.raises(ValueError, match="draws"):
        model.sample(0)
    with pytest.raises(ValueError, match="prob"):
        model.interval(1.0)
