"""Cross-checks of a world that field validation cannot see: ids, sums, reachability.

Each check returns ``(path, message)`` problems; :func:`check_world` collects them all so a
user sees every mistake at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from sim.inputs.appointments import CREWS
from sim.inputs.queues import AGENTS_ONLY
from sim.inputs.units import MONTH, YEAR, parse_duration
from sim.inputs.world import LOST, PURCHASE, START, World

LONGEST_TENURE = 100 * YEAR
"""The longest tenure a ``tenure_mix`` table may state."""

TOLERANCE = 1e-6
"""How far a sum of probabilities may be from 1 (rounding in hand-written files)."""

Problems = list[tuple[str, str]]


def check_world(world: World) -> Problems:
    """Every cross-field problem in ``world``, as (path, message) pairs."""
    return [
        *_duplicates("touchpoints", world.touchpoint_ids),
        *_duplicates("segments", world.segment_ids),
        *_reserved(world.segment_ids),
        *_ratings(world),
        *_priorities(world),
        *_segments(world),
        *_churn(world),
        *_loyalty(world),
        *_appointments(world),
        *_benchmark(world),
    ]


def _duplicates(field: str, ids: list[str]) -> Problems:
    counts = Counter(ids)
    return [
        (f"{field}[{i}].id", f"duplicate id {name!r}, expected each id once")
        for i, name in enumerate(ids)
        if counts[name] > 1 and ids.index(name) != i
    ]


RESERVED_SEGMENTS = ("all", "default")
"""Words the tool uses beside segment ids: ``all`` for the company total, ``default`` for
what every segment shares in ratings and cutpoints."""


def _reserved(ids: list[str]) -> Problems:
    return [
        (f"segments[{i}].id", f"{name!r} is a word the tool uses ({_RESERVED[name]}), expected "
                              "another id")
        for i, name in enumerate(ids)
        if name in RESERVED_SEGMENTS
    ]  # fmt: skip


_RESERVED = {"all": "the company total", "default": "what every segment shares"}


def unknown(where: str, names: Iterable[str], known: list[str], kind: str) -> Problems:
    """One problem ``<where>.<name>`` for each of ``names`` not in ``known``.

    Parameters
    ----------
    where
        Path of the mapping (or list) that holds the names.
    names
        The ids written in the file.
    known
        The ids allowed there, listed in the message.
    kind
        What the ids are (``touchpoint``, ``segment``, ...), for the message.
    """
    return [
        (f"{where}.{name}", f"unknown {kind} {name!r}, expected one of {', '.join(known)}")
        for name in names
        if name not in known
    ]


def sums_to_one(where: str, values: Iterable[float], what: str) -> Problems:
    """A problem at ``where`` if ``values`` do not sum to 1 (within :data:`TOLERANCE`).

    Parameters
    ----------
    where
        Path of the row or distribution.
    values
        Its probabilities.
    what
        What they are (``probabilities``, ``rating probabilities``), for the message.
    """
    total = sum(values)
    if abs(total - 1) > TOLERANCE:
        return [(where, f"{what} sum to {total:.6g}, expected 1")]
    return []


def _ratings(world: World) -> Problems:
    problems: Problems = []
    segments = world.segment_ids
    for i, touchpoint in enumerate(world.touchpoints):
        where = f"touchpoints[{i}].ratings"
        problems += unknown(where, touchpoint.ratings, [*segments, "default"], "segment")
        for segment, distribution in touchpoint.ratings.items():
            problems += sums_to_one(f"{where}.{segment}", distribution, "rating probabilities")
        if "default" not in touchpoint.ratings:
            missing = [s for s in segments if s not in touchpoint.ratings]
            if missing:
                problems.append(
                    (
                        where,
                        f"no ratings for {', '.join(missing)}, expected a "
                        "distribution per segment or a 'default'",
                    )
                )
    return problems


def _priorities(world: World) -> Problems:
    """A queue's ``priority`` names segments of the world."""
    return [
        problem
        for i, touchpoint in enumerate(world.touchpoints)
        if touchpoint.queue is not None and touchpoint.queue.priority is not None
        for problem in unknown(
            f"touchpoints[{i}].queue.priority",
            touchpoint.queue.priority,
            world.segment_ids,
            "segment",
        )
    ]


def _segments(world: World) -> Problems:
    problems: Problems = []
    touchpoints = world.touchpoint_ids
    for i, segment in enumerate(world.segments):
        where = f"segments[{i}]"
        problems += _journey(f"{where}.journey", segment.journey, touchpoints)
        problems += [
            (
                f"{where}.onboarding[{j}]",
                f"unknown touchpoint {name!r}, expected one of {', '.join(touchpoints)}",
            )
            for j, name in enumerate(segment.onboarding)
            if name not in touchpoints
        ]
        problems += unknown(
            f"{where}.contacts_per_month", segment.contacts_per_month, touchpoints, "touchpoint"
        )
        if isinstance(segment.tenure_mix, dict):
            problems += _tenure_mix(f"{where}.tenure_mix", segment.tenure_mix)
    return problems


def _tenure_mix(where: str, mix: dict) -> Problems:
    """A table of tenures and shares: each key a duration of whole months (at most 100
    years, each tenure once), each share a number from 0 to 1, the shares summing to 1."""
    problems: Problems = []
    seen: dict[int, object] = {}
    for key, share in mix.items():
        here = f"{where}.{key}"
        if isinstance(share, bool) or not isinstance(share, int | float):
            problems.append((here, f"got {share!r}, expected a share from 0 to 1"))
        elif not (math.isfinite(share) and 0 <= share <= 1):
            problems.append((here, f"got share {share!r}, expected a share from 0 to 1"))
        try:
            months = parse_duration(key) / MONTH
        except ValueError:
            problems.append((here, f"got {key!r}, expected a tenure such as '3 months', '2 years'"))
            continue
        whole = round(months)
        if abs(months - whole) > 1e-6:
            message = f"is {months:.3g} months, expected whole months such as '3 months'"
        elif months * MONTH > LONGEST_TENURE * (1 + 1e-9):
            message = "expected a tenure of at most 100 years"
        elif whole in seen:
            message = f"the same tenure as {seen[whole]!r}, expected each tenure once"
        else:
            seen[whole], message = key, ""
        if message:
            problems.append((here, message))
    if problems:
        return problems
    return sums_to_one(where, mix.values(), "shares")


def _journey(where: str, journey: dict[str, dict[str, float]], touchpoints: list[str]) -> Problems:
    """Known states, rows summing to one, a start row of touchpoints only, and every state
    able to reach purchase or lost."""
    if START not in journey:
        return [(where, "no 'start' row, expected where prospects first meet the company")]
    problems = unknown(where, journey, [START, *touchpoints], "journey state")
    problems += [
        (
            f"{where}.{START}.{end}",
            f"the start row lists first touchpoints only, expected no {end!r}",
        )
        for end in journey[START]
        if end in (PURCHASE, LOST)
    ]
    for state, row in journey.items():
        problems += unknown(f"{where}.{state}", row, [*touchpoints, PURCHASE, LOST], "state")
        problems += sums_to_one(f"{where}.{state}", row.values(), "probabilities")
    if problems:
        return problems
    for state in _reachable(journey):
        if state not in journey:
            problems.append(
                (f"{where}.{state}", "is reached but has no row, expected where prospects go next")
            )
    if problems:
        return problems
    stuck = _cannot_finish(journey)
    if not stuck:
        return []
    stuck = [state for state in stuck if state != START] or stuck
    others = f" (nor can {', '.join(stuck[1:])})" if len(stuck) > 1 else ""
    return [
        (
            f"{where}.{stuck[0]}",
            f"cannot reach purchase or lost{others}, expected a way out of the journey",
        )
    ]


def _reachable(journey: dict[str, dict[str, float]]) -> list[str]:
    """States reachable from start with positive probability (breadth first)."""
    seen, frontier = [START], [START]
    while frontier:
        state = frontier.pop()
        for nxt, p in journey.get(state, {}).items():
            if p > 0 and nxt not in seen and nxt not in (PURCHASE, LOST):
                seen.append(nxt)
                frontier.append(nxt)
    return seen


def _cannot_finish(journey: dict[str, dict[str, float]]) -> list[str]:
    """States from which no path of positive probability leads to purchase or lost."""
    finishing = {PURCHASE, LOST}
    changed = True
    while changed:
        changed = False
        for state, row in journey.items():
            if state not in finishing and any(p > 0 and n in finishing for n, p in row.items()):
                finishing.add(state)
                changed = True
    return [state for state in _reachable(journey) if state not in finishing]


def _churn(world: World) -> Problems:
    churn, segments = world.churn, world.segment_ids
    bands = churn.tenure_bands
    problems: Problems = []
    if bands[0] != 0:
        problems.append(("churn.tenure_bands[0]", "expected the first band to start at 0 months"))
    problems += [
        (f"churn.tenure_bands[{j}]", "expected band starts in increasing order")
        for j in range(1, len(bands))
        if bands[j] <= bands[j - 1]
    ]
    problems += unknown("churn.baseline", churn.baseline, segments, "segment")
    problems += unknown("churn.sbg", churn.sbg, segments, "segment")
    for segment in segments:
        hazards = churn.baseline.get(segment)
        if hazards is None:
            problems.append(
                (
                    "churn.baseline",
                    f"no baseline for segment {segment!r}, expected "
                    "one monthly churn probability per tenure band",
                )
            )
        elif len(hazards) != len(bands):
            problems.append(
                (
                    f"churn.baseline.{segment}",
                    f"has {len(hazards)} values, expected {len(bands)} (one per tenure band)",
                )
            )
    return problems + _effects("churn.effects", churn.effects, world)


def _effects(where: str, effects: dict, world: World) -> Problems:
    problems = unknown(where, effects, world.touchpoint_ids, "touchpoint")
    for name, value in effects.items():
        if isinstance(value, dict):
            problems += unknown(f"{where}.{name}", value, world.segment_ids, "segment")
    return problems


def _loyalty(world: World) -> Problems:
    cutpoints = world.loyalty.cutpoints
    problems = unknown("loyalty.cutpoints", cutpoints, [*world.segment_ids, "default"], "segment")
    if "default" not in cutpoints:
        problems += [
            (
                "loyalty.cutpoints",
                f"no cutpoints for segment {s!r}, expected three per segment or a 'default'",
            )
            for s in world.segment_ids
            if s not in cutpoints
        ]
    problems += [
        (f"loyalty.cutpoints.{s}", f"got {c}, expected three increasing numbers")
        for s, c in cutpoints.items()
        if not c[0] < c[1] < c[2]
    ]
    return problems + _effects("loyalty.effects", world.loyalty.effects, world)


def _appointments(world: World) -> Problems:
    """A touchpoint with appointments has no queue as well, and no prospect meets it in a
    journey (a journey is walked at once; crews serve onboarding and recurring contacts)."""
    problems: Problems = []
    for i, touchpoint in enumerate(world.touchpoints):
        if touchpoint.appointments is None:
            continue
        where = f"touchpoints[{i}].appointments"
        if touchpoint.queue is not None:
            problems.append((where, "a touchpoint has a queue or appointments, expected not both"))
        for j, segment in enumerate(world.segments):
            if any(touchpoint.id in row for row in segment.journey.values()):
                problems.append(
                    (
                        where,
                        f"segment {segment.id!r} meets it in its journey, expected appointments "
                        "only at onboarding touchpoints and recurring contacts (segments"
                        f"[{j}].journey)",
                    )
                )
    return problems


def compiled_refusals(world: World) -> Problems:
    """What the compiled engine (:mod:`sim.engine`) refuses to run, one problem each: the
    queue settings only the agent engine serves (:data:`sim.inputs.queues.AGENTS_ONLY`) and a
    touchpoint's appointments (:mod:`sim.agents.crews`)."""
    problems: Problems = []
    for i, touchpoint in enumerate(world.touchpoints):
        if touchpoint.queue is not None:
            problems += [
                (
                    f"touchpoints[{i}].queue.{name}",
                    f"the agent engine alone serves {AGENTS_ONLY[name]}, expected --engine agents",
                )
                for name in touchpoint.queue.agents_only
            ]
        if touchpoint.appointments is not None:
            problems.append(
                (f"touchpoints[{i}].appointments", f"{CREWS}, expected --engine agents")
            )
    return problems


def _benchmark(world: World) -> Problems:
    """Benchmarked touchpoints of the world, competitors' probabilities summing to 1."""
    if world.benchmark is None:
        return []
    where = "benchmark.touchpoints"
    given = world.benchmark.touchpoints
    problems = unknown(where, given, world.touchpoint_ids, "touchpoint")
    for touchpoint, competitors in given.items():
        for name, competitor in competitors.items():
            if competitor.ratings is not None:
                problems += sums_to_one(
                    f"{where}.{touchpoint}.{name}.ratings", competitor.ratings,
                    "rating probabilities",
                )  # fmt: skip
    return problems
