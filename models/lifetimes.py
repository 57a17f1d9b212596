"""Lifetimes in months of service: censored at a snapshot, truncated where observation began.

A customers table (:func:`models.data.load_customers`) or a cohort table
(:mod:`models.cohorts`) becomes **lifetimes**: one row per group of customers of a segment
with the same ``entry``, ``exit`` and ``churned``, and their number ``weight``:

- **Tenure months.** Months are calendar months, as in :mod:`models.persons`: a customer who
  starts in month ``m_start`` serves its 1st month of service in that month, its t-th in
  ``m_start + t - 1``; month t of service has tenure index ``t - 1`` (months completed at its
  start), the index of the simulation's tenure bands.
- **Right censoring at the snapshot.** A customer whose ``end`` is on or before the snapshot
  date churned in its month ``exit = m_end - m_start + 1``; one still in service at the
  snapshot (no end, or an end after it) is censored after ``exit = m_snapshot - m_start + 1``
  months: the snapshot's own month counts as survived, so give a snapshot at a month's end
  when you can. The snapshot defaults to the latest date in the table.
- **Left truncation.** When the table holds only customers in service on or after a date
  (``observed_from``), a customer who had completed ``entry = m_from - m_start`` months by
  then is at risk only in its months ``entry + 1 .. exit``: those who left earlier are not in
  the table, so counting its earlier months as survived would make the first months look
  safer than they are. Others enter at 0.

From lifetimes come the binomial counts the hazard models fit (:func:`hazard_counts`: per
segment and month of service t, ``at_risk`` = customers with ``entry < t <= exit`` and
``churned`` = those whose churn month is t; the likelihood of a discrete-time hazard fitted to
these data depends on nothing else), and the Kaplan-Meier curve with its 95% band, computed
by lifelines (:func:`kaplan_meier`). :func:`simulate_customers` makes a customers table from
a known hazard curve, for tests and benchmarks.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from models.data import Problems

COLUMNS = ("segment", "entry", "exit", "churned", "weight")
"""The columns of a lifetimes table."""


def customer_lifetimes(
    customers: pd.DataFrame,
    source: str,
    snapshot: pd.Timestamp | None = None,
    observed_from: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The lifetimes of a customers table, checked against the snapshot and the window.

    Parameters
    ----------
    customers
        ``segment``, ``start``, ``end`` as :func:`models.data.load_customers` returns (row
        labels 0, 1, ... in file order: label N - 1 is row N).
    source
        The file, for the problems' lines.
    snapshot
        The date the table was taken (default: its latest start or end).
    observed_from
        The first day from which the table holds every customer in service (default: none,
        the table holds every customer who ever started).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``segment`` (as in ``customers``), ``entry``, ``exit`` (int64 months),
        ``churned`` (bool) and ``weight`` (int64, customers of the row), sorted.

    Raises
    ------
    InputError
        One line per customer who starts after the snapshot, or (with ``observed_from``) who
        left before the window, naming its row and column.
    """
    start, end = customers["start"], customers["end"]
    if snapshot is None:
        snapshot = max(start.max(), end.max())
    snapshot = pd.Timestamp(snapshot)
    problems = Problems(source)
    problems.cells(
        _as_text(start, "start"),
        start > snapshot,
        f"start {{value}} is after the snapshot {snapshot:%Y-%m-%d}, expected customers who "
        "had started by then (or a later --snapshot)",
    )
    if observed_from is not None:
        observed_from = pd.Timestamp(observed_from)
        problems.cells(
            _as_text(end, "end"),
            end < observed_from,
            f"end {{value}} is before --observed-from {observed_from:%Y-%m-%d}, expected only "
            "customers in service on or after that date (or an earlier --observed-from)",
        )
    problems.check()
    entry, exit_, churned = spans(customers, snapshot, observed_from)
    frame = pd.DataFrame(
        {"segment": customers["segment"].to_numpy(), "entry": entry, "exit": exit_}
    ).assign(churned=churned)
    return group(frame)


def spans(
    customers: pd.DataFrame, snapshot: pd.Timestamp, observed_from: pd.Timestamp | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer (module notes): ``entry`` (months of service completed when observation
    began), ``exit`` (its churn month, or its months of service at the snapshot) and whether
    it ``churned``; its months observed are ``exit - entry``. The table is checked against
    the snapshot and the window already (:func:`customer_lifetimes`)."""
    start, end = customers["start"], customers["end"]
    first = _month(start)
    churned = (end <= pd.Timestamp(snapshot)).to_numpy()
    last = np.where(churned, _month(end), _month(pd.Series([pd.Timestamp(snapshot)]))[0])
    exit_ = last - first + 1
    entry = np.zeros_like(exit_)
    if observed_from is not None:
        entry = np.maximum(_month(pd.Series([pd.Timestamp(observed_from)]))[0] - first, 0)
    return entry, exit_, churned


def group(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of (segment, entry, exit, churned), with an optional ``weight`` (default 1),
    summed into one row per distinct combination."""
    frame = frame.assign(weight=frame["weight"] if "weight" in frame else 1)
    keys = list(COLUMNS[:-1])
    out = frame.groupby(keys, observed=True, sort=True)["weight"].sum().reset_index()
    out = out[out["weight"] > 0]
    for column in ("entry", "exit", "weight"):
        out[column] = out[column].astype(np.int64)
    out["churned"] = out["churned"].astype(bool)
    return out.reset_index(drop=True)


def hazard_counts(
    lifetimes: pd.DataFrame, segments: Sequence[str], longest: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Customers at risk and churning per segment and month of service.

    Returns ``(at_risk, churned)``, each of shape (segment, month t = 1..longest): at risk
    in month t are those with ``entry < t <= exit``; churned, those whose churn month is t.
    ``longest`` defaults to the longest exit.
    """
    segments = list(segments)
    if longest is None:
        longest = int(lifetimes["exit"].max()) if len(lifetimes) else 1
    S = len(segments)
    at_risk = np.zeros((S, longest), dtype=np.int64)
    churned = np.zeros((S, longest), dtype=np.int64)
    code = pd.Categorical(lifetimes["segment"].astype(str), categories=segments).codes
    for s in range(S):
        rows = lifetimes[code == s]
        exit_ = rows["exit"].to_numpy()
        entry = rows["entry"].to_numpy()
        weight = rows["weight"].to_numpy()
        # n_t = #{exit >= t} - #{entry >= t}: both tails of counts by month
        size = max(longest, int(exit_.max(initial=0))) + 1
        still = np.bincount(exit_, weight, size)[::-1].cumsum()[::-1][1 : longest + 1]
        waiting = np.bincount(entry, weight, size)[::-1].cumsum()[::-1][1 : longest + 1]
        at_risk[s] = np.round(still - waiting).astype(np.int64)
        gone = rows["churned"].to_numpy()
        churned[s] = np.bincount(exit_[gone], weight[gone], size)[1 : longest + 1].astype(np.int64)
    return at_risk, churned


def product_limit(at_risk: np.ndarray, churned: np.ndarray) -> np.ndarray:
    """S(t) = prod_{j <= t} (1 - d_j / n_j) along the last axis; a month with no one at
    risk leaves S as it is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, churned / at_risk, 0.0)
    return np.cumprod(1.0 - hazard, axis=-1)


def kaplan_meier(lifetimes: pd.DataFrame, months: int, alpha: float = 0.05) -> pd.DataFrame:
    """lifelines' Kaplan-Meier estimate of one segment's lifetimes at months 1..``months``.

    Delayed entry (``entry=``) for left truncation, ``weights=`` for grouped rows; the band
    is lifelines' default, the exponential Greenwood (log-log) 1 - ``alpha`` interval.

    Returns
    -------
    pandas.DataFrame
        ``month`` (1..months), ``km``, ``km_low``, ``km_high``.
    """
    grid = np.arange(1, months + 1)
    if not len(lifetimes):
        nan = np.full(months, np.nan)
        return pd.DataFrame({"month": grid, "km": nan, "km_low": nan, "km_high": nan})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' notes on delayed entry and weights
        fitter = KaplanMeierFitter(alpha=alpha).fit(
            lifetimes["exit"].to_numpy(dtype=float),
            lifetimes["churned"].to_numpy(),
            entry=lifetimes["entry"].to_numpy(dtype=float),
            weights=lifetimes["weight"].to_numpy(dtype=float),
        )
    curve = pd.concat([fitter.survival_function_, fitter.confidence_interval_], axis=1)
    curve.columns = ["km", "km_low", "km_high"]
    # a step function: the value at month t is that of the last event time <= t
    at = curve.reindex(curve.index.union(grid.astype(float))).ffill().loc[grid.astype(float)]
    return pd.DataFrame({"month": grid, **{c: at[c].to_numpy() for c in curve.columns}})


def simulate_customers(
    hazard: np.ndarray,
    segments: Sequence[str],
    customers_per_segment: int,
    calendar: int,
    seed: int,
    *,
    observed_from: int = 0,
    first_month: str = "2020-01",
) -> tuple[pd.DataFrame, dict]:
    """A customers table whose churn follows a known hazard by month of service exactly.

    Each customer of segment s starts in a calendar month drawn uniformly from
    ``0 .. calendar - 1`` (counted from ``first_month``) and churns in its t-th month of
    service with probability ``hazard[s, min(t, T) - 1]`` (the last value holds after).
    The table is taken on the last day of the calendar (the snapshot): customers still in
    service then have no end. With ``observed_from`` > 0 the table is left-truncated there:
    customers who left before that calendar month are dropped, as in an extract of the
    customers in service since a date.

    Returns
    -------
    (customers, dates)
        The table in the format of :func:`models.data.load_customers` (days within a month:
        start 1-10, end 15-28), and ``{"snapshot": ..., "observed_from": ...}`` (Timestamps;
        ``observed_from`` None when 0).
    """
    hazard = np.atleast_2d(np.asarray(hazard, dtype=float))
    S, T = hazard.shape
    if S != len(segments):
        raise ValueError(f"hazard has {S} rows, expected one per segment ({len(segments)})")
    rng = np.random.default_rng(seed)
    segment = np.repeat(np.arange(S), customers_per_segment)
    start = rng.integers(0, calendar, segment.size)
    served = calendar - start  # months in service up to the snapshot if none churns
    # churn month: the first t with u_t < h_t, t = 1..served
    longest = int(served.max())
    h = hazard[:, np.minimum(np.arange(longest), T - 1)]  # (segment, t - 1)
    churn = rng.random((segment.size, longest)) < h[segment]
    churn &= np.arange(longest)[None, :] < served[:, None]
    left = churn.any(axis=1)
    month_left = np.where(left, start + churn.argmax(axis=1), -1)  # calendar month of end
    keep = ~left | (month_left >= observed_from)
    origin = pd.Period(first_month, "M")

    def dates(month: np.ndarray, low: int, high: int) -> pd.Series:
        firsts = pd.PeriodIndex.from_ordinals(origin.ordinal + month, freq="M").to_timestamp()
        days = rng.integers(low, high + 1, month.size) - 1
        return pd.Series(firsts.to_numpy() + days.astype("timedelta64[D]")).astype("datetime64[us]")

    table = pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:06d}" for i in range(segment.size)],
            "segment": pd.Categorical.from_codes(segment, categories=list(segments)),
            "start": dates(start, 1, 10),
            "end": dates(np.maximum(month_left, 0), 15, 28).where(left),
        }
    )
    table = table[keep].reset_index(drop=True)
    snapshot = (origin + calendar - 1).end_time.normalize().as_unit("us")
    since = (origin + observed_from).start_time.as_unit("us") if observed_from else None
    return table, {"snapshot": snapshot, "observed_from": since}


def _month(dates: pd.Series) -> np.ndarray:
    """Calendar months as integers (months since January 1970); NaT as the smallest int64."""
    return pd.Series(dates).dt.to_period("M").array.asi8


def _as_text(dates: pd.Series, name: str) -> pd.Series:
    """Dates as the text a CSV file holds, for problem lines."""
    return dates.dt.strftime("%Y-%m-%d").fillna("").rename(name)
