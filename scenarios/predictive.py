"""Posterior predictive check of retention: Kaplan-Meier curves of observed and replayed data.

The check (issue "Churn model"): the retention curve of the feedback data should lie inside
the band of curves that the fitted model predicts for data collected the same way.

1. :func:`kaplan_meier` estimates retention by tenure from a customers table.
2. :func:`retention_replicates` takes posterior draws (one parameter set each,
   :func:`models.draws.parameter_sets`), reruns the simulation that made the demo data
   (:func:`sim.engine.feedback.demo_data`: same customers and months, another seed per draw)
   and estimates the same curve on each replicated customers table.
3. :func:`retention_band` gives the 5% and 95% quantiles of those curves per month, and
   :func:`share_inside` the share of months in which the observed curve lies inside.

**Clock: tenure, not calendar month.** Retention is counted in months of service since the
customer's start, as the model's tenure bands are, pooling the installed base with every
later cohort. The replicated tables have the same observation window and the same cohort
structure in distribution (the same world's tenure mix and prospects), so their curves
estimate the same quantity. A calendar clock would mix the base with growing new cohorts,
and measure acquisition as much as churn.

**Delayed entry.** The installed base entered service before the window at a mix of
tenures, and those of it who left before the window are not in the table (left
truncation). A customer who had served e months when observation began is counted at risk
only from its (e + 1)-th month of service on (``observed_from`` of :func:`kaplan_meier`):
counting it from its first month would add months in which it could not have been seen to
leave, and push the curve up.

The replays need only the customers table. The survey does not act on the customers (its
random numbers come from their own stream), so the response rate changes the feedback data
but not who churns when: the replays skip the survey and the journeys' event log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models.data import BUNDLED
from models.draws import parameter_sets, sample_indices
from scenarios.pool import execute
from sim.engine.feedback import FeedbackCollector
from sim.engine.population import Month
from sim.engine.simulation import simulate
from sim.inputs.parameters import Parameters, from_world
from sim.inputs.world import World

BAND = (0.05, 0.95)
"""Quantiles of the replicated curves: a 90% predictive band."""


def kaplan_meier(
    customers: pd.DataFrame,
    observed_until: pd.Timestamp | None = None,
    observed_from: pd.Timestamp | None = None,
) -> xr.DataArray:
    """Retention by tenure: the product-limit (Kaplan-Meier) estimate, with delayed entry.

    A customer serves ``T = m_end - m_start + 1`` months (calendar months of ``start`` and
    ``end``; tenure as in :func:`models.persons.person_months`) and churns in the last; one
    still active at ``observed_until`` (or leaving after it) is censored after
    ``m_obs - m_start + 1`` months. A customer who started before ``observed_from`` had
    completed ``e = m_from - m_start`` months when observation began, and is at risk only in
    its months ``e + 1`` to ``T`` (left truncation: the standard product-limit estimator with
    delayed entry, as lifelines' ``KaplanMeierFitter.fit(..., entry=e)``); others enter at
    ``e = 0``. With ``n_t`` customers at risk in their ``t``-th month of service, ``n_t =
    #{e < t <= T}``, and ``d_t`` of them churning in it::

        S(t) = prod_{j <= t} (1 - d_j / n_j)
        se(t) = S(t) sqrt(sum_{j <= t} d_j / (n_j (n_j - d_j)))     (Greenwood)

    A month with no one at risk (possible between late entries) has no churn and leaves S as
    it is (its factor 1).

    Parameters
    ----------
    customers
        ``start`` and ``end`` (NaT while active), as :func:`models.data.load_customers`
        returns. Customers starting after ``observed_until`` are left out, and so are those
        who left before ``observed_from`` (never at risk in the window).
    observed_until
        The end of observation (default: the latest ``start`` or ``end``; pass the real end
        when known, since no one may have left in the last month).
    observed_from
        The start of observation (its month counts). Default None: every customer is counted
        from its start, right for a table that holds every customer who ever started and
        biased upwards for a left-truncated one.

    Returns
    -------
    xarray.DataArray
        ``retention`` S(t), dim ``month`` (t = 1, 2, ... months of service, up to the longest
        observed), with coordinates ``at_risk`` (n_t), ``churned`` (d_t) and
        ``standard_error`` (Greenwood; infinite once a month loses everyone at risk).
    """
    if observed_until is None:
        observed_until = max(customers["start"].max(), customers["end"].max())
    last = pd.Timestamp(observed_until).to_period("M").ordinal
    start = customers["start"].dt.to_period("M").array.asi8
    end = customers["end"].dt.to_period("M").array.asi8  # NaT: the smallest int64
    churned = customers["end"].notna().to_numpy() & (end <= last)
    served = np.where(churned, end, last) - start + 1
    entry = np.zeros_like(served)
    if observed_from is not None:
        entry = np.maximum(pd.Timestamp(observed_from).to_period("M").ordinal - start, 0)
    keep = served > entry
    served, churned, entry = served[keep], churned[keep], entry[keep]
    longest = int(served.max(initial=0))
    still = np.bincount(served, minlength=longest + 1)[::-1].cumsum()[::-1][1:]  # T >= t
    waiting = np.bincount(entry, minlength=longest + 1)[::-1].cumsum()[::-1][1:]  # e >= t
    at_risk = still - waiting
    deaths = np.bincount(served[churned], minlength=longest + 1)[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, deaths / at_risk, 0.0)
        survival = np.cumprod(1.0 - hazard)
        greenwood = np.cumsum(np.where(at_risk > 0, deaths / (at_risk * (at_risk - deaths)), 0.0))
        error = np.where(np.isinf(greenwood), np.inf, survival * np.sqrt(greenwood))
    months = np.arange(1, longest + 1)
    return xr.DataArray(survival, dims="month", name="retention", coords={
        "month": months, "at_risk": ("month", at_risk), "churned": ("month", deaths),
        "standard_error": ("month", error)})  # fmt: skip


class CustomerCollector(FeedbackCollector):
    """A :class:`FeedbackCollector` that keeps only the customers table (no survey, events)."""

    def served(self, month: int, served: Month) -> None:
        self._left.append((served.ids[served.churned], np.full(served.churned.sum(), month)))

    def walked(self, *args: object) -> None:
        pass

    def customers(self) -> pd.DataFrame:
        """The customers table, as :meth:`FeedbackCollector.tables` writes it."""
        return self._customers()

    @property
    def observed_until(self) -> pd.Timestamp:
        """The last day of the run's last month."""
        return self.month_start(self.months)[0] - pd.Timedelta(days=1)

    @property
    def observed_from(self) -> pd.Timestamp:
        """The run's first day: the table is left-truncated there."""
        return self.month_start(0)[0]


def replay_retention(params: Parameters, customers: int, months: int, seed: int) -> xr.DataArray:
    """The Kaplan-Meier curve of a fresh run of ``params`` observed like the demo data (the
    installed base entering the estimate at its tenure on the run's first day)."""
    collector = CustomerCollector(params, seed, months)
    simulate(params, customers=customers, months=months, seed=seed, observer=collector)
    return kaplan_meier(collector.customers(), collector.observed_until, collector.observed_from)


def demo_settings(folder: Path = BUNDLED) -> dict[str, object]:
    """How the demo data were made: ``customers``, ``months``, ``seed``, ``response_rate``
    (from ``truth.nc``), ``observed_from`` and ``observed_until``, the first day of the run's
    first month and the last day of its last month."""
    with xr.open_dataset(folder / "truth.nc", engine="h5netcdf") as truth:
        attrs = dict(truth.attrs)
    kinds = {"customers": int, "months": int, "seed": int, "response_rate": float}
    settings: dict[str, object] = {name: kind(attrs[name]) for name, kind in kinds.items()}
    first_day = next(f for f in fields(FeedbackCollector) if f.name == "start").default_factory()
    settings["observed_from"] = first_day
    settings["observed_until"] = first_day + pd.DateOffset(months=settings["months"], days=-1)
    return settings


def retention_replicates(
    posterior: xr.Dataset | xr.DataTree,
    world: World,
    draws: int,
    seed: int,
    *,
    customers: int,
    months: int,
    longest: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> xr.DataArray:
    """Kaplan-Meier curves of data replayed from ``draws`` posterior draws.

    Draw ``i`` (spread evenly over chains and draws) replaces alpha and beta of the world's
    parameters and is simulated with seed ``SeedSequence(seed).generate_state(draws)[i]``.
    The installed base starts from the world's tenure mix, as in the data replayed; a
    posterior's ``base_tenure`` (the mix at the fitted table's end, for runs that start
    there) is not used.

    Parameters
    ----------
    posterior
        The ``posterior`` group (or the whole DataTree) of a fitted churn model.
    customers, months
        Size of each replay: those of the data checked (:func:`demo_settings`).
    longest
        The longest tenure (months of service) the curves cover; None: as long as each
        replay's (a replay that stops short is NaN beyond its last month). The installed
        base's tenures reach decades, where few customers are at risk and the curves are
        coarse.
    workers
        Processes running the replays (each replay is one run of the engine).
    progress
        Called with the number of replays done.

    Returns
    -------
    xarray.DataArray
        Retention, dims (``draw``, ``month``); ``draw`` is the flat index of the draw used.
    """
    if isinstance(posterior, xr.DataTree):
        posterior = posterior["posterior"].to_dataset()
    posterior = posterior.drop_vars("base_tenure", errors="ignore")
    sets = list(parameter_sets(posterior, from_world(world), draws))
    seeds = np.random.SeedSequence(seed).generate_state(len(sets)).tolist()
    if workers < 1:
        raise ValueError(f"workers is {workers}, expected at least 1")
    jobs = {i: (p, customers, months, s) for i, (p, s) in enumerate(zip(sets, seeds, strict=True))}
    executor = "serial" if workers == 1 else "processes"
    found = {}
    for i, curve in execute(replay_retention, jobs, executor, workers):
        curve = curve.drop_vars(["at_risk", "churned", "standard_error"])
        found[i] = curve if longest is None else curve.sel(month=slice(1, longest))
        if progress:
            progress(len(found))
    curves = [found[i] for i in sorted(found)]
    labels = sample_indices(posterior, draws)
    return xr.concat(curves, dim="draw", join="outer").assign_coords(draw=labels)


def retention_band(
    posterior: xr.Dataset | xr.DataTree,
    world: World,
    draws: int,
    seed: int,
    *,
    customers: int,
    months: int,
    longest: int | None = None,
    quantiles: Sequence[float] = BAND,
    workers: int = 1,
) -> xr.DataArray:
    """Quantiles of the replayed retention curves per month: dims (``month``, ``quantile``).

    The arguments are those of :func:`retention_replicates`; ``quantiles`` default to 5% and
    95% (a 90% band), interpolated linearly between the ordered replays.
    """
    curves = retention_replicates(
        posterior,
        world,
        draws,
        seed,
        customers=customers,
        months=months,
        longest=longest,
        workers=workers,
    )
    return curves.quantile(list(quantiles), dim="draw").transpose("month", "quantile")


def share_inside(observed: xr.DataArray, band: xr.DataArray) -> float:
    """Share of the months both cover in which ``low <= observed <= high`` (band's extremes)."""
    observed, band = xr.align(observed.reset_coords(drop=True), band)
    low, high = band.min("quantile"), band.max("quantile")
    return float(((low <= observed) & (observed <= high)).mean())
