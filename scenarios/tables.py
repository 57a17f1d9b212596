"""Rich tables of a comparison for the terminal: what each scenario buys, with intervals."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table


def number(value: float, unit: str, signed: bool = False) -> str:
    """A figure as a reader wants it: shares in percent (points for differences), money and
    counts with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    sign = "+" if signed else ""
    if unit == "share":
        return f"{100 * value:{sign},.2f} pt" if signed else f"{value:.1%}"
    if abs(value) >= 100:
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.2f}"


def comparison_table(comparison: pd.DataFrame, currency: str, segment: str = "all") -> Table:
    """One row per scenario and outcome for one segment: baseline, scenario, difference with
    its 90% interval, and P(better)."""
    table = Table(title=f"Scenarios against the baseline ({segment}; money in {currency}; "
                        "90% intervals over posterior draws)")
    for name, justify in (("scenario", "left"), ("outcome", "left"), ("baseline", "right"),
                          ("scenario value", "right"), ("difference", "right"),
                          ("90% interval", "right"), ("P(better)", "right")):
        table.add_column(name, justify=justify)
    rows = comparison[comparison["segment"] == segment]
    for scenario, group in rows.groupby("scenario", sort=False):
        for _, row in group.iterrows():
            unit = row["unit"]
            table.add_row(
                str(scenario), row["outcome"].replace("_", " "),
                number(row["baseline_mean"], unit), number(row["scenario_mean"], unit),
                number(row["difference"], unit, signed=True),
                f"{number(row['low'], unit, True)} to {number(row['high'], unit, True)}",
                "-" if pd.isna(row["p_better"]) else f"{row['p_better']:.0%}",
            )
        table.add_section()
    return table


def economics_table(money: pd.DataFrame, currency: str) -> Table:
    """Per scenario: value gained (90% interval), cost, return and payback month."""
    table = Table(title=f"What each scenario returns ({currency}, discounted over the run)")
    for name in ("scenario", "value gained", "90% interval", "cost", "return",
                 "P(gain > cost)", "payback month", "effort (person-weeks)"):
        table.add_column(name, justify="left" if name == "scenario" else "right")
    for _, row in money.iterrows():
        table.add_row(
            row["scenario"], number(row["value_gain"], currency, True),
            f"{number(row['value_gain_low'], currency, True)} to "
            f"{number(row['value_gain_high'], currency, True)}",
            number(row["cost"], currency),
            "-" if pd.isna(row["return"]) else f"{row['return']:.0%}",
            f"{row['p_gain_exceeds_cost']:.0%}",
            "never" if pd.isna(row["payback_month"]) else str(int(row["payback_month"])),
            f"{row['effort_weeks']:g}",
        )
    return table
