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

Edit kinds (``kind``): ``add``, ``fix``, ``remove``, ``reroute``, ``prospects``, ``shift``
and ``market_move``; :mod:`scenarios.edits` defines what each does to a parameter set.
Scenarios combine into a :class:`Plan` (:func:`combine`): costs add, and each edit keeps its
scenario's start month (a ``shift`` or ``market_move`` its own ``from_month``).

A removal states where the removed touchpoint's traffic goes (:class:`Traffic`)::

    edits:
      - {kind: remove, touchpoint: store, traffic: {successors: 0.5, lost: 0.5}}
      - {kind: remove, touchpoint: tv_ad, traffic: {website: 0.3, lost: 0.7}}
      - {kind: remove, touchpoint: app, traffic: lost}

Without ``traffic`` it is the world's stated ``substitution`` of that touchpoint, and
``lost`` where the world states none (:func:`default_traffic`; filled in on loading).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    model_validator,
)
from pydantic_core import core_schema

from sim.inputs.appointments import Weekday
from sim.inputs.checks import TOLERANCE
from sim.inputs.queues import PositiveDuration
from sim.inputs.schema import Name, NonNegative, Probability, StrictModel, Text
from sim.inputs.world import LOST, PerSegment, RatingDistribution, Touchpoint, World

KINDS = ("add", "fix", "remove", "reroute", "prospects", "shift", "market_move")
RESERVED_NAMES = ("baseline",)
"""Scenario names the tool uses itself: ``baseline`` is the run without edits."""


def _scenario_name(value: str) -> str:
    if not value:
        raise ValueError("is empty, expected a name such as 'Clearer invoice'")
    if value.strip().lower() in RESERVED_NAMES:
        raise ValueError(f"{value!r} is the name of the run without edits, expected another name")
    return value


ScenarioName = Annotated[Name, AfterValidator(_scenario_name)]
"""A scenario's (or plan's) name: a :data:`sim.inputs.schema.Name`, not empty, not
``baseline``."""
SUCCESSORS = "successors"
"""The end of a removal's traffic that goes on as if the prospect had met the touchpoint."""
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


def _one_change(fix: StrictModel, level: str, extra: str) -> StrictModel:
    """A fix that states a new ``level`` or an ``extra`` to add to it, not both, and at least
    one of its fields (named in the message: "agents, extra_agents, handling_mean or
    resolution")."""
    if getattr(fix, level) is not None and getattr(fix, extra) is not None:
        raise ValueError(f"expected {level} or {extra}, not both")
    if fix.model_fields_set == set():
        *others, last = type(fix).model_fields
        raise ValueError(f"nothing to change, expected {', '.join(others)} or {last}")
    return fix


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
        return _one_change(self, "agents", "extra_agents")


class AppointmentsFix(StrictModel):
    """New capacity or working days of a touchpoint's crews (its ``appointments``)."""

    visits_per_day: Annotated[float, Field(gt=0)] | None = None
    extra_visits_per_day: float | None = None
    """Visits a working day added (or, negative, taken away)."""
    days: list[Weekday] | None = None

    @model_validator(mode="after")
    def _one_change(self) -> AppointmentsFix:
        return _one_change(self, "visits_per_day", "extra_visits_per_day")


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
    appointments: AppointmentsFix | None = None

    @model_validator(mode="after")
    def _something_to_fix(self) -> FixTouchpoint:
        if self.ratings is not None and self.bad_ratings is not None:
            raise ValueError("expected ratings or bad_ratings, not both")
        if self.segments is not None and self.bad_ratings is None:
            raise ValueError("segments applies to bad_ratings; ratings name their segments")
        if (self.ratings, self.bad_ratings, self.queue, self.appointments) == (None,) * 4:
            raise ValueError("nothing to fix, expected ratings, bad_ratings, queue or appointments")
        return self


STATED = "stated in the scenario"
"""The :attr:`Traffic.basis` of traffic a scenario file states."""


@dataclass(frozen=True)
class Traffic:
    """Where the moves into a removed touchpoint k go: shares of three kinds summing to 1.

    - ``successors``: on along k's onward row without its self-loop, o = T[k] with T[k, k]
      set to 0, over 1 - T[k, k]: the prospect goes where they would have gone after k,
      without meeting k (and so without a bad experience there);
    - ``lost``: out of the journey;
    - ``to``: straight to the named touchpoints (in use at the edit's month, not k itself).

    Every move into k, and the start share a_k, is split this way in every segment
    (:func:`scenarios.edits.remove_from_journey`). The two ends are :data:`SUCCESSORS_END`
    (a free substitute: the old default) and :data:`LOST_END` (no substitute: the
    conservative end); ``Traffic.mix(s)`` is the mix of share s to the successors and 1 - s
    lost. A scenario file writes ``successors``, ``lost`` or a mapping of shares:
    ``{successors: 0.6, lost: 0.4}``, ``{website: 0.3, lost: 0.7}``.

    ``basis`` says where the figure comes from (:data:`STATED`, the world's stated
    substitution, or none stated); it is not part of equality.

    Raises
    ------
    ValueError
        If a share is outside [0, 1], the shares do not sum to 1 (within
        :data:`sim.inputs.checks.TOLERANCE`) or a touchpoint is named twice or as an end.
    """

    successors: float = 0.0
    lost: float = 0.0
    to: tuple[tuple[str, float], ...] = ()
    """(touchpoint id, share) pairs, in the order written."""
    basis: str = field(default=STATED, compare=False)

    def __post_init__(self) -> None:
        for name, share in self.shares().items():
            if not 0 <= share <= 1:
                raise ValueError(f"the share of {name!r} is {share:g}, expected 0 to 1")
        names = [name for name, _ in self.to]
        for name in names:
            if name in (SUCCESSORS, LOST):
                raise ValueError(f"{name!r} is an end, expected it as successors or lost")
            if names.count(name) > 1:
                raise ValueError(f"{name!r} is named twice, expected each destination once")
        total = self.successors + self.lost + sum(share for _, share in self.to)
        if abs(total - 1) > TOLERANCE:
            raise ValueError(f"shares sum to {total:.6g}, expected 1")

    @classmethod
    def mix(cls, share: float, basis: str = STATED) -> Traffic:
        """Share s on to the successors and 1 - s lost (s = 1 and s = 0 are the two ends)."""
        return cls(successors=share, lost=1.0 - share, basis=basis)

    @classmethod
    def of(cls, value: Traffic | str | Mapping[str, float], basis: str = STATED) -> Traffic:
        """Traffic from what a file writes: ``successors``, ``lost`` or shares by destination.

        Raises
        ------
        ValueError
            If ``value`` is another word or not a mapping, or the shares are not valid.
        """
        if isinstance(value, Traffic):
            return value
        if isinstance(value, str):
            if value not in (SUCCESSORS, LOST):
                raise ValueError(f"got {value!r}, expected {_WRITTEN}")
            value = {value: 1.0}
        if not isinstance(value, Mapping):
            raise ValueError(f"got {value!r}, expected {_WRITTEN}")
        to = tuple((k, float(v)) for k, v in value.items() if k not in (SUCCESSORS, LOST))
        return cls(
            successors=float(value.get(SUCCESSORS, 0.0)),
            lost=float(value.get(LOST, 0.0)),
            to=to,
            basis=basis,
        )

    def shares(self) -> dict[str, float]:
        """Every destination's share, the ends first (``successors``, ``lost``, then ``to``)."""
        return {SUCCESSORS: self.successors, LOST: self.lost, **dict(self.to)}

    @property
    def touchpoints(self) -> list[str]:
        """The touchpoints named as destinations."""
        return [name for name, _ in self.to]

    def written(self) -> str | dict[str, float]:
        """As a scenario file would write it: ``successors``, ``lost`` or the non-zero
        shares."""
        for end in (SUCCESSORS, LOST):
            if self == Traffic.of(end):
                return end
        return {name: share for name, share in self.shares().items() if share > 0}

    def __str__(self) -> str:
        written = self.written()
        if isinstance(written, str):
            return written
        return ", ".join(f"{share:.0%} {name}" for name, share in written.items())

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """A word or shares (each a Probability: out-of-range shares are reported at
        ``traffic.<destination>``) into a Traffic; a Traffic passes as it is."""
        shares = handler.generate_schema(dict[str, Probability])

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Traffic:
            if isinstance(value, Traffic | str):
                return cls.of(value)
            if not isinstance(value, dict):
                raise ValueError(f"got {value!r}, expected {_WRITTEN}")
            return cls.of(inner(value))

        return core_schema.no_info_wrap_validator_function(
            validate,
            shares,
            serialization=core_schema.plain_serializer_function_ser_schema(cls.written),
        )


_WRITTEN = "successors, lost or shares such as {successors: 0.5, lost: 0.5}"
SUCCESSORS_END = Traffic(successors=1.0)
"""Every move into the removed touchpoint goes on to its successors (a free substitute)."""
LOST_END = Traffic(lost=1.0)
"""Every move into the removed touchpoint is lost (no substitute: the conservative end)."""


def default_traffic(touchpoint: Touchpoint | None) -> Traffic:
    """The traffic of a removal that states none: ``Traffic.mix(s)`` with s the touchpoint's
    stated ``substitution`` in the world file (or in the scenario that adds it), else
    :data:`LOST_END` (no substitution is assumed free)."""
    s = None if touchpoint is None else touchpoint.substitution
    if s is None:
        name = "it" if touchpoint is None else repr(touchpoint.id)
        return Traffic(lost=1.0, basis=f"no substitution stated for {name}: all lost")
    return Traffic.mix(s, basis=f"the world's stated substitution of {touchpoint.id!r}")


class RemoveTouchpoint(StrictModel):
    """A touchpoint no one meets any more (journeys, recurring contacts, onboarding)."""

    kind: Literal["remove"]
    touchpoint: str
    traffic: Traffic | None = None
    """Where the moves into it go (:class:`Traffic`): ``successors``, ``lost`` or shares such
    as ``{successors: 0.6, lost: 0.4}`` or ``{website: 0.3, lost: 0.7}``. Not given: the
    world's stated substitution of the touchpoint, else lost (:func:`default_traffic`,
    filled in by :func:`scenarios.load.parse_scenario`); a removal built without a world
    and without traffic loses it (:func:`scenarios.edits.apply`)."""
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


class MarketMove(StrictModel):
    """A competitor improves a touchpoint, and customers whose view of ours falls short of it
    churn more (a market shock, not a company action).

    From ``from_month`` on, a customer whose view p of the touchpoint (ours) is below the
    competitor's new mean rating a = sum_r r P(r) of ``ratings`` has lambda
    (``extra_hazard_per_point``) times the shortfall added to the log-odds of churn. The
    baseline hazard was fitted (or set) in the market as it was, so it already holds the
    competitor's earlier level b: only the new part of the shortfall counts, lambda (max(0,
    a - p) - max(0, b - p)) (:func:`sim.formulas.perception.shortfall`). b is the mean of
    ``before``; not given, of the world's benchmark of this competitor at this touchpoint
    (filled in on loading, :func:`scenarios.load.parse_scenario`); where neither is, the
    competitor is new there and the whole shortfall counts. A later move at the same
    touchpoint replaces an earlier one.
    """

    kind: Literal["market_move"]
    touchpoint: str
    competitor: Name
    ratings: RatingDistribution
    """The competitor's rating distribution after the move."""
    before: RatingDistribution | None = None
    """Its distribution before the move (default: the world's benchmark, else none)."""
    extra_hazard_per_point: Annotated[float, Field(ge=0, le=5)]
    """lambda: log-odds of churn per rating point of new shortfall (exp(0.1) = 1.105: 10.5%
    higher odds a point; 5 is an odds ratio of 148 a point, far beyond any data)."""
    from_month: Month | None = None
    """Month of the run the move happens; None: the scenario's start month."""


Edit = Annotated[
    AddTouchpoint
    | FixTouchpoint
    | RemoveTouchpoint
    | Reroute
    | ChangeProspects
    | Shift
    | MarketMove,
    Field(discriminator="kind"),
]


class Scenario(StrictModel):
    """A scenario file: edits to a world, their costs, effort and start month."""

    name: ScenarioName
    description: Text = ""
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
        if isinstance(edit, Shift | MarketMove) and edit.from_month is not None:
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
