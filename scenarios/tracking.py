"""Is the plan on track? Realised figures since launch against the predicted bands.

A company launched a plan that ``ctm compare`` predicted (:mod:`scenarios.prediction`) and
brings its tables up to a date (:mod:`models.realised`). For each month k since the launch
and each outcome, the **realised figure** is taken over all the months since the launch
(cumulative, so that a month's noise does not decide): the share of the installed base still
in service, the churn of every customer and of those acquired since the launch (churned over
customer-months at risk), conversion (acquired over prospects), the NPS (advocates less
dissatisfied, of the self-classes answered) and the mean transactional rating of each
touchpoint the plan changes.

**Predictive bands.** The realised figure is a sample: n customers, answers or ratings.
For each draw d of the prediction the figure is the prediction's monthly values averaged
with the company's own monthly counts as weights, plus the sampling noise of n:
Normal(m_d, v_d / n) (binomial variance m (1 - m) for a share; for the NPS a + s - (a - s)^2
per answer, a and s the shares of advocates and dissatisfied; the rating's variance for a
mean). The predictive distribution is the mixture over draws (posterior draws times
simulation replications: parameter uncertainty and the simulation's noise), and its band
the central interval of :data:`LEVEL`. Both the plan's band and the baseline's (nothing
launched) are given.

**Verdicts**, per outcome and month, from the plan's band (not a point):

- *too early to tell*: fewer than :data:`ENOUGH` customers, prospects, answers or ratings
  behind the figure;
- *behind*: the realised figure is outside the plan's band on the worse side;
- *ahead*: outside it on the better side;
- *on track*: inside it. ``unlike_baseline`` says whether it is also outside the
  baseline's band, i.e. whether the data can yet tell the plan from doing nothing.

The band's level: with J outcomes tracked, each band is the central 1 - 0.10 / J interval
(Bonferroni), so that a plan that goes as predicted is called on track on every outcome at
once with probability at least 90%.

**How sure is the effect?** :func:`half_effect` gives P(realised effect >= half the
predicted one) per outcome: the realised effect is theta - b (theta the company's
underlying figure, b the baseline's), the predicted one p - b (p the plan's), so the event
is theta beyond the midpoint (b + p) / 2 on the plan's side. Where the prediction's own
draws do not tell its effect from none (mean effect within 2 standard errors of 0) there
is no half to reach, and the probability is left empty. theta's posterior is conjugate:
Beta(1 + x, 1 + n - x) for a share of x in n (uniform prior), Normal(mean, s^2 / n) for a
mean rating or the NPS; the probability is averaged over the prediction's draws (b_d, p_d).

**When can it tell?** :func:`power` is the probability that data in which nothing changed
fall outside the plan's band on the worse side by month k, for a company of n customers:
the mixture of the baseline's distribution at n, P(X beyond the plan band's limit). The
first month where it reaches 80% is when a failed plan is flagged "behind" 4 times in 5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from scenarios.prediction import CLASSES
from scenarios.runner import BASELINE

LEVEL = 0.99
"""The family-wise probability that a plan going as predicted is on track on every outcome."""
ENOUGH = 30
"""Fewest observations behind a figure for a verdict."""
POWER = 0.8
"""The power at which :func:`months_to_tell` says the data can tell."""
VERDICTS = ("on track", "behind", "ahead", "too early to tell")

TRACKED = {
    # name: (description, higher is better, realised count columns (numerator, denominator))
    "base_retention": ("installed base at launch still in service", True),
    "monthly_churn": ("customers lost per customer-month since launch", False),
    "new_churn": ("the same, customers acquired since launch", False),
    "conversion": ("prospects who bought, since launch", True),
    "nps": ("advocates less dissatisfied, % of answers since launch", True),
}
"""The outcomes tracked besides the ratings (``rating:K``, higher is better)."""


def rebased(prediction: xr.DataArray, launch: int) -> xr.DataArray:
    """The prediction from the launch month on (month 0 = launch), its base retention
    counted from the base in service at launch: R[L + k] / R[L - 1]."""
    months = prediction.sizes["month"]
    after = prediction.isel(month=slice(launch, months)).assign_coords(
        month=np.arange(months - launch)
    )
    if launch > 0:
        before = prediction.sel(outcome="base_retention").isel(month=launch - 1, drop=True)
        retention = after.sel(outcome="base_retention") / before
        after = xr.where(after["outcome"] == "base_retention", retention, after)
    return after.transpose(*prediction.dims)


def outcomes_of(prediction: xr.Dataset, counts: pd.DataFrame) -> list[str]:
    """The outcomes the prediction and the counts both hold."""
    names = list(prediction["outcome"].values)
    found = ["base_retention", "monthly_churn", "new_churn"]
    if "prospects" in counts and "conversion" in names:
        found.append("conversion")
    if "answers" in counts and all(c in names for c in CLASSES):
        found.append("nps")
    found += [
        n for n in names if n.startswith("rating:") and f"ratings:{n[len('rating:') :]}" in counts
    ]
    return found


def realised(name: str, counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The realised figure by month since launch, cumulative (module notes): its value, its
    observations n, and the per-observation variance of the data (for a mean's posterior)."""
    c = counts.cumsum()
    if name == "base_retention":
        n = counts["base"].to_numpy(float)
        value = counts["base_alive"].to_numpy(float) / np.where(n > 0, n, np.nan)
        return value, n, value * (1 - value)
    if name in ("monthly_churn", "new_churn", "conversion"):
        top, bottom = {
            "monthly_churn": ("churned", "at_risk"),
            "new_churn": ("new_churned", "new_at_risk"),
            "conversion": ("acquired", "prospects"),
        }[name]
        n = c[bottom].to_numpy(float)
        value = c[top].to_numpy(float) / np.where(n > 0, n, np.nan)
        return value, n, value * (1 - value)
    if name == "nps":
        n = c["answers"].to_numpy(float)
        a, s = (c[k].to_numpy(float) / np.where(n > 0, n, np.nan) for k in CLASSES)
        return 100 * (a - s), n, 1e4 * (a + s - (a - s) ** 2)
    touchpoint = name[len("rating:") :]
    n = c[f"ratings:{touchpoint}"].to_numpy(float)
    safe = np.where(n > 0, n, np.nan)
    mean = c[f"rating_sum:{touchpoint}"].to_numpy(float) / safe
    return mean, n, c[f"rating_sq:{touchpoint}"].to_numpy(float) / safe - mean**2


def predicted(name: str, prediction: xr.DataArray, counts: pd.DataFrame) -> tuple:
    """Per draw and month since launch: the predicted figure weighted as the realised one
    is, and its variance per observation: (mean, variance), arrays (draw, month)."""
    K = len(counts)
    p = prediction.isel(month=slice(0, K))

    def value(outcome: str) -> np.ndarray:
        return p.sel(outcome=outcome).transpose("draw", "month").to_numpy()

    if name == "base_retention":
        m = value(name)
        return m, m * (1 - m)
    if name in ("monthly_churn", "new_churn", "conversion"):
        weight = counts[
            {"monthly_churn": "at_risk", "new_churn": "new_at_risk", "conversion": "prospects"}[
                name
            ]
        ].to_numpy(float)
        m = _pooled(np.nan_to_num(value(name)), weight)
        return m, m * (1 - m)
    if name == "nps":
        weight = counts["answers"].to_numpy(float)
        a, s = (_pooled(value(k), weight) for k in CLASSES)
        return 100 * (a - s), 1e4 * (a + s - (a - s) ** 2)
    touchpoint = name[len("rating:") :]
    weight = counts[f"ratings:{touchpoint}"].to_numpy(float)
    mean = value(name)
    second = value(f"rating_var:{touchpoint}") + mean**2
    pooled, pooled_second = _pooled(mean, weight), _pooled(second, weight)
    return pooled, pooled_second - pooled**2


def _pooled(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Running weighted mean over months: sum_{m <= k} w_m v_m / sum_{m <= k} w_m."""
    total = np.cumsum(weight)
    return np.cumsum(values * weight, axis=-1) / np.where(total > 0, total, np.nan)


def band(mean: np.ndarray, var: np.ndarray, n: np.ndarray, level: float) -> np.ndarray:
    """The central ``level`` interval of the mixture over draws of Normal(mean_d, var_d / n)
    per month: (low, median, high), shape (3, month)."""
    sd = np.sqrt(np.maximum(var, 0) / np.where(n > 0, n, np.nan))
    sd = np.where(np.isfinite(sd), sd, 0) + 1e-12
    quantiles = [(1 - level) / 2, 0.5, (1 + level) / 2]
    out = np.full((3, mean.shape[1]), np.nan)
    for k in range(mean.shape[1]):
        m, s = mean[:, k], sd[:, k]
        keep = np.isfinite(m)
        if not keep.any():
            continue
        m, s = m[keep], s[keep]
        low, high = (m - 8 * s).min(), (m + 8 * s).max()
        for i, q in enumerate(quantiles):
            out[i, k] = _mixture_quantile(m, s, q, low, high)
    return out


def _mixture_quantile(m: np.ndarray, s: np.ndarray, q: float, low: float, high: float) -> float:
    """The q-quantile of the equal mixture of Normal(m_d, s_d), by bisection (60 halvings:
    far below any figure's precision)."""
    for _ in range(60):
        mid = (low + high) / 2
        if special.ndtr((mid - m) / s).mean() < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def verdict(value: float, n: float, low: float, high: float, higher: bool) -> str:
    """One of :data:`VERDICTS` (module notes)."""
    if not n >= ENOUGH or not np.isfinite(value) or not np.isfinite(low):
        return "too early to tell"
    if low <= value <= high:
        return "on track"
    better = value > high if higher else value < low
    return "ahead" if better else "behind"


def higher_is_better(name: str) -> bool:
    return TRACKED[name][1] if name in TRACKED else True


def track(prediction: xr.Dataset, scenario: str, counts: pd.DataFrame) -> pd.DataFrame:
    """Month by month since launch, per outcome: the realised figure, its observations, the
    plan's and the baseline's bands, the verdict and P(effect >= half the predicted one).

    Parameters
    ----------
    prediction
        ``ctm compare``'s prediction (:func:`scenarios.prediction.predict`).
    scenario
        The scenario launched (one of the prediction's, not the baseline).
    counts
        The company's counts since launch (:func:`models.realised.realised_counts`).

    Returns
    -------
    pandas.DataFrame
        Columns month, period, outcome, realised, n, plan_low, plan_mid, plan_high,
        baseline_low, baseline_mid, baseline_high, verdict, unlike_baseline, p_half_effect.
    """
    launch = int(prediction["launch_month"].sel(scenario=scenario))
    plan = rebased(prediction["prediction"].sel(scenario=scenario, drop=True), launch)
    base = rebased(prediction["prediction"].sel(scenario=BASELINE, drop=True), launch)
    counts = counts.iloc[: plan.sizes["month"]]
    names = outcomes_of(prediction, counts)
    level = 1 - (1 - LEVEL) / len(names)
    rows = []
    for name in names:
        value, n, data_var = realised(name, counts)
        higher = higher_is_better(name)
        bands = {}
        means = {}
        for label, source in (("plan", plan), ("baseline", base)):
            mean, var = predicted(name, source, counts)
            bands[label], means[label] = band(mean, var, n, level), mean
        p_half = half_effect(name, value, n, data_var, means["baseline"], means["plan"], higher)
        for k in range(len(counts)):
            low, mid, high = bands["plan"][:, k]
            b_low, b_mid, b_high = bands["baseline"][:, k]
            rows.append(
                {
                    "month": k,
                    "period": counts["period"].iloc[k],
                    "outcome": name,
                    "realised": value[k],
                    "n": n[k],
                    "plan_low": low,
                    "plan_mid": mid,
                    "plan_high": high,
                    "baseline_low": b_low,
                    "baseline_mid": b_mid,
                    "baseline_high": b_high,
                    "verdict": verdict(value[k], n[k], low, high, higher),
                    "unlike_baseline": bool(not b_low <= value[k] <= b_high),
                    "p_half_effect": p_half[k],
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["level"] = level
    return table


def half_effect(
    name: str,
    value: np.ndarray,
    n: np.ndarray,
    data_var: np.ndarray,
    baseline: np.ndarray,
    plan: np.ndarray,
    higher: bool,
) -> np.ndarray:
    """P(realised effect >= half the predicted one) per month (module notes): theta beyond
    the midpoint of the baseline's and the plan's figure, per draw, averaged over draws."""
    midpoint = (baseline + plan) / 2  # (draw, month)
    effect = plan - baseline
    out = np.full(len(value), np.nan)
    for k in range(len(value)):
        e = effect[:, k][np.isfinite(effect[:, k])]
        if not n[k] > 0 or not np.isfinite(value[k]) or len(e) < 2:
            continue
        if abs(e.mean()) < 2 * e.std(ddof=1) / np.sqrt(len(e)):
            continue  # the prediction does not tell its effect from none
        mid = midpoint[:, k][np.isfinite(midpoint[:, k])]
        if name in TRACKED and name != "nps":
            x = value[k] * n[k]
            below = stats.beta.cdf(mid, 1 + x, 1 + n[k] - x)
        else:
            sd = np.sqrt(max(data_var[k], 1e-12) / n[k])
            below = special.ndtr((mid - value[k]) / sd)
        out[k] = float(np.mean(1 - below if higher else below))
    return out


def power(
    prediction: xr.Dataset, scenario: str, name: str, counts: pd.DataFrame, level: float
) -> np.ndarray:
    """Per month since launch: P(data in which nothing changed fall outside the plan's band
    on the worse side), for a company with these counts (module notes)."""
    launch = int(prediction["launch_month"].sel(scenario=scenario))
    plan = rebased(prediction["prediction"].sel(scenario=scenario, drop=True), launch)
    base = rebased(prediction["prediction"].sel(scenario=BASELINE, drop=True), launch)
    _, n, _ = realised(name, counts)
    plan_band = band(*predicted(name, plan, counts), n, level)
    mean, var = predicted(name, base, counts)
    sd = np.sqrt(np.maximum(var, 0) / np.where(n > 0, n, np.nan)) + 1e-12
    if higher_is_better(name):
        beyond = special.ndtr((plan_band[0] - mean) / sd)
    else:
        beyond = 1 - special.ndtr((plan_band[2] - mean) / sd)
    return np.nanmean(beyond, axis=0)


def months_to_tell(power_by_month: np.ndarray) -> int | None:
    """The first month since launch (1, 2, ...: months completed) at which the power
    reaches :data:`POWER`; None if none does."""
    reached = np.flatnonzero(power_by_month >= POWER)
    return int(reached[0]) + 1 if reached.size else None
