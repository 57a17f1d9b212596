"""The retention check of a fit: the fitted survival curve against Kaplan-Meier.

Every ``ctm fit`` compares, per segment and month of service t, the data's retention (the
Kaplan-Meier estimate of lifelines with its 95% band, delayed entry for left truncation:
:func:`models.lifetimes.kaplan_meier`) with the fitted one (survival to t, ``prod_{j <= t}
(1 - h_j)`` from each posterior draw's hazard, its mean and 90% band), and warns, in one
line per segment, when the observed curve leaves the fitted band in more than 10% of the
months compared.

**Like with like.** The Kaplan-Meier curve is that of the customers in the table, whatever
their views. So the fitted curve must be the hazard of the same customers:

- a baseline fitted from lifetimes alone (:mod:`models.baseline`) has no views in it: it is
  the hazard of those customers as they are, the KM's population;
- the survey model's ``alpha`` is the hazard of a customer with every view neutral, which
  is not the customers' (most think better than neutral of most touchpoints). Its fitted
  curve is the **population-averaged** hazard: at each tenure, each draw's hazard
  ``expit(alpha[s, b] + sum_k beta[s, k] x_k)`` averaged over the survey's person-months at
  that tenure (:func:`population_hazard`). Whether a customer answers in a month does not
  depend on churn, so those months' views are a sample of the views of the customers at
  risk at that tenure, and the average is their hazard.

Months compared: 1 to the last month with at least :data:`MIN_AT_RISK` customers at risk in
the segment; beyond, the Kaplan-Meier curve moves by whole customers and says little.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from models.lifetimes import hazard_counts, kaplan_meier

MISS_SHARE = 0.10
"""A segment is flagged when the observed curve is outside the fitted band in more than this
share of the months compared."""
BAND = (0.05, 0.95)
"""Quantiles of the fitted curves: a 90% band."""
MIN_AT_RISK = 30
"""The months compared end at the last with at least this many customers at risk."""
MIN_ANSWERS = 50
"""The survey model's curve at a tenure averages the views of at least this many answers
(:func:`population_hazard`)."""
COLUMNS = (
    "segment",
    "month",
    "km",
    "km_low",
    "km_high",
    "fitted",
    "fitted_low",
    "fitted_high",
    "at_risk",
)


def retention_table(
    lifetimes: pd.DataFrame, hazard: xr.DataArray, segments: Sequence[str] | None = None
) -> pd.DataFrame:
    """Observed and fitted retention per segment and month of service (:data:`COLUMNS`).

    Parameters
    ----------
    lifetimes
        The data (:mod:`models.lifetimes`).
    hazard
        The fitted monthly hazard, dims (sample, segment, month 1..T), T at least as long as
        the months compared (:func:`months_compared`).
    segments
        The segments to check (default: those of ``hazard`` with customers at risk).
    """
    segments = list(hazard["segment"].values if segments is None else segments)
    at_risk, _ = hazard_counts(lifetimes, segments)
    tables = []
    for s, segment in enumerate(segments):
        months = months_compared(at_risk[s])
        if months == 0:
            continue
        if months > hazard.sizes["month"]:
            raise ValueError(f"hazard covers {hazard.sizes['month']} months, {months} needed")
        km = kaplan_meier(lifetimes[lifetimes["segment"].astype(str) == segment], months)
        h = hazard.sel(segment=segment).transpose("sample", "month").values[:, :months]
        survival = np.cumprod(1.0 - h, axis=1)
        low, high = np.quantile(survival, BAND, axis=0)
        tables.append(
            km.assign(
                segment=segment,
                fitted=survival.mean(axis=0),
                fitted_low=low,
                fitted_high=high,
                at_risk=at_risk[s, :months],
            )
        )
    if not tables:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(tables, ignore_index=True)[list(COLUMNS)]


def months_compared(at_risk: np.ndarray) -> int:
    """The last month with at least :data:`MIN_AT_RISK` at risk (0 if none)."""
    enough = np.flatnonzero(np.asarray(at_risk) >= MIN_AT_RISK)
    return int(enough[-1] + 1) if len(enough) else 0


def check(table: pd.DataFrame, what: str = "the fitted curve") -> dict:
    """Per segment: months compared, months outside the band, their share and the warning
    (None when the share is at most :data:`MISS_SHARE`); plain values, for the posterior's
    ``ctm_retention`` attribute."""
    out = {}
    for segment, rows in table.groupby("segment", sort=False):
        observed = rows["km"].to_numpy()
        inside = (rows["fitted_low"] <= observed) & (observed <= rows["fitted_high"])
        outside = int((~inside).sum())
        share = outside / len(rows)
        warning = None
        if share > MISS_SHARE:
            warning = (
                f"Retention {segment}: the observed curve leaves the 90% band of {what} in "
                f"{outside} of {len(rows)} months ({share:.0%} > {MISS_SHARE:.0%}): the fit "
                "does not describe these customers' retention"
            )
        out[str(segment)] = {
            "months": len(rows),
            "outside": outside,
            "share_outside": round(share, 4),
            "warning": warning,
        }
    return out


def warnings_of(result: dict) -> list[str]:
    """The warnings of :func:`check`, one line per flagged segment."""
    return [row["warning"] for row in result.values() if row["warning"]]


def population_hazard(
    posterior: xr.Dataset,
    person_months: pd.DataFrame,
    touchpoints: Sequence[str],
    band_starts: np.ndarray,
    months: int,
) -> xr.DataArray:
    """The survey model's hazard averaged over the surveyed customers' views, by tenure.

    For month of service t and segment s, each draw's ``expit(alpha[s, band(t - 1)] +
    beta[s] . x)`` averaged over the person-months answered at tenure t - 1, or, when fewer
    than :data:`MIN_ANSWERS` were, at the nearest tenures around it (a window widened until
    it holds that many). By tenure, not by band: who is still there at a long tenure has
    survived, and its views are those of survivors (averaged over a whole band, the band's
    early months weigh most, and the curve fell too fast at long tenures: 19 of 97 months
    outside the band on the demo's small businesses). A segment no one answered in keeps
    neutral views. Dims (sample, segment, month).
    """
    alpha = _stacked(posterior["alpha"])  # (sample, segment, band)
    beta = _stacked(posterior["beta"]).sel(touchpoint=list(touchpoints))
    segments = [str(s) for s in alpha["segment"].values]
    columns = [f"x_{t}" for t in touchpoints]
    t = np.arange(1, months + 1)
    band = np.searchsorted(np.asarray(band_starts, float), t - 1, side="right") - 1
    out = np.empty((alpha.sizes["sample"], len(segments), months))
    for s, segment in enumerate(segments):
        a = alpha.sel(segment=segment).values[:, band]  # (sample, month)
        mine = person_months[person_months["segment"].astype(str) == segment]
        if mine.empty:
            out[:, s] = expit(a)
            continue
        mine = mine.sort_values("tenure", kind="stable")
        tenure = mine["tenure"].to_numpy()
        effect = beta.sel(segment=segment).values @ mine[columns].to_numpy(dtype=float).T
        for m in range(months):
            low, high = _window(tenure, m, min(MIN_ANSWERS, len(tenure)))
            out[:, s, m] = expit(a[:, m, None] + effect[:, low:high]).mean(axis=1)
    return xr.DataArray(
        out, dims=("sample", "segment", "month"), coords={"segment": segments, "month": t}
    )


def _window(tenure: np.ndarray, centre: int, least: int) -> tuple[int, int]:
    """The slice of sorted ``tenure`` within +-w of ``centre``, w the smallest that holds at
    least ``least`` values."""
    width = 0
    while True:
        low = np.searchsorted(tenure, centre - width, side="left")
        high = np.searchsorted(tenure, centre + width, side="right")
        if high - low >= least:
            return int(low), int(high)
        width = max(1, 2 * width)


def _stacked(array: xr.DataArray) -> xr.DataArray:
    stacked = array.stack(sample=("chain", "draw")).transpose("sample", ...)
    return stacked.drop_vars(["sample", "chain", "draw"])
