"""A staffed touchpoint: a call centre, a repair desk, whose agents are a SimPy resource.

A customer's contact asks for one of the desk's agents and waits, first come first served,
until one picks up or its patience runs out (:meth:`sim.agents.customer.Customer.call`).
The desk knows how long an agent takes with a contact (its handling time), how often a
contact is resolved, whether a caller who hung up or was not helped calls back and after how
long, and it keeps the record of every contact from which its metrics are read
(:class:`sim.engine.desk.DeskLog`, the compiled engine's).

The simulated customers are a fraction f of the company's, so the desk runs on a clock
slowed by 1/f (``time_scale``): every duration (handling, patience, the delay before calling
back) is multiplied by it, and recorded waits divided by it; with its real number of agents
the desk then has the real desk's waits (:class:`sim.engine.desk.QueueDesk`).

Every number a contact draws is at the compiled engine's address of the contact's own stream
(:mod:`sim.engine.desks`, :mod:`sim.engine.fcfs`): its time in the month at part
``ARRIVAL`` of attempt 0, then for each attempt a its patience, handling time, resolution,
call-back decision and rating at parts ``PATIENCE``, ``HANDLING``, ``RESOLUTION``, ``RETRY``
and ``RATING`` of attempt a.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from sim.agents.draws import address, uniform
from sim.engine.desk import DeskLog, handling_times
from sim.engine.fcfs import HANDLING, PATIENCE, RECORD
from sim.inputs.queues import QueueSettings


class Staff(simpy.Resource):
    """The agents on duty at a desk: a SimPy resource whose number can change.

    More agents take waiting callers at once. Fewer: idle agents leave at once, and if too
    few are idle, the busy agents who finish first leave when they finish
    (:meth:`sim.engine.desk.QueueDesk.restaff`). Every arrival and departure of agents goes
    into ``duty``, the desk log's staffing history.
    """

    def __init__(self, env: simpy.Environment, agents: int, duty: list[tuple[float, int]]):
        super().__init__(env, agents)
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
    """

    def __init__(self, env: simpy.Environment, settings: QueueSettings, time_scale: float):
        self.settings, self.time_scale = settings, time_scale
        self.log = DeskLog(settings, time_scale)
        self.agents = Staff(env, settings.agents, self.log.duty)
        self.records: list[tuple[int, int, float, float, float, int]] = []
        self.offered = 0
        """Contacts offered so far (each numbered by its place, as in the records)."""

    def restaff(self, settings: QueueSettings) -> None:
        """Serve with ``settings`` from now on (a scenario that changes from a month on)."""
        self.settings = self.log.settings = settings
        self.agents.restaff(settings.agents)

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
