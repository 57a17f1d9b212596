"""The best plan under a budget as a reader sees it: tables for the terminal, the frontier
figure and the sentences that say what was chosen and what it rests on.

Each function takes the :class:`scenarios.budget.BudgetPlan` that
:func:`scenarios.budget.best_plan` returns (or one of its tables): ``ctm plan`` prints them,
the strategist notebook shows them.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from rich.table import Table

from notebooks.plots import BAND_ALPHA, NEUTRAL, _money_scale, _text
from notebooks.tables import COMPACT, short
from scenarios.budget import BudgetPlan
from scenarios.compare import MEASURES


def candidates_table(options: pd.DataFrame, currency: str, value: str = "lifetime") -> Table:
    """One row per candidate, best expected net value first: value gained, discounted cost,
    spend of the budget, effort, net value with its 90% interval, P(gain > cost); ``*`` marks
    the chosen, ``?`` a net value whose interval holds 0, ``x`` a candidate below the
    confidence asked."""
    table = Table(
        title=f"Candidates ({currency}; value and cost discounted, {MEASURES[value]})",
        caption="spend: one-off plus monthly cost over the horizon, what the budget counts. "
        "*: chosen. ?: the net value's 90% interval holds 0. x: not eligible (P(>cost) below "
        "the confidence asked, or it starts after the run).",
        **COMPACT,
    )
    for name in ("", "scenario", "gained", "cost", "spend", "weeks", "net", "90% interval",
                 "P(>cost)"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("", "scenario") else "right",
                         no_wrap=True)  # fmt: skip
    for row in options.itertuples():
        mark = ("*" if row.chosen else " ") + ("?" if not row.clear else " ")
        mark += " " if row.eligible else "x"
        table.add_row(
            mark,
            row.scenario,
            short(row.value_gain, True),
            short(row.cost),
            short(row.spend),
            f"{row.effort_weeks:g}",
            short(row.net_value, True),
            f"{short(row.net_low, True)}..{short(row.net_high, True)}",
            f"{row.p_gain_exceeds_cost:.0%}",
        )
    return table


def frontier_table(frontier: pd.DataFrame, currency: str) -> Table:
    """The efficient frontier: per budget, the best set's spend, effort and expected net
    value (taken as additive) with its 90% interval; ``>`` marks the budget given."""
    table = Table(
        title=f"The efficient frontier ({currency}: the best net value for each budget, the "
        "set's parts added up)",
        **COMPACT,
    )
    for name in ("", "budget", "n", "spend", "weeks", "net", "90% interval", "P(>0)", "set"):
        table.add_column(name, justify="left" if name in ("", "set") else "right",
                         no_wrap=name != "set")  # fmt: skip
    for row in frontier.itertuples():
        table.add_row(
            ">" if row.given else "",
            short(row.budget),
            str(row.count),
            short(row.spend),
            f"{row.effort_weeks:g}",
            short(row.net_value, True),
            f"{short(row.net_low, True)}..{short(row.net_high, True)}",
            f"{row.p_net_positive:.0%}",
            row.scenarios or "(nothing)",
        )
    return table


def plan_text(found: BudgetPlan, currency: str) -> list[str]:
    """The chosen set in sentences: what it spends, what it gains simulated together against
    the sum of its parts (the interaction), and what the figures rest on."""
    limits, s = found.limits, found.summary
    cap = f" and {limits.effort_weeks:g} person-weeks" if math.isfinite(limits.effort_weeks) else ""
    within = f"within {limits.budget:,.0f} {currency} over {found.horizon_months} months{cap}"
    if not found.chosen:
        return [
            f"{found.name} {within}: nothing. No candidate with a positive expected net value "
            "fits (the cheapest spends more than the budget, or none gains more than it costs)."
        ]
    lines = [
        f"{found.name} {within}: {', '.join(found.chosen)}. It spends {s['spend']:,.0f} "
        f"{currency} of the budget and takes {s['effort_weeks']:g} person-weeks.",
        f"Simulated together it gains {s['value_gain']:,.0f} {currency} (90% interval "
        f"{s['value_gain_low']:,.0f} to {s['value_gain_high']:,.0f}) for a discounted cost of "
        f"{s['cost']:,.0f}: net {s['net_value']:,.0f} ({s['net_low']:,.0f} to "
        f"{s['net_high']:,.0f}), positive in {s['p_net_positive']:.0%} of the draws.",
        f"Its parts alone add up to {s['additive_value_gain']:,.0f}: together they gain "
        f"{s['interaction']:+,.0f} more (interaction, 90% interval {s['interaction_low']:+,.0f} "
        f"to {s['interaction_high']:+,.0f}; "
        + (
            "the effects are not additive: the choice, made on the parts, may not be the best "
            "set together)."
            if s["interaction_low"] > 0 or s["interaction_high"] < 0
            else "not told apart from additive)."
        ),
    ]
    if found.schedule is not None:
        delayed = found.schedule[found.schedule["delay_months"] > 0]
        if len(delayed):
            lines.append(
                "Staged for the team, "
                + ", ".join(
                    f"{r.scenario} starts in month {r.start_month}" for r in delayed.itertuples()
                )  # fmt: skip
                + " instead of at its own start month, so the difference from its parts "
                "(each valued from its own start) holds that delay too."
            )
    return lines


def notes(found: BudgetPlan, currency: str) -> list[str]:
    """What the choice rests on: the budget's measure, the removals' traffic, candidates
    chosen whose net value is not clearly positive, the exclusions, the run."""
    options = found.options
    attrs = found.sweep.results.attrs
    lines = [
        f"The budget counts one-off plus monthly cost over the horizon ({found.horizon_months} "
        "months), undiscounted, the cash a budget holder approves; the net value nets off the "
        "discounted cost, with lifetime value the monthly cost after the run too.",
    ]
    if options["traffic"].notna().any():
        lines.append(
            "remove: nobody meets the touchpoint; valued at the share of its traffic the costs "
            "file, the world or the scenario states goes on to its successors, else at none "
            "(the conservative end: no substitute is free)."
        )
    on_frontier = set("; ".join(found.frontier["scenarios"]).split("; "))
    removals = options[options["traffic"].notna() & options["scenario"].isin(on_frontier)]
    for row in removals.itertuples():
        lines.append(removal_text(row, currency))
    doubtful = options[options["chosen"] & ~options["clear"]]
    for row in doubtful.itertuples():
        lines.append(
            f"{row.scenario} is chosen on its expected value, but its net value's 90% interval "
            f"holds 0 ({short(row.net_low, True)} to {short(row.net_high, True)} {currency}; "
            f"P(gain > cost) {row.p_gain_exceeds_cost:.0%}); --min-confidence drops such "
            "candidates."
        )
    late = options[~options["eligible"] & options["outside_run"]]
    if len(late):
        lines.append(
            f"Not eligible, starting at or after the run's end (month {attrs['months']}), so "
            f"that the run sees none of their effect: {', '.join(late['scenario'])}."
        )
    if found.conflicts:
        lines.append(
            f"{len(found.conflicts)} pairs exclude each other, such as {found.conflicts[0][0]} "
            f"and {found.conflicts[0][1]} ({found.conflicts[0][2]})."
        )
    lines.append(
        f"The run: {attrs['customers']:,} customers x {attrs['months']} months, "
        f"{found.sweep.results.sizes['draw']} draws (seed {attrs['seed']}), each a simulation "
        "of its own with common random numbers across candidates."
    )
    return lines


def removal_text(row, currency: str) -> str:
    """A removal among the candidates in a sentence: its traffic as assumed and on what
    basis, its value gained at both ends of the share and what it takes to pay."""
    none, every, cost = row.value_gain_none_go_on, row.value_gain_all_go_on, row.cost
    if pd.notna(row.break_even_share):
        side = "at least" if none < every else "at most"
        verdict = f"pays if {side} {row.break_even_share:.0%} goes on"
    elif pd.isna(none) or pd.isna(every):
        verdict = "one end of its traffic was not run"
    elif min(none, every) >= cost:
        verdict = "pays even if none goes on"
    else:
        verdict = "does not pay even if all goes on"
    return (
        f"{row.scenario}: traffic {row.traffic} ({row.basis}); gains {short(none, True)} if "
        f"none goes on, {short(every, True)} if all does, against a cost of {short(cost)} "
        f"{currency}: {verdict}."
    )


def frontier_plot(found: BudgetPlan, currency: str) -> Figure:
    """The best expected net value against the budget (a step line, its 90% band shaded),
    the budget given marked, and the chosen set's net value simulated together with its 90%
    interval."""
    frontier = found.frontier
    values = frontier[["net_value", "net_low", "net_high", "budget"]].to_numpy(dtype=float)
    divisor, word = _money_scale(values)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    x = frontier["budget"].to_numpy() / divisor
    ax.fill_between(x, frontier["net_low"] / divisor, frontier["net_high"] / divisor,
                    step="post", alpha=BAND_ALPHA * 2, color="tab:blue",
                    label="90% interval (parts added up)")  # fmt: skip
    ax.step(x, frontier["net_value"] / divisor, where="post", color="tab:blue",
            label="best expected net value (parts added up)", gid="frontier")  # fmt: skip
    ax.axvline(found.limits.budget / divisor, color=NEUTRAL, linestyle="--", linewidth=1,
               label="the budget given")  # fmt: skip
    if found.together is not None:
        s = found.summary
        ax.errorbar(
            found.limits.budget / divisor,
            s["net_value"] / divisor,
            yerr=[
                [(s["net_value"] - s["net_low"]) / divisor],
                [(s["net_high"] - s["net_value"]) / divisor],
            ],  # fmt: skip
            fmt="o",
            color="black",
            capsize=4,
            label=_text(f"{found.name} simulated together (90% interval)"),
            gid="together",
        )
    ax.axhline(0, color=NEUTRAL, linewidth=0.8)
    ax.set_xlabel(f"budget: spend over {found.horizon_months} months ({word}{currency})")
    ax.set_ylabel(f"net value gained ({word}{currency}, discounted)")
    ax.set_title("The efficient frontier: the best set of candidates for each budget")
    ax.legend(loc="lower right", fontsize=8)
    ax.margins(x=0.02)
    fig.tight_layout()
    return fig
