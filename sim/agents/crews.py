"""A touchpoint served by crews: installers, field-repair technicians, booked by the day.

A customer who needs a technician phones for a visit and is given the first day with a free
slot, first come first served: never the same day (tomorrow's rounds are planned tonight),
never a day the crews do not work, and never a day whose visits are all booked. The crews
make ``visits_per_day`` visits a working day, so when more visits are asked for than that
the free days move further out and the waits grow, by the demand less the capacity each day.
A request whose first free day lies more than ``max_wait`` ahead is not booked: a new
customer's order is cancelled (it never becomes a customer), a customer's repair is a bad
experience (:class:`sim.inputs.appointments.AppointmentSettings`).

Days are counted from the run's start, which is a Monday at midnight; a visit is at 10:00 on
its day (a month's end falls on a multiple of 90 minutes, so never on a visit). Waits are
counted in calendar days, from the day of the request to the day of the visit.

The simulated customers are a fraction f of the company's, so the crews have the same
fraction of the visits: f x ``visits_per_day`` a working day, spread so that the first n
working days hold floor(n f c) slots in all (a crew of 2.5 visits a day makes 2, 3, 2, 3,
...). Unlike a call's wait (minutes), a wait of days is a good part of a month, so the
days are not stretched as a desk's minutes are (:mod:`sim.agents.desk`); with a small
sample the crews book in coarse steps: simulate enough customers that f c is a few visits a
day at least.

Booking is first come first served into the first free day, so the booked days of the
future are a run of full days from tomorrow, then the day being filled: the crews keep the
visits booked per day, and where the run of full days ends (:meth:`Crews.first_free`), so a
request looks at one day, not all the full ones. A capacity that changes (a scenario adding
crews from a month on) opens the days that are no longer full to the requests that follow;
visits already booked keep their days.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import NamedTuple

import numpy as np
import xarray as xr

from sim.inputs.appointments import AppointmentSettings
from sim.inputs.units import DAY, HOUR, MONTH

VISIT_TIME = 10 * HOUR
"""When in its day a visit is made."""
METRICS = ("requested", "booked", "cancelled", "visits", "backlog", "wait", "late")
"""The crews' figures per month (:func:`appointment_metrics`)."""


class Booking(NamedTuple):
    """A visit booked: its day, the days waited from the request's day, and whether that
    wait is longer than ``bad_after``."""

    day: int
    wait: int
    late: bool


class Crews:
    """A touchpoint's crews: their diary of visits, and the record of every request.

    Parameters
    ----------
    settings
        The touchpoint's appointments at the run's start.
    fraction
        The simulated fraction of the company's customers (the crews' share of the visits).
    """

    def __init__(self, settings: AppointmentSettings, fraction: float):
        self.fraction = fraction
        self.booked: dict[int, int] = {}
        """Visits booked per day."""
        self.restaff(settings)
        self.requests: list[tuple[float, int, int, bool]] = []
        """(time of the request, day of the visit or -1 if cancelled, wait in days, late)."""

    def restaff(self, settings: AppointmentSettings) -> None:
        """Book with ``settings`` from now on (a scenario that changes from a month on):
        visits booked keep their days, and every day not full under the new capacity takes
        requests again, the earliest first."""
        self.day = 0
        """No day from tomorrow to this one has a free slot."""
        self.settings = settings
        self.capacity = round(settings.visits_per_day * self.fraction, 9)
        self.working = settings.working

    def slots(self, day: int) -> int:
        """Visits the crews make on ``day``: none on a day off, else this working day's share
        of the capacity, floor((n + 1) c) - floor(n c) with n the working days before it."""
        weekday = day % 7
        if weekday not in self.working:
            return 0
        n = (day // 7) * len(self.working) + bisect_left(self.working, weekday)
        return math.floor((n + 1) * self.capacity) - math.floor(n * self.capacity)

    def first_free(self, time: float) -> int | None:
        """The first day after ``time``'s own with a free slot, None if it is more than
        ``max_wait`` ahead (days passed over are full, or days off: nobody later may book
        them either)."""
        today = int(time // DAY)
        day, last = max(self.day, today + 1), today + self.settings.max_wait_days
        while day <= last and self.booked.get(day, 0) >= self.slots(day):
            day += 1
        self.day = day
        return day if day <= last else None

    def book(self, time: float) -> Booking | None:
        """A visit asked for at ``time``: booked on the first free day, or None (cancelled)
        when that is more than ``max_wait`` ahead. Every request is recorded."""
        day = self.first_free(time)
        if day is None:
            self.requests.append((time, -1, -1, False))
            return None
        self.booked[day] = self.booked.get(day, 0) + 1
        wait = day - int(time // DAY)
        late = wait > self.settings.bad_after_days
        self.requests.append((time, day, wait, late))
        return Booking(day, wait, late)


def visit_time(day: int) -> float:
    """When the visit of ``day`` is made (minutes from the run's start)."""
    return day * DAY + VISIT_TIME


def book_all(crews: list[Crews], time: float) -> list[Booking] | None:
    """One visit from each of ``crews`` (a new customer's installer and the like), all asked
    for at ``time``: booked only if every one has a free day within its ``max_wait``, else
    none is (the order is cancelled, and recorded as a request cancelled at each)."""
    if all(c.first_free(time) is not None for c in crews):
        return [c.book(time) for c in crews]
    for c in crews:
        c.requests.append((time, -1, -1, False))
    return None


def appointment_metrics(names: list[str], crews: list[Crews], months: int) -> xr.Dataset:
    """Per touchpoint with crews (``names``) and month, in simulated customers' visits:
    ``requested`` (visits asked for in the month), ``booked`` and ``cancelled`` of those,
    ``visits`` made in the month, ``backlog`` (visits booked and not yet made at the month's
    end), ``wait`` (mean days waited by the visits booked in the month, NaN if none) and
    ``late`` (those booked to wait longer than ``bad_after``)."""
    values = np.full((len(METRICS), len(names), months), np.nan)
    edges = np.arange(months + 1) * MONTH
    for i, c in enumerate(crews):
        asked, day, wait, late = np.array(c.requests, float).reshape(-1, 4).T
        booked = day >= 0
        made = np.where(booked, visit_time(day), np.inf)

        month = np.minimum(asked // MONTH, months).astype(np.int64)  # months: after the run
        n_booked = _by_month(month, booked, months)
        values[:, i] = [
            _by_month(month, np.ones_like(booked), months),
            n_booked,
            _by_month(month, ~booked, months),
            np.histogram(made, edges)[0],
            [np.count_nonzero(booked & (asked < end) & (made >= end)) for end in edges[1:]],
            _by_month(month, booked, months, wait) / np.where(n_booked > 0, n_booked, np.nan),
            _by_month(month, booked & (late > 0), months),
        ]
    return xr.Dataset(
        {f"appointment_{name}": (("crews", "month"), values[j]) for j, name in enumerate(METRICS)},
        coords={"crews": names, "month": np.arange(months)},
    )


def _by_month(month: np.ndarray, mask: np.ndarray, months: int, weights=None) -> np.ndarray:
    """The requests of ``mask`` counted (or their ``weights`` summed) by ``month``."""
    w = None if weights is None else weights[mask]
    return np.bincount(month[mask], w, minlength=months + 1)[:months]
