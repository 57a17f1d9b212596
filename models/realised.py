"""What happened after a launch: the company's monthly counts from its own feedback tables.

After a plan's launch the company brings its tables up to a date (the **snapshot**: the
latest date in them, as :mod:`models.lifetimes` takes it; its month counts as observed). Month
k since launch is the (k + 1)-th calendar month from the launch date's month. For each month
observed, :func:`realised_counts` counts, as the simulation does (:mod:`scenarios.prediction`):

- the **installed base at launch**: customers in service on the launch month's first day
  (started before it, no end or an end on or after it), ``base`` of them; ``base_alive``
  still in service at month k's end (an end after it). Every one is followed to the
  snapshot, so no one is censored before the last month counted.
- **every customer** in service at the month's start (``at_risk``: started on or before its
  first day, no end before it) and those who left in it (``churned``: an end in the month);
  ``new_at_risk`` and ``new_churned``, the same for the customers who started on or after
  the launch date.
- **prospects** (with an event log): those whose first event falls in the month, and
  ``acquired``, those of them who became customers (their id in the customers table with a
  start after that event). A prospect's id is the customer's when they bought, as in the
  data contract (``models/data.py``). A prospect buys in the month, service starts the next:
  the last month's prospects are left out (their purchase may be to come), as ``ctm fit``
  leaves out the journeys begun in an event log's last month.
- **self-classes** (responses with ``self_class``): ``answers`` in the month, and of them
  ``advocates`` and ``dissatisfied``.
- **ratings** of each touchpoint asked for (the transactional ratings table, the responses'
  columns): ``ratings:K`` in the month, their sum ``rating_sum:K`` and sum of squares
  ``rating_sq:K``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.inputs.errors import InputError


def snapshot_of(*tables: pd.DataFrame | None) -> pd.Timestamp:
    """The latest date in the tables (customers' start and end, responses' and ratings'
    date, events' timestamp): the date they were taken."""
    latest = []
    for table in tables:
        if table is None:
            continue
        for column in ("start", "end", "date", "timestamp"):
            if column in table and table[column].notna().any():
                latest.append(table[column].max())
    return max(latest)


def first_date(customers: pd.DataFrame, *tables: pd.DataFrame | None) -> pd.Timestamp:
    """The first day the tables watch: the earliest response, rating or event, else the
    earliest end of service (a customers table holds customers from long before it)."""
    earliest = [
        table[column].min()
        for table in tables
        if table is not None
        for column in ("date", "timestamp")
        if column in table and table[column].notna().any()
    ]
    if not earliest and customers["end"].notna().any():
        earliest.append(customers["end"].min())
    return min(earliest) if earliest else customers["start"].min()


def check_launch(
    launch: pd.Timestamp, customers: pd.DataFrame, *tables: pd.DataFrame | None
) -> tuple[pd.Period, pd.Period]:
    """The launch month and the last month observed.

    Raises
    ------
    InputError
        On ``--launch``, if the launch date is not within the data: before their first day,
        or after their snapshot.
    """
    first, last = first_date(customers, *tables), snapshot_of(customers, *tables)
    if not first <= launch <= last:
        raise InputError(
            "--launch",
            [
                (
                    "",
                    f"{launch:%Y-%m-%d} is outside the data, which run from {first:%Y-%m-%d} "
                    f"to {last:%Y-%m-%d}; expected a launch date within them",
                )
            ],
        )
    return launch.to_period("M"), last.to_period("M")


def realised_counts(
    launch: pd.Timestamp,
    customers: pd.DataFrame,
    responses: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    touchpoints: list[str] = (),
) -> pd.DataFrame:
    """The counts of every month observed since the launch (module notes).

    Parameters
    ----------
    launch
        The launch date; its month is month 0.
    customers, responses, ratings, events
        The tables as :mod:`models.data` loads them (ratings with the responses' loader).
    touchpoints
        Touchpoints whose ratings to count.

    Returns
    -------
    pandas.DataFrame
        One row per month since launch (index ``month``, 0, 1, ...; column ``period``, the
        calendar month), one column per count (module notes); counts of a table not given
        are missing.
    """
    first, last = check_launch(launch, customers, responses, ratings, events)
    periods = pd.period_range(first, last, freq="M")
    starts = periods.to_timestamp()
    ends = (periods + 1).to_timestamp()
    start, end = customers["start"].to_numpy(), customers["end"].to_numpy()
    gone = ~pd.isna(end)
    launch_day = starts[0]
    rows = pd.DataFrame({"period": periods.astype(str)}, index=pd.RangeIndex(len(periods)))
    in_base = (start < launch_day) & (~gone | (end >= launch_day))
    new = start >= launch
    rows["base"] = int(in_base.sum())
    rows["base_alive"] = [int((in_base & (~gone | (end >= e))).sum()) for e in ends]
    for prefix, who in (("", np.ones(len(start), bool)), ("new_", new)):
        at_risk = [(who & (start <= s) & (~gone | (end >= s))).sum() for s in starts]
        churned = [
            (who & gone & (end >= s) & (end < e)).sum() for s, e in zip(starts, ends, strict=True)
        ]
        rows[f"{prefix}at_risk"], rows[f"{prefix}churned"] = at_risk, churned
    if events is not None:
        rows = rows.join(_prospects(events, customers, periods))
    if responses is not None and "self_class" in responses:
        rows = rows.join(_classes(responses, periods))
    if ratings is not None:
        rows = rows.join(_ratings(ratings, periods, touchpoints))
    rows.index.name = "month"
    return rows


def _month_index(dates: pd.Series, periods: pd.PeriodIndex) -> np.ndarray:
    """Month since launch of each date; -1 outside the months observed."""
    k = dates.dt.to_period("M").array.asi8 - periods[0].ordinal
    return np.where((k >= 0) & (k < len(periods)) & dates.notna().to_numpy(), k, -1)


def _count(k: np.ndarray, months: int, weights: np.ndarray | None = None) -> np.ndarray:
    keep = k >= 0
    return np.bincount(k[keep], None if weights is None else weights[keep], months)


def _prospects(events: pd.DataFrame, customers: pd.DataFrame, periods: pd.PeriodIndex):
    first = events.groupby("customer_id", sort=False)["timestamp"].min()
    started = customers.set_index("customer_id")["start"].reindex(first.index)
    k = _month_index(first.reset_index(drop=True), periods)
    k[k == len(periods) - 1] = -1  # their purchase may be to come: service starts next month
    bought = (started.notna() & (started.to_numpy() >= first.to_numpy())).to_numpy()
    months = len(periods)
    return pd.DataFrame({"prospects": _count(k, months), "acquired": _count(k[bought], months)})


def _classes(responses: pd.DataFrame, periods: pd.PeriodIndex) -> pd.DataFrame:
    answered = responses["self_class"].notna().to_numpy()
    k = np.where(answered, _month_index(responses["date"], periods), -1)
    months = len(periods)
    out = {"answers": _count(k, months)}
    for name, cls in (("advocates", "advocate"), ("dissatisfied", "dissatisfied")):
        out[name] = _count(np.where(responses["self_class"] == cls, k, -1), months)
    return pd.DataFrame(out)


def _ratings(ratings: pd.DataFrame, periods: pd.PeriodIndex, touchpoints) -> pd.DataFrame:
    k, months, out = _month_index(ratings["date"], periods), len(periods), {}
    for name in touchpoints:
        if name not in ratings:
            continue
        value = ratings[name].astype("float64").to_numpy()
        rated = np.where(np.isnan(value), -1, k)
        value = np.nan_to_num(value)
        out[f"ratings:{name}"] = _count(rated, months)
        out[f"rating_sum:{name}"] = _count(rated, months, value)
        out[f"rating_sq:{name}"] = _count(rated, months, value**2)
    return pd.DataFrame(out)
