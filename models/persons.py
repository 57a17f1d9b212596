"""Person-months for the discrete-time churn hazard, their binomial collapse, and test data.

The churn model (:mod:`models.churn`) is a discrete-time hazard: each customer, each
calendar month at risk, churns with probability ``h`` where

    logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k,   x_k = (3 - p_k) / 2,

``p_k`` is the customer's view (1..5) of touchpoint ``k`` and ``x_k = 0`` for a touchpoint
not rated. :func:`person_months` turns the customers and responses tables of
:mod:`models.data` into one row per customer and month at risk in which they answered, by
these rules:

- **Months** are calendar months (``pd.Period`` of frequency ``'M'``); a date belongs to the
  month it falls in.
- **At risk in the months a customer answered.** A customer has a row for each calendar
  month in which they gave a survey response, from the month of ``start`` on: a response
  reports the customer's views at that time, and in months without one the views are not
  observed (they keep moving with every experience). Carrying an older answer forward would
  pair churn with stale covariates: on the demo data that biased the effects (one true effect
  3.9 posterior standard deviations off) and the retention it predicted failed the posterior
  predictive check (observed retention inside the 90% band in 38-88% of months, against
  100% with answer months only). Conditioning on being a customer in the months answered is
  harmless because whether a customer answers in a month does not depend on churn. A
  customer with no responses contributes no rows.
- **Until churn or the end of observation.** A customer who leaves is at risk through the
  month of ``end``, with ``churned = 1`` in that month (if they answered in it) and 0
  before. A customer still active, or leaving after ``observed_until``, is at risk through
  the month of ``observed_until`` with ``churned = 0`` throughout (right censoring).
  ``observed_until`` defaults to the latest date in ``customers.end`` and
  ``responses.date``. Responses dated before the month of ``start`` or after the last month
  at risk are ignored.
- **Covariates.** In month ``m`` the ratings are those of the customer's latest response
  dated in month ``m`` (responses on the same date: the later row). A touchpoint that
  response leaves empty, or a touchpoint with no column in the responses table, has ``x = 0``
  (a view not reported is taken as neutral). ``x = (3 - rating) / 2``, so ``x`` is 1 for a
  rating of 1, 0 for 3 and -1 for 5.
- **Tenure and band.** ``tenure`` is completed months at the start of the month:
  ``month - start.to_period('M')`` in whole months. ``band`` is the index of the last band
  start ``<= tenure``.
- **Left truncation.** A company's table usually holds the customers in service at some time
  since observation began: the installed base started long before (its ``start`` is its real
  one, so its tenure is counted from it), and those who left before observation are not in
  the table. That needs no correction here: a row is a month in which the customer was at
  risk and answered, and answers exist only inside the window, so each row's churn is that
  of a customer known to be in service at the month's start, whatever happened before, which
  is what the discrete-time hazard conditions on. Verified on simulated tables truncated so
  (``tests/models/test_persons.py``: each band's churn share within 4 standard errors of its
  hazard, for the truncated base and the later customers alike).

:func:`collapse` groups identical rows into binomial counts, and
:func:`simulate_person_months` makes customers and responses that follow the model exactly,
for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

RATING_PROBS = (0.10, 0.15, 0.30, 0.30, 0.15)
"""P(rating = 1..5) of a reported view in :func:`simulate_person_months`."""
EPOCH_MONTH = 1970 * 12
"""``pd.Period(..., 'M').ordinal`` counts months from January 1970."""


def person_months(
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    touchpoints: Sequence[str],
    band_starts: Sequence[float] | np.ndarray,
    observed_until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer and calendar month at risk and answered (module docstring).

    Parameters
    ----------
    customers, responses
        The tables :func:`models.data.load_customers` and :func:`models.data.load_responses`
        return; responses of customers not in ``customers`` are ignored.
    touchpoints
        The touchpoint ids to make covariates for, in the model's order; an id without a
        column in ``responses`` gives ``x = 0`` throughout.
    band_starts
        Tenure in months at which each band starts: ``0`` first, increasing.
    observed_until
        The end of observation (default: the latest date in ``customers.end`` and
        ``responses.date``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``segment`` (as in ``customers``), ``month`` (``period[M]``),
        ``tenure`` and ``band`` (int64), ``x_<touchpoint>`` (float64) per touchpoint and
        ``churned`` (int64, 0/1), in the order of ``customers`` and then by month.
    """
    starts = _band_starts(band_starts)
    touchpoints = list(touchpoints)
    if observed_until is None:
        observed_until = max(customers["end"].max(), responses["date"].max())
    last_observed = _month(pd.Series([pd.Timestamp(observed_until)]))[0]

    # Responses of known customers, coded by customer row, sorted by customer then date.
    codes = pd.Index(customers["customer_id"]).get_indexer(responses["customer_id"])
    known = codes >= 0
    resp = responses.loc[known]
    code = codes[known]
    order = np.lexsort((np.arange(len(code)), resp["date"].to_numpy(), code))
    resp, code = resp.iloc[order], code[order]
    month = _month(resp["date"])

    # Each customer's months at risk: from start to end or the end of observation.
    start = _month(customers["start"])
    end = _month(customers["end"])
    left = end != np.iinfo(np.int64).min  # NaT -> min int
    churns = left & (end <= last_observed)
    last = np.where(churns, end, last_observed)

    # One row per (customer, month answered) at risk: the month's latest response.
    latest = np.append((code[1:] != code[:-1]) | (month[1:] != month[:-1]), True)
    keep = latest & (month >= start[code]) & (month <= last[code])
    resp, customer, month = resp.iloc[keep], code[keep], month[keep]
    tenure = month - start[customer]

    out = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[customer],
            "segment": customers["segment"].iloc[customer].reset_index(drop=True),
            "month": pd.PeriodIndex.from_ordinals(month - EPOCH_MONTH, freq="M"),
            "tenure": tenure.astype(np.int64),
            "band": np.searchsorted(starts, tenure, side="right").astype(np.int64) - 1,
        }
    )
    out["customer_id"] = out["customer_id"].astype(customers["customer_id"].dtype)
    for touchpoint in touchpoints:
        x = np.zeros(len(out))
        if touchpoint in resp.columns:
            rating = resp[touchpoint].to_numpy(dtype=float, na_value=np.nan)
            x = np.where(np.isnan(rating), 0.0, (3.0 - rating) / 2.0)
        out[f"x_{touchpoint}"] = x
    out["churned"] = (churns[customer] & (month == last[customer])).astype(np.int64)
    return out


def collapse(pm: pd.DataFrame) -> pd.DataFrame:
    """Identical (segment, band, x_*) rows grouped into person-months ``n`` and churns ``y``.

    Rows with the same segment, band and covariates share one hazard ``h``, so the
    Bernoulli likelihood of their person-months, ``prod h^churned (1 - h)^(1 - churned)``,
    is ``h^y (1 - h)^(n - y)``: the binomial likelihood of ``(n, y)`` without its
    coefficient ``C(n, y)``, which does not depend on the parameters. The binomial
    likelihood of the collapsed rows therefore equals the Bernoulli likelihood of the
    person-months up to a constant, and the posterior is identical.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``band``, the ``x_*`` columns, ``n`` and ``y`` (int64), one row per
        distinct combination present, sorted by those columns.
    """
    keys = ["segment", "band", *[c for c in pm.columns if c.startswith("x_")]]
    grouped = pm.groupby(keys, observed=True, sort=True)["churned"]
    out = grouped.agg(n="size", y="sum").reset_index()
    out["n"] = out["n"].astype(np.int64)
    out["y"] = out["y"].astype(np.int64)
    return out


def simulate_person_months(
    alpha: np.ndarray,
    beta: np.ndarray,
    segments: Sequence[str],
    touchpoints: Sequence[str],
    band_starts: Sequence[float] | np.ndarray,
    customers_per_segment: int,
    months: int,
    response_rate: float,
    seed: int,
    *,
    rating_probs: Sequence[float] = RATING_PROBS,
    missing: float = 0.3,
    first_month: str = "2022-01",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers and survey responses that follow the churn model exactly.

    The calendar runs ``2 * months`` months from ``first_month``; each customer starts in a
    month drawn uniformly from it (so tenures reach ``2 * months - 1``) and, each month
    from the start month on while active:

    1. responds with probability ``response_rate``, reporting a rating per touchpoint drawn
       from ``rating_probs``, or none with probability ``missing``; the reported ratings are
       the customer's views until the next response (a touchpoint left empty is neutral);
    2. churns with the hazard ``logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k``
       computed from the latest reported ratings (``x = 0`` before the first response).

    Views change only when the customer answers, so the ratings of an answer month are the
    customer's views: :func:`person_months` is exact for these data, and they cannot show
    the bias of carrying answers forward (the demo data, where views drift between answers,
    can: ``tests/scenarios/test_predictive.py``).

    Days within a month keep the order start (days 1-10) < response (11-20) < end (21-28).
    The observation ends at the last day of the calendar, stored as
    ``customers.attrs["observed_until"]``.

    Parameters
    ----------
    alpha
        Baseline log-odds, shape (segments, bands).
    beta
        Effects, shape (segments, touchpoints).

    Returns
    -------
    (customers, responses)
        In the format of :func:`models.data.load_customers` and
        :func:`models.data.load_responses` (one ``Int8`` column per touchpoint).
    """
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    starts = _band_starts(band_starts)
    S, K = len(segments), len(touchpoints)
    if alpha.shape != (S, len(starts)) or beta.shape != (S, K):
        raise ValueError(
            f"alpha has shape {alpha.shape} and beta {beta.shape}, expected "
            f"{(S, len(starts))} and {(S, K)} (segments, bands) and (segments, touchpoints)"
        )
    rng = np.random.default_rng(seed)
    calendar = 2 * months
    n = S * customers_per_segment
    segment = np.repeat(np.arange(S), customers_per_segment)
    start = rng.integers(0, calendar, n)
    end = np.full(n, -1)
    x = np.zeros((n, K))
    cum = np.cumsum(rating_probs) / np.sum(rating_probs)
    who, when, rated = [], [], []
    for m in range(calendar):
        active = np.flatnonzero((start <= m) & (end < 0))
        answering = active[rng.random(active.size) < response_rate]
        ratings = 1 + (rng.random((answering.size, K))[..., None] > cum[:-1]).sum(-1)
        ratings = np.where(rng.random((answering.size, K)) < missing, 0, ratings)
        x[answering] = np.where(ratings > 0, (3.0 - ratings) / 2.0, 0.0)
        who.append(answering)
        when.append(np.full(answering.size, m))
        rated.append(ratings)
        band = np.searchsorted(starts, m - start[active], side="right") - 1
        eta = alpha[segment[active], band] + (x[active] * beta[segment[active]]).sum(axis=1)
        end[active[rng.random(active.size) < expit(eta)]] = m

    origin = pd.Period(first_month, "M").ordinal

    def date(month: np.ndarray, low: int, high: int) -> pd.Series:
        """A date in each calendar month (0 = first_month), on a random day low..high."""
        firsts = pd.PeriodIndex.from_ordinals(origin + month, freq="M").to_timestamp()
        days = rng.integers(low, high + 1, month.size) - 1
        return pd.Series(firsts.to_numpy() + days.astype("timedelta64[D]")).astype("datetime64[us]")

    ids = pd.Series([f"C{i + 1:06d}" for i in range(n)], dtype=str)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": pd.Categorical.from_codes(segment, categories=list(segments)),
            "start": date(start, 1, 10),
        }
    )
    ended = end >= 0
    customers["end"] = date(np.where(ended, end, 0), 21, 28).where(ended)
    customers.attrs["observed_until"] = (
        pd.Period(first_month, "M") + (calendar - 1)
    ).end_time.normalize()

    who_all, when_all = np.concatenate(who), np.concatenate(when)
    rated_all = np.concatenate(rated) if rated else np.zeros((0, K), int)
    responses = pd.DataFrame(
        {"customer_id": ids.to_numpy()[who_all], "date": date(when_all, 11, 20)}
    )
    responses["customer_id"] = responses["customer_id"].astype(str)
    for k, touchpoint in enumerate(touchpoints):
        column = pd.array(rated_all[:, k], dtype="Int8")
        responses[touchpoint] = pd.Series(column).where(rated_all[:, k] > 0)
    return customers, responses.reset_index(drop=True)


def _band_starts(band_starts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Band starts in months as a float array, checked: 0 first, strictly increasing."""
    starts = np.asarray(band_starts, dtype=float)
    if starts.ndim != 1 or starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) <= 0):
        raise ValueError(
            f"band starts {list(starts.ravel())}: expected months, 0 first and increasing"
        )
    return starts


def _month(dates: pd.Series) -> np.ndarray:
    """Calendar months as integers (year * 12 + month - 1); NaT as the smallest int64."""
    ordinals = dates.dt.to_period("M").array.asi8
    nat = ordinals == np.iinfo(np.int64).min
    return np.where(nat, ordinals, ordinals + EPOCH_MONTH)
