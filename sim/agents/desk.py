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
from sim.engine.fcfs import HANDLING, PATIENCE, RECORD, draw_patience
from sim.inputs.queues import QueueSettings


class Desk:
    """One staffed touchpoint of a run.

    Parameters
    ----------
    env
        The run's clock.
    settings
        The touchpoint's queue settings (the same for the whole run).
    time_scale
        1 / the simulated fraction of the company's customers.
    """

    def __init__(self, env: simpy.Environment, settings: QueueSettings, time_scale: float):
        self.settings, self.time_scale = settings, time_scale
        self.agents = simpy.Resource(env, capacity=settings.agents)
        self.log = DeskLog(settings, time_scale)
        self.records: list[tuple[int, int, float, float, float, int]] = []
        self.offered = 0
        """Contacts offered so far (each numbered by its place, as in the records)."""
        theta = settings.theta
        self.mean_patience = math.inf if theta is None else time_scale / theta
        self.call_back_after = settings.retry.delay * time_scale
        self.attempts = settings.retry.max_attempts

    def patience(self, contact: int, attempt: int) -> float:
        """How long a caller waits for an agent before hanging up (``inf``: for ever)."""
        u = uniform(contact, address(0, 0, attempt, PATIENCE))
        return float(draw_patience(u, self.mean_patience))

    def handling(self, contact: int, attempt: int) -> float:
        """How long the agent takes with this attempt of a contact."""
        u = uniform(contact, address(0, 0, attempt, HANDLING))
        return float(handling_times(self.settings.handling, np.array([u]))[0] * self.time_scale)

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
