"""The compiled engine: the month-stepped twin of the agents of :mod:`sim.agents`.

The agent engine tells the story one prospect, customer and call at a time, each a SimPy
process; this engine does the same for all of them at once, a month at a time, in compiled
loops over arrays, and must give the same results from the same parameters and seed
(tests/sim/agents). Only the queued touchpoints' contacts run in continuous time here.

The clock is in minutes (:mod:`sim.inputs.units`). Each month: the month's prospects arrive
(Poisson, plus referrals from last month's advocates) and walk their journeys; every
customer in service has the month's contacts, instant ones at once and queued ones at their
own times during the month, waiting for agents (:mod:`sim.engine.desks`); at the month's end the
customers may churn; those who purchased start service next month. After the last month,
every customer still in service (those who purchased in it included) is valued beyond the
run (:meth:`sim.engine.population.Population.in_service`).

The simulated population is a sample: ``customers`` of the world's installed base, and the
world's prospect arrivals scaled by the same fraction. The result's ``scale`` attribute
converts totals back to the whole company.

The installed base joins as cohort 0, each customer with the months of service it had
completed before the run, drawn from its segment's mix (``Parameters.base_tenure``,
:func:`sim.engine.population.base_tenure`): its churn hazard's tenure band, an sBG
customer's own churn probability and its value after the run follow its true tenure. The
results still count the base from the run's start: for cohort 0 their ``tenure`` is months
since the run began (:mod:`sim.engine.results`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import simpy
import xarray as xr

from sim.engine.desks import Desks
from sim.engine.journey import Prospects, walk
from sim.engine.population import Month, Population, base_tenure
from sim.engine.results import Recorder
from sim.engine.streams import Streams, customer_ids
from sim.formulas.chains import absorb, effective_transitions
from sim.inputs.appointments import CREWS
from sim.inputs.parameters import Parameters
from sim.inputs.queues import AGENTS_ONLY
from sim.inputs.units import MONTH
from sim.inputs.world import LOYALTY_CLASSES

BASE, NEW, REFERRED = 0, 1, 2
"""Where a customer came from: the installed base, a prospect, a referral."""
ADVOCATE = LOYALTY_CLASSES.index("advocate")


def simulate(
    params: Parameters,
    *,
    customers: int,
    months: int,
    seed: int,
    changes: Sequence[tuple[int, Parameters]] = (),
    progress: Callable[[int], None] | None = None,
    observer: Observer | None = None,
) -> xr.Dataset:
    """Simulate ``months`` months of a world and return the labelled results.

    Parameters
    ----------
    params
        One complete parameter set (the world's defaults, or one posterior draw).
    customers
        Customers of the installed base to simulate; prospects are scaled alike.
    months
        Length of the run.
    seed
        Seed of every random stream; the same seed gives identical results.
    changes
        ``(month, parameters)`` pairs: from the start of that month (1 or later) the run uses
        those parameters (a scenario that starts later; a market shock). Each set has the
        segments, touchpoints and queued touchpoints of ``params``.
    progress
        Called with the number of months done after each month.
    observer
        Told of every customer who joins, every month served and every journey walked
        (to write what a company would observe: :mod:`sim.engine.feedback`).
    """
    simulation = Simulation(params, customers, months, seed, observer, changes)
    simulation.play(progress)
    return simulation.results()


class Observer(Protocol):
    """What an observer of a run is told; the arrays are the engine's, not to be changed."""

    def joined(self, segment: int, cohort: int, ids: np.ndarray, tenure: np.ndarray) -> None:
        """Customers ``ids`` of ``segment`` start service in month ``cohort``, having completed
        ``tenure`` months of service before it (the installed base; 0 for the acquired)."""

    def served(self, month: int, served: Month) -> None: ...

    def walked(self, segment: int, month: int, prospects: Prospects) -> None: ...

    # Optional: ``experienced(month, ids, touchpoints, ratings)``, told of every experience of
    # a customer (Population.experienced), if the observer has it.


class Simulation:
    """One run: the environment, the customers and the recorder.

    :func:`simulate` is ``play`` then ``results``; a caller that needs only some counts can
    read them from ``recorder`` after ``play`` (:func:`scenarios.runner.simulate_piece`).
    The arguments are those of :func:`simulate`.
    """

    def __init__(
        self,
        params: Parameters,
        customers: int,
        months: int,
        seed: int,
        observer: Observer | None = None,
        changes: Sequence[tuple[int, Parameters]] = (),
    ):
        if customers < 0 or months < 1:
            raise ValueError(f"need customers >= 0 and months >= 1, got {customers}, {months}")
        self.params, self.months, self.observer = params, months, observer
        self.changes = check_changes(params, changes)
        for k in params.appointments:
            raise ValueError(f"{params.touchpoints[k]}: {CREWS}, expected --engine agents")
        for k, settings in params.queues.items():
            for name in settings.agents_only:
                raise ValueError(
                    f"{params.touchpoints[k]}: the agent engine alone serves "
                    f"{AGENTS_ONLY[name]}, expected --engine agents"
                )
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        base = params.customers.sum()
        self.fraction = customers / base if base > 0 else 1.0
        self.desks = (
            Desks(params, self.streams, time_scale=1 / self.fraction)
            if params.queues and self.fraction > 0
            else None
        )
        self.population = Population(params, self.streams, self.desks)
        self.population.experienced = getattr(observer, "experienced", None)
        self.recorder = Recorder(params, months)
        self.base = apportion(customers, params.customers)
        self.attrs = {
            "seed": seed,
            "customers": customers,
            "months": months,
            "scale": 1.0 / self.fraction if self.fraction > 0 else 1.0,
        }

    def play(self, progress: Callable[[int], None] | None = None) -> None:
        """Run every month; ``progress`` is called with the months done after each."""
        calendar = self.env.process(self._calendar(progress))
        self.env.run(until=calendar)

    def results(self) -> xr.Dataset:
        """The recorded results with derived rates, and the queues' metrics if any."""
        results = self.recorder.dataset(**self.attrs)
        if self.desks is not None:
            self.desks.drain()  # let contacts still in the queues finish, for their metrics
            results = results.merge(self.desks.metrics(self.months))
        return results

    def _calendar(self, progress: Callable[[int], None] | None):
        mix = self.params.base_tenure
        for s, n in enumerate(self.base):
            ids = customer_ids(s, 0, BASE, np.arange(n))
            tenure = base_tenure(self.streams, ids, None if mix is None else mix[s])
            self._join(s, month=0, cohort=0, ids=ids, views=None, charged=False, tenure=tenure)
        advocates = np.zeros(len(self.params.segments))
        for month in range(self.months):
            if month in self.changes:
                self._use(self.changes[month], month)
            journeys = [self._prospects(s, month, advocates[s]) for s in range(len(advocates))]
            self.population.open_month(month)
            yield self.env.timeout(MONTH)  # queued contacts happen during the month
            served = self.population.close_month(month, views=self.observer is not None)
            self.recorder.service(month, served)
            if self.observer:
                self.observer.served(month, served)
            is_advocate = ~served.churned & (served.loyalty == ADVOCATE)
            advocates = np.bincount(served.segment, is_advocate, len(advocates))
            for s, prospects in enumerate(journeys):
                purchased = prospects.purchased
                self._join(
                    s, month, month + 1, prospects.ids[purchased], prospects.views[purchased]
                )
            if progress:
                progress(month + 1)
        self.recorder.in_service(self.population.in_service(self.months))
        self.recorder.after_the_run(*self.after_the_run(advocates))

    def after_the_run(self, advocates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A month after the run, per segment (:func:`after_the_run`), with the parameters in
        force at its end and last month's ``advocates``."""
        return after_the_run(self.params, self.fraction, advocates)

    def _use(self, params: Parameters, month: int) -> None:
        """Run on with another parameter set from the start of ``month``."""
        self.params = self.population.params = self.recorder.params = params
        self.population.use(params)
        if self.desks is not None:
            self.desks.use(params, month)

    def _prospects(self, segment: int, month: int, advocates: float):
        """This month's prospects of a segment, after their journeys."""
        p = self.params
        new = self.streams.generator("arrivals", segment, month).poisson(
            p.prospects[segment] * self.fraction
        )
        referred = self.streams.generator("referrals", segment, month).poisson(
            p.referral_rate[segment] * advocates
        )
        ids = np.concatenate(
            [
                customer_ids(segment, month, NEW, np.arange(new)),
                customer_ids(segment, month, REFERRED, np.arange(referred)),
            ]
        )
        prospects = walk(p, segment, ids, self.streams)
        if self.observer:
            self.observer.walked(segment, month, prospects)
        self.recorder.prospects(segment, month, prospects.visits, int(prospects.purchased.sum()))
        return prospects

    def _join(
        self,
        segment: int,
        month: int,
        cohort: int,
        ids: np.ndarray,
        views: np.ndarray | None,
        charged: bool = True,
        tenure: np.ndarray | None = None,
    ) -> None:
        if views is None:
            views = np.full((len(ids), len(self.params.touchpoints)), np.nan)
        if tenure is None:
            tenure = np.zeros(len(ids), np.int64)
        contacts = self.population.join(segment, cohort, ids, views, tenure)
        if self.observer:
            self.observer.joined(segment, cohort, ids, tenure)
        self.recorder.onboarding(segment, month, cohort, len(ids), contacts if charged else None)


def after_the_run(
    params: Parameters, fraction: float, advocates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A month after the run, per segment: the customers it is expected to acquire and their
    acquisition spend. Its prospects are the sample's arrivals (``fraction`` of the world's)
    and the referrals of the last month's ``advocates``; each converts with the exact
    probability of the journey's absorbing chain and meets each touchpoint its expected
    number of times (:func:`sim.formulas.chains.absorb`), so no simulation noise enters what
    every month after the run is worth."""
    p = params
    chains = effective_transitions(p)
    acquired, spend = np.zeros(len(p.segments)), np.zeros(len(p.segments))
    for s in range(len(p.segments)):
        prospects = p.prospects[s] * fraction + p.referral_rate[s] * advocates[s]
        conversion, visits = absorb(p.start[s], chains[s])
        acquired[s] = prospects * conversion
        spend[s] = prospects * (visits @ p.cost_per_contact) + acquired[s] * p.acquisition_cost[s]
    return acquired, spend


BASE_MEMORY = 350 * 2**20
"""Bytes a run takes before its first customer: Python, numpy, numba, xarray and pandas."""


def memory_needed(params: Parameters, customers: int, months: int) -> int:
    """An upper estimate of the bytes a run of ``customers`` over ``months`` takes at its
    peak, so that a run that would not fit is refused before it starts.

    Customers ever in service: the base and, each month, the prospects the journeys convert
    (exact from the absorbing chain); customer-months: as if nobody left. Per customer ever
    about 1,000 bytes (views, streams, the growing arrays' spare room), per queued contact
    (the queued touchpoints' monthly rates times customer-months, times 1.5 for retries) 100
    bytes of records, per customer-month 4 bytes; 1.5 times that, beyond :data:`BASE_MEMORY`.
    Measured on the demo (peak resident memory of ``ctm simulate``): 20,000 x 24 months 0.32
    GiB (estimated 0.43), 100,000 x 24 0.42 (0.78), 100,000 x 120 0.85 (2.7), 300,000 x 60
    1.16 (3.4): an upper bound, within 3.5 times (tests/sim/test_memory.py)."""
    fraction = customers / params.customers.sum() if params.customers.sum() > 0 else 1.0
    chains = effective_transitions(params)
    acquired = sum(
        params.prospects[s] * fraction * absorb(params.start[s], chains[s])[0]
        for s in range(len(params.segments))
    )
    ever = customers + months * acquired
    customer_months = months * customers + acquired * months**2 / 2
    queued = sum(params.contacts[:, k].max(initial=0) for k in params.queues)
    contacts = 1.5 * queued * customer_months
    total = 1_000 * ever + 100 * contacts + 4 * customer_months
    return int(BASE_MEMORY + 1.5 * total)


def check_changes(
    params: Parameters, changes: Sequence[tuple[int, Parameters]]
) -> dict[int, Parameters]:
    """The changes by month, checked against the run's first parameter set."""
    by_month = {}
    for month, changed in changes:
        if month < 1 or month in by_month:
            raise ValueError(f"a change at month {month}: expected distinct months of 1 or more")
        same = (changed.segments, changed.touchpoints, sorted(changed.queues)) == (
            params.segments,
            params.touchpoints,
            sorted(params.queues),
        )
        if not same:
            raise ValueError(
                f"the parameters of month {month} have other segments, "
                "touchpoints or queues than the run's"
            )
        by_month[month] = changed
    return by_month


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers in proportion to ``weights`` that add up to ``total`` (largest remainder)."""
    if weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    counts[np.argsort(counts - exact, kind="stable")[:remainder]] += 1
    return counts
