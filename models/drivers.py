"""Value drivers: which touchpoints' poor views drive churn, overall and per segment.

The effect of touchpoint k is the odds ratio exp(beta) of monthly churn for a customer whose
view of k is 1 instead of a neutral 3 (x_k = 1 instead of 0), everything else equal.
Overall effects use the population mean mu_k; segment effects use beta[s, k]. Intervals
are equal-tailed posterior intervals (the odds ratio is monotone in beta, so the interval
of exp(beta) is exp of the interval of beta).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

PROBABILITY = 0.90


def value_drivers(posterior: xr.Dataset, prob: float = PROBABILITY) -> pd.DataFrame:
    """Odds ratios per touchpoint, overall ('all') and per segment, ranked within each.

    Columns: segment, touchpoint, odds_ratio (posterior median), low, high (equal-tailed
    ``prob`` interval), p_driver (posterior probability that a poor view raises churn), rank.
    """
    tail = (1 - prob) / 2
    effects = [posterior["mu"].expand_dims(segment=["all"]), posterior["beta"]]
    rows = []
    for effect in effects:
        draws = np.exp(effect.stack(sample=("chain", "draw")))
        quantiles = draws.quantile([0.5, tail, 1 - tail], dim="sample")
        table = quantiles.to_dataset(dim="quantile").to_dataframe()
        table.columns = ["odds_ratio", "low", "high"]
        table["p_driver"] = (draws > 1).mean("sample").to_series()
        rows.append(table.reset_index())
    table = pd.concat(rows, ignore_index=True)
    table["rank"] = (
        table.groupby("segment", sort=False)["odds_ratio"]
        .rank(ascending=False, method="first")
        .astype(int)
    )
    order = {s: i for i, s in enumerate(table["segment"].unique())}
    return (
        table.assign(_order=table["segment"].map(order))
        .sort_values(["_order", "rank"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def sentence(
    row: pd.Series, labels: dict[str, str] | None = None, prob: float = PROBABILITY
) -> str:
    """A value driver in plain words, e.g. "A poor view of the invoice raises the monthly odds
    of churn by 35% (20% to 52%)"."""
    name = (labels or {}).get(row["touchpoint"], row["touchpoint"].replace("_", " "))
    who = "" if row["segment"] == "all" else f" for {row['segment'].replace('_', ' ')}"
    mid, low, high = ((row[c] - 1) * 100 for c in ("odds_ratio", "low", "high"))
    odds = f"A poor view of the {name}"
    if low >= 0:
        effect = f"raises the monthly odds of churn{who} by {mid:.0f}% ({low:.0f}% to {high:.0f}%"
    elif high <= 0:
        effect = (
            f"lowers the monthly odds of churn{who} by {-mid:.0f}% ({-high:.0f}% to {-low:.0f}%"
        )
    else:
        effect = (
            f"has no clear effect on the monthly odds of churn{who}: {mid:+.0f}% "
            f"({low:+.0f}% to {high:+.0f}%"
        )
    return f"{odds} {effect}, {prob:.0%} interval)."
