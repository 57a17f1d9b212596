"""The executive's figures: the baseline's headline, the scenarios side by side, and a
recommendation written from the comparison and the economics (never fixed text).

The rule of :func:`recommendation` (see :func:`ranking`): the best scenario is the one with
the highest expected net gain (value gained less cost) among those more likely than not to
gain more than they cost, P(gain > cost) >= 0.5. When none is, none is recommended and the
closest, the one with the highest P(gain > cost), is named.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import xarray as xr

from notebooks.tables import number
from scenarios.compare import INTERVAL
from scenarios.runner import BASELINE
from sim.engine.results import OUTCOMES, outcomes

HEADLINE = ("retention_12", "retention_24", "lifetime_value", "nps")
"""The baseline's outcomes an executive sees first."""
SHOWN = ("retention_12", "retention_24", "lifetime_value", "nps", "margin")
"""The outcomes of the scenario table."""
CONFIDENT = 0.5
"""A scenario qualifies when P(gain > cost) is at least this."""


def headline(results: xr.Dataset) -> pd.DataFrame:
    """The baseline for the whole company: retention after 12 and 24 months, lifetime value
    and NPS, each as the mean and 90% interval over draws.

    Returns
    -------
    pandas.DataFrame
        One row per outcome of :data:`HEADLINE`: ``outcome``, ``description``, ``unit``
        (as in :data:`sim.engine.results.OUTCOMES`), ``mean``, ``low``, ``high``; empty
        figures where the outcome is not defined (24-month retention in a shorter run).
    """
    values = outcomes(results).sel(scenario=BASELINE, segment="all")
    rows = []
    for name in HEADLINE:
        text, unit, _ = OUTCOMES[name]
        with warnings.catch_warnings():  # undefined in every draw: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = values[name].quantile(list(INTERVAL), dim="draw").values
            mean = float(values[name].mean("draw"))
        rows.append(
            {
                "outcome": name,
                "description": text,
                "unit": unit,
                "mean": mean,
                "low": float(low),
                "high": float(high),
            }
        )
    return pd.DataFrame(rows)


def ranking(money: pd.DataFrame) -> pd.DataFrame:
    """The scenarios best first: those with P(gain > cost) >= 0.5 by expected net gain
    (value gained less cost), then the others by P(gain > cost) and net gain.

    Returns
    -------
    pandas.DataFrame
        ``money`` with the columns ``net_gain`` and ``qualifies``, reordered (ties keep the
        table's order).
    """
    ranked = money.assign(
        net_gain=money["value_gain"] - money["cost"],
        qualifies=money["p_gain_exceeds_cost"] >= CONFIDENT,
    )
    first = ranked[ranked["qualifies"]].sort_values("net_gain", ascending=False, kind="stable")
    rest = ranked[~ranked["qualifies"]].sort_values(
        ["p_gain_exceeds_cost", "net_gain"], ascending=False, kind="stable"
    )
    return pd.concat([first, rest])


def recommendation(
    comparison: pd.DataFrame, money: pd.DataFrame, currency: str, plan: str = ""
) -> str:
    """A short recommendation in Markdown, written from the figures.

    The rule: recommend the scenario with the highest expected net gain (value gained less
    cost, discounted over the run) among those with P(gain > cost) >= 0.5; when none
    qualifies, say so and name the closest (highest P(gain > cost), then net gain). Name its
    value gained with the 90% interval, cost, return, payback month and P(gain > cost), its
    effect on lifetime value and 12-month retention (from ``comparison``, all segments), the
    runner-up, and every scenario whose expected value gained is below zero.

    Parameters
    ----------
    comparison
        The output of :func:`scenarios.compare.compare`.
    money
        The output of :func:`scenarios.compare.economics`.
    currency
        The world's currency, for the amounts.
    plan
        The name of the plan of all scenarios combined, if one is in the tables.
    """
    if money.empty:
        return "No scenarios were compared, so there is nothing to recommend."
    ranked = ranking(money)
    best = ranked.iloc[0]
    if best["qualifies"]:
        lines = [
            f"**Recommendation:** {_name(best['scenario'], plan)}. Of the {len(ranked)} "
            "scenarios it has the highest expected net gain (value gained less cost) among "
            "those more likely than not to gain more than they cost."
        ]
    else:
        lines = [
            "**No scenario is more likely than not to gain more than it costs** "
            f"(P(gain > cost) below {CONFIDENT:.0%} for all {len(ranked)}), so none is "
            f"recommended as it stands. The closest is {_name(best['scenario'], plan)}."
        ]
    lines += ["", *_figures(best, comparison, currency), ""]
    if len(ranked) > 1:
        lines.append(_runner_up(ranked.iloc[1], currency, plan))
    lines.append(_losers(ranked, currency, plan))
    return "\n".join(lines)


def headline_text(table: pd.DataFrame, currency: str) -> str:
    """The :func:`headline` in a sentence (Markdown); undefined outcomes left out."""
    rows = table.set_index("outcome")
    parts = []
    for outcome, months in (("retention_12", 12), ("retention_24", 24)):
        if outcome in rows.index and pd.notna(rows.loc[outcome, "mean"]):
            r = rows.loc[outcome]
            parts.append(
                f"{r['mean']:.1%} of today's customers are still in service after "
                f"{months} months (90% interval {r['low']:.1%} to {r['high']:.1%})"
            )
    if "lifetime_value" in rows.index:
        r = rows.loc["lifetime_value"]
        parts.append(
            f"each of them is worth {_amount(r['mean'])} {currency} over the run, "
            f"discounted (90% interval {_amount(r['low'])} to {_amount(r['high'])})"
        )
    if "nps" in rows.index:
        r = rows.loc["nps"]
        parts.append(
            f"the net promoter score ends the run at {r['mean']:+.0f} (90% interval "
            f"{r['low']:+.0f} to {r['high']:+.0f})"
        )
    return "Without any change, " + "; ".join(parts) + "." if parts else ""


def sources_text(
    results: xr.Dataset,
    posterior: str = "",
    diagnostics: dict | None = None,
    allow_unconverged: bool = False,
) -> str:
    """Where the figures come from (Markdown): the world, the posterior and whether it
    passed its diagnostics, and the run's settings.

    Parameters
    ----------
    results
        The study's results (their attributes name the world and the settings).
    posterior
        The posterior file, or ``""`` when the world's own parameters were used.
    diagnostics, allow_unconverged
        The posterior's ``ctm_diagnostics`` and ``ctm_allow_unconverged`` attributes.
    """
    a, draws = results.attrs, results.sizes["draw"]
    settings = (
        f"The run: {draws} parameter set{'s' if draws > 1 else ''} x "
        f"{a['customers']:,} simulated customers x {a['months']} months (seed "
        f"{a['seed']}), scaled to the company (x {a['scale']:,.1f}); money in "
        f"{a.get('currency', '?')}, discounted at {a['discount_rate']:.2%} a month."
    )
    if not posterior:
        origin = (
            "No posterior was given: every scenario was simulated with the world's own "
            "parameters, so the figures carry no parameter uncertainty and the intervals "
            "only reflect simulation noise (with a single parameter set they have no "
            "width)."
        )
    else:
        diagnostics = diagnostics or {}
        found = ", ".join(
            f"{k.replace('_', ' ')} {v:.3g}"
            if isinstance(v, float)
            else f"{k.replace('_', ' ')} {v}"
            for k, v in diagnostics.items()
            if k != "ok"
        )
        found = f" ({found})" if found else ""
        if diagnostics.get("ok"):
            origin = (
                f"Parameters: {draws} draws of the posterior `{Path(posterior).name}`, "
                f"which passed its convergence diagnostics{found}; the intervals carry "
                "the uncertainty of the fitted parameters."
            )
        else:
            kept = " and was kept with allow-unconverged" if allow_unconverged else ""
            origin = (
                f"Parameters: {draws} draws of the posterior `{Path(posterior).name}`, "
                f"which **did not pass** its convergence diagnostics{found}{kept}: "
                "treat the intervals as indicative only."
            )
    return f"**Where the numbers come from.** World: {a.get('world', '?')}. {origin} {settings}"


def escape_markdown(text: str) -> str:
    """``text`` with the characters Markdown would read as formatting escaped."""
    return re.sub(r"([\\`*_\[\]<>|#~])", r"\\\1", str(text))


def scenario_summary(
    comparison: pd.DataFrame, currency: str, segment: str = "all", shown: tuple[str, ...] = SHOWN
) -> pd.DataFrame:
    """The comparison of one segment as a table to read: per scenario and outcome the
    baseline, the scenario, the difference with its 90% interval and P(better), formatted;
    outcomes not defined in the run are left out."""
    rows = comparison[
        (comparison["segment"] == segment)
        & comparison["outcome"].isin(shown)
        & comparison["difference"].notna()
    ]
    table = pd.DataFrame(
        {
            "scenario": rows["scenario"],
            "outcome": [_label(o, currency) for o in rows["outcome"]],
            "baseline": [
                number(v, u) for v, u in zip(rows["baseline_mean"], rows["unit"], strict=True)
            ],
            "scenario value": [
                number(v, u) for v, u in zip(rows["scenario_mean"], rows["unit"], strict=True)
            ],
            "difference": [
                number(v, u, True) for v, u in zip(rows["difference"], rows["unit"], strict=True)
            ],
            "90% interval": [
                f"{number(lo, u, True)} to {number(hi, u, True)}"
                for lo, hi, u in zip(rows["low"], rows["high"], rows["unit"], strict=True)
            ],
            "P(better)": [f"{p:.0%}" for p in rows["p_better"]],
        }
    )
    return table.set_index(["scenario", "outcome"])


def headline_summary(table: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The :func:`headline` table formatted: the mean and the 90% interval of each outcome."""
    defined = table[table["mean"].notna()]
    return pd.DataFrame(
        {
            "baseline (all segments)": [_label(o, currency) for o in defined["outcome"]],
            "mean": [number(v, u) for v, u in zip(defined["mean"], defined["unit"], strict=True)],
            "90% interval": [
                f"{number(lo, u)} to {number(hi, u)}"
                for lo, hi, u in zip(defined["low"], defined["high"], defined["unit"], strict=True)
            ],
        }
    ).set_index("baseline (all segments)")


def economics_summary(money: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The economics formatted: value gained with its 90% interval, cost, net gain, return,
    P(gain > cost) and payback month, best first by the rule of :func:`ranking`."""
    ranked = ranking(money)
    return pd.DataFrame(
        {
            "scenario": ranked["scenario"],
            f"value gained ({currency})": [_amount(v, True) for v in ranked["value_gain"]],
            "90% interval": [
                f"{_amount(lo, True)} to {_amount(hi, True)}"
                for lo, hi in zip(ranked["value_gain_low"], ranked["value_gain_high"], strict=True)
            ],
            f"cost ({currency})": [_amount(v) for v in ranked["cost"]],
            f"net gain ({currency})": [_amount(v, True) for v in ranked["net_gain"]],
            "return": [
                _return(v, c) for v, c in zip(ranked["return"], ranked["cost"], strict=True)
            ],
            "P(gain > cost)": [f"{p:.0%}" for p in ranked["p_gain_exceeds_cost"]],
            "payback month": [_payback(v) for v in ranked["payback_month"]],
        }
    ).set_index("scenario")


def _figures(row: pd.Series, comparison: pd.DataFrame, currency: str) -> list[str]:
    """The figures of one scenario as Markdown bullets."""
    low, high = (_money(row[c], currency) for c in ("value_gain_low", "value_gain_high"))
    lines = [
        f"- Value gained: {_money(row['value_gain'], currency)} (90% interval {low} to "
        f"{high}), discounted over the run.",
        f"- Cost: {_cost(row['cost'], currency)}; expected net gain "
        f"{_money(row['value_gain'] - row['cost'], currency)}; return "
        f"{_return(row['return'], row['cost'])}.",
        f"- Payback: {_payback_text(row)}.",
        f"- P(gain > cost): {row['p_gain_exceeds_cost']:.0%}.",
    ]
    effects = comparison[
        (comparison["scenario"] == row["scenario"]) & (comparison["segment"] == "all")
    ].set_index("outcome")
    for outcome in ("lifetime_value", "retention_12"):
        if outcome in effects.index and pd.notna(effects.loc[outcome, "difference"]):
            lines.append(_effect(effects.loc[outcome], outcome, currency))
    return lines


def _effect(row: pd.Series, outcome: str, currency: str) -> str:
    unit = row["unit"]
    after = f" {currency} per customer" if unit == "currency" else ""
    name = _outcome_name(outcome)
    return (
        f"- {name[0].upper()}{name[1:]}: {number(row['difference'], unit, True)}"
        f"{after} against the baseline (90% interval {number(row['low'], unit, True)} to "
        f"{number(row['high'], unit, True)}; P(better) {row['p_better']:.0%})."
    )


def _runner_up(row: pd.Series, currency: str, plan: str) -> str:
    qualified = "" if row["qualifies"] else ", though it too is less likely than not to pay"
    return (
        f"Runner-up: {_name(row['scenario'], plan)}, expected net gain "
        f"{_money(row['value_gain'] - row['cost'], currency)} with P(gain > cost) "
        f"{row['p_gain_exceeds_cost']:.0%}{qualified}."
    )


def _losers(ranked: pd.DataFrame, currency: str, plan: str) -> str:
    losing = ranked[ranked["value_gain"] < 0]
    if losing.empty:
        return "\nNo scenario loses value on average."
    names = "; ".join(
        f"{_name(r['scenario'], plan)} ({_money(r['value_gain'], currency)}, "
        f"90% interval {_money(r['value_gain_low'], currency)} to "
        f"{_money(r['value_gain_high'], currency)})"
        for _, r in losing.iterrows()
    )
    return f"\nLoses value on average, before its cost: {names}."


def _name(name: str, plan: str = "") -> str:
    shown = f"**{escape_markdown(name)}**"
    return f"{shown} (all the scenarios together)" if plan and name == plan else shown


def _money(value: float, currency: str) -> str:
    return f"{_amount(value, signed=True)} {currency}"


def _cost(value: float, currency: str) -> str:
    text = f"{_amount(abs(value))} {currency}"
    return f"none, it saves {text}" if value < 0 else text


def _amount(value: float, signed: bool = False) -> str:
    """An amount of money in whole units with thousands separators ("-" when missing)."""
    if pd.isna(value):
        return "-"
    return f"{value:+,.0f}" if signed else f"{value:,.0f}"


def _return(value: float, cost: float) -> str:
    """The return on the cost; not defined for a scenario that costs nothing or saves."""
    if pd.notna(value):
        return f"{value:.0%}"
    return "not defined (it saves money)" if cost < 0 else "not defined (no cost)"


def _payback(value: float) -> str:
    return "not within the run" if pd.isna(value) else str(int(value))


def _payback_text(row: pd.Series) -> str:
    """When the scenario pays back, in words."""
    if row["cost"] == 0:
        return "nothing to pay back (no cost)"
    if pd.isna(row["payback_month"]):
        return "not within the run"
    return f"in month {int(row['payback_month'])} of the run (months counted from 0)"


def _label(outcome: str, currency: str) -> str:
    """An outcome's name with its unit, for tables."""
    unit = OUTCOMES[outcome][1]
    word = {"share": "%", "currency": currency, "points": "points"}.get(unit, unit)
    if outcome == "lifetime_value":
        word = f"{currency} per customer"
    return f"{_outcome_name(outcome)} ({word})"


def _outcome_name(outcome: str) -> str:
    names = {
        "retention_12": "retention after 12 months",
        "retention_24": "retention after 24 months",
        "nps": "NPS",
        "monthly_churn": "monthly churn",
    }
    return names.get(outcome, outcome.replace("_", " "))
