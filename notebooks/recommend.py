"""The executive's figures: the decision, the baseline's headline, the plans side by side, and
what every figure rests on, written from the comparison and the economics (never fixed text).

The rule of :func:`recommendation` (see :func:`ranking`): the best plan is the one with the
highest expected net gain (value gained less cost) among those more likely than not to gain
more than they cost, P(gain > cost) >= 0.5. When none is, none is recommended and the
closest, the one with the highest P(gain > cost), is named.

Value gained is the measure of :func:`scenarios.compare.economics` (``measure``: lifetime
value by default, said in words by :func:`measure_text`). A plan that removes a touchpoint
rests on an assumption, where the touchpoint's prospects go; :func:`assumption_text` words it
from the study's ``removals`` table (:func:`scenarios.study.run_study`): the break-even share
of its traffic that must go on for the plan to pay, against the share the plan assumes.

Every user string (scenario names, touchpoint ids and labels) is escaped before it reaches
Markdown (:func:`escape_markdown`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from notebooks.tables import number
from scenarios.compare import INTERVAL
from scenarios.runner import BASELINE
from sim.engine.results import OUTCOMES, outcomes

HEADLINE = (
    "retention_12",
    "retention_24",
    "lifetime_value",
    "value_run",
    "acquired_lifetime_value",
    "nps",
)
"""The baseline's outcomes an executive sees first."""
SHOWN = (
    "retention_12",
    "retention_24",
    "lifetime_value",
    "add_on_lifetime_value",
    "acquired_lifetime_value",
    "nps",
    "margin",
)
"""The outcomes of the scenario table (``add_on_lifetime_value`` only where a world has
cross-sell or up-sell: :data:`OF_WHICH`)."""
OF_WHICH = "add_on_lifetime_value"
"""Of lifetime value, the part from cross-sell and up-sell: shown where it is not zero."""
CONFIDENT = 0.5
"""A scenario qualifies when P(gain > cost) is at least this."""
OUTCOME_NAMES = {
    "retention_12": "retention after 12 months",
    "retention_24": "retention after 24 months",
    "monthly_churn": "monthly churn",
    "acquired": "customers acquired over the run",
    "lifetime_value": "lifetime value per customer",
    "value_run": "value over the run per customer",
    "acquired_lifetime_value": "lifetime value per acquired customer, net of acquisition",
    "margin": "margin over the run",
    "add_on_lifetime_value": "of which cross-sell and up-sell, per customer",
    "add_on_margin": "of the margin: cross-sell and up-sell",
    "nps": "NPS",
    "cost_to_serve": "cost to serve over the run",
}
"""Each outcome of :data:`sim.engine.results.OUTCOMES` as a reader names it."""
GAINED = {"lifetime": "lifetime value gained", "run": "value gained over the run"}
"""Value gained in words, by the economics' ``measure``."""


def headline(results: xr.Dataset) -> pd.DataFrame:
    """The baseline for the whole company: retention after 12 and 24 months, lifetime value
    per customer (and its part over the run), lifetime value per customer acquired during the
    run and NPS, each as the mean and 90% interval over draws.

    Returns
    -------
    pandas.DataFrame
        One row per outcome of :data:`HEADLINE`: ``outcome``, ``description``, ``unit``
        (as in :data:`sim.engine.results.OUTCOMES`), ``mean``, ``low``, ``high``; empty
        figures where the outcome is not defined (24-month retention in a shorter run).
    """
    values = outcomes(results).sel(scenario=BASELINE, segment="all")
    rows = []
    extra = (OF_WHICH,) if bool((values[OF_WHICH] != 0).any()) else ()  # a world with add-ons
    for name in HEADLINE + extra:
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


def recommended(money: pd.DataFrame) -> str:
    """The name of the plan the rule recommends, or ``""`` when none qualifies."""
    if money.empty:
        return ""
    best = ranking(money).iloc[0]
    return str(best["scenario"]) if best["qualifies"] else ""


def recommendation(
    comparison: pd.DataFrame,
    money: pd.DataFrame,
    currency: str,
    plan: str = "",
    removals: pd.DataFrame | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The decision in Markdown, written from the figures.

    The rule: recommend the plan with the highest expected net gain (value gained less
    cost) among those with P(gain > cost) >= 0.5; when none qualifies, say so and name the
    closest (highest P(gain > cost), then net gain). Name its value gained with the 90%
    interval, cost, return, P(gain > cost), when it pays back (``pays_back``), the assumption
    it rests on when it removes a touchpoint (:func:`assumption_text`), its effect on
    lifetime value and 12-month retention (from ``comparison``, all segments), the
    runner-up, the assumption of every other plan that removes a touchpoint, and every plan
    whose expected value gained is below zero.

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
    removals
        The study's ``removals`` table (:attr:`scenarios.study.Study.removals`); none: no
        plan removes a touchpoint.
    labels
        Touchpoint labels by id, for the removed touchpoints (default: the ids).
    """
    if money.empty:
        return "No scenarios were compared, so there is nothing to recommend."
    ranked = ranking(money)
    best = ranked.iloc[0]
    gained = _gained(money)
    if best["qualifies"]:
        lines = [
            f"**Recommendation:** {_name(best['scenario'], plan)}. Of the {len(ranked)} plans "
            f"compared it has the highest expected net gain ({gained} less cost) among those "
            "more likely than not to gain more than they cost."
        ]
    else:
        lines = [
            "**No plan is more likely than not to gain more than it costs** "
            f"(P(gain > cost) below {CONFIDENT:.0%} for all {len(ranked)}), so none is "
            f"recommended as it stands. The closest is {_name(best['scenario'], plan)}."
        ]
    lines += ["", *_figures(best, comparison, currency, gained)]
    assumptions = _assumptions(removals, money, currency, labels)
    if best["scenario"] in assumptions:
        lines.append(f"- **What it rests on:** {assumptions.pop(best['scenario'])}")
    lines.append("")
    if plan and best["scenario"] == plan and len(ranked) > 1:
        lines.append(_parts(ranked[ranked["scenario"] != plan], currency))
    elif len(ranked) > 1:
        lines.append(_runner_up(ranked.iloc[1], currency, plan))
    if assumptions:
        lines += [
            "",
            "The other plans that remove a touchpoint rest on where its prospects go:",
            *(f"- {text}" for text in assumptions.values()),
        ]
    lines.append(_losers(ranked, currency, plan, gained))
    return "\n".join(lines)


def assumption_text(
    removal: pd.Series,
    cost: float,
    currency: str,
    labels: Mapping[str, str] | None = None,
) -> str:
    """What a plan that removes a touchpoint rests on, in a sentence (Markdown): the
    break-even share of the removed touchpoint's traffic that must go on for the plan to pay
    its cost, against the traffic the plan assumes and where that figure comes from; or that
    it pays even if none goes on, or does not pay even if all of it goes on.

    Parameters
    ----------
    removal
        One row of the study's ``removals`` table (``scenario``, ``removed``, ``traffic``,
        ``basis``, ``value_gain_none_go_on``, ``value_gain_all_go_on``,
        ``break_even_share``, ``end_refused``).
    cost
        The plan's cost (the economics' ``cost``, negative for a saving).
    currency, labels
        As for :func:`recommendation`.
    """
    name = _name(removal["scenario"])
    met = _touchpoints(removal["removed"], labels)
    who = f"the prospects who would have met {met}"
    assumed = f"the plan assumes {_traffic_words(removal['traffic'])} ({_basis(removal)})"
    none, every = removal["value_gain_none_go_on"], removal["value_gain_all_go_on"]
    share = removal["break_even_share"]
    ends = (
        f"it gains {_money(none, currency)} if none go on and {_money(every, currency)} if "
        f"all do, against {_cost_words(cost, currency)}"
    )
    if pd.isna(none) or pd.isna(every):
        refused = str(removal.get("end_refused") or "one end of its traffic was not run")
        text = f"{name}: no break-even share is known ({escape_markdown(refused)}); {assumed}."
    elif abs(none - every) < 0.5:  # the same to the currency unit
        verdict = "pays" if none >= cost else "does not pay"
        text = (
            f"{name}: where {who} go makes no difference to its figures (it gains "
            f"{_money(none, currency)} either way, against {_cost_words(cost, currency)}), so it "
            f"{verdict} whatever share of them goes on; {assumed}."
        )
    elif pd.notna(share):
        side = "at least" if none - cost < every - cost else "only if at most"
        text = (
            f"{name} pays {'if ' if side == 'at least' else ''}{side} {share:.0%} of {who} go "
            f"on without it (the break-even share; {ends}); {assumed}."
        )
    elif min(none, every) >= cost:
        text = f"{name} pays even if none of {who} go on without it ({ends}); {assumed}."
    else:
        text = f"{name} does not pay even if all of {who} go on without it ({ends}); {assumed}."
    return text


def removals_summary(
    removals: pd.DataFrame,
    money: pd.DataFrame,
    currency: str,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The removals table formatted: per plan that removes a touchpoint, what it removes,
    the traffic it assumes and on what basis, the value gained if none and if all of the
    traffic goes on, the cost, the break-even share and whether it pays at the assumed
    traffic (P(gain > cost) at least 50%)."""
    if removals is None or removals.empty:
        return pd.DataFrame()
    by_name = money.set_index("scenario")
    rows = removals[removals["scenario"].isin(by_name.index)]
    return pd.DataFrame(
        {
            "plan": rows["scenario"],
            "removes": [_touchpoints(r, labels, escape=False) for r in rows["removed"]],
            "assumed traffic": [_traffic_words(t) for t in rows["traffic"]],
            "basis": rows["basis"],
            f"value gained if none go on ({currency})": [
                _amount(v, True) for v in rows["value_gain_none_go_on"]
            ],
            f"if all go on ({currency})": [_amount(v, True) for v in rows["value_gain_all_go_on"]],
            f"cost ({currency})": [_amount(by_name.loc[s, "cost"]) for s in rows["scenario"]],
            "break-even share": [
                _break_even(r, by_name.loc[r["scenario"], "cost"]) for _, r in rows.iterrows()
            ],
            "P(gain > cost) as assumed": [
                f"{by_name.loc[s, 'p_gain_exceeds_cost']:.0%}" for s in rows["scenario"]
            ],
        }
    ).set_index("plan")


def headline_text(table: pd.DataFrame, currency: str) -> str:
    """The :func:`headline` in a sentence (Markdown); undefined outcomes left out."""
    rows = table.set_index("outcome")

    def defined(outcome: str) -> bool:
        return outcome in rows.index and pd.notna(rows.loc[outcome, "mean"])

    def interval(outcome: str) -> str:
        r = rows.loc[outcome]
        return f"90% interval {_amount(r['low'])} to {_amount(r['high'])}"

    parts = []
    for outcome, months in (("retention_12", 12), ("retention_24", 24)):
        if defined(outcome):
            r = rows.loc[outcome]
            parts.append(
                f"{r['mean']:.1%} of today's customers are still in service after "
                f"{months} months (90% interval {r['low']:.1%} to {r['high']:.1%})"
            )
    if defined("lifetime_value"):
        part = (
            f"each of them is worth {_amount(rows.loc['lifetime_value', 'mean'])} {currency} "
            f"over its lifetime, discounted ({interval('lifetime_value')})"
        )
        if defined("value_run"):
            part += (
                f": {_amount(rows.loc['value_run', 'mean'])} {currency} over the run and the "
                "rest expected after it, from each customer's own risk of leaving"
            )
        if defined(OF_WHICH):
            part += (
                f", of which {_amount(rows.loc[OF_WHICH, 'mean'])} {currency} from cross-sell "
                f"and up-sell ({interval(OF_WHICH)})"
            )
        parts.append(part)
    if defined("acquired_lifetime_value"):
        parts.append(
            "a customer won during the run is worth "
            f"{_amount(rows.loc['acquired_lifetime_value', 'mean'])} {currency} over its "
            f"lifetime, net of what it cost to win ({interval('acquired_lifetime_value')})"
        )
    if defined("nps"):
        r = rows.loc["nps"]
        parts.append(
            f"the net promoter score ends the run at {r['mean']:+.0f} (90% interval "
            f"{r['low']:+.0f} to {r['high']:+.0f})"
        )
    return "Without any change, " + "; ".join(parts) + "." if parts else ""


def measure_text(results: xr.Dataset, money: pd.DataFrame | None = None) -> str:
    """The measure of value, said once and plainly (Markdown): what value gained counts and
    what it leaves out, for the economics' ``measure`` (lifetime value unless ``money`` says
    ``run``)."""
    a = results.attrs
    measure = _measure(money)
    rate = f"{a['discount_rate']:.2%}" if "discount_rate" in a else "the world's rate"
    months = a.get("months", results.sizes.get("month", "?"))
    if measure == "run":
        return (
            "**How value is counted: value over the run.** Value is each customer's margin "
            "less the cost to serve them, less what it cost to win the customers acquired, "
            f"discounted at {rate} a month, over the {months} months of the run and no "
            "longer. Nothing after the run is counted: a plan whose gains build up slowly, or "
            "that wins customers late in the run, looks worse than it will be. A plan's cost "
            "is its spending in the run. Value gained is a plan's value less the baseline's, "
            "for the whole company, before the plan's cost."
        )
    return (
        "**How value is counted: lifetime value.** Value is each customer's margin less the "
        "cost to serve them, less what it cost to win the customers acquired, discounted at "
        f"{rate} a month: over the {months} months of the run, plus, for every customer still "
        "in service at its end, the value expected after it from that customer's own risk of "
        "leaving, plus the customers the company goes on winning after the run (each month as "
        "many as its journeys convert, each worth what a customer won in the run was). After "
        "the run the world stands still as the plan left it: customers keep their views of "
        "the touchpoints, and the plan's monthly cost (or saving) goes on and is part of its "
        "cost, so savings and lost or won customers are counted over the same horizon. Value "
        "gained is a plan's lifetime value less the baseline's, for the whole company, before "
        "the plan's cost."
    )


def sources_text(
    results: xr.Dataset,
    posterior: str = "",
    diagnostics: dict | None = None,
    allow_unconverged: bool = False,
) -> str:
    """Where the figures come from (Markdown): the world, the posterior and whether it
    passed its diagnostics, and the run's size: parameter draws (posterior draws, or the
    world's own parameters) x simulations of each x customers x months.

    Parameters
    ----------
    results
        The study's results (their attributes name the world and the settings; the
        ``draw`` dimension holds one entry per simulation, its coordinates
        ``parameter_draw`` and ``replication`` say which).
    posterior
        The posterior file, or ``""`` when the world's own parameters were used.
    diagnostics, allow_unconverged
        The posterior's ``ctm_diagnostics`` and ``ctm_allow_unconverged`` attributes.
    """
    a = results.attrs
    simulations, parameters, replications = _run_size(results)
    each = f"{replications} simulation{'s' if replications > 1 else ''}"
    size = (
        f"{a['customers']:,} simulated customers x {a['months']} months = "
        f"{simulations} simulation{'s' if simulations > 1 else ''} of every plan (seed "
        f"{a['seed']}), scaled to the company (x {a['scale']:,.1f}); money in "
        f"{a.get('currency', '?')}, discounted at {a['discount_rate']:.2%} a month."
    )
    if not posterior:
        settings = (
            f"The run: the world's own parameters (1 parameter set) x {each} with other "
            f"random numbers x {size}"
        )
        noise = (
            f"so the intervals show the simulation's noise over its {simulations} "
            "simulations but not the uncertainty of the parameters, which were not fitted "
            "to data"
            if simulations > 1
            else "once: the figures carry neither the parameters' uncertainty nor the "
            "simulation's noise, and their intervals have no width"
        )
        origin = (
            "No posterior was given: every plan was simulated with the world's own "
            f"parameters, {noise}."
        )
    else:
        settings = f"The run: {parameters} posterior draws x {each} of each x {size}"
        diagnostics = diagnostics or {}
        found = ", ".join(
            f"{k.replace('_', ' ')} {v:.3g}"
            if isinstance(v, float)
            else f"{k.replace('_', ' ')} {v}"
            for k, v in diagnostics.items()
            if k != "ok"
        )
        found = f" ({found})" if found else ""
        name = "`" + Path(posterior).name.replace("`", "'") + "`"
        if diagnostics.get("ok"):
            origin = (
                f"Parameters: {parameters} draws of the posterior {name}, which passed its "
                f"convergence diagnostics{found}; the intervals carry the uncertainty of the "
                "fitted parameters and the simulation's noise."
            )
        else:
            kept = " and was kept with allow-unconverged" if allow_unconverged else ""
            origin = (
                f"Parameters: {parameters} draws of the posterior {name}, which **did not "
                f"pass** its convergence diagnostics{found}{kept}: treat the intervals as "
                "indicative only."
            )
    world = escape_markdown(a.get("world", "?"))
    return f"**Where the numbers come from.** World: {world}. {origin} {settings}"


def escape_markdown(text: str) -> str:
    """``text`` with the characters Markdown would read as formatting escaped."""
    return re.sub(r"([\\`*_\[\]<>|#~$])", r"\\\1", str(text))


def scenario_summary(
    comparison: pd.DataFrame, currency: str, segment: str = "all", shown: tuple[str, ...] = SHOWN
) -> pd.DataFrame:
    """The comparison of one segment as a table to read: per scenario (in the comparison's
    order) and outcome (in the order of ``shown``) the baseline, the scenario, the difference
    with its 90% interval and P(better), formatted; outcomes not defined in the run are left
    out."""
    rows = comparison[
        (comparison["segment"] == segment)
        & comparison["outcome"].isin(shown)
        & comparison["difference"].notna()
    ]
    none = (rows["outcome"] == OF_WHICH) & (rows["baseline_mean"] == 0)
    rows = rows[~(none & (rows["scenario_mean"] == 0))]  # a world without add-ons
    order = {name: i for i, name in enumerate(dict.fromkeys(comparison["scenario"]))}
    rows = rows.assign(
        _scenario=rows["scenario"].map(order), _outcome=rows["outcome"].map(shown.index)
    ).sort_values(["_scenario", "_outcome"], kind="stable")
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
    """The economics formatted: value gained (named by its measure) with its 90% interval,
    cost, net gain, return, P(gain > cost) and when it pays back, best first by the rule of
    :func:`ranking`."""
    ranked = ranking(money)
    gained = _gained(money)
    return pd.DataFrame(
        {
            "scenario": ranked["scenario"],
            f"{gained} ({currency})": [_amount(v, True) for v in ranked["value_gain"]],
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
            "pays back": [_payback(r) for _, r in ranked.iterrows()],
            **_of_which(ranked, currency),
        }
    ).set_index("scenario")


def _of_which(money: pd.DataFrame, currency: str) -> dict[str, list[str]]:
    """The economics' column "of which cross-sell and up-sell" with its interval, where any
    scenario gains or loses some (else none)."""
    if "add_on_gain" not in money or not (money["add_on_gain"] != 0).any():
        return {}
    return {
        f"of which cross-sell and up-sell ({currency})": [
            f"{_amount(v, True)} ({_amount(lo, True)} to {_amount(hi, True)})"
            for v, lo, hi in zip(
                money["add_on_gain"],
                money["add_on_gain_low"],
                money["add_on_gain_high"],
                strict=True,
            )
        ]
    }


def _figures(row: pd.Series, comparison: pd.DataFrame, currency: str, gained: str) -> list[str]:
    """The figures of one plan as Markdown bullets."""
    low, high = (_money(row[c], currency) for c in ("value_gain_low", "value_gain_high"))
    lines = [
        f"- {_sentence(gained)}: {_money(row['value_gain'], currency)} (90% interval {low} to "
        f"{high}){_of_which_text(row, currency)}.",
        f"- Cost: {_cost(row['cost'], currency)}; expected net gain "
        f"{_money(row['value_gain'] - row['cost'], currency)}; return "
        f"{_return(row['return'], row['cost'])}.",
        f"- P(gain > cost): {row['p_gain_exceeds_cost']:.0%}, the share of the simulations in "
        "which it gains more than it costs.",
        f"- Payback: {_payback_text(row)}.",
    ]
    effects = comparison[
        (comparison["scenario"] == row["scenario"]) & (comparison["segment"] == "all")
    ].set_index("outcome")
    for outcome in ("lifetime_value", "acquired_lifetime_value", "retention_12"):
        if outcome in effects.index and pd.notna(effects.loc[outcome, "difference"]):
            lines.append(_effect(effects.loc[outcome], outcome, currency))
    return lines


def _of_which_text(row: pd.Series, currency: str) -> str:
    """ ", of which ... from cross-sell and up-sell (interval)" where a plan has some."""
    if row.get("add_on_gain", 0.0) == 0 or pd.isna(row.get("add_on_gain")):
        return ""
    low, high = (_money(row[c], currency) for c in ("add_on_gain_low", "add_on_gain_high"))
    return (
        f", of which {_money(row['add_on_gain'], currency)} from cross-sell and up-sell "
        f"(90% interval {low} to {high})"
    )


def _effect(row: pd.Series, outcome: str, currency: str) -> str:
    unit = row["unit"]
    after = f" {currency}" if unit == "currency" else ""
    return (
        f"- {_sentence(OUTCOME_NAMES.get(outcome, outcome))}: "
        f"{number(row['difference'], unit, True)}{after} against the baseline (90% interval "
        f"{number(row['low'], unit, True)} to {number(row['high'], unit, True)}; P(better) "
        f"{row['p_better']:.0%})."
    )


def _runner_up(row: pd.Series, currency: str, plan: str) -> str:
    qualified = "" if row["qualifies"] else ", though it too is less likely than not to pay"
    return (
        f"Runner-up: {_name(row['scenario'], plan)}, expected net gain "
        f"{_money(row['value_gain'] - row['cost'], currency)} with P(gain > cost) "
        f"{row['p_gain_exceeds_cost']:.0%}{qualified}."
    )


def _parts(parts: pd.DataFrame, currency: str) -> str:
    """The scenarios of the combined plan on their own, best first: which of them carry it."""
    listed = []
    for _, r in parts.iterrows():
        text = (
            f"{_name(r['scenario'])} {_money(r['value_gain'] - r['cost'], currency)} "
            f"(P(gain > cost) {r['p_gain_exceeds_cost']:.0%})"
        )
        if r["cost"] == 0 and r.get("effort_weeks", np.nan) == 0:
            text += (
                ", which costs nothing and takes no effort: if it is a change in the market "
                "rather than an action, read the plan as tested against it"
            )
        listed.append(text)
    text = "Its scenarios on their own, expected net gain best first: " + "; ".join(listed) + "."
    market = (parts["cost"] == 0) & (parts.get("effort_weeks", np.nan) == 0)
    weak = parts[~market & (parts["p_gain_exceeds_cost"] < CONFIDENT)]
    if len(weak) == 1:
        text += (
            f" Of the actions, {_name(weak['scenario'].iloc[0])} is less likely than not to pay "
            "on its own: the plan is likely better without it."
        )
    elif len(weak) > 1:
        names = ", ".join(_name(name) for name in weak["scenario"])
        text += (
            f" Of the actions, {names} are less likely than not to pay on their own: the plan "
            "is likely better without them."
        )
    return text


def _losers(ranked: pd.DataFrame, currency: str, plan: str, gained: str) -> str:
    losing = ranked[ranked["value_gain"] < 0]
    if losing.empty:
        return "\nNo plan loses value on average."
    names = "; ".join(
        f"{_name(r['scenario'], plan)} ({_money(r['value_gain'], currency)}, "
        f"90% interval {_money(r['value_gain_low'], currency)} to "
        f"{_money(r['value_gain_high'], currency)})"
        for _, r in losing.iterrows()
    )
    return f"\nLoses value on average ({gained} below zero, before its cost): {names}."


def _assumptions(
    removals: pd.DataFrame | None,
    money: pd.DataFrame,
    currency: str,
    labels: Mapping[str, str] | None,
) -> dict[str, str]:
    """:func:`assumption_text` of every plan in ``money`` that removes a touchpoint, in the
    order of the ranking."""
    if removals is None or removals.empty:
        return {}
    cost = money.set_index("scenario")["cost"]
    found = {r["scenario"]: r for _, r in removals.iterrows() if r["scenario"] in cost.index}
    return {
        name: assumption_text(found[name], cost[name], currency, labels)
        for name in ranking(money)["scenario"]
        if name in found
    }


def _break_even(removal: pd.Series, cost: float) -> str:
    """A removal's break-even share in a table: "at least 38%", or why there is none."""
    none, every = removal["value_gain_none_go_on"], removal["value_gain_all_go_on"]
    if pd.isna(none) or pd.isna(every):
        return "not known (an end was refused)"
    if abs(none - every) < 0.5:
        return "makes no difference: " + ("pays" if none >= cost else "never pays")
    if pd.notna(removal["break_even_share"]):
        side = "at least" if none < every else "at most"
        return f"{side} {removal['break_even_share']:.0%} go on"
    return "pays even if none go on" if min(none, every) >= cost else "never pays"


def _traffic_words(traffic: str) -> str:
    """A removal's traffic (``str(Traffic)``, several joined by "; ") in words: "50% go on
    and 50% are lost"."""
    whole = {"successors": "all go on", "lost": "all are lost"}
    described = []
    for part in str(traffic).split("; "):
        if part in whole:
            described.append(whole[part])
            continue
        words = []
        for share in part.split(", "):
            found = re.fullmatch(r"(\d+%) (.+)", share)
            if not found:
                words = [escape_markdown(part)]
                break
            amount, where = found.groups()
            words.append(
                f"{amount} go on"
                if where == "successors"
                else f"{amount} are lost"
                if where == "lost"
                else f"{amount} go to {escape_markdown(where)}"
            )
        described.append(" and ".join(words))
    return "; ".join(described)


def _basis(removal: pd.Series) -> str:
    basis = str(removal.get("basis") or "")
    return escape_markdown(basis) if basis else "where the figure comes from is not said"


def _touchpoints(removed: str, labels: Mapping[str, str] | None, escape: bool = True) -> str:
    """The removed touchpoints (ids joined by ", ") by their labels, lower case."""
    names = []
    for tp in str(removed).split(", "):
        label = (labels or {}).get(tp)
        text = f"the {label[0].lower()}{label[1:]} ({tp})" if label and label != tp else tp
        names.append(escape_markdown(text) if escape else text)
    return " or ".join(names)


def _measure(money: pd.DataFrame | None) -> str:
    if money is None or "measure" not in money or money.empty:
        return "lifetime"
    return str(money["measure"].iloc[0])


def _gained(money: pd.DataFrame | None) -> str:
    return GAINED.get(_measure(money), "value gained")


def _name(name: str, plan: str = "") -> str:
    shown = f"**{escape_markdown(name)}**"
    return f"{shown} (all the scenarios together)" if plan and name == plan else shown


def _money(value: float, currency: str) -> str:
    return f"{_amount(value, signed=True)} {currency}"


def _cost(value: float, currency: str) -> str:
    text = f"{_amount(abs(value))} {currency}"
    return f"none, it saves {text}" if value < 0 else text


def _cost_words(value: float, currency: str) -> str:
    """A cost after "against": "a cost of 30,000 EUR", "a saving of 1,000 EUR"."""
    if value < 0:
        return f"a saving of {_amount(-value)} {currency}"
    return f"a cost of {_amount(value)} {currency}"


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


def _payback(row: pd.Series) -> str:
    """When a plan pays back, in a few words (a table's cell)."""
    month, pays = row["payback_month"], row.get("pays_back")
    if row["cost"] == 0:
        return "no cost"
    if pd.isna(pays) or pays is None:  # a table without ``pays_back``
        return "not within the run" if pd.isna(month) else f"month {int(month)}"
    if pays == "in the run" and pd.notna(month):
        return f"month {int(month)}"
    if pays == "in the run, then lost" and pd.notna(month):
        return f"month {int(month)}, then lost after the run"
    return str(pays)


def _payback_text(row: pd.Series) -> str:
    """When the plan pays back, in words (from ``pays_back``, else the payback month)."""
    month, pays = row["payback_month"], row.get("pays_back")
    if row["cost"] == 0:
        return "nothing to pay back (no cost)"
    if pays is None or pd.isna(pays):
        if pd.isna(month):
            return "not within the run"
        return f"in month {int(month)} of the run (months counted from 0)"
    if pays == "in the run" and pd.notna(month):
        return f"in month {int(month)} of the run (months counted from 0)"
    if pays == "in the run, then lost" and pd.notna(month):
        return (
            f"its gain over the run covers its cost by month {int(month)} (months counted from "
            "0), but over the customers' lifetime it gains less than it costs: what it earns "
            "early is lost after the run"
        )
    if pays == "after the run":
        return (
            "after the run: within the run its gain falls short of its spending, and what "
            "comes after the run (its customers' value, its monthly savings) makes up the "
            "difference"
        )
    if pays == "never":
        return "never: even with the value expected after the run it gains less than it costs"
    if pays == "not in the run":
        return "not within the run (value after the run is not counted)"
    return str(pays)


def _label(outcome: str, currency: str) -> str:
    """An outcome's name with its unit, for tables."""
    unit = OUTCOMES[outcome][1]
    word = {"share": "%", "currency": currency, "points": "points"}.get(unit, "")
    name = OUTCOME_NAMES.get(outcome, outcome.replace("_", " "))
    return f"{name} ({word})" if word else name


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _run_size(results: xr.Dataset) -> tuple[int, int, int]:
    """Simulations of every plan, parameter draws, and simulations of each draw."""
    simulations = results.sizes["draw"]
    if "parameter_draw" in results.coords:
        parameters = len(np.unique(results["parameter_draw"].values))
    else:
        parameters = simulations // max(int(results.attrs.get("replications", 1)), 1)
    return simulations, max(parameters, 1), max(simulations // max(parameters, 1), 1)
