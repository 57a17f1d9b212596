"""A staffed touchpoint: a call centre, a repair desk, whose agents are a SimPy resource.

A customer's contact asks for one of the desk's agents and waits, first come first served,
until one picks up or its patience runs out (:meth:`Desk.serve`). With ``priority`` the
segments listed are served first, in order (non-preemptive: an agent busy with a contact
finishes it; first come first served within a class): the agents are a SimPy
``PriorityResource``, a contact's request carrying its class (Cobham 1954).
The desk knows how long an agent takes with a contact (its handling time), how often a
contact is resolved, whether a caller who hung up or was not helped calls back and after how
long, and it keeps the record of every contact from which its metrics are read
(:class:`sim.engine.desk.DeskLog`, the compiled engine's).

The simulated customers are a fraction f of the company's, so the desk runs on a clock
slowed by 1/f (``time_scale``): every duration (handling, patience, the delay before calling
back) is multiplied by it, and recorded waits divided by it; with its real number of agents
the desk then has the real desk's waits (:class:`sim.engine.desk.QueueDesk`).

That holds for a desk whose load and staff are the same at every hour. A desk with a
``profile`` (contacts come more on Monday mornings than at night) or ``shifts`` (fewer agents
at night) runs on the company's clock instead, since its hours must stay hours, and the
customers not simulated call it too: each simulated contact brings Poisson(1/f - 1) others
of its segment (:meth:`Desk.others`), who arrive by the same profile, wait, are served and call
back like it, and leave no experience; they take agents' time (occupancy counts them), and
the desk's other metrics are the simulated contacts', a random sample of the real desk's.
A contact's time in the week follows the profile: the inverse of the month's cumulative
weight, hour by hour (:func:`time_in_month`). The roster of ``shifts`` restaffs the desk
whenever it changes (:meth:`Desk.keep_roster`), through :class:`Staff`.

Every number a contact draws is at the compiled engine's address of the contact's own stream
(:mod:`sim.engine.desks`, :mod:`sim.engine.fcfs`): its time in the month at part
``ARRIVAL`` of attempt 0, then for each attempt a its patience, handling time, resolution,
call-back decision and rating at parts ``PATIENCE``, ``HANDLING``, ``RESOLUTION``, ``RETRY``
and ``RATING`` of attempt a; the number of others it brings at part ``OTHERS`` of attempt 0,
and the j-th other's stream is its child at ``address(1, 0, 0, j)``.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort_right
from collections.abc import Callable, Sequence

import numpy as np
import simpy
from scipy.stats import poisson

from sim.agents.draws import address, child, uniform
from sim.engine.desk import OTHER, DeskLog, handling_times
from sim.engine.desks import ARRIVAL
from sim.engine.fcfs import (
    ABANDONED,
    HANDLING,
    PATIENCE,
    RECORD,
    RESOLUTION,
    RESOLVED,
    RETRY,
    UNRESOLVED,
)
from sim.inputs.queues import QueueSettings
from sim.inputs.units import HOUR, MONTH, WEEK

OTHERS = 6
"""Part of a contact's stream (attempt 0) that draws how many others it brings."""


class Waiting(list):
    """The callers waiting for an agent, by class then in the order they came: a request is
    put after every request of its class or a better one (SimPy's ``SortedQueue`` sorts
    the whole queue at each arrival)."""

    def append(self, request: simpy.resources.resource.PriorityRequest) -> None:
        insort_right(self, request, key=_key)


def _key(request: simpy.resources.resource.PriorityRequest) -> tuple:
    return request.key


class Staff(simpy.PriorityResource):
    """The agents on duty at a desk: a SimPy resource whose number can change, serving the
    waiting contacts by class (lower first), then in the order they came.

    More agents take waiting callers at once. Fewer: idle agents leave at once, and if too
    few are idle, the busy agents who finish first leave when they finish
    (:meth:`sim.engine.desk.QueueDesk.restaff`). Every arrival and departure of agents goes
    into ``duty``, the desk log's staffing history.
    """

    PutQueue = Waiting

    def __init__(self, env: simpy.Environment, agents: int, duty: list[tuple[float, int]]):
        super().__init__(env, max(agents, 1))  # SimPy wants one at least; ``capacity`` rules
        self.on_duty, self.duty = agents, duty
        self.ends: dict[simpy.Event, float] = {}
        """When each agent now serving a caller finishes, by the caller's request."""
        self.leaving: set[simpy.Event] = set()
        """The requests whose agent leaves when it finishes."""

    @property
    def capacity(self) -> int:
        """Agents at work: those on duty, and those who will leave once they finish."""
        return self.on_duty + len(self.leaving)

    def busy_until(self, request: simpy.Event, end: float) -> None:
        """The agent who took ``request`` is busy until ``end``."""
        self.ends[request] = end

    def release(self, request: simpy.Event) -> simpy.Event:
        """The agent of ``request`` is done: it takes the next caller, or leaves."""
        self.ends.pop(request, None)
        if request in self.leaving:
            self.leaving.discard(request)
            self.duty.append((self._env.now, -1))
        return super().release(request)

    def restaff(self, agents: int) -> None:
        """``agents`` on duty from now on."""
        now, change = self._env.now, agents - self.on_duty
        if change > 0:
            self.on_duty = agents
            self.duty.append((now, change))
            while self.put_queue and len(self.users) < self.capacity:
                self._trigger_put(None)
        elif change < 0:
            busy = sorted(
                (r for r in self.users if r not in self.leaving),
                key=lambda r: self.ends.get(r, now),
            )
            idle = min(-change, self.on_duty - len(busy))
            self.duty.extend([(now, -1)] * idle)
            self.leaving.update(busy[: -change - idle])
            self.on_duty = agents


class Desk:
    """One staffed touchpoint of a run.

    Parameters
    ----------
    env
        The run's clock.
    settings
        The touchpoint's queue settings at the run's start.
    time_scale
        1 / the simulated fraction of the company's customers.
    segments
        The world's segments, in order (the ids ``priority`` names).
    until
        The run's end: the roster stops there once no contact is left (its last staffing
        serves those still waiting).
    """

    def __init__(
        self,
        env: simpy.Environment,
        settings: QueueSettings,
        time_scale: float,
        segments: Sequence[str] = (),
        until: float = math.inf,
    ):
        self.env, self.segments = env, list(segments)
        timed = settings.profile is not None or settings.shifts is not None
        self.time_scale = 1.0 if timed else time_scale
        self.other_callers = time_scale - 1.0 if timed else 0.0
        """Contacts of customers not simulated, on average, with each simulated one."""
        self.settings = settings
        self.log = DeskLog(settings, self.time_scale)
        self.roster = settings.roster()
        self.log.duty[0] = (0.0, self.roster[0][1])
        self.agents = Staff(env, self.roster[0][1], self.log.duty)
        self.records: list[tuple[int, int, float, float, float, int]] = []
        self.classes: list[int] = []
        """The class of each contact offered (0 served first), by its number."""
        self.offered = 0
        """Contacts offered so far (each numbered by its place, as in the records)."""
        self.calling = 0
        """Contacts (simulated or others) under way: to come, waiting, served or to call back."""
        self.rank = self._ranks(settings)
        self.hours: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        """The profile's pieces of the month (:func:`month_hours`), the latest month's."""
        if settings.shifts is not None:
            env.process(self.keep_roster(until))

    def _ranks(self, settings: QueueSettings) -> list[int]:
        """The class of each segment: its place in ``priority``, the unlisted ones last."""
        order = settings.priority or []
        return [order.index(s) if s in order else len(order) for s in self.segments]

    def restaff(self, settings: QueueSettings) -> None:
        """Serve with ``settings`` from now on (a scenario that changes from a month on)."""
        self.settings = self.log.settings = settings
        self.rank = self._ranks(settings)
        self.roster = settings.roster()
        self.agents.restaff(self.on_duty(self.env.now))

    def on_duty(self, time: float) -> int:
        """Agents on duty at ``time`` by the roster (the run starts on a Monday at 00:00)."""
        minute = time % WEEK
        return self.roster[bisect_right([t for t, _ in self.roster], minute) - 1][1]

    def keep_roster(self, until: float):
        """Restaff as the shifts come and go, week after week, until the run's end and the
        last contact's."""
        week = 0
        while self.env.now < until or self.calling:
            for minute, _ in self.roster:
                at = week * WEEK + minute
                if at > self.env.now:
                    yield self.env.timeout(at - self.env.now)
                self.agents.restaff(self.on_duty(self.env.now))
            week += 1

    def arrival(self, contact: int, month: int) -> float:
        """When in the month a contact comes: uniformly, or by the profile."""
        u = uniform(contact, address(0, 0, 0, ARRIVAL))
        if self.settings.profile is None:
            return (month + u) * MONTH
        if month not in self.hours:
            self.hours = {month: month_hours(self.settings.profile.weights(), month)}
        return time_in_month(self.hours[month], u)

    def patience(self, contact: int, attempt: int, settings: QueueSettings) -> float:
        """How long a caller waits for an agent before hanging up (``inf``: for ever):
        exponential by inversion, with the settings' mean patience on the desk's clock."""
        theta = settings.theta
        if theta is None:
            return math.inf
        u = uniform(contact, address(0, 0, attempt, PATIENCE))
        return -math.log1p(-u) * (self.time_scale / theta)  # sim.engine.fcfs.draw_patience

    def handling(self, contact: int, attempt: int, settings: QueueSettings) -> float:
        """How long the agent takes with this attempt of a contact."""
        u = uniform(contact, address(0, 0, attempt, HANDLING))
        return float(handling_times(settings.handling, np.array([u]))[0] * self.time_scale)

    def serve(
        self,
        contact: int,
        number: int,
        rank: int,
        experience: Callable[[int, float, int], None] | None = None,
    ):
        """A contact from its arrival (now) on: ask for an agent and wait, until one picks up
        or patience runs out; an agent who picks up resolves it or not; a caller who hung up
        or was not helped may call back later. ``experience(attempt, wait, outcome)`` hears
        of each attempt when it ends. What happens follows the desk's settings at the moment
        the agent picks up or the caller hangs up (a restaffed desk's new handling,
        resolution and call-backs from the month it changes)."""
        env = self.env
        patience = self.patience(contact, 0, self.settings)
        attempt = 0
        while True:
            arrival = env.now
            with self.agents.request(priority=rank) as agent:
                if agent.triggered or patience == math.inf:  # an agent is free, or no hurry
                    yield agent
                else:  # wait for an agent, or until patience runs out
                    yield agent | env.timeout(patience)
                start, settings = env.now, self.settings  # the settings of this moment
                if agent.triggered:  # an agent picked up
                    handling = self.handling(contact, attempt, settings)
                    self.agents.busy_until(agent, start + handling)
                    yield env.timeout(handling)
                    resolved = uniform(contact, address(0, 0, attempt, RESOLUTION))
                    outcome = RESOLVED if resolved < settings.resolution else UNRESOLVED
                else:
                    outcome = ABANDONED
            self.record(number, attempt, arrival, start, env.now, outcome)
            if experience is not None:
                experience(attempt, (start - arrival) / self.time_scale, outcome)
            retry = settings.retry
            chance = retry.after_abandon if outcome == ABANDONED else retry.after_unresolved
            calls_back = uniform(contact, address(0, 0, attempt, RETRY)) < chance
            if outcome == RESOLVED or attempt + 1 >= retry.max_attempts or not calls_back:
                self.calling -= 1
                return
            attempt += 1
            patience = self.patience(contact, attempt, settings)
            yield env.timeout(retry.delay * self.time_scale)

    def others(self, contact: int, month: int, rank: int) -> None:
        """The contacts that customers not simulated make beside ``contact`` (module notes):
        Poisson(1/f - 1) of them, each a contact of its own stream, at its own time."""
        if self.other_callers <= 0:
            return
        u = uniform(contact, address(0, 0, 0, OTHERS))
        for j in range(poisson_quantile(u, self.other_callers)):
            self.calling += 1
            self.env.process(self.other(child(contact, address(1, 0, 0, j)), month, rank))

    def other(self, contact: int, month: int, rank: int):
        """One contact of a customer not simulated: it comes, and is served like any."""
        yield self.env.timeout(self.arrival(contact, month) - self.env.now)
        yield from self.serve(contact, OTHER, rank)

    def record(
        self, contact: int, attempt: int, arrival: float, start: float, end: float, outcome: int
    ) -> None:
        """An attempt with its outcome: arrived, answered or hung up, done."""
        self.records.append((contact, attempt, arrival, start, end, outcome))

    def close(self) -> DeskLog:
        """The desk's log, every record in it."""
        self.log.add(np.array(self.records, RECORD))
        self.records = []
        return self.log


def month_hours(weights: Sequence[float], month: int) -> tuple[np.ndarray, np.ndarray]:
    """The pieces of ``month`` between the turns of the hour: their edges (minutes since the
    run began, the month's end last) and their cumulative weights from 0, each piece
    weighing its hour of the week's weight (``weights``, Monday 00:00-01:00 first; the run
    starts on a Monday at 00:00) times its length."""
    start, end = month * MONTH, (month + 1) * MONTH
    turns = np.arange(math.floor(start / HOUR) + 1, math.ceil(end / HOUR)) * HOUR
    edges = np.concatenate([[start], turns, [end]])
    hour = (np.floor(edges[:-1] / HOUR).astype(np.int64)) % len(weights)
    mass = np.asarray(weights, float)[hour] * np.diff(edges)
    return edges, np.concatenate([[0.0], np.cumsum(mass)])


def time_in_month(hours: tuple[np.ndarray, np.ndarray], u: float) -> float:
    """The time at which a contact with uniform ``u`` comes in a month of ``hours``
    (:func:`month_hours`): the inverse of the month's cumulative weight, linear within a
    piece (a piece of weight 0 is never chosen)."""
    edges, cumulative = hours
    target = u * cumulative[-1]
    i = min(int(np.searchsorted(cumulative, target, side="right")) - 1, len(edges) - 2)
    share = (target - cumulative[i]) / (cumulative[i + 1] - cumulative[i])
    return float(min(edges[i] + share * (edges[i + 1] - edges[i]), math.nextafter(edges[-1], 0)))


def poisson_quantile(u: float, mean: float) -> int:
    """The Poisson(``mean``) count at uniform ``u``: the smallest n with P(N <= n) > u, by
    summing the probabilities (scipy's quantile beyond a mean of 500, where exp(-mean)
    would underflow)."""
    if mean > 500:
        return max(0, int(poisson.ppf(u, mean)))
    n, p = 0, math.exp(-mean)
    total = p
    while total <= u and p > 0:
        n += 1
        p *= mean / n
        total += p
    return n
