"""The ``queue`` section of a touchpoint in the world file: staff, handling, patience.

A call centre, a store or a field-repair desk has limited staff; its settings say how many
agents are on duty, how long a contact takes, how long callers wait before hanging up, the
service-level target, first-contact resolution, repeat contacts and how waiting turns into a
rating. The desk that serves contacts with them is :class:`sim.engine.desk.QueueDesk`.

Three settings only the agent engine (:mod:`sim.agents`) serves (:data:`AGENTS_ONLY`): the
segments served first (``priority``), the hours of the week at which contacts come
(``profile``) and the agents' ``shifts``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from sim.inputs.schema import Id, NonNegative, Probability, StrictModel
from sim.inputs.units import MONTH, Duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The days of the week, as ``shifts`` name them; a run starts on a Monday at 00:00."""
HOURS_A_WEEK = 168


def _share(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"expected a share strictly between 0 and 1 such as 0.6, got {value}")
    return value


def patience_rate(share: float, within: float) -> float:
    """Exponential patience rate from "share hang up within `within`": -ln(1 - share)/within.

    Exact for exponential patience: P(patience <= w) = 1 - exp(-theta w) = share.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be strictly between 0 and 1, got {share!r}")
    if not within > 0:
        raise ValueError(f"within must be > 0, got {within!r}")
    return -math.log1p(-share) / within


PositiveDuration = Annotated[Duration, Field(gt=0, le=MONTH)]
"""A queue's duration (handling, patience, delay, target): above 0, at most a month."""
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


class Patience(StrictModel):
    """Exponential patience: ``{mean: 1 min}`` or ``{share: 0.6, within: 1 min}``.

    The second reads "60% hang up within 1 min"; rate theta = -ln(1 - share)/within
    (:func:`patience_rate`), exact for exponential patience.
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


def _weights(values: list[float], length: int) -> list[float]:
    if len(values) != length:
        raise ValueError(f"has {len(values)} weights, expected {length}")
    if not sum(values) > 0:
        raise ValueError("weights are all zero, expected at least one above 0")
    return values


class Profile(StrictModel):
    """When in the week contacts come: relative weights by hour of the day (24, from
    00:00-01:00) and by day of the week (7, Monday first); the weight of an hour of the week
    is their product. Either may be left out (flat).

    Example: ``{by_hour: [0, 0, 0, 0, 0, 0, 1, 2, 4, 5, ...], by_weekday: [1.4, 1, 1, 1, 1,
    0.6, 0.3]}`` (more calls on Monday, few at night and at weekends).
    """

    by_hour: Annotated[list[NonNegative], AfterValidator(lambda v: _weights(v, 24))] | None = None
    by_weekday: Annotated[list[NonNegative], AfterValidator(lambda v: _weights(v, 7))] | None = None

    def weights(self) -> list[float]:
        """The relative weight of each of the week's 168 hours, Monday 00:00-01:00 first."""
        by_hour, by_weekday = self.by_hour or [1.0] * 24, self.by_weekday or [1.0] * 7
        return [by_weekday[h // 24] * by_hour[h % 24] for h in range(HOURS_A_WEEK)]


def _clock(value: str) -> str:
    match = re.fullmatch(r"([01]\d|2[0-4]):([0-5]\d)", value)
    if not match or (match[1] == "24" and match[2] != "00"):
        raise ValueError(f"got {value!r}, expected a time of day such as '08:00' (to '24:00')")
    return value


Clock = Annotated[str, AfterValidator(_clock)]
"""A time of day, ``"HH:MM"``, ``"24:00"`` being the day's end."""


class Shift(StrictModel):
    """Agents on duty from one time of day to a later one on some days of the week, e.g.
    ``{from: "08:00", to: "20:00", days: [mon, tue, wed, thu, fri], agents: 5}``; a shift
    through midnight is written as two. Shifts that overlap add their agents."""

    model_config = {**StrictModel.model_config, "populate_by_name": True}

    start: Clock = Field(alias="from")
    to: Clock
    days: list[Literal[WEEKDAYS]] = list(WEEKDAYS)  # type: ignore[valid-type]
    agents: Annotated[int, Field(ge=0, le=100_000)]

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Shift:
        if self.minutes(self.to) <= self.minutes(self.start):
            raise ValueError(
                f"ends at {self.to}, not after it starts ({self.start}): expected 'to' later"
                " than 'from' (a shift through midnight is two shifts)"
            )
        return self

    @staticmethod
    def minutes(clock: str) -> int:
        """Minutes after midnight of ``"HH:MM"``."""
        hours, minutes = clock.split(":")
        return 60 * int(hours) + int(minutes)


class QueueSettings(StrictModel):
    """A queued touchpoint in the world file.

    Example::

        queue: {agents: 7, handling: {mean: 3 min}, patience: {share: 0.6, within: 1 min},
                service_level: {share: 0.8, within: 20 s}, resolution: 0.85}
    """

    shifts: list[Shift] | None = Field(default=None, min_length=1)
    """Agents on duty by time of day and day of the week, besides ``agents`` (declared first,
    so that ``agents`` may be 0 with shifts)."""
    agents: Annotated[int, Field(ge=0, le=100_000)]
    """Agents on duty at every hour (with ``shifts``, besides theirs; 0 allowed then):
    100,000 is more than the largest call centres seat."""
    handling: Handling
    patience: Patience | None = None
    """None: nobody hangs up (Erlang C)."""
    service_level: ServiceLevel | None = None
    resolution: Probability = 1.0
    """First-contact resolution: P(an answered contact is resolved)."""
    retry: Retry = Retry()
    experience: Experience = Experience()
    priority: list[Id] | None = Field(default=None, min_length=1)
    """Segments served first, in order (non-preemptive; unlisted segments last; first come
    first served within a class)."""
    profile: Profile | None = None
    """When in the week contacts come (None: at any time alike)."""

    @field_validator("agents")
    @classmethod
    def _someone_on_duty(cls, agents: int, info: ValidationInfo) -> int:
        if agents < 1 and "shifts" in info.data and not info.data["shifts"]:  # (not if
            # the shifts were refused: their own problem is the one to show)
            raise ValueError(f"got {agents}, expected at least 1 agent on duty (or shifts)")
        return agents

    @model_validator(mode="after")
    def _distinct_and_staffed(self) -> QueueSettings:
        if self.shifts and max(agents for _, agents in self.roster()) < 1:
            raise ValueError("shifts: no agent is ever on duty, expected agents in a shift")
        if self.priority is not None and len(set(self.priority)) < len(self.priority):
            raise ValueError("priority: names a segment twice, expected each segment once")
        return self

    @property
    def agents_only(self) -> list[str]:
        """The settings used here that only the agent engine serves (:data:`AGENTS_ONLY`)."""
        return [name for name in AGENTS_ONLY if getattr(self, name) is not None]

    def roster(self) -> list[tuple[float, int]]:
        """The week's staffing: (minute of the week from which, agents on duty), at each
        change; the first at minute 0. ``agents`` at every hour, plus every shift on duty."""
        changes = [0] * (7 * 24 * 60 + 1)
        for shift in self.shifts or []:
            for day in shift.days:
                at = WEEKDAYS.index(day) * 24 * 60
                changes[at + shift.minutes(shift.start)] += shift.agents
                changes[at + shift.minutes(shift.to)] -= shift.agents
        roster, on_duty = [(0.0, self.agents)], self.agents
        for minute, change in enumerate(changes[:-1]):
            if change:
                on_duty += change
                if roster[-1][0] == minute:
                    roster[-1] = (float(minute), on_duty)
                elif roster[-1][1] != on_duty:
                    roster.append((float(minute), on_duty))
        return roster

    @property
    def theta(self) -> float | None:
        """Patience rate per minute, None without abandonment."""
        return None if self.patience is None else self.patience.rate


AGENTS_ONLY = {
    "priority": "priority by segment",
    "profile": "a contact profile",
    "shifts": "agents' shifts",
}
"""Queue settings only the agent engine serves, with their names for a refusal."""
