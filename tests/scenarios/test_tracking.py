"""ctm track's pieces against closed forms: counts from tables, bands, verdicts, P(half)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from models.realised import realised_counts
from scenarios.prediction import load_prediction, predict, world_fingerprint
from scenarios.tracking import (
    band,
    half_effect,
    months_to_tell,
    power,
    rebased,
    track,
    verdict,
)
from sim.inputs.errors import InputError

OUTCOMES = ["base_retention", "monthly_churn", "new_churn", "conversion", "advocates",
            "dissatisfied", "rating:invoice", "rating_var:invoice"]  # fmt: skip


def synthetic(world, churn: dict[str, float], rating: dict[str, float], months=12, draws=4):
    """A prediction with constant monthly churn and rating per scenario, launched at 0."""
    names = list(churn)
    values = np.zeros((len(names), draws, months, len(OUTCOMES)))
    for i, name in enumerate(names):
        h = churn[name]
        values[i, :, :, 0] = (1 - h) ** np.arange(1, months + 1)
        values[i, :, :, 1:3] = h
        values[i, :, :, 3] = 0.25
        values[i, :, :, 4:6] = [0.3, 0.1]
        values[i, :, :, 6:8] = [rating[name], 1.0]
    return xr.Dataset(
        {"prediction": (("scenario", "draw", "month", "outcome"), values)},
        coords={"scenario": names, "outcome": OUTCOMES, "month": np.arange(months),
                "draw": np.arange(draws), "launch_month": ("scenario", [-1, 0])},
        attrs={"world": world.name, "fingerprint": world_fingerprint(world)},
    )  # fmt: skip


def test_band_of_one_draw_is_the_normal_interval():
    """One draw: the band is mean -/+ z sd / sqrt(n), z the normal quantile."""
    low, mid, high = band(np.array([[0.3]]), np.array([[0.21]]), np.array([1000.0]), 0.95)[:, 0]
    sd = np.sqrt(0.21 / 1000)
    assert low == pytest.approx(0.3 - 1.959964 * sd, abs=1e-9)
    assert mid == pytest.approx(0.3, abs=1e-9) and high == pytest.approx(0.3 + 1.959964 * sd)


def test_band_of_a_mixture_holds_its_mass():
    """Two draws far apart: the mixture's CDF at the band's ends is (1 -/+ level) / 2."""
    mean, var, n = np.array([[0.2], [0.3]]), np.array([[0.16], [0.21]]), np.array([500.0])
    low, _, high = band(mean, var, n, 0.9)[:, 0]
    sd = np.sqrt(var[:, 0] / n)
    cdf = lambda x: stats.norm.cdf(x, mean[:, 0], sd).mean()  # noqa: E731
    assert cdf(low) == pytest.approx(0.05, abs=1e-9) and cdf(high) == pytest.approx(0.95)


def test_verdicts():
    assert verdict(0.5, 100, 0.4, 0.6, True) == "on track"
    assert verdict(0.3, 100, 0.4, 0.6, True) == "behind"
    assert verdict(0.3, 100, 0.4, 0.6, False) == "ahead"  # lower is better (churn)
    assert verdict(0.7, 100, 0.4, 0.6, False) == "behind"
    assert verdict(0.3, 29, 0.4, 0.6, True) == "too early to tell"


def test_half_effect_is_a_half_at_the_midpoint_and_sure_at_the_plans_figure():
    """Baseline churn 3%, plan 2%: realised at 2.5% (the midpoint) gives P = 1/2 up to the
    Beta posterior's skew (0.01 at n = 10^6); at 2% P ~ 1, at 3% P ~ 0."""
    b, p = np.full((3, 1), 0.03), np.full((3, 1), 0.02) + [[0.0], [1e-4], [-1e-4]]
    n = np.array([1e6])
    at = {r: half_effect("monthly_churn", np.array([r]), n, None, b, p, False)[0]
          for r in (0.02, 0.025, 0.03)}  # fmt: skip
    assert at[0.025] == pytest.approx(0.5, abs=0.01)
    assert at[0.02] > 0.999 and at[0.03] < 0.001
    same = half_effect("monthly_churn", np.array([0.02]), n, None, b, b + [[0], [1e-9], [0]], False)
    assert np.isnan(same[0])  # no predicted effect: no half to reach


def test_rebased_retention_counts_from_the_base_at_launch():
    values = np.zeros((1, 3, len(OUTCOMES)))
    values[0, :, 0] = [0.9, 0.8, 0.72]
    values[0, :, 1] = [0.1, 0.11, 0.12]
    p = xr.DataArray(values, dims=("draw", "month", "outcome"),
                     coords={"outcome": OUTCOMES, "month": [0, 1, 2]})  # fmt: skip
    moved = rebased(p, 1)
    np.testing.assert_allclose(moved.sel(outcome="base_retention")[0], [0.8 / 0.9, 0.72 / 0.9])
    np.testing.assert_allclose(moved.sel(outcome="monthly_churn")[0], [0.11, 0.12])


@pytest.fixture
def tiny():
    """Four customers, launch 2025-03-01, snapshot 2025-05-31: counted by hand."""
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "segment": ["household"] * 4,
            "start": pd.to_datetime(["2024-01-01", "2024-06-01", "2025-03-01", "2025-04-01"]),
            "end": pd.to_datetime([None, "2025-04-30", "2025-05-31", None]),
        }
    )
    ratings = pd.DataFrame(
        {
            "customer_id": ["a", "a", "c"],
            "date": pd.to_datetime(["2025-02-20", "2025-03-20", "2025-05-20"]),
            "invoice": pd.array([1, 4, 5], "Int8"),
        }
    )
    return customers, ratings


def test_counts_since_launch_by_hand(tiny):
    customers, ratings = tiny
    c = realised_counts(pd.Timestamp("2025-03-01"), customers, ratings=ratings,
                        touchpoints=["invoice"])  # fmt: skip
    assert c["period"].tolist() == ["2025-03", "2025-04", "2025-05"]
    assert c["base"].tolist() == [2, 2, 2]  # a and b were in service on 1 March
    assert c["base_alive"].tolist() == [2, 1, 1]  # b left in April
    assert c["at_risk"].tolist() == [3, 4, 3]  # a, b, c; + d; b gone
    assert c["churned"].tolist() == [0, 1, 1]
    assert c["new_at_risk"].tolist() == [1, 2, 2] and c["new_churned"].tolist() == [0, 0, 1]
    assert c["ratings:invoice"].tolist() == [1, 0, 1]  # February's is before the launch
    assert c["rating_sum:invoice"].tolist() == [4, 0, 5]


def test_a_launch_outside_the_data_is_refused(tiny):
    customers, ratings = tiny
    with pytest.raises(InputError, match="outside the data, which run from 2025-02-20"):
        realised_counts(pd.Timestamp("2025-07-01"), customers, ratings=ratings)


def test_power_is_the_false_alarm_rate_when_the_plan_changes_nothing(demo_world):
    """A plan predicted to do exactly what the baseline does: data without it fall beyond the
    plan band's worse side with probability (1 - level) / 2, whatever the month; a plan that
    cuts churn from 3% to 1.5% is told apart at once with 50,000 customer-months a month."""
    counts = pd.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 7)],
                           "base": 50_000, "base_alive": 40_000, "at_risk": 50_000,
                           "churned": 1_000, "new_at_risk": 0, "new_churned": 0})  # fmt: skip
    same = synthetic(demo_world, {"baseline": 0.03, "plan": 0.03}, {"baseline": 3, "plan": 3})
    p = power(same, "plan", "monthly_churn", counts, 0.9)
    np.testing.assert_allclose(p, 0.05, atol=1e-6)
    better = synthetic(demo_world, {"baseline": 0.03, "plan": 0.015}, {"baseline": 3, "plan": 3})
    p = power(better, "plan", "monthly_churn", counts, 0.9)
    assert months_to_tell(p) == 1 and months_to_tell(np.array([0.1, 0.5])) is None


def test_track_calls_data_like_the_plan_on_track_and_like_the_baseline_behind(demo_world):
    """Counts drawn at the plan's rates fall in its band; at the baseline's, far below a
    plan that halves churn, behind."""
    prediction = synthetic(demo_world, {"baseline": 0.04, "plan": 0.02}, {"baseline": 3, "plan": 4})
    n = 20_000
    for rate, expected in ((0.02, "on track"), (0.04, "behind")):
        counts = pd.DataFrame({"period": ["2025-01", "2025-02"], "base": n,
                               "base_alive": [round(n * (1 - rate)), round(n * (1 - rate) ** 2)],
                               "at_risk": n, "churned": round(n * rate), "new_at_risk": 0,
                               "new_churned": 0})  # fmt: skip
        table = track(prediction, "plan", counts)
        last = table[table["month"] == 1].set_index("outcome")["verdict"]
        assert last["base_retention"] == expected and last["monthly_churn"] == expected
        assert last["new_churn"] == "too early to tell"  # none acquired


def test_a_prediction_of_another_world_is_refused(demo_world, tmp_path):
    other = synthetic(demo_world, {"baseline": 0.03, "plan": 0.02}, {"baseline": 3, "plan": 4})
    other.attrs.update(world="Elsewhere", fingerprint="0123456789abcdef")
    other.to_netcdf(tmp_path / "prediction.nc", engine="h5netcdf")
    with pytest.raises(InputError, match="made for world 'Elsewhere'"):
        load_prediction(tmp_path / "prediction.nc", demo_world)


@pytest.fixture(scope="module")
def tiny_prediction(demo_world, demo_params):
    """compare's prediction of a tiny run: the invoice rated 1..5 with P = 1%, 2%, 7%, 40%, 50%
    in every segment from month 1."""
    from scenarios.load import parse_scenario
    from scenarios.runner import Settings, run
    from scenarios.scenario import as_plan

    ratings = {"default": [0.01, 0.02, 0.07, 0.4, 0.5]}
    edit = {"kind": "fix", "touchpoint": "invoice", "ratings": ratings}
    file = {"name": "Great invoice", "one_off_cost": 1, "monthly_cost": 0, "effort_weeks": 1,
            "start_month": 1, "edits": [edit]}  # fmt: skip
    scenario = parse_scenario(file, demo_world)
    plans = {"Great invoice": as_plan(scenario)}
    results = run([demo_params], plans, Settings(customers=300, months=3), executor="serial")
    return predict(results, [demo_params], plans, demo_world), plans


def test_the_predicted_rating_is_the_distributions_mean(tiny_prediction):
    """One distribution in every segment: whatever the segments' weights, the mean is
    sum r P(r) = 4.36 and the variance sum r^2 P(r) - 4.36^2 = 0.6104 from the plan's month
    on; the baseline's stays the world's."""
    prediction, _ = tiny_prediction
    values = prediction["prediction"].sel(draw=0)
    plan = values.sel(scenario="Great invoice")
    np.testing.assert_allclose(plan.sel(outcome="rating:invoice", month=[1, 2]), 4.36)
    np.testing.assert_allclose(plan.sel(outcome="rating_var:invoice", month=[1, 2]), 0.6104)
    before = values.sel(outcome="rating:invoice", month=0)
    assert float(before.sel(scenario="baseline")) == float(before.sel(scenario="Great invoice"))
    assert 3.2 < float(before.sel(scenario="baseline")) < 3.5  # the demo's invoice
    assert prediction["launch_month"].values.tolist() == [-1, 1]


def test_the_prediction_keeps_the_plan_to_run_again(tiny_prediction, demo_world, demo_params):
    from scenarios.edits import schedule
    from scenarios.prediction import stored_plan

    prediction, plans = tiny_prediction
    again = stored_plan(prediction, "Great invoice", demo_world)
    (m0, a), (m1, b) = schedule(demo_params, again)
    (n0, c), (n1, d) = schedule(demo_params, plans["Great invoice"])
    assert (m0, m1) == (n0, n1) == (0, 1)
    np.testing.assert_array_equal(b.ratings, d.ratings)
