"""``ctm track``'s table and figure: the realised figures since launch against the bands."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from notebooks.tables import COMPACT

SHARES = ("base_retention", "monthly_churn", "new_churn", "conversion")
NAMES = {
    "base_retention": "base retained",
    "monthly_churn": "monthly churn",
    "new_churn": "churn of new",
    "conversion": "conversion",
    "nps": "NPS",
}
MARKS = {"on track": "ok", "behind": "BEHIND", "ahead": "AHEAD", "too early to tell": "early"}


def label(outcome: str) -> str:
    """An outcome's short name (``rating:invoice`` -> ``invoice rating``)."""
    if outcome.startswith("rating:"):
        return f"{outcome[len('rating:') :]} rating"
    return NAMES.get(outcome, outcome)


def figure(value: float, outcome: str) -> str:
    """A figure as a reader wants it: shares in percent, NPS and ratings to one or two
    decimals."""
    if pd.isna(value):
        return "-"
    if outcome in SHARES:
        return f"{value:.2%}" if "churn" in outcome else f"{value:.1%}"
    return f"{value:.1f}" if outcome == "nps" else f"{value:.2f}"


def latest_table(table: pd.DataFrame, scenario: str) -> Table:
    """The latest month per outcome: realised, the plan's and the baseline's bands, the
    verdict and P(effect >= half the predicted one)."""
    level = table.attrs.get("level", 0.9)
    last = table[table["month"] == table["month"].max()]
    period = last["period"].iloc[0] if len(last) else "-"
    out = Table(
        title=f"'{scenario}' since launch, to {period} ({last['month'].max() + 1} months; "
        f"{level:.1%} predictive bands)",
        **COMPACT,
    )
    for name, justify in (
        ("outcome", "left"),
        ("realised", "right"),
        ("n", "right"),
        ("plan band", "right"),
        ("no-change band", "right"),
        ("verdict", "left"),
        ("P(>= half)", "right"),
    ):
        out.add_column(name, justify=justify)
    for row in last.itertuples():
        o = row.outcome
        p_half = "-" if pd.isna(row.p_half_effect) else f"{row.p_half_effect:.0%}"
        verdict = row.verdict + ("" if not row.unlike_baseline else ", unlike no change")
        out.add_row(
            label(o),
            figure(row.realised, o),
            f"{row.n:,.0f}",
            f"{figure(row.plan_low, o)}-{figure(row.plan_high, o)}",
            f"{figure(row.baseline_low, o)}-{figure(row.baseline_high, o)}",
            verdict,
            p_half,
        )
    return out


def monthly_table(table: pd.DataFrame) -> Table:
    """Month by month: each outcome's realised figure (cumulative since launch) and its
    verdict."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    out = Table(
        title="Month by month since launch (cumulative; ok: on track, BEHIND, AHEAD, early)",
        **COMPACT,
    )
    out.add_column("month")
    for outcome in outcomes:
        out.add_column(label(outcome), justify="right")
    for (_, period), rows in table.groupby(["month", "period"], sort=True):
        cells = rows.set_index("outcome")
        out.add_row(
            period,
            *(
                f"{figure(cells.at[o, 'realised'], o)} {MARKS[cells.at[o, 'verdict']]}"
                for o in outcomes
            ),
        )
    return out


def track_plot(table: pd.DataFrame, scenario: str):
    """One panel per outcome: the realised figure month by month since launch, the plan's
    band and the baseline's band (matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(table["outcome"]))
    columns = min(3, len(outcomes))
    rows = -(-len(outcomes) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        part = table[table["outcome"] == outcome]
        months = part["month"] + 1
        scale = 100 if outcome in SHARES else 1
        ax.fill_between(months, part["baseline_low"] * scale, part["baseline_high"] * scale,
                        color="grey", alpha=0.3, label="no change")  # fmt: skip
        ax.fill_between(months, part["plan_low"] * scale, part["plan_high"] * scale,
                        color="tab:blue", alpha=0.3, label="plan")  # fmt: skip
        ax.plot(months, part["realised"] * scale, "o-", color="black", label="realised")
        ax.set_title(label(outcome) + (" (%)" if scale == 100 else ""))
        ax.set_xlabel("months since launch")
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    fig.suptitle(f"'{scenario}': realised against the predicted bands")
    fig.tight_layout()
    return fig


def forecast_table(value: pd.DataFrame, scenario: str, currency: str) -> Table:
    """The plan's value gained as predicted before launch and after the refit."""
    out = Table(title=f"'{scenario}': value gained ({currency}, 90% interval)", **COMPACT)
    for name in ("forecast", "value gained", "90% interval", "measure"):
        out.add_column(name, justify="left" if name in ("forecast", "measure") else "right")
    for row in value.itertuples():
        interval = f"{row.value_gain_low:,.0f} to {row.value_gain_high:,.0f}"
        out.add_row(row.when, f"{row.value_gain:,.0f}", interval, row.measure)
    return out
