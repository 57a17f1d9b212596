"""Journeys for people: the most common sequences of an event log and a journey map.

:func:`common_sequences` tabulates the log as written (:mod:`models.eventlog`);
:func:`journey_map` draws the moves a fitted :class:`models.journeys.JourneyModel` counted.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from models.eventlog import case_table, check_event_log
from sim.world import LOST, PURCHASE

UNKNOWN_SEGMENT = "unknown"
"""The segment of cases without a known one (lost prospects of a log without segments)."""


def common_sequences(events: pd.DataFrame, customers: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` most common touchpoint sequences of each segment.

    Touchpoints are as written in the log (unknown ones too). Cases without a known segment
    (lost prospects of a log without a segment column) form the segment ``"unknown"``.
    Columns: segment, rank, sequence ("a > b > c"), outcome, cases, share of the segment's cases.
    """
    cases = case_table(check_event_log(events, sort=True), customers)
    table = pd.DataFrame(
        {
            "segment": cases["segment"].fillna(UNKNOWN_SEGMENT),
            "sequence": cases["path"].map(" > ".join),
            "outcome": np.where(cases["purchased"], PURCHASE, LOST),
        }
    )
    table = table.value_counts().rename("cases").reset_index()
    table["share"] = table["cases"] / table.groupby("segment")["cases"].transform("sum")
    table = table.sort_values(["segment", "cases", "sequence"], ascending=[True, False, True])
    table = table.groupby("segment", sort=False).head(top)
    table.insert(1, "rank", table.groupby("segment").cumcount() + 1)
    return table.reset_index(drop=True)


def journey_map(
    counts: xr.DataArray, labels: dict[str, str] | None = None
) -> tuple[pd.DataFrame, plt.Figure]:
    """Moves between states per segment as a table and a figure of one heatmap per segment.

    ``counts`` is :attr:`models.journeys.JourneyModel.counts_`. The table lists segment,
    from, next, cases and share (of the cases leaving ``from``), nonzero moves only. Each
    panel colours the share and writes the count; only states met in some segment are drawn.
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
