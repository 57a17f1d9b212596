"""Scenario files: what a plan changes in a world, what it costs, and from which month.

A scenario is written in YAML (see ``scenarios/examples/``) and read with
:func:`load_scenario`, which validates it like a world file (pydantic, then cross-checks
against the world: :mod:`scenarios.checks`) so every problem is one line naming the file
and the field path::

    name: Clearer invoice
    one_off_cost: 180000        # in the world's currency
    monthly_cost: 3000          # from start_month on; negative for a saving
    effort_weeks: 16            # person-weeks
    start_month: 4              # month of the run the edits take effect
    edits:
      - {kind: fix, touchpoint: invoice, bad_ratings: halve}

Edit kinds (``kind``): ``add``, ``fix``, ``remove``, ``reroute``, ``prospects`` and
``shift``; :mod:`scenarios.edits` defines what each does to a parameter set. Scenarios
combine into a :class:`Plan` (:func:`combine`): costs add, and each edit keeps its
scenario's start month (a ``shift`` its own ``from_month``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, PrivateAttr, model_validator

from sim.inputs.queues import PositiveDuration
from sim.inputs.schema import NonNegative, Probability, StrictModel
from sim.inputs.world import PerSegment, RatingDistribution, Touchpoint, World

KINDS = ("add", "fix", "remove", "reroute", "prospects", "shift")
Month = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(gt=0, le=1)]
Rates = NonNegative | dict[str, NonNegative]
"""One value for every segment, or a value per segment id (unlisted segments: none)."""


def _factor(value: object) -> object:
    """``halve`` is the factor 0.5; other words are refused with what is expected."""
    if value == "halve":
        return 0.5
    if isinstance(value, str):
        raise ValueError(f"got {value!r}, expected 'halve' or a factor such as 0.5")
    return value


class Entry(StrictModel):
    """Where prospects meet a new touchpoint N: a share p of the moves out of ``after``.

    Row a of ``after`` becomes p to N plus (1 - p) times the old row; N's row is a copy of
    a's old row, so prospects continue from N as they would have from a. ``after: start``
    does the same to the start probabilities (N's row is then the old start row).
    """

    after: str
    probability: Share
    segments: list[str] | None = None
    """Segment ids; None: every segment. One entry per segment and new touchpoint."""


class AddTouchpoint(StrictModel):
    """A new touchpoint: its definition and where customers meet it."""

    kind: Literal["add"]
    touchpoint: Touchpoint
    journey: list[Entry] = []
    contacts_per_month: Rates = {}
    onboarding: list[str] = []
    """Segments that meet it in onboarding, after their other onboarding touchpoints."""
    churn_effect: PerSegment = 0.0
    """beta of its view in the churn hazard (a posterior knows no new touchpoint)."""
    loyalty_effect: float = 0.0
    """gamma of its view in the self-classification."""

    @model_validator(mode="after")
    def _met_somewhere(self) -> AddTouchpoint:
        if not (self.journey or self.contacts_per_month or self.onboarding):
            raise ValueError(
                "customers never meet it, expected journey, contacts_per_month or onboarding"
            )
        return self


class QueueFix(StrictModel):
    """New staffing, handling time or first-contact resolution of a queued touchpoint."""

    agents: Annotated[int, Field(ge=1)] | None = None
    extra_agents: int | None = None
    """Agents on duty added (or, negative, taken away)."""
    handling_mean: PositiveDuration | None = None
    """New mean handling time; a lognormal's sd scales with it (same coefficient of
    variation)."""
    resolution: Probability | None = None

    @model_validator(mode="after")
    def _one_change(self) -> QueueFix:
        if self.agents is not None and self.extra_agents is not None:
            raise ValueError("expected agents or extra_agents, not both")
        if self.model_fields_set == set():
            raise ValueError(
                "nothing to change, expected agents, extra_agents, handling_mean or resolution"
            )
        return self


class FixTouchpoint(StrictModel):
    """Better (or worse) experiences at a touchpoint, or new staffing of its queue."""

    kind: Literal["fix"]
    touchpoint: str
    ratings: dict[str, RatingDistribution] | None = None
    """New distributions per segment; ``default`` covers unlisted segments; without a
    ``default`` unlisted segments keep theirs."""
    bad_ratings: Annotated[NonNegative, BeforeValidator(_factor)] | None = None
    """f: P(1), P(2) times f, P(3..5) times (1 - f b)/(1 - b) with b = P(1) + P(2)."""
    segments: list[str] | None = None
    """Segments whose bad ratings change; None: every segment."""
    queue: QueueFix | None = None

    @model_validator(mode="after")
    def _something_to_fix(self) -> FixTouchpoint:
        if self.ratings is not None and self.bad_ratings is not None:
            raise ValueError("expected ratings or bad_ratings, not both")
        if self.segments is not None and self.bad_ratings is None:
            raise ValueError("segments applies to bad_ratings; ratings name their segments")
        if self.ratings is None and self.bad_ratings is None and self.queue is None:
            raise ValueError("nothing to fix, expected ratings, bad_ratings or queue")
        return self


class RemoveTouchpoint(StrictModel):
    """A touchpoint no one meets any more (journeys, recurring contacts, onboarding)."""

    kind: Literal["remove"]
    touchpoint: str
    traffic: Literal["successors", "lost"] = "successors"
    """Where the moves into it go: on to its successors, or to lost."""
    replaced_by: str | None = None
    """A touchpoint in use that takes over its recurring contacts and its place in
    onboarding; needed for an essential touchpoint (the need stays when the touchpoint goes)."""


class Reroute(StrictModel):
    """New rows of a segment's journey (``start`` or touchpoints), each summing to 1."""

    kind: Literal["reroute"]
    segment: str
    journey: Annotated[dict[str, dict[str, Probability]], Field(min_length=1)]


class ChangeProspects(StrictModel):
    """Prospect arrivals per month: a factor (all or per segment) or new values; a
    segment's value in ``per_month`` wins over a factor for all segments."""

    kind: Literal["prospects"]
    factor: Rates | None = None
    per_month: dict[str, NonNegative] = {}

    @model_validator(mode="after")
    def _some_change(self) -> ChangeProspects:
        if self.factor is None and not self.per_month:
            raise ValueError("nothing to change, expected factor or per_month")
        return self


class Shift(StrictModel):
    """A share of the moves into one touchpoint goes to another (a market shock)."""

    kind: Literal["shift"]
    from_: str = Field(alias="from")
    to: str
    share: Share
    segments: list[str] | None = None
    from_month: Month | None = None
    """Month of the run the shift starts; None: the scenario's start month."""

    @model_validator(mode="after")
    def _two_touchpoints(self) -> Shift:
        if self.from_ == self.to:
            raise ValueError(f"'from' and 'to' are both {self.to!r}, expected two touchpoints")
        return self


Edit = Annotated[
    AddTouchpoint | FixTouchpoint | RemoveTouchpoint | Reroute | ChangeProspects | Shift,
    Field(discriminator="kind"),
]


class Scenario(StrictModel):
    """A scenario file: edits to a world, their costs, effort and start month."""

    name: str = Field(min_length=1)
    description: str = ""
    one_off_cost: NonNegative
    monthly_cost: float
    """Spent every month from start_month on; negative for a saving (closed stores)."""
    effort_weeks: NonNegative
    """Person-weeks of work to implement it."""
    start_month: Month
    edits: Annotated[list[Edit], Field(min_length=1)]
    _source: str = PrivateAttr("")
    _world: World | None = PrivateAttr(None)

    @property
    def source(self) -> str:
        """The file it was read from."""
        return self._source

    def month_of(self, edit: Edit) -> int:
        """The month of the run an edit takes effect."""
        if isinstance(edit, Shift) and edit.from_month is not None:
            return edit.from_month
        return self.start_month


@dataclass(frozen=True)
class TimedEdit:
    """One edit of a plan, its month, and where it was written (``source``, ``where``)."""

    month: int
    edit: Edit
    source: str
    where: str


@dataclass(frozen=True)
class Plan:
    """Scenarios carried out together, in order; costs add."""

    name: str
    scenarios: tuple[Scenario, ...]

    @property
    def one_off_cost(self) -> float:
        return sum(s.one_off_cost for s in self.scenarios)

    @property
    def monthly_cost(self) -> float:
        return sum(s.monthly_cost for s in self.scenarios)

    @property
    def effort_weeks(self) -> float:
        return sum(s.effort_weeks for s in self.scenarios)

    def timed_edits(self) -> list[TimedEdit]:
        """Every edit with its month, by month; plan then file order within a month."""
        timed = [
            TimedEdit(s.month_of(edit), edit, s.source, f"edits[{i}]")
            for s in self.scenarios for i, edit in enumerate(s.edits)
        ]  # fmt: skip
        return sorted(timed, key=lambda t: t.month)  # stable

    def added(self) -> list[AddTouchpoint]:
        """The touchpoints the plan adds, in plan order."""
        return [e for s in self.scenarios for e in s.edits if isinstance(e, AddTouchpoint)]

    def costs(self, months: int) -> np.ndarray:
        """Spend per month of the run (undiscounted): c_m = sum over scenarios of
        one_off [m = start] + monthly [m >= start]."""
        spend = np.zeros(months)
        for s in self.scenarios:
            spend[s.start_month :] += s.monthly_cost
            if s.start_month < months:
                spend[s.start_month] += s.one_off_cost
        return spend


def as_plan(plan: Plan | Scenario) -> Plan:
    """A scenario is a plan of one."""
    return plan if isinstance(plan, Plan) else Plan(plan.name, (plan,))
