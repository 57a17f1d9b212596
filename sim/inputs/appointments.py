"""The ``appointments`` section of a touchpoint in the world file: crews booked by the day.

An installer or a field-repair technician is not a call centre: nobody waits on the line.
A customer asks for a visit and is given the first day with a free slot, days or weeks
ahead, and the crews make so many visits a working day. A new customer's installer who
cannot come within ``max_wait`` loses the order; a repair that cannot be booked within it is
a bad experience (``experience.cancelled``); a visit after more than ``bad_after`` of waiting
is rated at most ``experience.late``. The crews that book and make the visits are
:class:`sim.agents.crews.Crews` (the agent engine only).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from sim.inputs.queues import Rating
from sim.inputs.schema import StrictModel
from sim.inputs.units import DAY, Duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The days of the week by their names in the file; a run's first day is a Monday."""
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CREWS = "appointments (crews booked by the day) are served by the agent engine only"
"""Why the compiled engine (:mod:`sim.engine`) refuses a world with appointments."""
LONGEST_WAIT = 365 * DAY
"""A year: an order or a repair that waits longer is not waiting, it is lost."""


def _wait(least: float):
    """A wait of at least ``least`` (minutes) and at most :data:`LONGEST_WAIT`, said in days."""

    def check(minutes: float) -> float:
        if not least <= minutes <= LONGEST_WAIT:
            longest = LONGEST_WAIT / DAY
            raise ValueError(
                f"is {minutes / DAY:g} days, expected {least / DAY:g} to {longest:g} days"
            )
        return minutes

    return AfterValidator(check)


class VisitExperience(StrictModel):
    """How a wait for a visit is rated (1..5)."""

    late: Rating = 1
    """The highest rating of a visit made after more than ``bad_after`` of waiting."""
    cancelled: Rating = 1
    """The rating of a customer's request that could not be booked within ``max_wait``."""


class AppointmentSettings(StrictModel):
    """A touchpoint served by crews with a daily capacity.

    Example::

        appointments: {visits_per_day: 40, days: [mon, tue, wed, thu, fri],
                       max_wait: 10 days, bad_after: 5 days}
    """

    visits_per_day: Annotated[float, Field(gt=0, le=1_000_000)]
    """Visits the crews make on a working day, at the company's scale (a run of a sample of
    the customers gives the crews the same share of these visits)."""
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = list(WEEKDAYS)
    """The working days (default every day)."""
    max_wait: Annotated[Duration, _wait(DAY)]
    """The longest wait from the day of the request to the day of the visit: a request whose
    first free slot is later is cancelled (at least a day, at most a year)."""
    bad_after: Annotated[Duration, _wait(0)] | None = None
    """A visit after a longer wait is a bad experience (at most ``experience.late``); none:
    only a cancellation is."""
    experience: VisitExperience = VisitExperience()

    @model_validator(mode="after")
    def _coherent(self) -> AppointmentSettings:
        if len(set(self.days)) != len(self.days):
            raise ValueError(f"days {self.days} name a day twice, expected each day once")
        if self.bad_after is not None and self.bad_after > self.max_wait:
            raise ValueError(
                f"bad_after ({self.bad_after / DAY:g} days) is longer than max_wait "
                f"({self.max_wait / DAY:g} days), expected at most max_wait: no visit comes later"
            )
        return self

    @property
    def working(self) -> tuple[int, ...]:
        """The working days as weekday numbers (0: Monday), in order."""
        return tuple(sorted(WEEKDAYS.index(day) for day in self.days))

    @property
    def max_wait_days(self) -> int:
        """The longest wait in whole days (a visit's wait is counted in calendar days)."""
        return int(self.max_wait / DAY + 1e-9)

    @property
    def bad_after_days(self) -> float:
        """``bad_after`` in days (infinite when none is stated)."""
        return float("inf") if self.bad_after is None else self.bad_after / DAY
