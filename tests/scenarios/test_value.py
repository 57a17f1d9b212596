"""The economics' two measures of value gained: lifetime value (over the run and after it)
and value over the run; the payback beyond the run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from scenarios.compare import PAYS_BACK, economics, future_acquisitions
from scenarios.runner import BASELINE, Settings, run
from scenarios.study import run_study
from tests.scenarios.test_runner import plan

SMALL = Settings(customers=1_500, months=8, seed=5)
OLD = [
    "scenario", "value_gain", "value_gain_low", "value_gain_high", "cost", "return",
    "p_gain_exceeds_cost", "payback_month", "effort_weeks",
]  # fmt: skip
"""The columns of the economics before lifetime value."""


@pytest.fixture(scope="module")
def plans(demo_world):
    return {
        "no change": plan(
            demo_world, "no change", {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 1.0}
        ),
        "invoice": plan(
            demo_world,
            "invoice",
            {"kind": "fix", "touchpoint": "invoice", "bad_ratings": "halve"},
            one_off=50_000.0,
        ),
    }


@pytest.fixture(scope="module")
def results(demo_params, plans):
    draws = [demo_params.replace(beta=demo_params.beta * f) for f in (0.8, 1.2)]
    return run(draws, plans, SMALL, executor="serial")


def economics_before(results: xr.Dataset, plans) -> pd.DataFrame:
    """scenarios.compare.economics as it was before lifetime value (the reference that
    value="run" must reproduce), word for word but for its docstring and a loop variable's
    name."""
    from scenarios.compare import INTERVAL

    scale, months = results.attrs["scale"], results.sizes["month"]
    rate = float(results.attrs["discount_rate"])
    factor = xr.DataArray((1 + rate) ** -(np.arange(months) + 1.0), dims="month")
    net = results["margin"] - results["cost_to_serve"] - results["acquisition_spend"]
    net = net.sum("segment") * scale * factor
    gain = net.drop_sel(scenario=BASELINE) - net.sel(scenario=BASELINE, drop=True)
    rows = []
    for name, chosen in plans.items():
        cost = chosen.costs(months) * factor.values
        cumulative = gain.sel(scenario=name).cumsum("month").mean("draw").values - np.cumsum(cost)
        spending = np.flatnonzero(cost > 0)
        first = int(spending[0]) if len(spending) else 0
        reached = first + np.flatnonzero(cumulative[first:] >= 0)
        total_gain = gain.sel(scenario=name).sum("month")
        spend = float(cost.sum())
        low, high = total_gain.quantile(list(INTERVAL)).values
        rows.append(
            {
                "scenario": name,
                "value_gain": float(total_gain.mean()),
                "value_gain_low": low,
                "value_gain_high": high,
                "cost": spend,
                "return": (float(total_gain.mean()) - spend) / spend if spend > 0 else np.nan,
                "p_gain_exceeds_cost": float((total_gain > spend).mean()),
                "payback_month": int(reached[0]) if len(reached) else None,
                "effort_weeks": chosen.effort_weeks,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("value", ["lifetime", "run"])
def test_a_scenario_identical_to_the_baseline_gains_exactly_zero(results, plans, value):
    """The same customers and random numbers: every figure of the run and the residual value
    are the baseline's, so the gain is 0 exactly (not within a tolerance)."""
    row = economics(results, plans, value).set_index("scenario").loc["no change"]
    assert row["value_gain"] == 0 and row["value_gain_low"] == 0 and row["value_gain_high"] == 0
    assert row["cost"] == 0 and row["p_gain_exceeds_cost"] == 0
    assert row["measure"] == value
    same = results.sel(scenario="no change")
    np.testing.assert_array_equal(same["residual"], results.sel(scenario=BASELINE)["residual"])


def test_value_over_the_run_keeps_the_old_figures(results, plans):
    """value="run" gives the economics of before, exactly, in the columns it had."""
    money = economics(results, plans, "run")
    pd.testing.assert_frame_equal(money[OLD], economics_before(results, plans))
    assert list(money["pays_back"]) == [
        "in the run" if pd.notna(month) else "not in the run" for month in money["payback_month"]
    ]


def test_lifetime_gain_is_the_run_gain_plus_the_gain_after_it(results, plans):
    """Per draw: (residual plus future acquisitions of the scenario - the baseline's),
    summed over segments, at company scale (already discounted to the run's start), on top
    of the run's gain; 1e-9."""
    lifetime = economics(results, plans).set_index("scenario")
    over_run = economics(results, plans, "run").set_index("scenario")
    after = results["residual"].sum("segment") + future_acquisitions(results)
    after = after * results.attrs["scale"]
    gained = float((after.sel(scenario="invoice") - after.sel(scenario=BASELINE)).mean())
    assert gained != 0
    assert lifetime.loc["invoice", "value_gain"] == pytest.approx(
        over_run.loc["invoice", "value_gain"] + gained, rel=1e-9
    )
    assert lifetime.loc["invoice", "cost"] == over_run.loc["invoice", "cost"]  # cost as before
    assert (lifetime["measure"] == "lifetime").all()


def synthetic(run_gain: float, after_gain: float, months: int = 4) -> xr.Dataset:
    """Counts of a baseline and a scenario "s" over 2 draws, 1 segment: the scenario earns
    ``run_gain`` more margin in every month, and ``after_gain`` more residual value; no
    discounting (rate 0), scale 1."""
    margin = np.zeros((2, 2, 1, months))
    margin[1] += run_gain
    residual = np.zeros((2, 2, 1))
    residual[1] += after_gain
    zeros = np.zeros_like(margin)
    dims = ("scenario", "draw", "segment", "month")
    none = (dims[:3], np.zeros((2, 2, 1)))  # no customers acquired, during the run or after
    return xr.Dataset(
        {
            "margin": (dims, margin),
            "cost_to_serve": (dims, zeros),
            "acquisition_spend": (dims, zeros),
            "residual": (dims[:3], residual),
            **{name: none for name in ("new_value", "new_size", "future_acquired", "future_spend")},
        },
        coords={"scenario": [BASELINE, "s"], "segment": ["x"], "month": np.arange(months)},
        attrs={"scale": 1.0, "discount_rate": 0.0},
    )


@pytest.mark.parametrize(
    "run_gain, after_gain, value, month, pays_back",
    [
        (30.0, 0.0, "lifetime", 3, "in the run"),  # 4 x 30 = 120 >= 100 in month 3
        (10.0, 80.0, "lifetime", None, "after the run"),  # 40 in the run, 120 in all
        (10.0, 50.0, "lifetime", None, "never"),  # 90 < 100
        (10.0, 80.0, "run", None, "not in the run"),  # the run's measure cannot tell
        (30.0, 0.0, "run", 3, "in the run"),
        (30.0, -80.0, "lifetime", 3, "in the run, then lost"),  # 120 in the run, 40 in all
        (30.0, -80.0, "run", 3, "in the run"),
    ],
)
def test_payback_in_the_run_after_it_or_never(
    demo_world, run_gain, after_gain, value, month, pays_back
):
    """A plan costing 100 in month 0 against gains known exactly (no discounting)."""
    edit = {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 1.0}  # costs are all it has
    costly = {"s": plan(demo_world, "s", edit, one_off=100)}
    row = economics(synthetic(run_gain, after_gain), costly, value).iloc[0]
    assert row["pays_back"] == pays_back and pays_back in PAYS_BACK
    assert (row["payback_month"] is None) if month is None else row["payback_month"] == month
    total = 4 * run_gain + (after_gain if value == "lifetime" else 0.0)
    assert row["value_gain"] == pytest.approx(total)
    assert row["return"] == pytest.approx((total - 100) / 100)


def test_run_study_passes_the_measure_on(demo_world, demo_params, plans):
    settings = Settings(customers=300, months=3, seed=1)
    for value in ("lifetime", "run"):
        study = run_study(demo_world, plans, [demo_params], settings, "serial", None, value=value)
        assert (study.money["measure"] == value).all()
    with pytest.raises(ValueError, match="lifetime, run"):
        economics(study.results, plans, "forever")


@pytest.mark.parametrize("start", [0, 3, 20])
def test_a_monthly_cost_goes_on_after_the_run_in_lifetime_value(demo_world, results, start):
    """A monthly cost c from month s, discounted as the economics do (month m at
    (1 + d)^-(m + 1)), costs sum_{m >= s} c (1 + d)^-(m + 1) = c (1 + d)^-s / d in all: the
    run's months plus the perpetuity after them (closed form; 1e-9 relative: rounding)."""
    monthly, rate = 1_000.0, float(results.attrs["discount_rate"])
    costly = plan(
        demo_world,
        "invoice",
        {"kind": "fix", "touchpoint": "invoice", "bad_ratings": "halve"},
        start=start,
    )
    costly = type(costly)(
        costly.name, (costly.scenarios[0].model_copy(update={"monthly_cost": monthly}),)
    )
    lifetime = economics(results, {"invoice": costly}, value="lifetime").iloc[0]
    over_run = economics(results, {"invoice": costly}, value="run").iloc[0]
    assert lifetime["cost"] == pytest.approx(monthly * (1 + rate) ** -start / rate, rel=1e-9)
    months = results.sizes["month"]
    expected_run = sum(monthly * (1 + rate) ** -(m + 1) for m in range(start, months))
    assert over_run["cost"] == pytest.approx(expected_run, rel=1e-9, abs=1e-9)


def test_a_month_after_the_run_converts_as_the_journey_chain_says(demo_world, demo_params):
    """The customers a month after the run brings: the sample's prospects plus the referrals
    of the last month's advocates, times the exact conversion of the journey's absorbing
    chain; its spend: their expected journey contacts' cost plus the acquisition cost of the
    converted (closed forms, 1e-12). Every month after it is worth that month's customers at
    the run's value per new customer less the spend, discounted as a perpetuity."""
    from scenarios.runner import simulate_piece
    from sim.formulas.chains import absorb, effective_transitions

    counts = simulate_piece([(0, demo_params)], SMALL, seed=4)
    p, fraction = demo_params, 1 / counts.attrs["scale"]
    chains = effective_transitions(p)
    advocates = counts["advocates"].isel(month=-1).values
    for s in range(len(p.segments)):
        conversion, visits = absorb(p.start[s], chains[s])
        prospects = p.prospects[s] * fraction + p.referral_rate[s] * advocates[s]
        acquired = counts["future_acquired"].values[s]
        assert acquired == pytest.approx(prospects * conversion, rel=1e-12)
        spend = prospects * visits @ p.cost_per_contact + acquired * p.acquisition_cost[s]
        assert counts["future_spend"].values[s] == pytest.approx(spend, rel=1e-12)
    d, months = p.discount_rate, counts.sizes["month"]
    worth = counts["new_value"] / counts["new_size"]
    month = float((counts["future_acquired"] * worth - counts["future_spend"]).sum())
    expected = month * (1 + d) ** -months / d
    assert float(future_acquisitions(counts)) == pytest.approx(expected, rel=1e-12)


def with_add_ons(results: xr.Dataset, per_month: float, after: float, new: float) -> xr.Dataset:
    """``results`` whose scenario "s" earns ``per_month`` of its margin from add-ons each
    month, ``after`` more add-on residual and, per customer acquired, ``new`` more add-on
    value (the baseline none)."""
    monthly = xr.zeros_like(results["margin"])
    monthly.loc[{"scenario": "s"}] = per_month
    end = xr.zeros_like(results["residual"])
    residual, acquired = end.copy(), end.copy()
    residual.loc[{"scenario": "s"}] = after
    acquired.loc[{"scenario": "s"}] = new
    return results.assign(
        add_on_margin=monthly,
        add_on_residual=residual,
        new_add_on_value=acquired,
        new_size=xr.ones_like(end),
        future_acquired=xr.ones_like(end),
    )


@pytest.mark.parametrize("value", ["lifetime", "run"])
def test_of_which_cross_sell_and_up_sell(demo_world, value):
    """A scenario whose margin holds 7.5 of add-ons a month over 4 months, 20 more add-on
    residual and 5 more add-on value per customer acquired (one a month after the run, a
    perpetuity at d = 0.01 from month 4 on: 5 (1.01)^-4 / 0.01): of which cross-sell and
    up-sell is the run's 4 months of 7.5 discounted, plus (lifetime) the two after it; the
    whole gain is unchanged by the split (the margin held the add-ons already)."""
    edit = {"kind": "fix", "touchpoint": "invoice", "bad_ratings": 1.0}
    costly = {"s": plan(demo_world, "s", edit, one_off=100)}
    results = synthetic(30.0, 80.0)
    results.attrs["discount_rate"] = 0.01
    split = with_add_ons(results, 7.5, 20.0, 5.0)
    row = economics(split, costly, value).iloc[0]
    factor = (1.01 ** -(np.arange(4) + 1.0)).sum() / 4  # the run's months discounted
    run_part = 30.0 * factor
    expected = run_part if value == "run" else run_part + 20.0 + 5.0 * 1.01**-4 / 0.01
    assert row["add_on_gain"] == pytest.approx(expected, rel=1e-9)
    assert row["add_on_gain_low"] == pytest.approx(expected) == row["add_on_gain_high"]
    counts = ["add_on_margin", "add_on_residual", "new_add_on_value"]
    plain = economics(split.drop_vars(counts), costly, value).iloc[0]
    assert plain["add_on_gain"] == 0.0  # results without add-on counts: none
    whole = economics(split, costly, value).iloc[0]["value_gain"]
    assert whole == pytest.approx(plain["value_gain"], rel=1e-12)  # margin held it already
