"""Arrivals: the monthly rate of new customers per segment, Gamma-Poisson, and prospects.

What is estimated. The customers table holds purchasers only, so what it shows directly is
the number of *new customers* of segment ``s`` starting in each calendar month ``m``::

    y[s, m] ~ Poisson(lambda_s),        lambda_s ~ Gamma(a0, b0)   (shape a0, rate b0)

``lambda_s`` is the monthly rate of new customers: in the simulation's story, prospects
(``prospects_per_month``, plus those referred by advocates) times the probability that a
prospect's journey ends in a purchase. The Gamma prior is conjugate, so the posterior is
exact, with no sampling::

    lambda_s | y ~ Gamma(a0 + sum_m y[s, m], b0 + M),   M = months in the window,

of mean ``(a0 + sum_m y[s, m]) / (b0 + M)``. The default prior, ``a0 = 1, b0 = 0.001``, is
an exponential with mean 1,000 new customers a month: nearly flat over any rate a few months
of data can tell apart, and worth one customer and 0.001 months of data.

Prospects. Given the conversion probability ``q_s`` (fixed per segment, or one value per
draw such as a journey model's posterior), ``prospects_s = lambda_s / q_s`` draw by draw.
These include referred prospects: the customers table cannot tell the two apart.

The window. Customers who started before it are the installed base, not arrivals. A
company's table holds the customers in service at some time since observation began; those
of the installed base started long before it, at dates spread over years (the start their
tenure implies), and those who left before it are not there at all (the table is
left-truncated). By default observation is taken to begin in the first month in which a
departure is recorded (:func:`observation_start`; the first month with a start if nobody
left), and the customers who started in or before that month are the installed base (the
demo data start those of tenure 0 on the run's first day; customers who buy in the run's
first month start the month after). So the window runs from the month after it to the latest
month of any start or end; pass ``first_month`` when the start of observation is known.
Every month of the window counts, with or without new customers.

Example::

    arrivals = ArrivalModel().fit(customers)
    arrivals.interval(0.94)                      # lambda per segment
    arrivals.sample(1000, conversion=[0.24, 0.33, 0.36])   # prospects, (draw, segment)
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike
from scipy import stats

from models.churn import check_int

PRIOR_SHAPE = 1.0
PRIOR_RATE = 0.001


class ArrivalModel:
    """Conjugate Gamma-Poisson model of new customers per segment and month.

    Parameters
    ----------
    prior_shape, prior_rate
        ``a0`` and ``b0`` of the Gamma prior on the monthly rate (rate in months), > 0.
    seed
        Seed of :meth:`sample`; the same seed gives the same draws.

    Attributes (after ``fit``)
    --------------------------
    counts_ : xarray.DataArray
        New customers, (segment, month); ``month`` holds each month's first day.
    shape_, rate_ : xarray.DataArray
        The posterior Gamma(shape, rate) of the monthly rate, (segment,).
    """

    def __init__(
        self, prior_shape: float = PRIOR_SHAPE, prior_rate: float = PRIOR_RATE, seed: int = 0
    ):
        for name, value in (("prior_shape", prior_shape), ("prior_rate", prior_rate)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} is {value!r}, expected a positive number")
        check_int("seed", seed, 0)
        self.prior_shape, self.prior_rate, self.seed = float(prior_shape), float(prior_rate), seed

    def fit(
        self,
        customers: pd.DataFrame,
        first_month: str | pd.Period | None = None,
        last_month: str | pd.Period | None = None,
    ) -> ArrivalModel:
        """Count new customers per segment and month of the window; returns self.

        Parameters
        ----------
        customers
            The table of :func:`models.data.load_customers` (a categorical ``segment`` gives
            the segments and their order, including any without customers).
        first_month, last_month
            The window, inclusive (such as ``"2025-02"``); defaults in the module docstring.
        """
        self.counts_ = monthly_starts(customers, first_month, last_month)
        self.shape_ = (self.prior_shape + self.counts_.sum("month")).rename("shape")
        self.rate_ = xr.full_like(self.shape_, self.prior_rate + self.counts_.sizes["month"])
        self.rate_.name = "rate"
        return self

    @property
    def mean_(self) -> xr.DataArray:
        """Posterior mean of the monthly rate: (a0 + sum y) / (b0 + M), (segment,)."""
        return (self.shape_ / self.rate_).rename("new_customers")

    def sample(
        self, draws: int, conversion: ArrayLike | xr.DataArray | None = None
    ) -> xr.DataArray:
        """Posterior draws of new customers a month, or of prospects given ``conversion``.

        ``conversion``: the probability that a prospect becomes a customer, per segment
        (``(segment,)``) or per draw and segment (``(draw, segment)``; a DataArray is aligned
        by label), in (0, 1]. Returns (draw, segment).
        """
        check_int("draws", draws, 1)
        rng = np.random.default_rng(self.seed)
        values = rng.gamma(
            self.shape_.values, 1.0 / self.rate_.values, size=(draws, self.shape_.sizes["segment"])
        )
        rate = xr.DataArray(
            values,
            dims=("draw", "segment"),
            name="new_customers",
            coords={"draw": np.arange(draws), "segment": self.shape_["segment"]},
        )
        if conversion is None:
            return rate
        return (rate / self._conversion(conversion, draws)).rename("prospects")

    def interval(self, prob: float = 0.94, conversion: ArrayLike | None = None) -> xr.Dataset:
        """Posterior mean and exact equal-tailed ``prob`` interval, per segment.

        Gamma quantiles of the monthly rate of new customers; divided by a fixed conversion
        per segment when given (prospects; the mean is then ``E[lambda] / q``).
        """
        if not 0 < prob < 1:
            raise ValueError(f"prob is {prob}, expected a number in (0, 1)")
        tail = (1 - prob) / 2
        bounds = [
            stats.gamma.ppf(p, self.shape_.values, scale=1 / self.rate_.values)
            for p in (tail, 1 - tail)
        ]
        out = xr.Dataset(
            {"mean": self.mean_, "lower": ("segment", bounds[0]), "upper": ("segment", bounds[1])},
            attrs={"prob": prob},
        )
        if conversion is not None:
            out = out / self._conversion(conversion, None)
            out.attrs["prob"] = prob
        return out

    def _conversion(self, conversion: ArrayLike | xr.DataArray, draws: int | None) -> xr.DataArray:
        """Conversion as a DataArray over (segment,) or (draw, segment), checked."""
        segments = self.shape_["segment"].values
        if isinstance(conversion, xr.DataArray):
            q = conversion.sel(segment=segments)
        else:
            values = np.asarray(conversion, dtype=float)
            dims = ("segment",) if values.ndim == 1 else ("draw", "segment")
            q = xr.DataArray(values, dims=dims, coords={"segment": segments})
        if q.sizes["segment"] != len(segments) or set(q.dims) - {"draw", "segment"}:
            raise ValueError(
                f"conversion has dims {dict(q.sizes)}, expected segment "
                f"({len(segments)}) and optionally draw"
            )
        if "draw" in q.dims and draws is None:
            raise ValueError(
                "interval() takes one conversion per segment; for one per draw use sample()"
            )
        if "draw" in q.dims and q.sizes["draw"] != draws:
            raise ValueError(f"conversion has {q.sizes['draw']} draws, expected {draws}")
        if not np.all((q > 0) & (q <= 1)):
            raise ValueError("conversion must be a probability in (0, 1]")
        return q.drop_vars("draw", errors="ignore")

    def __repr__(self) -> str:
        return (
            f"ArrivalModel(prior_shape={self.prior_shape!r}, "
            f"prior_rate={self.prior_rate!r}, seed={self.seed!r})"
        )


def monthly_starts(
    customers: pd.DataFrame,
    first_month: str | pd.Period | None = None,
    last_month: str | pd.Period | None = None,
) -> xr.DataArray:
    """New customers per segment and calendar month of the window, zeros included.

    Customers starting before ``first_month`` (the installed base) or after ``last_month``
    are left out; defaults in the module docstring.
    """
    if len(customers) == 0:
        raise ValueError("no customers to count")
    start, end = (_month(customers[c]) for c in ("start", "end"))
    if first_month is None:
        first = observation_start(customers).ordinal + 1
    else:
        first = pd.Period(first_month, "M").ordinal
    latest = max(start.max(), end.max())  # a missing end is the smallest integer
    last = latest if last_month is None else pd.Period(last_month, "M").ordinal
    if last < first:
        raise ValueError(f"the window {_label(first)} to {_label(last)} holds no month")
    segment = customers["segment"]
    segments = (
        list(segment.cat.categories)
        if isinstance(segment.dtype, pd.CategoricalDtype)
        else sorted(segment.astype(str).unique())
    )
    code = pd.Categorical(segment.astype(str), categories=segments).codes
    inside = (start >= first) & (start <= last)
    table = np.zeros((len(segments), last - first + 1), dtype=np.int64)
    np.add.at(table, (code[inside], start[inside] - first), 1)
    months = pd.PeriodIndex.from_ordinals(np.arange(first, last + 1), freq="M")
    return xr.DataArray(
        table,
        dims=("segment", "month"),
        name="new",
        coords={"segment": segments, "month": months.to_timestamp().to_numpy()},
    )


def observation_start(customers: pd.DataFrame) -> pd.Period:
    """The month observation of a customers table is taken to begin: the first month with a
    departure (``end``), or the first month with a start if no one left (module notes).

    Before it no departure is recorded, so customers who left earlier are missing from the
    table; those who started in or before it are the installed base.
    """
    ends = customers["end"].dropna()
    first = ends.min() if len(ends) else customers["start"].min()
    return pd.Timestamp(first).to_period("M")


def installed_base(
    customers: pd.DataFrame, first_month: str | pd.Period | None = None
) -> pd.Series:
    """Bool per customer: started before ``first_month``, the first month of the arrivals'
    window (default: the month after :func:`observation_start`)."""
    if first_month is None:
        first = observation_start(customers) + 1
    else:
        first = pd.Period(first_month, "M")
    return customers["start"].dt.to_period("M") < first


def _month(dates: pd.Series) -> np.ndarray:
    """Calendar months as period ordinals (months since January 1970); NaT the smallest."""
    return dates.dt.to_period("M").array.asi8


def _label(ordinal: int) -> str:
    """A period ordinal as a month, such as ``2025-02``."""
    return str(pd.PeriodIndex.from_ordinals([ordinal], freq="M")[0])
