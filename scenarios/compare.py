"""Each scenario against the baseline: differences per draw, their intervals, and the money.

The runner's counts give the figures a strategist asks for per (scenario, draw, segment),
with ``all`` for the whole company (:func:`sim.engine.results.outcomes`). :func:`compare` takes
each scenario's difference from the baseline draw by draw (the same draw and random
numbers, so the difference carries the parameter uncertainty and little else) and gives its
mean, 90% equal-tailed interval and the probability that the scenario is better.
:func:`economics` sets the gain in value against the plan's cost: return on the cost and
the payback month.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from scenarios.runner import BASELINE
from scenarios.scenario import Plan
from sim.engine.results import OUTCOMES, outcomes

INTERVAL = (0.05, 0.95)
"""The 90% equal-tailed interval of differences."""


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


def economics(results: xr.Dataset, plans: Mapping[str, Plan]) -> pd.DataFrame:
    """Per scenario: the discounted gain in net value (margin less cost to serve and
    acquisition spend, company scale) over the run, the discounted cost of the plan, the
    return (gain - cost) / cost, and the payback month: the first month, from the first
    spending on, at which the mean cumulative discounted gain reaches the cumulative cost
    (empty if it never does)."""
    scale, months = results.attrs["scale"], results.sizes["month"]
    rate = _discount_rate(results)
    factor = xr.DataArray((1 + rate) ** -(np.arange(months) + 1.0), dims="month")
    net = results["margin"] - results["cost_to_serve"] - results["acquisition_spend"]
    net = net.sum("segment") * scale * factor
    gain = net.drop_sel(scenario=BASELINE) - net.sel(scenario=BASELINE, drop=True)
    rows = []
    for name, plan in plans.items():
        cost = plan.costs(months) * factor.values
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
                "effort_weeks": plan.effort_weeks,
            }
        )
    return pd.DataFrame(rows)


def _discount_rate(results: xr.Dataset) -> float:
    rate = results.attrs.get("discount_rate")
    if rate is None:
        raise ValueError("results lack the discount_rate attribute the runner records")
    return float(rate)
