"""Rich tables of a comparison for the terminal: what each scenario buys, with intervals."""

from __future__ import annotations

import math

import pandas as pd
from rich import box
from rich.table import Table

from scenarios.compare import MEASURES
from scenarios.quickwins import APART, TOP, UNPROVEN
from sim.engine.results import ADD_ON_OUTCOMES

COMPACT = {"box": box.SIMPLE_HEAD, "collapse_padding": True, "show_edge": False}
"""Table style that fits a terminal of 100 columns: no outer edge, one space between columns."""


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


OUTCOME_NAMES = {
    "value_run": "value over the run",
    "acquired_lifetime_value": "LTV per acquired",
    "lifetime_value": "LTV per customer",
    "add_on_lifetime_value": "LTV of which add-ons",
    "add_on_margin": "margin of which add-ons",
    "nps": "NPS",
}

"""Short names of outcomes for terminal tables (the others: their name without underscores)."""


def compact(value: float, unit: str, signed: bool = False) -> str:
    """A figure in few characters: money and large counts in three significant figures
    (1.23M), customers below 100,000 whole, shares in percent, differences of shares in
    points (+0.88pt)."""
    if value is None or pd.isna(value):
        return "-"
    if unit == "share":
        return f"{100 * value:+.2f}pt" if signed else f"{value:.1%}"
    if unit == "customers" and abs(value) < 100_000:
        return f"{value:+,.0f}" if signed else f"{value:,.0f}"
    if abs(value) >= 1_000:
        return short(value, signed)
    return f"{value:+,.1f}" if signed else f"{value:,.1f}"


def comparison_table(comparison: pd.DataFrame, currency: str, segment: str = "all") -> Table:
    """One row per scenario and outcome for one segment: baseline, scenario, difference with
    its 90% interval, and P(better)."""
    table = Table(
        title=f"Scenarios against the baseline ({segment}; money in {currency}; 90% intervals "
        "over draws)",
        **COMPACT,
    )
    for name, justify in (
        ("scenario", "left"),
        ("outcome", "left"),
        ("baseline", "right"),
        ("scenario", "right"),
        ("difference", "right"),
        ("90% interval", "right"),
        ("P(better)", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    rows = comparison[comparison["segment"] == segment]
    none = rows["outcome"].isin(ADD_ON_OUTCOMES) & (rows["baseline_mean"] == 0)
    rows = rows[~(none & (rows["scenario_mean"] == 0))]  # no add-ons in this world
    for scenario, group in rows.groupby("scenario", sort=False):
        for _, row in group.iterrows():
            unit = row["unit"]
            table.add_row(
                str(scenario),
                OUTCOME_NAMES.get(row["outcome"], row["outcome"].replace("_", " ")),
                compact(row["baseline_mean"], unit),
                compact(row["scenario_mean"], unit),
                compact(row["difference"], unit, signed=True),
                f"{compact(row['low'], unit, True)}..{compact(row['high'], unit, True)}",
                "-" if pd.isna(row["p_better"]) else f"{row['p_better']:.0%}",
            )
        table.add_section()
    return table


def economics_table(money: pd.DataFrame, currency: str) -> Table:
    """Per scenario: value gained (90% interval), cost, P(gain > cost), when it pays back and
    the effort, in 100 columns; the measure of value in the title; of which cross-sell and
    up-sell in the caption, where any scenario gains or loses some."""
    measure = MEASURES[money["measure"].iloc[0]] if len(money) else ""
    caption = "P(>cost): share of draws in which the value gained exceeds the cost."
    if "add_on_gain" in money and (money["add_on_gain"] != 0).any():
        parts = [
            f"{row['scenario']} {short(row['add_on_gain'], True)} "
            f"({short(row['add_on_gain_low'], True)}..{short(row['add_on_gain_high'], True)})"
            for _, row in money.iterrows()
        ]
        caption += f"\nOf which cross-sell and up-sell: {'; '.join(parts)}."
    table = Table(
        title=f"What each scenario returns ({currency}, discounted; {measure})",
        caption=caption,
        **COMPACT,
    )
    for name in ("scenario", "gained", "90% interval", "cost", "P(>cost)", "pays back", "weeks"):
        table.add_column(
            name,
            justify="left" if name in ("scenario", "pays back") else "right",
            no_wrap=name != "pays back",
        )
    for _, row in money.iterrows():
        table.add_row(
            row["scenario"],
            short(row["value_gain"], True),
            f"{short(row['value_gain_low'], True)}..{short(row['value_gain_high'], True)}",
            short(row["cost"]),
            f"{row['p_gain_exceeds_cost']:.0%}",
            payback(row),
            f"{row['effort_weeks']:g}",
        )
    return table


def payback(row: pd.Series) -> str:
    """When a scenario's gain covers its cost, in a few words."""
    if pd.notna(row["payback_month"]) and row["pays_back"] == "in the run":
        return f"month {int(row['payback_month'])}"
    return str(row["pays_back"])


def short(value: float, signed: bool = False) -> str:
    """An amount of money in three significant figures: 1.23M, 456k, 789."""
    if value is None or pd.isna(value):
        return "-"
    sign = "+" if signed and value > 0 else "-" if value < 0 else ""
    size = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = size / limit
            digits = 0 if scaled >= 100 else 1 if scaled >= 10 else 2
            return f"{sign}{scaled:.{digits}f}{suffix}"
    return f"{sign}{size:.0f}"


def quickwins_table(table: pd.DataFrame, currency: str, value: str = "lifetime") -> Table:
    """Quick wins, those that pay first, each group best value per cost first
    (:func:`scenarios.quickwins.ranked`): value gained (90% interval), value per cost,
    P(gain > cost), P(in the top), effort, a removal's break-even share and the quadrant. A
    P(top) marked ``~``: the candidate cannot be told apart from the next; skipped candidates
    and the notes follow the table (:func:`quickwins_notes`)."""
    out = Table(title=f"Quick wins ({currency}, discounted; {MEASURES[value]})", **COMPACT)
    for name, justify in (
        ("scenario", "left"),
        ("gained", "right"),
        ("90% interval", "right"),
        ("/cost", "right"),
        ("P>c", "right"),
        (f"P(top{TOP})", "right"),
        ("wks", "right"),
        ("b-even", "right"),
        ("quadrant", "left"),
    ):
        out.add_column(name, justify=justify, no_wrap=True)
    for row in table[table["skipped"] == ""].itertuples():
        tied = "~" if pd.notna(row.apart) and row.apart < APART else " "
        out.add_row(
            row.scenario,
            short(row.value_gain, True),
            f"{short(row.value_gain_low, True)}..{short(row.value_gain_high, True)}",
            per_cost(row.value_per_cost),
            f"{row.p_gain_exceeds_cost:.0%}",
            "-" if pd.isna(row.p_top) else f"{row.p_top:.0%}{tied}",
            f"{row.effort_weeks:g}",
            "-" if pd.isna(row.break_even_share) else f"{row.break_even_share:.0%}",
            row.quadrant,
        )
    return out


def per_cost(value: float) -> str:
    """Value per cost in at most 6 characters: 154.7, -1.19k."""
    if pd.isna(value):
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else short(value)


def quickwins_notes(wins, currency: str, settings) -> str:
    """What the quick-win table rests on, below it: the candidates, the removals'
    assumption, how sure the ranking is, the quadrant rule, the run and the skipped."""
    table = wins.table
    run = table[table["skipped"] == ""]
    draws = wins.study.results.sizes["draw"]
    lines = [
        "fix: bad experiences halved (a queued touchpoint: one more agent on duty). remove: "
        "nobody meets it; ranked at the share of its traffic the costs file or world states "
        "goes on to its successors, else at none (the conservative end: no substitute is "
        "free). b-even (break-even): the share that must go on for the removal to pay its cost.",
        "Ranked: first those that pay (the 90% interval above the cost), then the unsure "
        "(the interval holds the cost), then those that lose; each group by value per cost. "
        "P>c: the share of draws in which the value gained exceeds the cost; wks: effort in "
        f"person-weeks. {UNPROVEN}: above the impact line without surely paying; measure "
        "before acting on it.",
        f"/cost: value gained per {currency} of cost. P(top{TOP}): share of the {draws} "
        f"draws in which it is among the {TOP} best by value per cost; ~: it beats the next "
        f"in fewer than {APART:.0%} of draws, so the two cannot be told apart.",
        f"Quadrants: {wins.thresholds.describe(currency)}.",
        f"The run: {draws} draws x {settings.customers:,} customers x {settings.months} "
        f"months each (seed {settings.seed}), every draw with its own random numbers.",
    ]
    paying = run[run["break_even_kept"].notna()] if "break_even_kept" in run else run[:0]
    results = wins.study.results
    base = float(results["base_size"].sel(scenario="baseline").sum("segment").mean())
    base *= results.attrs["scale"]
    for row in paying.itertuples():
        lines.append(
            f"{row.scenario} pays only if {row.touchpoint} keeps fewer than "
            f"{row.break_even_kept:,.0f} customers ({row.break_even_kept / base:.1%} of the "
            f"installed base) by what it does (an offer, advice): the churn model sees its "
            f"experiences alone, so removing it counts as making every one of them a neutral "
            f"3 of 5."
        )
    for reason, group in table[table["skipped"] != ""].groupby("skipped", sort=False):
        lines.append(f"Skipped ({reason}): {', '.join(group['scenario'])}.")
    refused = run[run["end_refused"].fillna("") != ""] if "end_refused" in run else run[:0]
    for row in refused.itertuples():
        lines.append(f"{row.scenario}: no break-even share, one end refused ({row.end_refused})")
    return "\n".join(lines)


UNDEFINED = "not defined"
"""What a table shows for a removal effect that is not defined (no sale to lose, or a
removal the journey refuses)."""


def share_or_undefined(value: float, digits: int = 1) -> str:
    """A share in percent, or :data:`UNDEFINED` where it is NaN."""
    return UNDEFINED if pd.isna(value) else f"{value:.{digits}%}"


def journey_table(journeys: pd.DataFrame) -> Table:
    """Removal effects of the touchpoints each segment visits: exact and simulated (95%);
    ``not defined`` where a removal is refused or nobody buys."""
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
    # Every (value, traffic) column is kept, even one that is NaN for every touchpoint (a
    # removal undefined everywhere), which pivot_table(dropna=True) would drop; rows stay
    # the visited (segment, touchpoint) pairs in their order (dropna=False would add every
    # segment x touchpoint pair).
    visited = journeys[journeys["visits"] > 0]
    values = ["visits", "exact", "simulated", "low", "high"]
    wide = (
        visited.set_index(["segment", "touchpoint", "traffic"])[values]
        .unstack("traffic")
        .reindex(
            index=pd.MultiIndex.from_frame(visited[["segment", "touchpoint"]].drop_duplicates()),
            columns=pd.MultiIndex.from_product([values, ["lost", "successors"]]),
        )
    )
    for (segment, touchpoint), row in wide.iterrows():
        cells = [share_or_undefined(row[("exact", t)]) for t in ("lost", "successors")]
        sims = [
            UNDEFINED
            if pd.isna(row[("simulated", t)])
            else f"{row[('simulated', t)]:.1%} ({100 * row[('low', t)]:.1f} to "
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


def removal_table(found) -> Table:
    """Removal effects of a chain fitted to journeys
    (:func:`scenarios.attribution.path_attribution`), largest first: posterior mean, 90%
    interval, the standard effect at the observed frequencies, conversions attributed and
    journeys meeting the touchpoint; ``not defined`` where no journey converts."""
    conversion = found.conversion
    out = Table(
        title="Conversions lost without each touchpoint (removal effect: share of "
        f"conversions; posterior mean and 90% interval over {found.draws:,} draws)",
        caption=f"P(conversion) per journey: {conversion['mean']:.2%} (90% interval "
        f"{conversion['low']:.2%} to {conversion['high']:.2%}; observed "
        f"{conversion['observed']:.2%}). at frequencies: the standard first-order removal "
        "effect of the chain at the observed frequencies. attributed: conversions shared in "
        "proportion to the removal effects.",
        **COMPACT,
    )
    for name in (
        "touchpoint",
        "removal effect",
        "90% interval",
        "at frequencies",
        "attributed",
        "journeys",
    ):
        out.add_column(name, justify="left" if name == "touchpoint" else "right")
    for row in found.effects.itertuples():
        defined = pd.notna(row.removal_effect)
        out.add_row(
            str(row.touchpoint),
            share_or_undefined(row.removal_effect),
            f"{row.low:.1%} to {row.high:.1%}" if defined else "-",
            share_or_undefined(row.standard),
            f"{row.attributed:,.1f}" if defined else "-",
            f"{row.journeys:,.0f}",
        )
    return out


def path_map_table(moves: pd.DataFrame, top: int = 5) -> Table:
    """The journey map (:meth:`models.paths.PathChain.moves`) in 100 columns: per state, the
    journeys leaving it and its ``top`` most common next states with their shares."""
    out = Table(
        title="Journey map: where the journeys go from each state (share of those leaving it)",
        **COMPACT,
    )
    out.add_column("from")
    out.add_column("journeys", justify="right")
    out.add_column("next (share)", overflow="fold")
    for state, group in moves.groupby("from", sort=False):
        group = group.sort_values(["journeys", "next"], ascending=[False, True])
        shown = [f"{row.next} {row.share:.0%}" for row in group.head(top).itertuples()]
        if len(group) > top:
            shown.append(f"{len(group) - top} more {group['share'].iloc[top:].sum():.0%}")
        out.add_row(str(state), f"{group['journeys'].sum():,.0f}", ", ".join(shown))
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
        out.add_row(  # a share is NaN where the baseline lost no one: "-"
            touchpoint,
            number(every["share"], "share"),
            "-" if pd.isna(every["low"]) else f"{every['low']:.1%} to {every['high']:.1%}",
            f"{every['churned_baseline'] - every['churned_never_bad']:,.0f}",
            *[number(rows.loc[s, "share"], "share") for s in segments],
        )
    return out


def summary_table(table: pd.DataFrame, currency: str, months: int) -> Table:
    """The run's headline figures (:func:`sim.engine.results.summary`): one row per figure,
    one column per segment and ``all``, so any number of segments and figures fits."""
    out = Table(
        title=f"Simulated {months} months (the sample's figures; money in {currency}, "
        "discounted; LTV: lifetime value per customer)",
        **COMPACT,
    )
    out.add_column("")
    for segment in table.index:
        out.add_column(str(segment), justify="right")
    units = {
        "conversion": "share",
        "monthly_churn": "share",
        "acquired": "customers",
        "active_end": "customers",
    }
    for name in table.columns:
        unit = "share" if name.startswith("retention") else units.get(name, "")
        label = SUMMARY_NAMES.get(name, name.replace("_", " "))
        out.add_row(label, *[compact(value, unit) for value in table[name]])
    return out


SUMMARY_NAMES = {
    "active_end": "active at the end",
    "retention_12": "retention after 12 months",
    "retention_24": "retention after 24 months",
    "value_run": "value over the run per customer",
    "lifetime_value": "LTV per customer",
    "acquired_lifetime_value": "LTV per acquired, net of acquisition",
    "add_on_lifetime_value": "LTV of which cross-, up-sell",
    "add_on_margin": "margin of which cross-, up-sell",
    "nps": "NPS at the end",
}
"""Row names of :func:`summary_table` (the others: their name without underscores)."""


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
