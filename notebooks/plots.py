"""Figures of a study for the notebooks: retention, differences, forest plots and the money.

Every function draws on a new figure (or on the ``ax`` given) and returns the matplotlib
Figure; intervals are the 90% equal-tailed ones of :mod:`scenarios.compare`, drawn shaded;
both axes name their unit (money in the study's currency). A notebook calls
:func:`scenario_colours` once on ``results.scenario.values`` and passes the dict to every
function, so that a scenario has one colour throughout. The backend is left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from notebooks.recommend import OUTCOME_NAMES
from scenarios.compare import INTERVAL
from scenarios.runner import BASELINE
from sim.engine.results import OUTCOMES, with_total

NEUTRAL = "#6e6e6e"
"""The baseline's colour: a neutral grey that no scenario gets."""
MONEY = frozenset({"revenue", "margin", "cost_to_serve", "acquisition_spend"})
"""Monthly variables of the results measured in money; the others count customers."""
BAND_ALPHA = 0.15
PER = {
    "lifetime_value": " per customer",
    "value_run": " per customer",
    "acquired_lifetime_value": " per acquired customer",
}
"""Outcomes in money per customer: what the amount is per."""


def scenario_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per scenario: the baseline grey, the others from tab10 in the order given.

    A name given twice keeps its first colour. After the nine non-grey colours of tab10 come
    the light shades of tab20, then the palette repeats.

    Parameters
    ----------
    names
        Scenario names, such as ``results.scenario.values``.

    Returns
    -------
    dict
        Hex colour by name.
    """
    tab10 = [to_hex(c) for c in plt.get_cmap("tab10").colors]
    light = [to_hex(c) for c in plt.get_cmap("tab20").colors[1::2]]
    grey = {tab10[7], light[7]}
    palette = [c for c in tab10 + light if c not in grey]
    colours, used = {}, 0
    for name in dict.fromkeys(str(n) for n in names):
        if name == BASELINE:
            colours[name] = NEUTRAL
        else:
            colours[name] = palette[used % len(palette)]
            used += 1
    return colours


def retention_curves(
    results: xr.Dataset, segment: str = "all", colours: dict | None = None, ax=None
) -> Figure:
    """Share of the installed base still in service by month: mean over draws and the shaded
    90% band, one line per scenario (segment ``all``: the company)."""
    ds = with_total(results[["base_active", "base_size"]])
    share = (ds["base_active"] / ds["base_size"]).sel(segment=segment)
    colours = colours or scenario_colours(share.scenario.values)
    fig, ax = _axes(ax, (9, 5.5))
    elapsed = np.concatenate([[0], share.month.values + 1])  # 0: the start, everyone in service
    for name in share.scenario.values:
        low, mean, high = (
            np.concatenate([[1.0], values]) for values in _band(share.sel(scenario=name))
        )
        colour = colours.get(str(name), NEUTRAL)
        ax.fill_between(
            elapsed, low, high, color=colour, alpha=BAND_ALPHA, linewidth=0, gid=f"band:{name}"
        )
        ax.plot(
            elapsed,
            mean,
            color=colour,
            label=_text(name),
            linestyle="--" if name == BASELINE else "-",
            gid=f"mean:{name}",
        )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("months since the start of the run")
    ax.set_ylabel("installed base still in service (% of customers at the start)")
    ax.set_title(
        f"Retention of the installed base ({_segment(segment)}): mean over draws, shaded 90% band",
        fontsize=10,
    )
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def difference_over_time(
    results: xr.Dataset,
    scenario: str,
    variable: str = "active",
    segment: str = "all",
    colours: dict | None = None,
    ax=None,
) -> Figure:
    """Scenario less baseline, draw by draw, in each month of a monthly variable (company
    scale): mean line, shaded 90% band and the zero line."""
    if variable not in results or "month" not in results[variable].dims:
        raise ValueError(f"{variable!r} is not a monthly variable of the results")
    ds = with_total(results[[variable]])[variable].sel(segment=segment)
    diff = (ds.sel(scenario=scenario) - ds.sel(scenario=BASELINE)) * results.attrs["scale"]
    low, mean, high = _band(diff)
    money = variable in MONEY
    divisor, word = _money_scale(np.concatenate([low, high])) if money else (1.0, "")
    unit = f"{word}{results.attrs.get('currency', 'money')}" if money else "customers"
    colour = (colours or scenario_colours([BASELINE, scenario])).get(scenario, NEUTRAL)
    fig, ax = _axes(ax, (9, 5))
    month = diff.month.values
    ax.fill_between(
        month,
        low / divisor,
        high / divisor,
        color=colour,
        alpha=BAND_ALPHA,
        linewidth=0,
        gid=f"band:{scenario}",
    )
    ax.plot(month, mean / divisor, color=colour, label=f"{_text(scenario)}: mean, shaded 90% band")
    ax.axhline(0, color=NEUTRAL, linewidth=1, linestyle="--")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.4g}"))
    ax.set_xlabel("month of the run (0 = the first month)")
    ax.set_ylabel(f"{variable.replace('_', ' ')} per month less baseline ({unit})")
    ax.set_title(
        f"{_text(scenario)} against the baseline ({_segment(segment)}, company scale"
        f"{', undiscounted' if money else ''})",
        fontsize=10,
    )
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def forest_plot(
    comparison: pd.DataFrame,
    outcome: str = "lifetime_value",
    segment: str = "all",
    currency: str = "EUR",
    colours: dict | None = None,
    ax=None,
) -> Figure:
    """One row per scenario: its mean difference from the baseline and the shaded 90%
    interval (columns of :func:`scenarios.compare.compare`), and the zero line."""
    rows = _rows(comparison, outcome, segment=segment)
    colours = colours or scenario_colours([BASELINE, *rows["scenario"]])
    title = (
        f"{_sentence(_name(outcome))} ({_segment(segment)}): difference from the "
        "baseline,\nmean (dot) and 90% interval (shaded)"
    )
    return _forest(
        rows,
        list(rows["scenario"]),
        [colours.get(str(s), NEUTRAL) for s in rows["scenario"]],
        currency,
        "scenario",
        title,
        ax,
    )


def segment_effects(
    comparison: pd.DataFrame,
    scenario: str,
    outcome: str = "lifetime_value",
    currency: str = "EUR",
    colours: dict | None = None,
    ax=None,
) -> Figure:
    """One row per segment (and ``all``) for one scenario: the mean difference from the
    baseline and its shaded 90% interval, and the zero line."""
    rows = _rows(comparison, outcome, scenario=scenario)
    colour = (colours or scenario_colours([BASELINE, scenario])).get(scenario, NEUTRAL)
    title = (
        f"{_text(scenario)}: {_name(outcome)} by segment,\ndifference from the baseline, "
        "mean (dot) and 90% interval (shaded)"
    )
    return _forest(
        rows,
        [_segment(s) for s in rows["segment"]],
        [colour] * len(rows),
        currency,
        "segment",
        title,
        ax,
    )


def economics_plot(
    money: pd.DataFrame, currency: str, colours: dict | None = None, recommended: str = ""
) -> Figure:
    """Value gained (mean, shaded 90% interval) against cost, per scenario (columns of
    :func:`scenarios.compare.economics`), with the break-even line gain = cost; the
    ``recommended`` scenario, if any, ringed and named so in the legend. The axes name the
    measure of value (the table's ``measure``: lifetime value unless it says ``run``)."""
    colours = colours or scenario_colours([BASELINE, *money["scenario"]])
    spread = money[["value_gain_low", "value_gain_high", "cost"]].to_numpy(dtype=float)
    divisor, word = _money_scale(spread)
    measure = money["measure"].iloc[0] if "measure" in money and len(money) else "lifetime"
    fig, ax = plt.subplots(figsize=(9, 6))
    for _, row in money.iterrows():
        name = str(row["scenario"])
        colour = colours.get(name, NEUTRAL)
        cost = row["cost"] / divisor
        ax.vlines(
            cost,
            row["value_gain_low"] / divisor,
            row["value_gain_high"] / divisor,
            color=colour,
            linewidth=12,
            alpha=0.3,
            gid=f"interval:{name}",
        )
        chosen = bool(recommended) and name == recommended
        ax.plot(
            cost,
            row["value_gain"] / divisor,
            "o",
            color=colour,
            markersize=11 if chosen else 6,
            markeredgecolor="black" if chosen else colour,
            markeredgewidth=2 if chosen else 1,
            label=_text(f"{name} (recommended)" if chosen else name),
            gid=f"recommended:{name}" if chosen else f"mean:{name}",
        )
    ax.axline(
        (0, 0),
        slope=1,
        color=NEUTRAL,
        linestyle="--",
        linewidth=1,
        label="break-even: value gained = cost",
    )
    ax.axhline(0, color=NEUTRAL, linewidth=0.8)
    ax.margins(x=0.1, y=0.1)
    if measure == "run":
        ax.set_xlabel(f"cost of the plan over the run ({word}{currency}, discounted)")
        ax.set_ylabel(f"value gained over the run ({word}{currency}, discounted)")
    else:
        ax.set_xlabel(
            f"cost of the plan ({word}{currency}, discounted; its monthly cost after the run "
            "included; negative: a saving)"
        )
        ax.set_ylabel(f"lifetime value gained ({word}{currency}, discounted)")
    ax.set_title(
        "What each plan returns: value gained, mean (dot) and 90% interval "
        "(shaded),\nagainst cost; above the dashed line it gains more than it costs",
        fontsize=10,
    )
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _forest(
    rows: pd.DataFrame,
    labels: list[str],
    colours: list[str],
    currency: str,
    ylabel: str,
    title: str,
    ax,
) -> Figure:
    """A forest plot of comparison ``rows`` (one outcome), labelled and titled."""
    fig, ax = _axes(ax, (8, 0.55 * len(rows) + 1.8))
    unit = _intervals(ax, rows, labels, colours, currency)
    ax.set_xlabel(f"{_name(rows['outcome'].iloc[0])}: scenario less baseline ({unit})")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _axes(ax, size: tuple[float, float]):
    """The figure and axes to draw on: ``ax``'s, or new ones of ``size`` inches."""
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def _band(values: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low, mean and high over draws (the 90% interval of :data:`INTERVAL`)."""
    low, high = values.quantile(list(INTERVAL), dim="draw").values
    return low, values.mean("draw").values, high


def _rows(comparison: pd.DataFrame, outcome: str, **where: str) -> pd.DataFrame:
    """The comparison rows of ``outcome`` matching ``where`` with a defined difference."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    mask = comparison["outcome"] == outcome
    for column, value in where.items():
        mask &= comparison[column] == value
    rows = comparison[mask & comparison["difference"].notna()]
    if rows.empty:
        raise ValueError(f"no {outcome} differences for {where} in the comparison")
    return rows


def _intervals(ax, rows: pd.DataFrame, labels: list[str], colours: list[str], currency: str) -> str:
    """Rows top to bottom: shaded interval bars, mean points, the zero line; returns the
    unit of the x axis."""
    unit = rows["unit"].iloc[0]
    values = rows[["difference", "low", "high"]].to_numpy(dtype=float)
    factor, text = _unit(unit, currency, values, rows["outcome"].iloc[0])
    mean, low, high = (values * factor).T
    y = np.arange(len(rows))[::-1]
    ax.barh(y, high - low, left=low, height=0.5, color=colours, alpha=0.35, gid="intervals")
    ax.scatter(mean, y, color=colours, zorder=3, gid="means")
    ax.axvline(0, color=NEUTRAL, linewidth=1, linestyle="--")
    ax.set_yticks(y, [_text(label) for label in labels])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.margins(x=0.08)
    return text


def _unit(unit: str, currency: str, values: np.ndarray, outcome: str) -> tuple[float, str]:
    """The factor to multiply differences by, and the axis unit that results."""
    if unit == "share":
        return 100.0, "percentage points"
    if unit == "currency":
        divisor, word = _money_scale(values)
        if outcome in PER:
            return 1 / divisor, f"{word}{currency}{PER[outcome]}, discounted"
        return 1 / divisor, f"{word}{currency}, company scale, undiscounted"
    if unit == "points":
        return 1.0, "NPS points"
    return 1.0, unit


def _money_scale(values: np.ndarray) -> tuple[float, str]:
    """Millions or thousands when the amounts are that large, else units."""
    largest = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    if largest >= 1e6:
        return 1e6, "million "
    if largest >= 1e4:
        return 1e3, "thousand "
    return 1.0, ""


def _name(outcome: str) -> str:
    """An outcome as a reader names it (:data:`notebooks.recommend.OUTCOME_NAMES`)."""
    return OUTCOME_NAMES.get(outcome, outcome.replace("_", " "))


def _text(text: str) -> str:
    """A user's string as matplotlib draws it literally (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _segment(segment: str) -> str:
    return "all segments" if segment == "all" else segment.replace("_", " ")


def gantt(schedule: pd.DataFrame, months: int, colours: dict[str, str] | None = None) -> Figure:
    """The schedule of :func:`staged` as a Gantt chart, months of the run on the x axis.

    Per scenario, top to bottom in staged order: a light bar while the team works on it
    (``team_free_month`` to ``finish_month``), a solid bar while it is in effect during the
    run (``start_month`` to ``months``), and a tick at its own start month. Made without
    pyplot: save it with ``savefig`` or show it with ``IPython.display.display``.

    Parameters
    ----------
    schedule
        The schedule table of :func:`staged`.
    months
        Months of the run: where the bars in effect end.
    colours
        A colour per scenario name (:func:`notebooks.plots.scenario_colours`); default:
        tab10 in staged order.
    """

    fig = Figure(figsize=(9, 0.6 * len(schedule) + 2.2), layout="constrained")
    ax = fig.subplots()
    palette = [f"C{i % 10}" for i in range(len(schedule))]
    for y, row in enumerate(schedule.itertuples()):
        colour = (colours or {}).get(row.scenario, palette[y])
        ax.barh(
            y,
            row.finish_month - row.team_free_month,
            left=row.team_free_month,
            height=0.7,
            color=colour,
            alpha=0.3,
            edgecolor=colour,
        )
        ax.barh(
            y, max(months - row.start_month, 0), left=row.start_month, height=0.35, color=colour
        )
        ax.plot([row.own_start_month] * 2, [y - 0.4, y + 0.4], color="black", linewidth=1.5)
    ax.axvline(months, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(schedule)), [_text(name) for name in schedule["scenario"]])
    ax.invert_yaxis()
    ax.set_xlim(
        0, max(months, int(schedule["finish_month"].max()), int(schedule["start_month"].max())) + 1
    )
    ax.set_xlabel("month of the run (0 = the first month; dashed: the end of the run)")
    ax.set_title("Staged plan: quick wins first", fontsize=10)
    fig.legend(
        handles=[
            Patch(color="grey", alpha=0.3, label="the team at work"),
            Patch(color="grey", label="in effect"),
            Line2D([], [], color="black", label="its own start month"),
        ],
        fontsize="small",
        loc="outside lower center",
        ncol=3,
    )
    return fig
