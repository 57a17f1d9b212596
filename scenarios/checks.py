"""Cross-checks of a plan against its world that field validation cannot see.

Ids are checked against the touchpoints in use at each edit's month (a removal's traffic
may name touchpoints in use, not the one removed), rating distributions and journey rows
must sum to one, and an edit must apply to the parameter set without trapping prospects.
Like :mod:`sim.inputs.checks` for a world, each check returns ``(path, message)`` problems
and :func:`check_plan` collects them all, so a user sees every mistake at once;
:func:`scenarios.load.load_scenario` and :func:`scenarios.load.combine`
raise those of the first file that has any.
"""

from __future__ import annotations

from scenarios.edits import EditError, align, apply
from scenarios.scenario import (
    AddTouchpoint,
    ChangeProspects,
    FixTouchpoint,
    MarketMove,
    Plan,
    RemoveTouchpoint,
    Reroute,
    Shift,
    TimedEdit,
)
from sim.formulas.chains import trapped
from sim.inputs.checks import Problems, sums_to_one, unknown
from sim.inputs.parameters import from_world
from sim.inputs.world import LOST, PURCHASE, START, World


def check_plan(plan: Plan, world: World) -> list[tuple[str, str, str]]:
    """Every problem of a plan against a world, as (file, path, message), in month order.

    Ids are checked against the touchpoints in use at the edit's month (the world's, plus
    those added, less those removed, earlier); then the edit is applied to the world's
    parameter set (:func:`scenarios.edits.apply`, whose EditError is a problem too) and no
    segment's journey may trap prospects.
    """
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
                problems = [
                    (
                        "",
                        f"leaves {segment} prospects stuck at {', '.join(names)}, "
                        "expected a way out of the journey (purchase or lost)",
                    )
                    for segment, names in trapped(params).items()
                ]
        found += [(item.source, f"{item.where}.{w}" if w else item.where, m) for w, m in problems]
        ids.update(item)
    return found


class _Ids:
    """Touchpoint and segment ids a plan may name, as its edits take effect one by one."""

    def __init__(self, world: World, plan: Plan):
        self.world_ids, self.segments = world.touchpoint_ids, world.segment_ids
        self.essential = {t.id for t in world.touchpoints if t.essential}
        self.owner: dict[str, TimedEdit] = {}  # new id -> the edit that adds it
        self.why_not: dict[str, tuple[str, TimedEdit]] = {}  # not in use -> (why, by which)
        for item in plan.timed_edits():
            if isinstance(item.edit, AddTouchpoint):
                name = item.edit.touchpoint.id
                self.owner.setdefault(name, item)
                if item.edit.touchpoint.essential:
                    self.essential.add(name)
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
            return [
                (
                    where,
                    f"touchpoint {name!r} {why} {self.label(by, item.source)}, expected one in use",
                )
            ]
        known = [START, *self.in_use()] if start else self.in_use()
        return [(where, f"unknown touchpoint {name!r}, expected one of {', '.join(known)}")]

    def segment_list(self, where: str, names: list[str] | None) -> Problems:
        return [
            (
                f"{where}[{j}]",
                f"unknown segment {name!r}, expected one of {', '.join(self.segments)}",
            )
            for j, name in enumerate(names or [])
            if name not in self.segments
        ]

    def update(self, item: TimedEdit) -> None:
        """The ids in use after ``item`` took effect."""
        edit = item.edit
        if isinstance(edit, AddTouchpoint) and self.owner[edit.touchpoint.id] == item:
            self.why_not.pop(edit.touchpoint.id, None)
        elif isinstance(edit, RemoveTouchpoint) and edit.touchpoint in self.in_use():
            self.why_not[edit.touchpoint] = ("is removed by", item)


def _ratings(where: str, ratings: dict[str, list[float]], segments: list[str]) -> Problems:
    problems = unknown(where, ratings, [*segments, "default"], "segment")
    for segment, distribution in ratings.items():
        problems += sums_to_one(f"{where}.{segment}", distribution, "rating probabilities")
    return problems


def _check_add(edit: AddTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    name, segments = edit.touchpoint.id, ids.segments
    if name in ids.world_ids:
        return [("touchpoint.id", f"touchpoint {name!r} exists in the world, expected a new id")]
    if ids.owner[name] != item:
        first = ids.label(ids.owner[name], item.source)
        return [
            (
                "touchpoint.id",
                f"touchpoint {name!r} is also added by {first}, expected each new id once",
            )
        ]
    problems = _ratings("touchpoint.ratings", edit.touchpoint.ratings, segments)
    if edit.touchpoint.appointments is not None:
        problems.append(
            (
                "touchpoint.appointments",
                "a touchpoint a scenario adds cannot have crews yet, expected appointments only "
                "in the world file (a fix may change them)",
            )
        )
    missing = [s for s in segments if s not in edit.touchpoint.ratings]
    if missing and "default" not in edit.touchpoint.ratings:
        problems.append(
            (
                "touchpoint.ratings",
                f"no ratings for {', '.join(missing)}, expected "
                "a distribution per segment or a 'default'",
            )
        )
    entered: dict[str, int] = {}
    for j, entry in enumerate(edit.journey):
        problems += ids.touchpoint(f"journey[{j}].after", entry.after, item, start=True)
        problems += ids.segment_list(f"journey[{j}].segments", entry.segments)
        for segment in segments if entry.segments is None else entry.segments:
            if segment in entered:
                problems.append(
                    (
                        f"journey[{j}]",
                        f"{segment} already meets {name!r} by "
                        f"journey[{entered[segment]}], expected one entry per segment",
                    )
                )
            entered.setdefault(segment, j)
    for field in ("contacts_per_month", "churn_effect"):
        value = getattr(edit, field)
        if isinstance(value, dict):
            problems += unknown(field, value, segments, "segment")
    return problems + ids.segment_list("onboarding", edit.onboarding)


def _check_fix(edit: FixTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    problems = ids.touchpoint("touchpoint", edit.touchpoint, item)
    problems += _ratings("ratings", edit.ratings or {}, ids.segments)
    return problems + ids.segment_list("segments", edit.segments)


def _check_remove(edit: RemoveTouchpoint, ids: _Ids, item: TimedEdit) -> Problems:
    problems = ids.touchpoint("touchpoint", edit.touchpoint, item)
    if edit.replaced_by is None:
        if edit.touchpoint in ids.essential:
            problems.append(
                (
                    "touchpoint",
                    f"touchpoint {edit.touchpoint!r} is essential "
                    "(customers need what it does), expected replaced_by: the "
                    "touchpoint that takes over its contacts",
                )
            )
    elif edit.replaced_by == edit.touchpoint:
        problems.append(
            (
                "replaced_by",
                f"{edit.replaced_by!r} replaces itself, expected another touchpoint in use",
            )
        )
    else:
        problems += ids.touchpoint("replaced_by", edit.replaced_by, item)
    for name in [] if edit.traffic is None else edit.traffic.touchpoints:
        where = f"traffic.{name}"
        if name == edit.touchpoint:
            problems.append(
                (
                    where,
                    f"{name!r} is the touchpoint removed, expected successors, lost or "
                    "another touchpoint in use",
                )
            )
        elif name in ids.in_use() or name in ids.why_not:
            problems += ids.touchpoint(where, name, item)
        else:
            problems.append(
                (
                    where,
                    f"unknown touchpoint {name!r}, expected successors, lost or one of "
                    f"{', '.join(t for t in ids.in_use() if t != edit.touchpoint)}",
                )
            )
    return problems


def _check_reroute(edit: Reroute, ids: _Ids, item: TimedEdit) -> Problems:
    if edit.segment not in ids.segments:
        return [
            (
                "segment",
                f"unknown segment {edit.segment!r}, expected one of {', '.join(ids.segments)}",
            )
        ]
    problems: Problems = []
    for state, row in edit.journey.items():
        where = f"journey.{state}"
        problems += ids.touchpoint(where, state, item, start=True)
        for target in row:
            if target in (PURCHASE, LOST):
                if state == START:
                    problems.append(
                        (
                            f"{where}.{target}",
                            f"start leads to touchpoints only, expected no {target!r} from start",
                        )
                    )
            else:
                problems += ids.touchpoint(f"{where}.{target}", target, item)
        problems += sums_to_one(where, row.values(), "probabilities")
    return problems


def _check_prospects(edit: ChangeProspects, ids: _Ids, item: TimedEdit) -> Problems:
    problems = unknown("per_month", edit.per_month, ids.segments, "segment")
    if isinstance(edit.factor, dict):
        problems += unknown("factor", edit.factor, ids.segments, "segment")
        problems += [
            (f"per_month.{s}", "also has a factor, expected a factor or a value")
            for s in edit.per_month
            if s in edit.factor
        ]
    return problems


def _check_shift(edit: Shift, ids: _Ids, item: TimedEdit) -> Problems:
    return [
        *ids.touchpoint("from", edit.from_, item),
        *ids.touchpoint("to", edit.to, item),
        *ids.segment_list("segments", edit.segments),
    ]


def _check_market_move(edit: MarketMove, ids: _Ids, item: TimedEdit) -> Problems:
    problems = ids.touchpoint("touchpoint", edit.touchpoint, item)
    problems += sums_to_one("ratings", edit.ratings, "rating probabilities")
    if edit.before is not None:
        problems += sums_to_one("before", edit.before, "rating probabilities")
    return problems


_CHECKS = {
    "add": _check_add,
    "fix": _check_fix,
    "remove": _check_remove,
    "reroute": _check_reroute,
    "prospects": _check_prospects,
    "shift": _check_shift,
    "market_move": _check_market_move,
}
