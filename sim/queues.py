"""Queued touchpoints: a call centre, a store or a field-repair desk with limited staff.

A :class:`QueueDesk` runs in a SimPy environment. Contacts ask for one of ``agents`` agents
(FCFS), hang up when their patience runs out first, else are handled and resolved with the
first-contact-resolution probability; abandoned and unresolved contacts may come back later.
Each contact's patience, handling time, resolution and retry decision are inverse-CDF draws
from the counter-based stream of (customer key, attempt) (:mod:`sim.streams`), so a scenario
with other staffing sees the same customers (common random numbers).

With Poisson arrivals, exponential handling and no retries the desk is the M/M/c (Erlang C)
queue, or M/M/c+M (Erlang A) with exponential patience; see :mod:`sim.erlang`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist
from typing import Annotated, Literal

import numpy as np
import simpy
from pydantic import AfterValidator, Field, model_validator

from sim.schema import Probability, StrictModel
from sim.streams import Streams, uniform_one
from sim.units import Duration

PATIENCE, HANDLING, RESOLUTION, RETRY = 0, 1, 2, 3
"""Counter parts of a contact's draws: ``pack(attempt, part)``."""


def _share(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"expected a share strictly between 0 and 1 such as 0.6, got {value}")
    return value


PositiveDuration = Annotated[Duration, Field(gt=0)]
Share = Annotated[float, AfterValidator(_share)]
Rating = Annotated[int, Field(ge=1, le=5)]


class Handling(StrictModel):
    """Handling time: ``exponential`` or ``fixed`` with ``mean``; ``lognormal`` also ``sd``."""

    distribution: Literal["exponential", "lognormal", "fixed"] = "exponential"
    mean: PositiveDuration
    sd: PositiveDuration | None = None

    @model_validator(mode="after")
    def _sd_for_lognormal(self) -> Handling:
        if self.distribution == "lognormal" and self.sd is None:
            raise ValueError("a lognormal needs 'sd', expected e.g. {mean: 3 min, sd: 2 min}")
        if self.distribution != "lognormal" and self.sd is not None:
            raise ValueError(f"'sd' applies to lognormal only, not to {self.distribution}")
        return self

    def draw(self, u: float) -> float:
        """Inverse CDF at u in [0, 1): exponential -m ln(1-u); lognormal exp(m' + s z(u))
        with s^2 = ln(1 + sd^2/m^2), m' = ln m - s^2/2 (so the mean is m); fixed m."""
        if self.distribution == "exponential":
            return -self.mean * math.log1p(-u)
        if self.distribution == "fixed":
            return self.mean
        s2 = math.log1p((self.sd / self.mean) ** 2)
        z = NormalDist().inv_cdf(u or 2**-53)  # u = 0 has probability 2^-53
        return math.exp(math.log(self.mean) - s2 / 2 + math.sqrt(s2) * z)


class Patience(StrictModel):
    """Exponential patience: ``{mean: 1 min}`` or ``{share: 0.6, within: 1 min}``.

    The second reads "60% hang up within 1 min"; rate theta = -ln(1 - share)/within
    (:func:`sim.erlang.patience_rate`), exact for exponential patience.
    """

    mean: PositiveDuration | None = None
    share: Share | None = None
    within: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Patience:
        statement = self.share is not None and self.within is not None
        if (self.mean is None) == (not statement) or (self.share is None) != (self.within is None):
            raise ValueError(
                "expected either {mean: 1 min} or {share: 0.6, within: 1 min}"
                " (60% hang up within 1 min)"
            )
        return self

    @property
    def rate(self) -> float:
        """theta per minute: 1/mean, or -ln(1 - share)/within."""
        if self.mean is not None:
            return 1.0 / self.mean
        from sim.erlang import patience_rate  # here: validating a file needs no scipy

        return patience_rate(self.share, self.within)


class ServiceLevel(StrictModel):
    """Target: ``share`` of contacts answered within ``within`` (e.g. 80% within 20 s)."""

    share: Probability
    within: PositiveDuration | None = None

    @model_validator(mode="after")
    def _needs_within(self) -> ServiceLevel:
        if self.within is None:
            raise ValueError("a share needs 'within', expected e.g. {share: 0.8, within: 20 s}")
        return self


class Retry(StrictModel):
    """Repeat contacts: probabilities of calling again, ``delay`` later (fixed)."""

    after_abandon: Probability = 0.5
    after_unresolved: Probability = 0.8
    delay: PositiveDuration = 60.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    """A customer makes at most this many attempts for one need."""


class Experience(StrictModel):
    """Rating of a queued contact (see :func:`experience`)."""

    abandoned: Rating = 1
    unresolved_max: Rating = 2
    wait_per_point: PositiveDuration = 2.0
    """One rating point lost per this much waiting (minutes in Python)."""


class QueueSettings(StrictModel):
    """A queued touchpoint in the world file.

    Example::

        queue: {agents: 7, handling: {mean: 3 min}, patience: {share: 0.6, within: 1 min},
                service_level: {share: 0.8, within: 20 s}, resolution: 0.85}
    """

    agents: Annotated[int, Field(ge=1)]
    handling: Handling
    patience: Patience | None = None
    """None: nobody hangs up (Erlang C)."""
    service_level: ServiceLevel | None = None
    resolution: Probability = 1.0
    """First-contact resolution: P(an answered contact is resolved)."""
    retry: Retry = Retry()
    experience: Experience = Experience()

    @property
    def theta(self) -> float | None:
        """Patience rate per minute, None without abandonment."""
        return None if self.patience is None else self.patience.rate


def experience(rating, wait, outcome, settings: QueueSettings):
    """Rating 1..5 of a queued contact, scalar or elementwise on arrays.

    resolved: max(1, rating - floor(wait / wait_per_point)); unresolved: the same, capped at
    ``unresolved_max``; abandoned: ``abandoned``. A 1e-9 slack in the floor keeps waits of
    exactly k wait_per_point at k points despite rounding.
    """
    e = settings.experience
    if isinstance(rating, int) and isinstance(outcome, str):  # one contact: plain Python
        if outcome == "abandoned":
            return e.abandoned
        kept = max(1, rating - math.floor(wait / e.wait_per_point + 1e-9))
        return min(kept, e.unresolved_max) if outcome == "unresolved" else kept
    lost = np.floor(np.asarray(wait, float) / e.wait_per_point + 1e-9).astype(int)
    kept = np.maximum(1, np.asarray(rating) - lost)
    outcome = np.asarray(outcome)
    capped = np.where(outcome == "unresolved", np.minimum(kept, e.unresolved_max), kept)
    r = np.where(outcome == "abandoned", e.abandoned, capped)
    return int(r) if r.ndim == 0 else r


@dataclass(slots=True)
class _Waiting:
    """A contact in the queue; ``present`` turns False when taken or hung up."""

    key: int
    attempt: int
    arrival: float
    u: list[float]
    present: bool = True


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

    Built on SimPy events: an idle agent takes an arriving contact at once; otherwise the
    contact joins the queue, and a timer of its patience removes it from the queue (it
    hangs up) unless an agent took it first. An agent who finishes takes the next contact
    still waiting. For FCFS this is the same queue as a ``simpy.Resource`` with cancelled
    requests, at a fraction of the cost (no process, request or condition per contact).

    Parameters
    ----------
    env : the simulation; its clock is in minutes.
    settings : the touchpoint's queue settings.
    streams : source of the counter-based uniforms; contacts are keyed by a stream key of
        purpose "queue", e.g. ``streams.keys("queue", ids)``.
    retries : False switches repeat contacts off (isolated Erlang checks).
    time_scale : every duration (handling, patience, retry delay) is multiplied by this, and
        recorded waits are divided by it. A desk fed a sample of a fraction f of the real
        contacts with time_scale 1/f is the real desk with its clock slowed by 1/f: the
        M/M/c+M queue (lam f, mu f, theta f, c) has the same rho, x = c mu / theta and
        y = lam / theta, hence the same P(wait), P(abandon) and waits times 1/f.
    on_done : called as ``on_done(key, attempt, wait, outcome)`` when a contact's outcome is
        known (the engine turns it into an experience).
    """

    def __init__(
        self, env: simpy.Environment, settings: QueueSettings, streams: Streams,
        retries: bool = True, time_scale: float = 1.0,
        on_done: Callable[[int, int, float, str], None] | None = None,
    ):  # fmt: skip
        self.env, self.settings, self.streams, self.retries = env, settings, streams, retries
        self.time_scale, self.on_done = time_scale, on_done
        self.idle = settings.agents
        self.on_duty = settings.agents  # more than the settings while removed agents finish
        self.staffing: list[tuple[float, int]] = [(env.now, settings.agents)]  # (from, agents)
        self.theta = settings.theta
        self.queue: deque[_Waiting] = deque()
        self.arrival: list[float] = []
        self.wait: list[float] = []
        self.outcome: list[str] = []
        self.attempt: list[int] = []
        self.busy: list[tuple[float, float]] = []  # (begin, end) of each handled contact
        self._cached: tuple[int | None, tuple[np.ndarray, ...]] = (None, ())

    def arrive(self, key: int, attempt: int = 0) -> None:
        """A contact (attempt 0, 1, ...) of the customer with stream ``key`` arrives now.

        Its draws are u = uniform(key, pack(attempt, part)): patience -ln(1-u)/theta,
        handling time, resolution (u < resolution) and retry (u < retry probability).
        """
        u = [uniform_one(key, (attempt << 16) | part) for part in range(4)]  # pack(attempt, part)
        if self.idle > 0:
            self.idle -= 1
            self._serve(key, attempt, self.env.now, u)
            return
        waiting = _Waiting(key, attempt, self.env.now, u)
        self.queue.append(waiting)
        if self.theta is not None:
            patience = -math.log1p(-u[PATIENCE]) / self.theta * self.time_scale
            self.env.timeout(patience).callbacks.append(partial(self._hang_up, waiting))

    def restaff(self, settings: QueueSettings) -> None:
        """New settings from now on. Added agents take waiting contacts at once; removed
        agents leave when idle, or else as soon as they finish a contact."""
        self.idle += settings.agents - self.settings.agents
        self.settings, self.theta = settings, settings.theta
        self._on_duty(settings.agents - min(self.idle, 0))
        while self.idle > 0 and self._take_next():
            self.idle -= 1

    def _take_next(self) -> bool:
        """Serve the first contact still waiting, if any; whether there was one."""
        while self.queue:
            waiting = self.queue.popleft()
            if waiting.present:
                waiting.present = False
                self._serve(waiting.key, waiting.attempt, waiting.arrival, waiting.u)
                return True
        return False

    def _serve(self, key: int, attempt: int, arrival: float, u: list[float]) -> None:
        now = self.env.now
        handling = self.settings.handling.draw(u[HANDLING]) * self.time_scale
        self.busy.append((now, now + handling))
        outcome = "resolved" if u[RESOLUTION] < self.settings.resolution else "unresolved"
        done = partial(self._finish, key, attempt, arrival, now - arrival, outcome, u)
        self.env.timeout(handling).callbacks.append(done)

    def _finish(self, key, attempt, arrival, wait, outcome, u, _event) -> None:
        self._record(key, attempt, arrival, wait, outcome, u)
        if self.idle < 0:  # one agent fewer now: this one leaves
            self.idle += 1
            self._on_duty(self.on_duty - 1)
        elif not self._take_next():
            self.idle += 1

    def _on_duty(self, agents: int) -> None:
        if agents != self.on_duty:
            self.on_duty = agents
            self.staffing.append((self.env.now, agents))

    def _hang_up(self, waiting: _Waiting, _event) -> None:
        if waiting.present:  # not yet taken by an agent
            waiting.present = False
            wait = self.env.now - waiting.arrival
            self._record(waiting.key, waiting.attempt, waiting.arrival, wait, "abandoned",
                         waiting.u)

    def _record(self, key, attempt, arrival, wait, outcome, u) -> None:
        wait /= self.time_scale
        self.arrival.append(arrival)
        self.wait.append(wait)
        self.outcome.append(outcome)
        self.attempt.append(attempt)
        if self.on_done is not None:
            self.on_done(key, attempt, wait, outcome)
        s = self.settings
        if self.retries and outcome != "resolved" and attempt + 1 < s.retry.max_attempts:
            p = s.retry.after_abandon if outcome == "abandoned" else s.retry.after_unresolved
            if u[RETRY] < p:
                delay = s.retry.delay * self.time_scale
                self.env.timeout(delay).callbacks.append(
                    lambda _event: self.arrive(key, attempt + 1))

    def metrics(self, start: float, end: float, target: float | None = None) -> DeskMetrics:
        """Summary of finished contacts that arrived in [start, end) (see DeskMetrics).

        ``target`` defaults to the settings' service-level ``within``. Contacts still waiting
        or in service are not counted: let the desk drain before asking.
        """
        if target is None and self.settings.service_level is not None:
            target = self.settings.service_level.within
        t, wait, outcome, attempt, busy = self._records()
        sel = (t >= start) & (t < end)
        wait, outcome = wait[sel], outcome[sel]
        answered = outcome != "abandoned"
        n, n_ans = int(sel.sum()), int(answered.sum())
        overlap = np.clip(np.minimum(busy[:, 1], end) - np.maximum(busy[:, 0], start), 0, None)
        share = (lambda k: float(k) / n) if n else (lambda k: math.nan)
        return DeskMetrics(
            offered=n,
            answered=n_ans,
            abandoned=n - n_ans,
            unresolved=int((outcome == "unresolved").sum()),
            p_wait=share((wait > 0).sum()),
            p_abandon=share(n - n_ans),
            service_level=None if target is None else share((answered & (wait <= target)).sum()),
            asa=float(wait[answered].mean()) if n_ans else math.nan,
            occupancy=float(overlap.sum()) / self._agent_time(start, end),
            repeats=int((attempt[sel] > 0).sum()),
        )

    def _agent_time(self, start: float, end: float) -> float:
        """Agent-minutes on duty in [start, end), from the staffing history."""
        begins = [t for t, _ in self.staffing[1:]] + [math.inf]
        return sum(agents * max(0.0, min(end, until) - max(start, since))
                   for (since, agents), until in zip(self.staffing, begins, strict=True))

    def _records(self) -> tuple[np.ndarray, ...]:
        """The contact records as arrays, converted once per number of records."""
        if self._cached[0] != len(self.arrival):
            arrays = (np.asarray(self.arrival), np.asarray(self.wait),
                      np.asarray(self.outcome), np.asarray(self.attempt),
                      np.asarray(self.busy).reshape(-1, 2))
            self._cached = (len(self.arrival), arrays)
        return self._cached[1]


def simulate_isolated(
    lam: float, settings: QueueSettings, minutes: float, warmup: float, seed: int,
    retries: bool = False,
) -> DeskMetrics:  # fmt: skip
    """Poisson(lam per minute) arrivals into one desk; metrics of [warmup, warmup + minutes).

    Inter-arrival times are Exp(lam) from ``numpy.random.default_rng(seed)``; contact i is
    customer i with key ``Streams(seed).keys("queue", i)``, so the same seed gives the same
    customers at any staffing (common random numbers). Arrivals stop at warmup + minutes and
    the desk then drains, so every contact counted has an outcome.
    """
    end = warmup + minutes
    rng, times = np.random.default_rng(seed), np.zeros(1)
    while times[-1] < end:  # one batch almost always suffices
        n = int(lam * end + 10 * math.sqrt(lam * end) + 10)
        times = np.concatenate((times, times[-1] + np.cumsum(rng.exponential(1 / lam, n))))
    times = times[1:][times[1:] < end].tolist()
    streams = Streams(seed)
    keys = streams.keys("queue", np.arange(len(times), dtype=np.uint64)).tolist()
    env = simpy.Environment()
    desk = QueueDesk(env, settings, streams, retries=retries)

    def source():
        for at, key in zip(times, keys, strict=True):
            yield env.timeout(at - env.now)
            desk.arrive(key)

    env.process(source())
    env.run()
    return desk.metrics(warmup, end)
