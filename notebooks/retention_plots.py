"""The retention check of a fit, drawn and tabled: observed (Kaplan-Meier) against fitted.

:func:`plot_retention` draws one panel per segment from the table of
:func:`models.retention.retention_table` (``<stem>_retention.csv``): the Kaplan-Meier curve
with its 95% band as steps, the fitted survival with its 90% band as a line. Months where the
observed curve is outside the fitted band are marked. :func:`retention_summary` is the short
terminal table ``ctm fit`` prints.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rich import box
from rich.table import Table

SHOWN_MONTHS = (1, 3, 6, 12, 24, 36, 48, 60, 84, 120)
"""Months of service the terminal table shows (those the data reach)."""


def plot_retention(table: pd.DataFrame, check: dict | None = None) -> Figure:
    """One panel per segment: Kaplan-Meier (steps, 95% band) and the fit (line, 90% band);
    the panel's title says the share of months outside the fitted band (``check``, as
    :func:`models.retention.check` returns, when given)."""
    segments = list(dict.fromkeys(table["segment"]))
    columns = min(len(segments), 3) or 1
    rows = -(-len(segments) // columns) or 1
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False, sharey=True
    )
    for ax in axes.ravel()[len(segments) :]:
        ax.set_visible(False)
    for ax, segment in zip(axes.ravel(), segments, strict=False):
        part = table[table["segment"] == segment]
        month = np.concatenate([[0], part["month"].to_numpy()])

        def with_start(column: str, part: pd.DataFrame = part) -> np.ndarray:
            return np.concatenate([[1.0], part[column].to_numpy()])

        ax.fill_between(
            month,
            with_start("km_low"),
            with_start("km_high"),
            step="post",
            color="0.8",
            label="Kaplan-Meier, 95%",
            gid="km_band",
        )
        ax.step(month, with_start("km"), where="post", color="0.1", lw=1.2, label="observed")
        ax.fill_between(
            month,
            with_start("fitted_low"),
            with_start("fitted_high"),
            color="tab:blue",
            alpha=0.3,
            lw=0,
            label="fitted, 90%",
            gid="fitted_band",
        )
        ax.plot(month, with_start("fitted"), color="tab:blue", lw=1.5, label="fitted")
        outside = (part["km"] < part["fitted_low"]) | (part["km"] > part["fitted_high"])
        ax.plot(
            part["month"][outside],
            part["km"][outside],
            "x",
            color="tab:red",
            ms=4,
            label="outside the fitted band",
        )
        title = segment
        if check and segment in check:
            found = check[segment]
            title += f": outside in {found['outside']} of {found['months']} months"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("months of service")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("share still in service")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def retention_summary(table: pd.DataFrame, check: dict | None = None) -> Table:
    """Observed and fitted retention at a few months per segment, with both bands."""
    out = Table(
        title="Retention check: observed (Kaplan-Meier, 95%) against fitted (90%)",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    for column in ("segment", "month", "observed", "95% band", "fitted", "90% band", "outside"):
        out.add_column(column, justify="left" if column == "segment" else "right")
    for segment, part in table.groupby("segment", sort=False):
        shown = part[part["month"].isin(SHOWN_MONTHS)]
        if shown.empty or shown["month"].iloc[-1] != part["month"].iloc[-1]:
            shown = pd.concat([shown, part.tail(1)])
        found = (check or {}).get(segment)
        outside = f"{found['outside']}/{found['months']}" if found else ""
        for i, row in enumerate(shown.itertuples()):
            out.add_row(
                segment if i == 0 else "",
                str(row.month),
                f"{row.km:.1%}",
                f"{row.km_low:.1%}-{row.km_high:.1%}",
                f"{row.fitted:.1%}",
                f"{row.fitted_low:.1%}-{row.fitted_high:.1%}",
                outside if i == 0 else "",
            )
    return out
