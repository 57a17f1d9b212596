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
    table = Table(
        title=f"Scenarios against the baseline ({segment}; money in {currency}; "
        "90% intervals over posterior draws)"
    )
    for name, justify in (
        ("scenario", "left"),
        ("outcome", "left"),
        ("baseline", "right"),
        ("scenario value", "right"),
        ("difference", "right"),
        ("90% interval", "right"),
        ("P(better)", "right"),
    ):
        table.add_column(name, justify=justify)
    rows = comparison[comparison["segment"] == segment]
    for scenario, group in rows.groupby("scenario", sort=False):
        for _, row in group.iterrows():
            unit = row["unit"]
            table.add_row(
                str(scenario),
                row["outcome"].replace("_", " "),
                number(row["baseline_mean"], unit),
                number(row["scenario_mean"], unit),
                number(row["difference"], unit, signed=True),
                f"{number(row['low'], unit, True)} to {number(row['high'], unit, True)}",
                "-" if pd.isna(row["p_better"]) else f"{row['p_better']:.0%}",
            )
        table.add_section()
    return table


def economics_table(money: pd.DataFrame, currency: str) -> Table:
    """Per scenario: value gained (90% interval), cost, return and payback month."""
    table = Table(title=f"What each scenario returns ({currency}, discounted over the run)")
    for name in (
        "scenario",
        "value gained",
        "90% interval",
        "cost",
        "return",
        "P(gain > cost)",
        "payback month",
        "effort (person-weeks)",
    ):
        table.add_column(name, justify="left" if name == "scenario" else "right")
    for _, row in money.iterrows():
        table.add_row(
            row["scenario"],
            number(row["value_gain"], currency, True),
            f"{number(row['value_gain_low'], currency, True)} to "
            f"{number(row['value_gain_high'], currency, True)}",
            number(row["cost"], currency),
            "-" if pd.isna(row["return"]) else f"{row['return']:.0%}",
            f"{row['p_gain_exceeds_cost']:.0%}",
            "never" if pd.isna(row["payback_month"]) else str(int(row["payback_month"])),
            f"{row['effort_weeks']:g}",
        )
    return table


def quickwins_table(table: pd.DataFrame, currency: str, rule: str) -> Table:
    """Quick wins, best value per cost first: value gained (90% interval), cost, effort,
    value per cost and per person-week, and the quadrant (or why a candidate was skipped)."""
    out = Table(
        title=f"Quick wins: every touchpoint fixed or removed ({currency}, discounted "
        "over the run; 90% intervals over posterior draws)",
        caption="fix: bad experiences halved (a queued touchpoint: one more agent on "
        f"duty); remove: traffic on to its successors. Quadrants: {rule}",
    )
    for name in (
        "rank",
        "scenario",
        "value gained",
        "90% interval",
        "cost",
        "value / cost",
        "effort (weeks)",
        "value / week",
        "quadrant",
    ):
        out.add_column(
            name,
            justify="left" if name in ("scenario", "quadrant") else "right",
            no_wrap=name in ("scenario", "90% interval"),
        )
    for row in table.itertuples():
        if row.skipped:
            out.add_row("-", row.scenario, *["-"] * 6, f"skipped: {row.skipped}")
            continue
        out.add_row(
            "-" if pd.isna(row.rank_cost) else f"{row.rank_cost:.0f}",
            row.scenario,
            number(row.value_gain, currency, True),
            f"{number(row.value_gain_low, currency, True)} to "
            f"{number(row.value_gain_high, currency, True)}",
            number(row.cost, currency),
            number(row.value_per_cost, "ratio"),
            f"{row.effort_weeks:g}",
            number(row.value_per_effort, currency),
            row.quadrant,
        )
    return out


def journey_table(journeys: pd.DataFrame) -> Table:
    """Removal effects of the touchpoints each segment visits: exact and simulated (95%)."""
    out = Table(
        title="Sales lost without each touchpoint (removal effect: share of sales; "
        "exact and simulated, with the simulation's 95% interval)"
    )
    for name in (
        "segment",
        "touchpoint",
        "visits per prospect",
        "lost: exact",
        "simulated",
        "successors: exact",
        "simulated ",
    ):
        out.add_column(name, justify="left" if name in ("segment", "touchpoint") else "right")
    wide = journeys[journeys["visits"] > 0].pivot_table(
        index=["segment", "touchpoint"],
        columns="traffic",
        sort=False,
        values=["visits", "exact", "simulated", "low", "high"],
    )
    for (segment, touchpoint), row in wide.iterrows():
        cells = [f"{row[('exact', t)]:.1%}" for t in ("lost", "successors")]
        sims = [
            f"{row[('simulated', t)]:.1%} ({100 * row[('low', t)]:.1f} to "
            f"{100 * row[('high', t)]:.1f})"
            for t in ("lost", "successors")
        ]
        out.add_row(
            segment,
            touchpoint,
            f"{row[('visits', 'lost')]:.2f}",
            cells[0],
            sims[0],
            cells[1],
            sims[1],
        )
    return out


def churn_table(churn: pd.DataFrame) -> Table:
    """Share of the installed base's churn avoided if a touchpoint were never bad: all
    segments with a 90% interval, then each segment's mean."""
    segments = [s for s in dict.fromkeys(churn["segment"]) if s != "all"]
    out = Table(
        title="Churn that would not happen if a touchpoint were never bad (installed "
        "base, over the run; 90% interval over draws)"
    )
    for name in ("touchpoint", "all segments", "90% interval", "leavers avoided", *segments):
        out.add_column(name, justify="left" if name == "touchpoint" else "right")
    for touchpoint, group in churn.groupby("touchpoint", sort=False):
        rows = group.set_index("segment")
        every = rows.loc["all"]
        if every["skipped"]:
            out.add_row(touchpoint, f"skipped: {every['skipped']}", *["-"] * (2 + len(segments)))
            continue
        out.add_row(
            touchpoint,
            f"{every['share']:.1%}",
            f"{every['low']:.1%} to {every['high']:.1%}",
            f"{every['churned_baseline'] - every['churned_never_bad']:,.0f}",
            *[f"{rows.loc[s, 'share']:.1%}" for s in segments],
        )
    return out


def summary_table(table, currency: str, months: int) -> Table:
    """The run's headline figures as a rich table."""
    out = Table(
        title=f"Simulated {months} months (lifetime value: installed-base cohort, "
        f"{currency}, discounted)"
    )
    out.add_column("segment")
    for column in table.columns:
        out.add_column(column.replace("_", " "), justify="right")
    percent = {"conversion", "monthly_churn"}
    for segment, row in table.iterrows():
        cells = [
            f"{value:.1%}"
            if name in percent or name.startswith("retention")
            else f"{value:,.0f}"
            if abs(value) >= 100 or float(value).is_integer()
            else f"{value:,.1f}"
            for name, value in row.items()
        ]
        out.add_row(str(segment), *cells)
    return out


def fitted_table(fitted: dict) -> Table:
    """What each sub-model was fitted from, and what still comes from the world file."""
    note = f" {fitted['note'].capitalize()}." if fitted["note"] else ""
    out = Table(
        title="Fitted: sub-models, their data, and the world file",
        caption=f"From the world file: {', '.join(fitted['from_world'])}.{note}",
    )
    for column in ("sub-model", "fitted", "data", "rows", "parameters", "notes"):
        out.add_column(column, justify="right" if column == "rows" else "left")
    for sub in fitted["submodels"]:
        out.add_row(
            sub["name"],
            "yes" if sub["fitted"] else "no",
            sub["source"],
            f"{sub['rows']:,}",
            ", ".join(sub["variables"]) or "-",
            sub["note"],
        )
    return out


def drivers_table(drivers) -> Table:
    """The overall value drivers as a rich table."""
    out = Table(title="Value drivers: odds ratio of monthly churn, view of 1 instead of 3")
    for column in ("rank", "touchpoint", "odds ratio", "90% interval", "P(drives churn)"):
        out.add_column(column, justify="left" if column == "touchpoint" else "right")
    for row in drivers[drivers["segment"] == "all"].itertuples():
        out.add_row(
            str(row.rank),
            row.touchpoint,
            f"{row.odds_ratio:.2f}",
            f"{row.low:.2f} to {row.high:.2f}",
            f"{row.p_driver:.0%}",
        )
    return out
