"""Figures about touchpoints for the analyst: value drivers, quick wins, attribution, journeys.

Each function takes the table or result its analysis returns and draws one figure:
:func:`plot_value_drivers` (:func:`models.drivers.value_drivers`), :func:`matrix_plot`
(:func:`scenarios.quickwins.quick_wins`), :func:`bar_plot`
(:func:`scenarios.attribution.attribution`), :func:`removal_plot`
(:func:`scenarios.attribution.path_attribution`) and :func:`journey_map`
(:class:`models.journeys.JourneyModel`, :meth:`models.paths.PathChain.map`). Save a figure
with ``savefig`` or show it in a notebook with ``IPython.display.display``.
"""

from __future__ import annotations

from itertools import product

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from models.drivers import PROBABILITY
from scenarios.attribution import Attribution, PathAttribution
from scenarios.quickwins import COLOURS, QUADRANTS, Thresholds


def plot_value_drivers(table: pd.DataFrame, labels: dict[str, str] | None = None):
    """Forest plot: overall odds ratios with intervals, segment medians as dots."""

    overall = table[table["segment"] == "all"].sort_values("odds_ratio")
    names = [(labels or {}).get(k, k) for k in overall["touchpoint"]]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(overall) + 1.5))
    y = np.arange(len(overall))
    ax.hlines(
        y,
        overall["low"],
        overall["high"],
        color="0.3",
        lw=2,
        label=f"all segments, {PROBABILITY:.0%} interval",
    )
    ax.plot(overall["odds_ratio"], y, "o", color="0.1")
    segments = [s for s in table["segment"].unique() if s != "all"]
    for i, segment in enumerate(segments):
        part = table[table["segment"] == segment].set_index("touchpoint")
        ax.plot(
            part.loc[overall["touchpoint"], "odds_ratio"],
            y + 0.15 * (i - 1),
            "|",
            ms=10,
            label=segment.replace("_", " "),
        )
    ax.axvline(1, color="0.6", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y, names)
    ax.set_xlabel("odds ratio of monthly churn, view of 1 instead of 3 (log scale)")
    ax.set_title("Value drivers: what a poor view of each touchpoint does to churn")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def matrix_plot(table: pd.DataFrame, limits: Thresholds, currency: str) -> Figure:
    """Impact (value gained, 90% interval) against effort, the quadrant lines, one label a
    point; hollow where the candidate does not surely pay (its 90% interval holds its cost:
    :func:`scenarios.quickwins.evidence`).

    The figure is made without pyplot (no backend, nothing to close): save it with
    ``savefig`` or show it in a notebook with ``IPython.display.display``.
    """

    run = table[table["skipped"] == ""]
    fig = Figure(figsize=(11, 7.5))
    ax = fig.subplots()
    for (kind, colour), pays in product(COLOURS.items(), (True, False)):
        part = run[(run["kind"] == kind) & ((run["evidence"] == "pays") == pays)]
        gain = part["value_gain"] / 1e6
        spread = [gain - part["value_gain_low"] / 1e6, part["value_gain_high"] / 1e6 - gain]
        ax.errorbar(
            part["effort_weeks"],
            gain,
            yerr=np.clip(spread, 0, None),
            fmt="o",
            color=colour,
            ecolor=colour,
            markerfacecolor=colour if pays else "white",
            alpha=0.6,
            capsize=2,
            label=kind if pays else f"{kind}, not surely paying",
        )
    _label(ax, run, 0.035 * np.ptp(run["value_gain"] / 1e6), 0.02 * np.ptp(run["effort_weeks"]))
    ax.axhline(limits.impact / 1e6, color="grey", linestyle="--", linewidth=1)
    ax.axvline(limits.effort, color="grey", linestyle="--", linewidth=1)
    for (high, hard), text in QUADRANTS.items():
        ax.text(
            0.98 if hard else 0.02,
            0.97 if high else 0.03,
            text,
            transform=ax.transAxes,
            ha="right" if hard else "left",
            va="top" if high else "bottom",
            fontsize=11,
            color="grey",
            weight="bold",
        )
    ax.margins(x=0.15)
    ax.set_xlabel("effort (person-weeks)")
    ax.set_ylabel(f"value gained over the run (million {currency}, discounted; 90% interval)")
    ax.set_title(
        f"Impact and effort of fixing or removing each touchpoint\n"
        f"{limits.describe(currency)}; a point on a line is low",
        fontsize=9,
    )
    ax.legend(loc="center right")
    fig.tight_layout()
    return fig


def _label(ax, run: pd.DataFrame, gap: float, right: float) -> None:
    """Each point's name ``right`` of it (person-weeks), names of points at one effort moved
    apart by ``gap`` (millions) with a line to their point."""
    for effort, group in run.sort_values("value_gain").groupby("effort_weeks"):
        placed = -np.inf
        for row in group.itertuples():
            y = row.value_gain / 1e6
            placed = max(y, placed + gap)
            ax.annotate(
                f"{row.kind} {row.touchpoint}",
                (effort, y),
                xytext=(effort + right, placed),
                fontsize=7,
                color=COLOURS[row.kind],
                ha="left",
                va="center",
                arrowprops={"arrowstyle": "-", "color": "lightgrey", "lw": 0.5},
            )


def bar_plot(found: Attribution) -> Figure:
    """Left: removal effects (traffic lost) per touchpoint and segment, exact bars with the
    simulation's 95% interval. Right: share of churn avoided if never bad, 90% interval.

    The figure is made without pyplot (no backend, nothing to close): save it with
    ``savefig`` or show it in a notebook with ``IPython.display.display``.
    """

    journeys = found.journeys[found.journeys["traffic"] == "lost"]
    touchpoints = list(dict.fromkeys(found.churn["touchpoint"]))
    segments = list(dict.fromkeys(journeys["segment"]))
    y = np.arange(len(touchpoints))
    fig = Figure(figsize=(13, 0.45 * len(touchpoints) + 2))
    left, right = fig.subplots(1, 2, sharey=True)
    height = 0.8 / len(segments)
    for i, segment in enumerate(segments):
        part = journeys[journeys["segment"] == segment].set_index("touchpoint").reindex(touchpoints)
        spread = [part["simulated"] - part["low"], part["high"] - part["simulated"]]
        left.barh(
            y + (i - (len(segments) - 1) / 2) * height,
            100 * part["exact"],
            height,
            xerr=100 * np.clip(np.nan_to_num(spread), 0, None),
            label=segment,
            capsize=2,
        )
    left.set_xlabel(
        "removal effect, traffic lost (% of sales)\nbars: exact; whiskers: the "
        "simulation's 95% interval"
    )
    left.set_title("Sales that need the touchpoint (acquisition journey)")
    left.legend(fontsize=8)
    everyone = (
        found.churn[(found.churn["segment"] == "all")].set_index("touchpoint").reindex(touchpoints)
    )
    spread = [everyone["share"] - everyone["low"], everyone["high"] - everyone["share"]]
    right.barh(
        y,
        100 * everyone["share"],
        0.6,
        color="tab:red",
        xerr=100 * np.clip(np.nan_to_num(spread), 0, None),
        capsize=3,
    )
    right.set_xlabel(
        "installed base's churn avoided if never bad (% of its churn)\n"
        "whiskers: 90% interval over draws"
    )
    right.set_title("Churn caused by bad experiences")
    left.set_yticks(y, touchpoints)
    left.invert_yaxis()
    fig.tight_layout()
    return fig


def removal_plot(found: PathAttribution) -> Figure:
    """Removal effects of a chain fitted to journeys, largest on top: posterior mean bars
    with the 90% interval, the standard effect at the observed frequencies as a tick; a
    touchpoint whose effect is not defined (no journey converts) has no bar.

    The figure is made without pyplot (no backend, nothing to close).
    """
    table = found.effects
    y = np.arange(len(table))
    fig = Figure(figsize=(8, 0.35 * len(table) + 1.8))
    ax = fig.subplots()
    mean = 100 * table["removal_effect"]
    spread = [mean - 100 * table["low"], 100 * table["high"] - mean]
    ax.barh(
        y,
        mean,
        0.6,
        xerr=np.clip(np.nan_to_num(spread), 0, None),
        capsize=3,
        color="tab:blue",
        label=f"posterior mean, 90% interval ({found.draws:,} draws)",
    )
    ax.plot(
        100 * table["standard"],
        y,
        "|",
        ms=14,
        mew=2,
        color="tab:orange",
        label="at the frequencies",
    )
    ax.set_yticks(y, table["touchpoint"])
    ax.invert_yaxis()
    ax.set_xlabel("removal effect (% of conversions lost without the touchpoint)")
    c = found.conversion
    ax.set_title(
        f"Conversions that need each touchpoint\nP(conversion) {c['mean']:.1%} "
        f"({c['low']:.1%} to {c['high']:.1%}); {found.chain.total:,.0f} journeys",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def journey_map(
    counts: xr.DataArray, labels: dict[str, str] | None = None
) -> tuple[pd.DataFrame, plt.Figure]:
    """Moves between states per segment as a table and a figure of one heatmap per segment.

    ``counts`` is :attr:`models.journeys.JourneyModel.counts_` or
    :meth:`models.paths.PathChain.map`. The table lists segment, from, next, cases and share
    (of the cases leaving ``from``), nonzero moves only. Each panel colours the share and
    writes the count; only states met in some segment are drawn.
    """
    share = counts / counts.sum("next").where(counts.sum("next") > 0)
    table = xr.Dataset({"cases": counts, "share": share}).to_dataframe().reset_index()
    table = table.loc[table["cases"] > 0, ["segment", "from", "next", "cases", "share"]]
    rows = counts["from"].values[counts.sum(("segment", "next")).values > 0]
    cols = counts["next"].values[counts.sum(("segment", "from")).values > 0]
    name = (labels or {}).get
    panels = counts.sizes["segment"]
    fig, axes = plt.subplots(
        1,
        panels,
        squeeze=False,
        sharey=True,
        constrained_layout=True,
        figsize=(0.5 * len(cols) * panels + 3.5, 0.45 * len(rows) + 2.8),
    )
    for ax, segment in zip(axes[0], counts["segment"].values, strict=True):
        part = {"segment": segment, "from": rows, "next": cols}
        n, s = counts.sel(part).values, share.sel(part).fillna(0).values
        image = ax.imshow(s, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(n):
            if value >= 0.5:
                ax.text(
                    j,
                    i,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if s[i, j] > 0.6 else "black",
                )
        ax.set_xticks(range(len(cols)), [name(c, c) for c in cols], rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), [name(r, r) for r in rows])
        ax.set_title(str(segment))
    fig.suptitle("Journey map: cases moving from each row's state to each column's")
    fig.colorbar(image, ax=axes[0].tolist(), label="share of the row's cases", shrink=0.8)
    return table.reset_index(drop=True), fig
