"""Each scenario against the baseline: differences per draw, their intervals, and the money.

The runner's counts give the figures a strategist asks for per (scenario, draw, segment),
with ``all`` for the whole company (:func:`sim.engine.results.outcomes`). :func:`compare` takes
each scenario's difference from the baseline draw by draw (the same draw and random
numbers, so the difference carries the parameter uncertainty and little else) and gives its
mean, 90% equal-tailed interval and the probability that the scenario is better.
:func:`economics` sets the gain in value against the plan's cost: return on the cost and
the payback month.

Value gained has two measures (``value``). ``"lifetime"`` (the default) is the difference in
the company's value, its customer equity (Gupta, Lehmann & Stuart 2004, "Valuing customers",
Journal of Marketing Research 41(1)): the discounted net value over the run (margin less cost
to serve and acquisition spend), plus the value after the run of the customers in service at
its end (``residual``, :mod:`sim.engine.results`), plus the customers the company goes on
acquiring after the run (:func:`future_acquisitions`). ``"run"`` is the net value over the run
alone, which counts what a customer acquired late costs but hardly what it earns.

After the run the world stands still as the plan left it: customers keep their views, the
plan's monthly cost goes on (:func:`plan_cost`), and every month brings the new customers its
journeys convert (exactly, from the absorbing chain), each worth what a customer acquired in
the run was. Cost and acquisitions are counted over the same horizon, so a removal's monthly
saving after the run is set against the prospects it keeps losing.

Of which cross-sell and up-sell: the part of the value gained that comes from add-ons bought
and margin uplift (a world's ``add_ons`` and ``margin_uplift`` per loyalty class), measured
the same way from their own counts (``add_on_margin`` over the run, ``add_on_residual`` after
it, and the add-on part of each customer acquired after the run, ``new_add_on_value /
new_size``). A plan that makes more customers loyal or advocates gains here beyond the
margin of the customers it keeps.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from scenarios.runner import BASELINE
from scenarios.scenario import Plan
from sim.engine.results import OUTCOMES, outcomes

INTERVAL = (0.05, 0.95)
"""The 90% equal-tailed interval of differences."""
Value = Literal["lifetime", "run"]
"""The measures of value gained (module notes)."""
VALUES: tuple[Value, ...] = ("lifetime", "run")
MEASURES = {
    "lifetime": "lifetime value: over the run and after it",
    "run": "value over the run",
}
"""What each measure of value gained counts, in words (for titles)."""
PAYS_BACK = ("in the run", "in the run, then lost", "after the run", "never", "not in the run")
"""The ``pays_back`` of :func:`economics`."""


def differences(results: xr.Dataset) -> xr.Dataset:
    """Scenario less baseline, draw by draw, for every outcome (baseline itself dropped)."""
    values = outcomes(results)
    return values.drop_sel(scenario=BASELINE) - values.sel(scenario=BASELINE, drop=True)


def compare(results: xr.Dataset) -> pd.DataFrame:
    """One row per (scenario, segment, outcome): baseline and scenario means, the mean
    difference, its 90% interval and P(better) = share of draws where the scenario is
    better (ties count half, so a scenario that changes nothing scores 0.5; empty where the
    outcome is not defined, such as retention after 24 months in a 12-month run)."""
    values, diff = outcomes(results), differences(results)
    rows = []
    for name, (_, unit, higher) in OUTCOMES.items():
        d = diff[name]
        better = (d > 0) if higher else (d < 0)
        ties = d == 0
        with warnings.catch_warnings():  # an outcome undefined in every draw stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = d.quantile(list(INTERVAL), dim="draw")
        table = (
            xr.Dataset(
                {
                    "baseline_mean": values[name]
                    .sel(scenario=BASELINE, drop=True)
                    .mean("draw")
                    .broadcast_like(d.isel(draw=0, drop=True)),
                    "scenario_mean": values[name].drop_sel(scenario=BASELINE).mean("draw"),
                    "difference": d.mean("draw"),
                    "low": low.drop_vars("quantile"),
                    "high": high.drop_vars("quantile"),
                    "p_better": (better + 0.5 * ties).mean("draw").where(d.notnull().all("draw")),
                }
            )
            .to_dataframe()
            .reset_index()
        )
        table.insert(2, "outcome", name)
        table.insert(3, "unit", unit)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def economics(
    results: xr.Dataset, plans: Mapping[str, Plan], value: Value = "lifetime"
) -> pd.DataFrame:
    """Per scenario: the gain in value (company scale, discounted to the run's start), the
    discounted cost of the plan, the return (gain - cost) / cost and the payback.

    Parameters
    ----------
    results
        The runner's counts (:func:`scenarios.runner.run`), with the attributes ``scale``
        and ``discount_rate``.
    plans
        The plans by scenario name (their costs).
    value
        ``"lifetime"``: the gain in the company's lifetime value, the gain in net value over
        the run (margin less cost to serve and acquisition spend, month m discounted by
        (1 + d)^-(m + 1)) plus the gain in ``residual`` (the value after the run of the
        customers in service at its end, discounted to the run's start); ``"run"``: the gain
        over the run alone. The plan's cost follows the measure: over the run, or over the
        run and, at its monthly rate, for ever after (:func:`_cost_after`): lifetime value
        holds customers' views as the plan left them, which assumes the plan goes on.

    Returns
    -------
    pandas.DataFrame
        One row per plan: ``value_gain`` (mean over draws) with its 90% interval
        (``value_gain_low``, ``value_gain_high``), of which cross-sell and up-sell
        ``add_on_gain`` (mean, with ``add_on_gain_low`` and ``add_on_gain_high``: the module
        notes), ``cost`` (discounted), ``return``,
        ``p_gain_exceeds_cost`` (share of draws), ``payback_month``, ``pays_back``,
        ``effort_weeks`` and ``measure`` (``value``). The payback month is the first month of
        the run, from the first spending on, at which the mean cumulative discounted gain over
        the run reaches the cumulative cost (empty if it never does). ``pays_back`` says
        "in the run" then, or, with lifetime value, "in the run, then lost" when the mean
        lifetime gain falls short of the cost after all (a removal that saves acquisition
        spend in the run and loses the customers' value after it). Without a payback month
        it says "after the run" when the measure is lifetime value and its mean gain reaches
        the cost, else "never" (lifetime value) or "not in the run" (value over the run,
        which cannot tell what happens after it).
    """
    if value not in VALUES:
        raise ValueError(f"value is {value!r}, expected one of {', '.join(VALUES)}")
    months, rate = results.sizes["month"], _discount_rate(results)
    factor = (1 + rate) ** -(np.arange(months) + 1.0)
    monthly = _monthly_gain(results)
    total = value_gained(results, value)
    add_ons = value_gained(results, value, add_ons=True)
    rows = []
    for name, plan in plans.items():
        cost = plan.costs(months) * factor
        cumulative = monthly.sel(scenario=name).cumsum("month").mean("draw").values - np.cumsum(
            cost
        )
        spending = np.flatnonzero(cost > 0)
        first = int(spending[0]) if len(spending) else 0
        reached = first + np.flatnonzero(cumulative[first:] >= 0)
        total_gain = total.sel(scenario=name)
        spend = plan_cost(plan, months, rate, value)
        low, high = total_gain.quantile(list(INTERVAL)).values
        add_on_gain = add_ons.sel(scenario=name)
        add_on_low, add_on_high = add_on_gain.quantile(list(INTERVAL)).values
        covered = value == "run" or float(total_gain.mean()) >= spend
        if len(reached):
            pays_back = "in the run" if covered else "in the run, then lost"
        elif value == "run":
            pays_back = "not in the run"
        else:
            pays_back = "after the run" if covered else "never"
        rows.append(
            {
                "scenario": name,
                "value_gain": float(total_gain.mean()),
                "value_gain_low": low,
                "value_gain_high": high,
                "add_on_gain": float(add_on_gain.mean()),
                "add_on_gain_low": add_on_low,
                "add_on_gain_high": add_on_high,
                "cost": spend,
                "return": (float(total_gain.mean()) - spend) / spend if spend > 0 else np.nan,
                "p_gain_exceeds_cost": float((total_gain > spend).mean()),
                "payback_month": int(reached[0]) if len(reached) else None,
                "pays_back": pays_back,
                "effort_weeks": plan.effort_weeks,
                "measure": value,
            }
        )
    return pd.DataFrame(rows)


def value_gained(
    results: xr.Dataset, value: Value = "lifetime", add_ons: bool = False
) -> xr.DataArray:
    """Each scenario's value gained over the baseline, draw by draw (scenario, draw), company
    scale, discounted to the run's start, before the plan's own cost (module notes); with
    ``add_ons``, the part of it from cross-sell and up-sell (0 for results that hold no
    add-on counts)."""
    if add_ons and "add_on_margin" not in results:
        return xr.zeros_like(value_gained(results, value))
    gain = _monthly_gain(results, add_ons).sum("month")
    if value == "lifetime":
        residual = results["add_on_residual" if add_ons else "residual"]
        after = residual.sum("segment") + future_acquisitions(results, add_ons)
        after = after * results.attrs["scale"]
        gain = gain + after.drop_sel(scenario=BASELINE) - after.sel(scenario=BASELINE, drop=True)
    return gain


def future_acquisitions(results: xr.Dataset, add_ons: bool = False) -> xr.DataArray:
    """The value of the customers acquired after the run, discounted to its start (the
    sample's; per scenario and draw): every month m >= M after a run of M months brings the
    customers ``future_acquired`` and the spend ``future_spend`` (exact from the journey's
    chain with the parameters in force at the run's end: :mod:`sim.engine.results`), each
    customer worth what one acquired in the run was (its lifetime value from its start,
    ``new_value / new_size``); discounted at (1 + d)^-(m + 1), the months sum to
    (1 + d)^-M / d times that (a perpetuity; infinite when d = 0). With ``add_ons``, their
    add-on part: each worth ``new_add_on_value / new_size``, no spend."""
    months, rate = results.sizes["month"], _discount_rate(results)
    value = results["new_add_on_value" if add_ons else "new_value"]
    worth = (value / results["new_size"]).fillna(0.0)
    spend = 0.0 if add_ons else results["future_spend"]
    month = (results["future_acquired"] * worth - spend).sum("segment")
    factor = (1 + rate) ** -months / rate if rate > 0 else np.inf
    return xr.where(month == 0, 0.0, month * factor)


def plan_cost(plan: Plan, months: int, rate: float, value: Value = "lifetime") -> float:
    """The plan's discounted cost: its spending over the run (month m at (1 + d)^-(m + 1)),
    and with lifetime value its spending after the run too (:func:`_cost_after`)."""
    cost = float((plan.costs(months) * (1 + rate) ** -(np.arange(months) + 1.0)).sum())
    return cost + (_cost_after(plan, months, rate) if value == "lifetime" else 0.0)


def _monthly_gain(results: xr.Dataset, add_ons: bool = False) -> xr.DataArray:
    """The gain in net value (margin less cost to serve and acquisition spend; with
    ``add_ons``, the add-on margin alone) month by month, company scale, discounted:
    (scenario, draw, month)."""
    months, rate = results.sizes["month"], _discount_rate(results)
    factor = xr.DataArray((1 + rate) ** -(np.arange(months) + 1.0), dims="month")
    if add_ons:
        net = results["add_on_margin"]
    else:
        net = results["margin"] - results["cost_to_serve"] - results["acquisition_spend"]
    net = net.sum("segment") * results.attrs["scale"] * factor
    return net.drop_sel(scenario=BASELINE) - net.sel(scenario=BASELINE, drop=True)


def _cost_after(plan: Plan, months: int, rate: float) -> float:
    """The plan's spending after the run, discounted to its start: each scenario's monthly
    cost goes on for as long as its effect is counted (lifetime value holds customers' views
    as they are at the run's end, which the plan's spending keeps up), sum_{m >= M} c (1 +
    d)^-(m + 1) = c (1 + d)^-M / d from M = max(months, start month) on; a one-off cost of a
    scenario that starts after the run is counted at its month. Infinite for a monthly cost
    with d = 0."""
    total = 0.0
    for scenario in plan.scenarios:
        begin = max(months, scenario.start_month)
        if scenario.monthly_cost:
            total += scenario.monthly_cost * (
                (1 + rate) ** -begin / rate if rate > 0 else np.sign(scenario.monthly_cost) * np.inf
            )
        if scenario.start_month >= months:
            total += scenario.one_off_cost * (1 + rate) ** -(scenario.start_month + 1)
    return total


def _discount_rate(results: xr.Dataset) -> float:
    rate = results.attrs.get("discount_rate")
    if rate is None:
        raise ValueError("results lack the discount_rate attribute the runner records")
    return float(rate)
