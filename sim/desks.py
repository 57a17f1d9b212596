"""The queued touchpoints of a run: customers' contacts wait for agents in continuous time.

Each month a customer's contacts with a queued touchpoint (a call centre, a repair desk)
arrive at times spread uniformly over the month and go through that touchpoint's
:class:`~sim.queues.QueueDesk`. When a contact's outcome is known, its experience is the
touchpoint's rating for this customer, lowered by the wait, capped when unresolved, and 1
when abandoned (:func:`sim.queues.experience`); retries are new contacts. Experiences are
applied to the customer's view at the end of the month in which they happen.

The simulated customers are a fraction f of the company's, so each desk runs with
``time_scale = 1/f`` (see :class:`~sim.queues.QueueDesk`): its agents are the real number on
duty, and its waits are real waits.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import simpy
import xarray as xr

from sim.parameters import Parameters
from sim.queues import QueueDesk, experience
from sim.streams import Streams, pack, uniform_one
from sim.units import MONTH

RATING, ARRIVAL = 4, 5
"""Counter parts of a contact's own stream (the desk uses parts 0..3)."""
METRICS = ("offered", "answered", "abandoned", "p_wait", "p_abandon", "service_level", "asa",
           "occupancy", "repeats")


@dataclass
class Experiences:
    """Outcomes of queued contacts, in the order they finished."""

    customer: list[int] = field(default_factory=list)  # customer id
    touchpoint: list[int] = field(default_factory=list)
    rating: list[int] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)


class Desks:
    """Every queued touchpoint of a run, and the experiences their contacts produce.

    Parameters
    ----------
    env
        The run's environment (clock in minutes).
    params
        The run's parameters; ``params.queues`` names the queued touchpoints.
    streams
        The run's random streams.
    time_scale
        1 / the simulated fraction of the company's customers.
    """

    def __init__(self, env: simpy.Environment, params: Parameters, streams: Streams,
                 time_scale: float):
        self.env, self.params, self.streams = env, params, streams
        self.touchpoints = sorted(params.queues)
        self.desks = {
            k: QueueDesk(env, params.queues[k], streams, time_scale=time_scale,
                         on_done=self._done_at(k))
            for k in self.touchpoints
        }
        self._owner: dict[int, tuple[int, int]] = {}  # contact key -> (customer id, segment)
        self.finished = Experiences()
        self.use(params)

    def use(self, params: Parameters) -> None:
        """Queue settings and rating distributions of ``params`` from now on (same queues)."""
        if sorted(params.queues) != self.touchpoints:
            raise ValueError("a change of parameters cannot add or remove a queue")
        self.params = params
        self._cdf = {k: np.cumsum(params.ratings[:, k], axis=-1)[:, :-1].tolist()
                     for k in self.touchpoints}  # per touchpoint, per segment
        for k, desk in self.desks.items():
            desk.restaff(params.queues[k])

    def schedule(self, month: int, ids: np.ndarray, segment: np.ndarray,
                 contacts: np.ndarray) -> None:
        """Send this month's contacts (customer, touchpoint) with queued touchpoints."""
        customer_keys = self.streams.keys("queue", ids)
        for k in self.touchpoints:
            for visit in range(int(contacts[:, k].max(initial=0))):
                rows = np.flatnonzero(contacts[:, k] > visit)
                keys = self.streams.derive(customer_keys[rows], pack(month, k, visit))
                at = (month + self.streams.uniform(keys, pack(0, ARRIVAL))) * MONTH
                desk, now = self.desks[k], self.env.now
                for key, time, uid, s in zip(keys.tolist(), at.tolist(), ids[rows].tolist(),
                                             segment[rows].tolist(), strict=True):
                    self._owner[key] = (uid, s)
                    self.env.timeout(time - now).callbacks.append(partial(_arrive, desk, key))

    def _done_at(self, k: int):
        def done(key: int, attempt: int, wait: float, outcome: str) -> None:
            uid, s = self._owner[key]
            u = uniform_one(key, (attempt << 16) | RATING)  # pack(attempt, RATING)
            rating = 1 + bisect.bisect_right(self._cdf[k][s], u)  # as streams.categorical
            self.finished.customer.append(uid)
            self.finished.touchpoint.append(k)
            self.finished.rating.append(experience(rating, wait, outcome, self.params.queues[k]))
            self.finished.answered.append(outcome != "abandoned")
        return done

    def collect(self) -> Experiences:
        """The experiences finished since the last call."""
        finished, self.finished = self.finished, Experiences()
        return finished

    def metrics(self, months: int) -> xr.Dataset:
        """Per queued touchpoint and month: offered, answered, abandoned, P(wait), service
        level (share of offered answered within the target), average speed of answer
        (minutes), occupancy and repeat contacts. Contacts count in their arrival month."""
        names = [self.params.touchpoints[k] for k in self.touchpoints]
        values = np.full((len(METRICS), len(names), months), np.nan)
        for i, k in enumerate(self.touchpoints):
            for m in range(months):
                summary = self.desks[k].metrics(m * MONTH, (m + 1) * MONTH)
                values[:, i, m] = [getattr(summary, name) for name in METRICS]  # None: NaN
        dims = ("queue", "month")
        return xr.Dataset(
            {f"queue_{name}": (dims, values[j]) for j, name in enumerate(METRICS)},
            coords={"queue": names, "month": np.arange(months)},
        )


def _arrive(desk: QueueDesk, key: int, _event: simpy.Event) -> None:
    desk.arrive(key)
