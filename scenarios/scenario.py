"""Scenario files: what a plan changes in a world, what it costs, and from which month.

A scenario is written in YAML (see ``scenarios/examples/``) and read with
:func:`load_scenario`, which validates it like a world file (pydantic, then cross-checks
against the world) so every problem is one line naming the file and the field path::

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
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError, model_validator

from sim.checks import Problems, _sums_to_one, _unknown
from sim.errors import InputError
from sim.queues import PositiveDuration
from sim.schema import NonNegative, Probability, StrictModel
from sim.world import (
    LOST,
    PURCHASE,
    START,
    PerSegment,
    RatingDistribution,
    Touchpoint,
    World,
    _describe_all,
    read_yaml,
)

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
            raise ValueError("customers never meet it, expected journey, contacts_per_month "
                             "or onboarding")
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
            raise ValueError("nothing to change, expected agents, extra_agents, "
                             "handling_mean or resolution")
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
            spend[s.start_month:] += s.monthly_cost
            if s.start_month < months:
                spend[s.start_month] += s.one_off_cost
        return spend


def as_plan(plan: Plan | Scenario) -> Plan:
    """A scenario is a plan of one."""
    return plan if isinstance(plan, Plan) else Plan(plan.name, (plan,))


def load_scenario(path: str | Path, world: World) -> Scenario:
    """Read, validate and cross-check a scenario file against ``world``.

    Raises
    ------
    InputError
        With every problem found, one line each naming the file and the field.
    """
    path = Path(path)
    return parse_scenario(read_yaml(path), world, str(path))


def parse_scenario(data: dict, world: World, source: str = "scenario") -> Scenario:
    """A scenario from an already-read mapping (``source`` names it in error messages)."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise InputError(source, _describe(error)) from None
    scenario._source, scenario._world = source, world
    _raise_first(check_plan(as_plan(scenario), world))
    return scenario


def combine(scenarios: list[Scenario], name: str) -> Plan:
    """A plan of scenarios (loaded against one world), cross-checked together.

    Raises
    ------
    InputError
        For the first file whose edits clash with an earlier scenario's (a touchpoint
        added twice, removed twice, or edited after its removal).
    """
    worlds = {id(s._world) for s in scenarios}
    if not scenarios or len(worlds) != 1 or scenarios[0]._world is None:
        raise ValueError("combine needs scenarios loaded against one world (load_scenario)")
    plan = Plan(name, tuple(scenarios))
    _raise_first(check_plan(plan, scenarios[0]._world))
    return plan


def _raise_first(found: list[tuple[str, str, str]]) -> None:
    if found:
        source = found[0][0]
        raise InputError(source, [(w, m) for s, w, m in found if s == source])


def _describe(error: ValidationError) -> Problems:
    """Pydantic errors as problems, without the edit kind pydantic puts in the path."""
    errors, problems = [], []
    for e in error.errors():
        loc = e["loc"]
        if loc[:1] == ("edits",) and len(loc) > 2 and loc[2] in KINDS:
            loc = loc[:2] + loc[3:]
        kinds = ", ".join(KINDS)
        if e["type"] == "union_tag_invalid":
            tag = e["ctx"]["tag"]
            problems.append((f"edits[{loc[1]}].kind",
                             f"unknown kind {tag!r}, expected one of {kinds}"))
        elif e["type"] == "union_tag_not_found":
            problems.append((f"edits[{loc[1]}]", f"no 'kind', expected one of {kinds}"))
        elif e["type"] == "model_attributes_type" and loc[:1] == ("edits",):
            problems.append((f"edits[{loc[1]}]", f"got {e['input']!r}, expected a mapping "
                                                 f"with a kind ({kinds})"))
        else:
            errors.append({**e, "loc": loc})
    return _describe_all(errors) + problems


def check_plan(plan: Plan, world: World) -> list[tuple[str, str, str]]:
    """Every problem of a plan against a world, as (file, path, message), in month order.

    Ids are checked against the touchpoints in use at the edit's month (the world's, plus
    those added, less those removed, earlier); then the edit is applied to the world's
    parameter set (:func:`scenarios.edits.apply`, whose EditError is a problem too) and no
    segment's journey may trap prospects.
    """
    from scenarios.chains import trapped
    from scenarios.edits import EditError, align, apply
    from sim.parameters import from_world

    ids = _Ids(world, plan)
    params = align(from_world(world), plan)
    found = []
    for item in plan.timed_edits():
        problems = _CHECKS[item.edit.kind](item.edit, ids, item)
        if not problems:
            try:
                params = apply(params, item.edit)
            except EditError as error:
                problems = [(error.where, error.message)]
            else:
                problems = [("", f"leaves {segment} prospects stuck at {', '.join(names)}, "
                                 "expected a way out of the journey (purchase or lost)")
                            for segment, names in trapped(params).items()]
        found += [(item.source, f"{item.where}.{w}" if w else item.where, m)
                  for w, m in problems]
        ids.update(item)
    return found


class _Ids:
    """Touchpoint and segment ids a plan may name, as its edits take effect one by one."""

    def __init__(self, world: World, plan: Plan):
        self.world_ids, self.segments = world.touchpoint_ids, world.segment_ids
        self.owner: dict[str, TimedEdit] = {}  # new id -> the edit that adds it
        self.why_not: dict[str, tuple[str, TimedEdit]] = {}  # not in use -> (why, by which)
        for item in plan.timed_edits():
            if isinstance(item.edit, AddTouchpoint):
                name = item.edit.touchpoint.id
                self.owner.setdefault(name, item)
                if name not in self.world_ids:
                    first = self.owner[name]
                    self.why_not[name] = (f"is added only from month {first.month} by", first)

    @staticmethod
    def label(item: TimedEdit, source: str) -> str:
        """``edits[2]`` within the same file, else ``<file> edits[2]``."""
        return item.where if item.source == source else f"{item.source} {item.where}"

    def in_use(self) -> list[str]:
        return [t for t in [*self.world_ids, *self.owner] if t not in self.why_not]

    def touchpoint(self, where: str, name: str, item: TimedEdit, start: bool = False) -> Problems:
        """No problem if ``name`` is in use at the edit's month (or is ``start``, if allowed)."""
        if name in self.in_use() or (start and name == START):
            return []
        if name in self.why_not:
            why, by = self.why_not[name]
            return [(where, f"touchpoint {name!r} {why} {self.label(by, item.source)}, "
                            "expected one in use")]
        known = [START, *self.in_use()] if start else self.in_use()
        return [(where, f"unknown touchpoint {name!r}, expected one of {', '.join(known)}")]

    def segment_list(self, where: str, names: list[str] | None) -> Problems:
        return [(f"{where}[{j}]", f"unknown segment {name!r}, expected one of "
                                  f"{', '.join(self.segments)}")
                for j, name in enumerate(names or []) if name not in self.segments]

    def update(self, item: TimedEdit) -> None:
        """The ids in use after ``item`` took effect."""
        edit = item.edit
        if isinstance(edit, AddTouchpoint) and self.owner[edit.touchpoint.id] == item:
            self.why_not.pop(edit.touchpoint.id, None)
        elif isinstance(edit, RemoveTouchpoint) and edit.touchpoint in self.in_use():
            self.why_not[edit.touchpoint] = ("is removed by", item)


def _ratings(where: str, ratings: dict[str, list[float]], segments: list[str]) -> Problems:
    problems = _unknown(where, ratings, [*segments, "default"], "segment")
    for segment, distribution in ratings.items():
        problems += _sums_to_one(f"{where}.{segment}", distribution, "rating probabilities")
    return problems


def _check_add(edit: AddTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    name, segments = edit.touchpoint.id, ids.segments
    if name in ids.world_ids:
        return [("touchpoint.id", f"touchpoint {name!r} exists in the world, expected a new id")]
    if ids.owner[name] != item:
        first = ids.label(ids.owner[name], item.source)
        return [("touchpoint.id", f"touchpoint {name!r} is also added by {first}, expected "
                                  "each new id once")]
    problems = _ratings("touchpoint.ratings", edit.touchpoint.ratings, segments)
    missing = [s for s in segments if s not in edit.touchpoint.ratings]
    if missing and "default" not in edit.touchpoint.ratings:
        problems.append(("touchpoint.ratings", f"no ratings for {', '.join(missing)}, expected "
                                               "a distribution per segment or a 'default'"))
    entered: dict[str, int] = {}
    for j, entry in enumerate(edit.journey):
        problems += ids.touchpoint(f"journey[{j}].after", entry.after, item, start=True)
        problems += ids.segment_list(f"journey[{j}].segments", entry.segments)
        for segment in segments if entry.segments is None else entry.segments:
            if segment in entered:
                problems.append((f"journey[{j}]", f"{segment} already meets {name!r} by "
                                 f"journey[{entered[segment]}], expected one entry per segment"))
            entered.setdefault(segment, j)
    for field in ("contacts_per_month", "churn_effect"):
        value = getattr(edit, field)
        if isinstance(value, dict):
            problems += _unknown(field, value, segments, "segment")
    return problems + ids.segment_list("onboarding", edit.onboarding)


def _check_fix(edit: FixTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    problems = ids.touchpoint("touchpoint", edit.touchpoint, item)
    problems += _ratings("ratings", edit.ratings or {}, ids.segments)
    return problems + ids.segment_list("segments", edit.segments)


def _check_remove(edit: RemoveTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    return ids.touchpoint("touchpoint", edit.touchpoint, item)


def _check_reroute(edit: Reroute, ids: _Ids, item: TimedEdit) -> Problems:
    if edit.segment not in ids.segments:
        return [("segment", f"unknown segment {edit.segment!r}, expected one of "
                            f"{', '.join(ids.segments)}")]
    problems: Problems = []
    for state, row in edit.journey.items():
        where = f"journey.{state}"
        problems += ids.touchpoint(where, state, item, start=True)
        for target in row:
            if target in (PURCHASE, LOST):
                if state == START:
                    problems.append((f"{where}.{target}", f"start leads to touchpoints only, "
                                                          f"expected no {target!r} from start"))
            else:
                problems += ids.touchpoint(f"{where}.{target}", target, item)
        problems += _sums_to_one(where, row.values(), "probabilities")
    return problems


def _check_prospects(edit: ChangeProspects, ids: _Ids, item: TimedEdit) -> Problems:
    problems = _unknown("per_month", edit.per_month, ids.segments, "segment")
    if isinstance(edit.factor, dict):
        problems += _unknown("factor", edit.factor, ids.segments, "segment")
        problems += [(f"per_month.{s}", "also has a factor, expected a factor or a value")
                     for s in edit.per_month if s in edit.factor]
    return problems


def _check_shift(edit: Shift, ids: _Ids, item: TimedEdit) -> Problems:
    return [*ids.touchpoint("from", edit.from_, item), *ids.touchpoint("to", edit.to, item),
            *ids.segment_list("segments", edit.segments)]


_CHECKS = {"add": _check_add, "fix": _check_fix, "remove": _check_remove,
           "reroute": _check_reroute, "prospects": _check_prospects, "shift": _check_shift}
