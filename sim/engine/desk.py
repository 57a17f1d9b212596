"""A queued touchpoint at work: a call centre, a store or a field-repair desk with limited staff.

A :class:`QueueDesk` serves contacts in continuous time. Contacts ask for one of ``agents``
agents (FCFS), hang up when their patience runs out first, else are handled and resolved with
the first-contact-resolution probability; abandoned and unresolved contacts may come back
later. Its settings are the world file's (:class:`sim.inputs.queues.QueueSettings`).
Each contact's patience, handling time, resolution and retry decision are inverse-CDF draws
from the counter-based stream of (customer key, attempt) (:mod:`sim.engine.streams`), so a
scenario with other staffing sees the same customers (common random numbers).

With Poisson arrivals, exponential handling and no retries the desk is the M/M/c (Erlang C)
queue, or M/M/c+M (Erlang A) with exponential patience; see :mod:`sim.formulas.erlang` and
:func:`sim.engine.isolated.simulate_isolated`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from sim.engine.fcfs import (
    ABANDONED,
    HANDLING,
    PATIENCE,
    PENDING,
    RECORD,
    UNRESOLVED,
    Contacts,
    Policy,
    advance,
    draw_patience,
)
from sim.engine.growing import Growing
from sim.engine.streams import Streams, pack
from sim.inputs.queues import Handling, QueueSettings

OTHER = -1
"""The contact number of a record of a contact no simulated customer made (the agent
engine's others at a desk on the company's clock, :meth:`sim.agents.desk.Desk.others`): it
takes agents' time (occupancy) and counts in no other metric."""
OUTCOMES = np.array(["resolved", "unresolved", "abandoned"])
"""Outcome names by the codes of :mod:`sim.engine.fcfs`."""


def handling_times(handling: Handling, u: np.ndarray) -> np.ndarray:
    """Handling times as inverse-CDF draws at u in [0, 1): exponential -m ln(1-u); lognormal
    exp(m' + s z(u)) with s^2 = ln(1 + sd^2/m^2), m' = ln m - s^2/2 (so the mean is m);
    fixed m."""
    u = np.asarray(u, dtype=float)
    m = handling.mean
    if handling.distribution == "exponential":
        return -m * np.log1p(-u)
    if handling.distribution == "fixed":
        return np.full(u.shape, m)
    s2 = math.log1p((handling.sd / m) ** 2)
    z = ndtri(np.maximum(u, 2**-53))  # u = 0 has probability 2^-53
    return np.exp(math.log(m) - s2 / 2 + math.sqrt(s2) * z)


def experience(rating, wait, outcome, settings: QueueSettings):
    """Rating 1..5 of a queued contact, scalar or elementwise on arrays.

    resolved: max(1, rating - floor(wait / wait_per_point)); unresolved: the same, capped at
    ``unresolved_max``; abandoned: ``abandoned``. A 1e-9 slack in the floor keeps waits of
    exactly k wait_per_point at k points despite rounding.
    """
    e = settings.experience
    lost = np.floor(np.asarray(wait, float) / e.wait_per_point + 1e-9).astype(int)
    kept = np.maximum(1, np.asarray(rating) - lost)
    outcome = np.asarray(outcome)
    capped = np.where(outcome == "unresolved", np.minimum(kept, e.unresolved_max), kept)
    r = np.where(outcome == "abandoned", e.abandoned, capped)
    return int(r) if r.ndim == 0 else r


@dataclass(frozen=True)
class DeskMetrics:
    """Contacts arriving in [start, end) (``offered``, attempts and repeats alike).

    p_wait = share of offered with wait > 0; p_abandon = abandoned/offered; service_level =
    share of offered answered within the target (None without a target); asa = mean wait of
    answered contacts; occupancy = busy agent-time in [start, end) / (agents (end - start));
    repeats = offered contacts that are a retry (attempt > 0).
    """

    offered: int
    answered: int
    abandoned: int
    unresolved: int
    p_wait: float
    p_abandon: float
    service_level: float | None
    asa: float
    occupancy: float
    repeats: int


class QueueDesk:
    """A queued touchpoint: ``agents`` agents serving contacts first come, first served.

    Contacts are offered with their arrival times (:meth:`offer`) and served in time order up
    to a given time (:meth:`advance`, compiled in :func:`sim.engine.fcfs.advance`): a contact takes
    the first agent free, or hangs up when its patience runs out first; an unresolved or
    abandoned contact may come back ``delay`` later. New settings apply from a given time
    (:meth:`restaff`): added agents take waiting contacts at once; removed agents leave when
    idle, or else as soon as they finish a contact.

    Each contact's patience, handling time, resolution and retry decision are inverse-CDF
    draws u = uniform(key, pack(attempt, part)) of its stream key (:mod:`sim.engine.streams`), so a
    scenario with other staffing sees the same customers (common random numbers). Patience
    is drawn when the contact arrives, the handling time when it is served.

    Parameters
    ----------
    settings : the touchpoint's queue settings.
    streams : source of the counter-based uniforms; contacts are keyed by a stream key of
        purpose "queue", e.g. ``streams.keys("queue", ids)``.
    retries : False switches repeat contacts off (isolated Erlang checks).
    time_scale : every duration (handling, patience, retry delay) is multiplied by this, and
        recorded waits are divided by it. A desk fed a sample of a fraction f of the real
        contacts with time_scale 1/f is the real desk with its clock slowed by 1/f: the
        M/M/c+M queue (lam f, mu f, theta f, c) has the same rho, x = c mu / theta and
        y = lam / theta, hence the same P(wait), P(abandon) and waits times 1/f.
    """

    def __init__(
        self,
        settings: QueueSettings,
        streams: Streams,
        retries: bool = True,
        time_scale: float = 1.0,
    ):
        self.settings, self.streams, self.retries = settings, streams, retries
        self.time_scale = time_scale
        self.now = 0.0  # contacts arriving before now are served
        self.free = np.zeros(settings.agents)  # each agent's free time
        self._keys = Growing((), np.uint64)  # per contact offered
        self.log = DeskLog(settings, time_scale)
        self._handling = Growing((settings.retry.max_attempts,))  # per contact, attempt
        self._pending = np.zeros(0, PENDING)  # arrivals not yet served
        self._sequence = 0

    def offer(self, keys: np.ndarray, times: np.ndarray) -> None:
        """Contacts (attempt 0) of the stream ``keys`` arriving at ``times`` (>= now)."""
        if len(times) and np.min(times) < self.now:
            raise ValueError(
                f"a contact arriving at {np.min(times)}, before the desk's time {self.now}"
            )
        first = len(self._keys)
        self._keys.extend(keys)
        self._handling.extend(self._handle(keys, self._handling.values.shape[1]))
        patience = draw_patience(
            self.streams.uniform(keys, pack(0, PATIENCE)), self._patience_scale
        )
        order = np.arange(len(keys))
        arrivals = np.zeros(len(keys), PENDING)  # attempt 0
        arrivals["time"], arrivals["patience"] = times, patience
        arrivals["sequence"], arrivals["contact"] = self._sequence + order, first + order
        self._pending = np.concatenate([self._pending, arrivals])
        self._sequence += len(keys)

    def advance(self, until: float) -> np.ndarray:
        """Serve the contacts arriving before ``until``; their records, a
        :data:`sim.engine.fcfs.RECORD` array."""
        advanced = advance(self._pending, self.free, until, self._contacts, self._policy)
        self._pending = advanced.pending
        self.log.add(advanced.records)
        self.now = max(self.now, until)
        return advanced.records

    @property
    def _contacts(self) -> Contacts:
        """The contacts offered so far, as :func:`sim.engine.fcfs.advance` takes them."""
        return Contacts(keys=self.keys, handling=self._handling.values)

    @property
    def _policy(self) -> Policy:
        """The settings, as :func:`sim.engine.fcfs.advance` takes them (on the desk's clock)."""
        s = self.settings
        return Policy(
            resolution=float(s.resolution),
            retry_abandon=float(s.retry.after_abandon) if self.retries else 0.0,
            retry_unresolved=float(s.retry.after_unresolved) if self.retries else 0.0,
            delay=float(s.retry.delay * self.time_scale),
            max_attempts=int(s.retry.max_attempts),
            patience_scale=float(self._patience_scale),
        )

    def restaff(self, settings: QueueSettings, at: float) -> None:
        """Serve with ``settings`` from time ``at`` (the desk has advanced to ``at``)."""
        if at < self.now:
            raise ValueError(f"restaffing at {at}, before the desk's time {self.now}")
        change = settings.agents - self.settings.agents
        if change > 0:
            self.free = np.concatenate([self.free, np.full(change, float(at))])
            self.log.duty.append((at, change))
        elif change < 0:  # the first agents to be free leave
            leaving = np.argsort(self.free, kind="stable")[:-change]
            self.log.duty += [(max(float(self.free[i]), at), -1) for i in leaving]
            self.free = np.delete(self.free, leaving)
        self.settings = self.log.settings = settings
        # as wide as before at least: retries already waiting may have later attempts
        width = max(settings.retry.max_attempts, self._handling.values.shape[1])
        self._handling.replace(self._handle(self.keys, width))

    def _handle(self, keys: np.ndarray, attempts: int) -> np.ndarray:
        """(contact, attempt) handling times of the contacts ``keys``, on the desk's clock."""
        u = self.streams.uniform(
            np.asarray(keys, np.uint64)[:, None], pack(np.arange(attempts), HANDLING)
        )
        return handling_times(self.settings.handling, u) * self.time_scale

    @property
    def _patience_scale(self) -> float:
        """Mean patience on the desk's clock (``inf``: nobody hangs up), the scale of
        :func:`sim.engine.fcfs.draw_patience` for first attempts and retries alike."""
        theta = self.settings.theta
        return math.inf if theta is None else self.time_scale / theta

    @property
    def keys(self) -> np.ndarray:
        """The stream key of each contact offered so far, by contact number."""
        return self._keys.values

    @property
    def records(self) -> np.ndarray:
        """Every record so far, a :data:`sim.engine.fcfs.RECORD` array, in the order decided."""
        return self.log.records

    @property
    def staffing(self) -> list[tuple[float, int]]:
        """(from time, agents on duty), one entry per change."""
        return self.log.staffing

    def metrics(self, start: float, end: float, target: float | None = None) -> DeskMetrics:
        """Summary of finished contacts that arrived in [start, end) (:meth:`DeskLog.metrics`)."""
        return self.log.metrics(start, end, target)


class DeskLog:
    """What a queued touchpoint did: a record of every contact's outcome and the agents on
    duty over time, from which its metrics are read (:class:`QueueDesk`, and the agent
    engine's desks).

    Parameters
    ----------
    settings : the touchpoint's queue settings (the latest: their service-level target is
        the metrics' default).
    time_scale : as :class:`QueueDesk`'s: recorded waits are divided by it.
    """

    def __init__(self, settings: QueueSettings, time_scale: float = 1.0):
        self.settings, self.time_scale = settings, time_scale
        self._records = Growing((), RECORD)  # sim.engine.fcfs.advance's records, as decided
        self.duty: list[tuple[float, int]] = [(0.0, settings.agents)]  # (time, change)
        self._cached: tuple[int, tuple] = (-1, ())  # (records, what _sorted made of them)

    def add(self, records: np.ndarray) -> None:
        """Records (a :data:`sim.engine.fcfs.RECORD` array) of contacts with an outcome."""
        self._records.extend(records)

    @property
    def records(self) -> np.ndarray:
        """Every record so far, a :data:`sim.engine.fcfs.RECORD` array, in the order decided."""
        return self._records.values

    @property
    def staffing(self) -> list[tuple[float, int]]:
        """(from time, agents on duty), one entry per change."""
        times, agents, on_duty = [], [], 0
        for time, change in sorted(self.duty):
            on_duty += change
            if times and times[-1] == time:
                agents[-1] = on_duty
            else:
                times.append(time)
                agents.append(on_duty)
        return list(zip(times, agents, strict=True))

    def metrics(self, start: float, end: float, target: float | None = None) -> DeskMetrics:
        """Summary of finished contacts that arrived in [start, end) (see DeskMetrics).

        ``target`` defaults to the settings' service-level ``within``. Contacts still waiting
        or in service are not counted: advance the desk past them before asking.
        """
        if target is None and self.settings.service_level is not None:
            target = self.settings.service_level.within
        by_arrival, busy, longest = self._sorted()
        r = by_arrival[slice(*np.searchsorted(by_arrival["arrival"], [start, end]))]
        wait = (r["start"] - r["arrival"]) / self.time_scale
        outcome = r["outcome"]
        answered = outcome != ABANDONED
        n, n_ans = len(r), int(answered.sum())
        busy = busy[slice(*np.searchsorted(busy["start"], [start - longest, end]))]
        overlap = np.minimum(busy["end"], end) - np.maximum(busy["start"], start)
        overlap = overlap[overlap > 0]  # only these: the sum's rounding depends on the terms
        share = (lambda k: float(k) / n) if n else (lambda k: math.nan)
        return DeskMetrics(
            offered=n,
            answered=n_ans,
            abandoned=n - n_ans,
            unresolved=int((outcome == UNRESOLVED).sum()),
            p_wait=share((wait > 0).sum()),
            p_abandon=share(n - n_ans),
            service_level=None if target is None else share((answered & (wait <= target)).sum()),
            asa=float(wait[answered].mean()) if n_ans else math.nan,
            occupancy=float(overlap.sum()) / self._agent_time(start, end),
            repeats=int((r["attempt"] > 0).sum()),
        )

    def _sorted(self) -> tuple[np.ndarray, np.ndarray, float]:
        """The simulated contacts' records by arrival; the served (not abandoned) records by
        start of service, others' too; the longest service."""
        if self._cached[0] != len(self.records):
            r = self.records
            served = r[r["outcome"] != ABANDONED]
            busy = served[np.argsort(served["start"], kind="stable")]
            longest = float((busy["end"] - busy["start"]).max(initial=0.0))
            own = r[r["contact"] != OTHER]
            by_arrival = own[np.argsort(own["arrival"], kind="stable")]
            self._cached = (len(r), (by_arrival, busy, longest))
        return self._cached[1]

    def _agent_time(self, start: float, end: float) -> float:
        """Agent-minutes on duty in [start, end), from the staffing history."""
        staffing = self.staffing
        begins = [t for t, _ in staffing[1:]] + [math.inf]
        return sum(
            agents * max(0.0, min(end, until) - max(start, since))
            for (since, agents), until in zip(staffing, begins, strict=True)
        )
