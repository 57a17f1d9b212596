"""The ``queue`` section of a touchpoint in the world file: staff, handling, patience.

A call centre, a store or a field-repair desk has limited staff; its settings say how many
agents are on duty, how long a contact takes, how long callers wait before hanging up, the
service-level target, first-contact resolution, repeat contacts and how waiting turns into a
rating. The desk that serves contacts with them is :class:`sim.engine.desk.QueueDesk`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from sim.inputs.schema import Probability, StrictModel
from sim.inputs.units import MONTH, Duration


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


class QueueSettings(StrictModel):
    """A queued touchpoint in the world file.

    Example::

        queue: {agents: 7, handling: {mean: 3 min}, patience: {share: 0.6, within: 1 min},
                service_level: {share: 0.8, within: 20 s}, resolution: 0.85}
    """

    agents: Annotated[int, Field(ge=1, le=100_000)]
    """Agents on duty: 100,000 is more than the largest call centres seat."""
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
