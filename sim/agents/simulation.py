"""A run of the agent engine: the calendar that sets the months going, and the results.

The installed base is there when the run begins. Each month: the parameters change if a
change is due; the month's prospects arrive (Poisson, plus those referred by last month's
advocates) and walk their journeys; the month starts (desks restaffed if a change says so)
and every customer in service has its contacts, its calls to staffed touchpoints at their own
times in the month; the month passes; on the bill day every customer decides whether to
leave; the month ends and the prospects who purchased join; the books close. After the last
month every customer still in service is valued beyond the run, and a month after the run is
valued from the journey's absorbing chain, as in the compiled engine
(:func:`sim.engine.population.in_service`, :func:`sim.engine.simulation.after_the_run`);
calls still under way are let finish, for the desks' metrics.

The same arguments as :func:`sim.engine.simulation.simulate` give the same Dataset.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from sim.agents.company import Company
from sim.agents.crews import Crews, appointment_metrics
from sim.agents.customer import Customer
from sim.agents.desk import Desk
from sim.agents.prospect import Prospect
from sim.agents.rules import Rules
from sim.engine.desks import queue_metrics
from sim.engine.population import base_tenure, in_service
from sim.engine.results import Recorder
from sim.engine.simulation import BASE, NEW, REFERRED, after_the_run, apportion, check_changes
from sim.engine.streams import Streams, customer_ids
from sim.inputs.parameters import Parameters
from sim.inputs.units import MONTH


def simulate(
    params: Parameters,
    *,
    customers: int,
    months: int,
    seed: int,
    changes: Sequence[tuple[int, Parameters]] = (),
    progress: Callable[[int], None] | None = None,
) -> xr.Dataset:
    """Simulate ``months`` months of a world with agents and return the labelled results;
    the arguments are those of :func:`sim.engine.simulation.simulate` (no observer)."""
    simulation = Simulation(params, customers, months, seed, changes)
    simulation.play(progress)
    return simulation.results()


class Simulation:
    """One run of the agent engine: the company, its calendar and the recorder.

    The arguments are those of :func:`simulate`.
    """

    def __init__(
        self,
        params: Parameters,
        customers: int,
        months: int,
        seed: int,
        changes: Sequence[tuple[int, Parameters]] = (),
    ):
        if customers < 0 or months < 1:
            raise ValueError(f"need customers >= 0 and months >= 1, got {customers}, {months}")
        self.months, self.changes = months, check_changes(params, changes)
        self.streams = Streams(seed)
        self.recorder = Recorder(params, months)
        self.company = Company(params, self.streams, self.recorder)
        base = params.customers.sum()
        self.fraction = customers / base if base > 0 else 1.0
        if self.fraction > 0:
            self.company.desks = {
                k: Desk(
                    self.company.env,
                    settings,
                    time_scale=1 / self.fraction,
                    segments=params.segments,
                    until=months * MONTH,
                )
                for k, settings in sorted(params.queues.items())
            }
            self.company.crews = {
                k: Crews(settings, self.fraction)
                for k, settings in sorted(params.appointments.items())
            }
        self.base = apportion(customers, params.customers)
        self.attrs = {
            "seed": seed,
            "customers": customers,
            "months": months,
            "scale": 1.0 / self.fraction if self.fraction > 0 else 1.0,
        }

    @property
    def params(self) -> Parameters:
        """The parameters in force."""
        return self.company.rules.params

    def play(self, progress: Callable[[int], None] | None = None) -> None:
        """Run every month; ``progress`` is called with the months done after each.

        Python's cycle collector is paused during the run: every customer is an object, a
        generator and a few lists, freed by reference counting when it leaves (none of them
        is held in a cycle after its month), and the collector would otherwise walk all the
        customers in service again and again (a run of 50,000 customers over 24 months
        spent 43% of its time so: 29.9 CPU-seconds against 16.9).
        """
        env = self.company.env
        collecting = gc.isenabled()
        gc.disable()  # see the note below
        try:
            env.run(until=env.process(self.calendar(progress)))
        finally:
            if collecting:
                gc.enable()

    def results(self) -> xr.Dataset:
        """The recorded results with derived rates, and the queues' metrics if any."""
        results = self.recorder.dataset(**self.attrs)
        desks = self.company.desks
        if desks:
            self.company.env.run()  # let contacts still waiting finish, for their metrics
            names = [self.params.touchpoints[k] for k in desks]
            logs = [desk.close() for desk in desks.values()]
            results = results.merge(queue_metrics(names, logs, self.months))
        if self.company.crews:
            names = [self.params.touchpoints[k] for k in self.company.crews]
            crews = list(self.company.crews.values())
            results = results.merge(appointment_metrics(names, crews, self.months))
        return results

    def calendar(self, progress: Callable[[int], None] | None = None):
        """The months of the run, in the order the story tells them (module notes)."""
        company, env = self.company, self.company.env
        self.open_with_installed_base()
        advocates = np.zeros(len(self.base), np.int64)
        for month in range(self.months):
            if month in self.changes:
                self.use(self.changes[month])
            company.bill_day, company.month_ends = env.event(), env.event()
            self.prospects_arrive(month, advocates)
            company.month_starts.succeed(month)  # customers have their contacts
            yield env.timeout(MONTH)
            company.month_starts = env.event()  # the survivors will wait for the next month
            company.bill_day.succeed(month)
            yield company.bill_day  # every customer has paid and decided
            company.month_ends.succeed(month)
            yield company.month_ends  # purchasers have joined
            advocates = company.books.close(month)
            if progress:
                progress(month + 1)
        self.recorder.in_service(self.in_service())
        self.recorder.after_the_run(*after_the_run(self.params, self.fraction, advocates))

    def open_with_installed_base(self) -> None:
        """The installed base: each customer with the tenure it has, drawn from its
        segment's mix (:func:`sim.engine.population.base_tenure`), and its onboarding's views."""
        mix = self.params.base_tenure
        touchpoints = len(self.params.touchpoints)
        for s, n in enumerate(self.base):
            ids = customer_ids(s, 0, BASE, np.arange(n))
            tenure = base_tenure(self.streams, ids, None if mix is None else mix[s])
            for id, joined_with in zip(ids.tolist(), tenure.tolist(), strict=True):
                views = [float("nan")] * touchpoints
                Customer(self.company, s, 0, id, views, joined_with, charged=False)
            self.company.books.installed_base(s, int(n))

    def prospects_arrive(self, month: int, advocates: np.ndarray) -> None:
        """The month's prospects of every segment: arrivals, then referrals of advocates."""
        p = self.params
        for s in range(len(p.segments)):
            new = self.streams.generator("arrivals", s, month).poisson(
                p.prospects[s] * self.fraction
            )
            referred = self.streams.generator("referrals", s, month).poisson(
                p.referral_rate[s] * advocates[s]
            )
            for source, count in ((NEW, new), (REFERRED, referred)):
                for id in customer_ids(s, month, source, np.arange(count)).tolist():
                    Prospect(self.company, s, month, id)

    def use(self, params: Parameters) -> None:
        """Run on with another parameter set."""
        self.company.rules = Rules(params)
        self.recorder.params = params
        for k, desk in self.company.desks.items():
            desk.restaff(params.queues[k])
        for k, crews in self.company.crews.items():
            crews.restaff(params.appointments[k])

    def in_service(self):
        """The customers still in service at the run's end, in the order they joined, with
        their value after the run."""
        customers = sorted(self.company.customers.values(), key=lambda c: (c.cohort, c.id))
        K = len(self.params.touchpoints)
        return in_service(
            self.params,
            self.months,
            np.array([c.segment for c in customers], np.int64),
            np.array([c.cohort for c in customers], np.int64),
            np.array([c.tenure for c in customers], np.int64),
            np.array([np.nan if c.own is None else c.own for c in customers], float),
            np.array([c.views for c in customers], float).reshape(-1, K),
        )
