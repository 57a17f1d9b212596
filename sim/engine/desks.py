"""The queued touchpoints of a run: customers' contacts wait for agents in continuous time.

Each month a customer's contacts with a queued touchpoint (a call centre, a repair desk)
arrive at times spread uniformly over the month and go through that touchpoint's
:class:`~sim.engine.desk.QueueDesk`. When a contact's outcome is known, its experience is the
touchpoint's rating for this customer, lowered by the wait, capped when unresolved, and 1
when abandoned (:func:`sim.engine.desk.experience`); retries are new contacts. Experiences are
applied to the customer's view at the end of the month in which they happen.

The simulated customers are a fraction f of the company's, so each desk runs with
``time_scale = 1/f`` (see :class:`~sim.engine.desk.QueueDesk`): its agents are the real number on
duty, and its waits are real waits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from sim.engine.desk import OUTCOMES, DeskLog, QueueDesk, experience
from sim.engine.fcfs import ABANDONED, RECORD
from sim.engine.growing import Growing
from sim.engine.streams import Streams, categorical, pack
from sim.inputs.parameters import Parameters
from sim.inputs.units import MONTH

RATING, ARRIVAL = 4, 5
"""Counter parts of a contact's own stream (the desk uses parts 0..3)."""
METRICS = (
    "offered",
    "answered",
    "abandoned",
    "p_wait",
    "p_abandon",
    "service_level",
    "asa",
    "occupancy",
    "repeats",
)


@dataclass
class Experiences:
    """Outcomes of queued contacts, in the order they finished."""

    customer: np.ndarray  # the customer's number given to Desks.schedule
    touchpoint: np.ndarray
    rating: np.ndarray
    answered: np.ndarray  # bool


class Desks:
    """Every queued touchpoint of a run, and the experiences their contacts produce.

    Parameters
    ----------
    params
        The run's parameters; ``params.queues`` names the queued touchpoints.
    streams
        The run's random streams.
    time_scale
        1 / the simulated fraction of the company's customers.
    """

    def __init__(self, params: Parameters, streams: Streams, time_scale: float):
        self.params, self.streams = params, streams
        self.touchpoints = sorted(params.queues)
        self.desks = {
            k: QueueDesk(params.queues[k], streams, time_scale=time_scale) for k in self.touchpoints
        }
        # per touchpoint, per contact offered: the customer's number and segment
        self._owner = {k: (Growing((), np.int64), Growing((), np.int64)) for k in self.touchpoints}
        # per touchpoint, the records (sim.engine.fcfs.RECORD) not collected yet
        self._finished = [np.zeros(0, RECORD) for _ in self.touchpoints]

    def use(self, params: Parameters, month: int) -> None:
        """Queue settings and rating distributions of ``params`` from the start of ``month``."""
        if sorted(params.queues) != self.touchpoints:
            raise ValueError("a change of parameters cannot add or remove a queue")
        self.params = params
        for k, desk in self.desks.items():
            desk.restaff(params.queues[k], at=month * MONTH)

    def schedule(
        self,
        month: int,
        customers: np.ndarray,
        keys: np.ndarray,
        segment: np.ndarray,
        contacts: np.ndarray,
    ) -> None:
        """Send this month's contacts with queued touchpoints.

        ``customers`` are numbers the experiences are handed back with (:meth:`collect`),
        ``keys`` their "queue" stream keys, ``contacts`` (customer, touchpoint) counts.
        """
        for k in self.touchpoints:
            for visit in range(int(contacts[:, k].max(initial=0))):
                rows = np.flatnonzero(contacts[:, k] > visit)
                contact_keys = self.streams.derive(keys[rows], pack(month, k, visit))
                at = (month + self.streams.uniform(contact_keys, pack(0, ARRIVAL))) * MONTH
                self.desks[k].offer(contact_keys, at)
                owner, owner_segment = self._owner[k]
                owner.extend(customers[rows])
                owner_segment.extend(segment[rows])

    def collect(self, month: int) -> Experiences:
        """The experiences of contacts whose outcome came in ``month``, in time order."""
        until = (month + 1) * MONTH
        parts = []
        for i, k in enumerate(self.touchpoints):
            records = np.concatenate([self._finished[i], self.desks[k].advance(until)])
            now = records["end"] < until
            self._finished[i] = records[~now]
            parts.append(self._experiences(k, records[now]))
        order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
        customer, touchpoint, rating, answered = (
            np.concatenate([p[j] for p in parts])[order] for j in range(1, 5)
        )
        return Experiences(customer, touchpoint, rating, answered)

    def _experiences(self, k: int, records: np.ndarray) -> tuple[np.ndarray, ...]:
        """(outcome time, customer, touchpoint, rating, answered) of a desk's records (a
        :data:`sim.engine.fcfs.RECORD` array)."""
        contact, attempt, outcome = records["contact"], records["attempt"], records["outcome"]
        owner, segment = (a.values[contact] for a in self._owner[k])
        u = self.streams.uniform(self.desks[k].keys[contact], pack(attempt, RATING))
        base = 1 + categorical(u, self.params.ratings[segment, k])
        wait = (records["start"] - records["arrival"]) / self.desks[k].time_scale
        rating = experience(base, wait, OUTCOMES[outcome], self.params.queues[k])
        return (
            records["end"],
            owner,
            np.full(len(records), k),
            np.asarray(rating, np.int64),
            outcome != ABANDONED,
        )

    def drain(self) -> None:
        """Serve every contact still waiting or to come back (for the metrics)."""
        for desk in self.desks.values():
            desk.advance(np.inf)

    def metrics(self, months: int) -> xr.Dataset:
        """Per queued touchpoint and month, the desks' metrics (:func:`queue_metrics`)."""
        names = [self.params.touchpoints[k] for k in self.touchpoints]
        return queue_metrics(names, [self.desks[k].log for k in self.touchpoints], months)


def queue_metrics(names: list[str], logs: list[DeskLog], months: int) -> xr.Dataset:
    """Per queued touchpoint (``names``, their desks' ``logs``) and month: offered,
    answered, abandoned, P(wait), service level (share of offered answered within the
    target), average speed of answer (minutes), occupancy and repeat contacts. Contacts count
    in their arrival month."""
    values = np.full((len(METRICS), len(names), months), np.nan)
    for i, log in enumerate(logs):
        for m in range(months):
            summary = log.metrics(m * MONTH, (m + 1) * MONTH)
            values[:, i, m] = [getattr(summary, name) for name in METRICS]  # None: NaN
    dims = ("queue", "month")
    return xr.Dataset(
        {f"queue_{name}": (dims, values[j]) for j, name in enumerate(METRICS)},
        coords={"queue": names, "month": np.arange(months)},
    )
