"""Edits: a scenario or plan applied to a parameter set, month by month.

Every edit is a pure function ``Parameters -> Parameters`` (numpy copies, nothing
mutated). A plan's edits start at different months, so a plan gives a :data:`Schedule`:
(from_month, Parameters) pairs sorted by month, the first from month 0.

Touchpoint axis. Every set of a schedule has the same ``touchpoints`` tuple in the same
order: a touchpoint the plan adds is appended at the end in every set (:func:`align`),
inert before its month: no journey inflow, no recurring contacts, no onboarding; its row
leads to lost, its ratings, weight, cost, queue and churn and loyalty effects are set (none
of them matters while no one meets it). The engine keys random streams by touchpoint
index, so the baseline of a comparison is run aligned too: ``align(baseline, plan)`` gives
the same results as the baseline itself on every original touchpoint.

What each kind does to segment s (rows of ``transitions`` T[s] over K touchpoints then
purchase, lost; start vector a[s]):

- ``add`` N after A with probability p: T[A] <- (1 - p) T[A] + p e_N and T[N] <- old T[A]
  (after ``start``: a <- (1 - p) a + p e_N, T[N] <- old a); contacts[s, N] and onboarding
  (after the segment's other onboarding touchpoints) as given.
- ``fix``: new rating distributions, or bad ratings times f (:func:`shift_bad_ratings`);
  queue settings and appointments (crews' capacity, working days) replaced by
  ``model_copy(update=...)`` and validated again.
- ``remove`` k (:func:`remove_from_journey`): moves into k go where its :class:`Traffic`
  says: a share on to k's successors, a share lost, shares to named touchpoints; contacts
  and onboarding of k stop, or go to the touchpoint that replaces it.
  :func:`with_substitution` gives a plan whose removals all send share s to the
  successors and 1 - s to lost, to run a removal at both ends and in between.
- ``reroute``: the given rows replace the segment's rows.
- ``prospects``: prospects per month times a factor, or a new value.
- ``shift`` share q from F to G: in every row and in a, column G += q column F and column
  F *= 1 - q; recurring contacts likewise. A move G -> F thus becomes a G self-loop.
- ``market_move`` at k: ``market[k]`` = (lambda, b, a), the extra log-odds per rating point
  and the competitor's mean rating before (NaN: none) and after the move
  (:attr:`sim.inputs.parameters.Parameters.market`; the engines add lambda
  :func:`sim.formulas.perception.shortfall` of each customer's view of k to its churn).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import numpy as np
from pydantic import ValidationError

from scenarios.scenario import (
    LOST_END,
    AddTouchpoint,
    AppointmentsFix,
    ChangeProspects,
    Edit,
    FixTouchpoint,
    MarketMove,
    Plan,
    QueueFix,
    RemoveTouchpoint,
    Reroute,
    Scenario,
    Shift,
    Traffic,
    as_plan,
)
from sim.inputs.appointments import AppointmentSettings
from sim.inputs.files import describe_all
from sim.inputs.parameters import Parameters
from sim.inputs.queues import QueueSettings
from sim.inputs.world import LOST, PURCHASE, RATINGS, START

Schedule = list[tuple[int, Parameters]]
"""(from_month, parameter set) pairs sorted by month; the first is from month 0."""


class EditError(ValueError):
    """An edit that cannot apply to a parameter set; ``where`` is a path inside the edit."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where, self.message = where, message


def schedule(params: Parameters, plan: Plan | Scenario) -> Schedule:
    """The parameter sets a plan gives, from each month on where an edit takes effect.

    Set m is set m' (the previous month with edits) with month m's edits applied in plan
    order; the first set is ``align(params, plan)`` with the edits of month 0, if any.
    """
    plan = as_plan(plan)
    current = align(params, plan)
    sets = [(0, current)]
    for month, items in groupby(plan.timed_edits(), key=lambda item: item.month):
        for item in items:
            current = apply(current, item.edit)
        if month == 0:
            sets[0] = (0, current)
        else:
            sets.append((month, current))
    return sets


def align(params: Parameters, plan: Plan | Scenario) -> Parameters:
    """``params`` with every touchpoint the plan adds appended, inert (idempotent)."""
    new = [e for e in as_plan(plan).added() if e.touchpoint.id not in params.touchpoints]
    if not new:
        return params
    S, K, n = len(params.segments), len(params.touchpoints), len(new)
    tps = [e.touchpoint for e in new]
    transitions = np.insert(params.transitions, [K] * n, 0.0, axis=2)
    inert = np.zeros((S, n, K + n + 2))
    inert[..., -1] = 1.0  # straight to lost, as the world gives touchpoints off a journey
    ratings = [[t.rating_distribution(s) for t in tps] for s in params.segments]
    beta = np.array([[_value(e.churn_effect, s, 0.0) for e in new] for s in params.segments])
    zeros = np.zeros((S, n))
    return params.replace(
        touchpoints=(*params.touchpoints, *(t.id for t in tps)),
        ratings=np.concatenate([params.ratings, np.array(ratings)], axis=1),
        emotional_weight=np.append(params.emotional_weight, [t.emotional_weight for t in tps]),
        cost_per_contact=np.append(params.cost_per_contact, [t.cost_per_contact for t in tps]),
        start=np.hstack([params.start, zeros]),
        transitions=np.concatenate([transitions, inert], axis=1),
        onboarding=np.hstack([params.onboarding, zeros]),
        contacts=np.hstack([params.contacts, zeros]),
        beta=np.hstack([params.beta, beta.reshape(S, n)]),
        gamma=np.append(params.gamma, [e.loyalty_effect for e in new]),
        market=None if params.market is None else np.vstack([params.market, np.zeros((n, 3))]),
        queues={**params.queues, **{K + i: t.queue for i, t in enumerate(tps) if t.queue}},
    )


def apply(params: Parameters, edit: Edit) -> Parameters:
    """One edit applied to an aligned parameter set (see the module notes per kind).

    Raises
    ------
    EditError
        If the edit cannot apply to these values (e.g. too few agents left).
    """
    return _APPLY[edit.kind](params, edit)


def _value(value: float | dict[str, float], segment: str, missing: float) -> float:
    """A per-segment value: the one value, the segment's, or ``missing``."""
    return value.get(segment, missing) if isinstance(value, dict) else value


def _segments(params: Parameters, names: list[str] | None) -> list[int]:
    return (
        list(range(len(params.segments)))
        if names is None
        else [params.segments.index(name) for name in names]
    )


def _add(params: Parameters, edit: AddTouchpoint) -> Parameters:
    k = params.touchpoints.index(edit.touchpoint.id)
    K = len(params.touchpoints)
    start, T = params.start.copy(), params.transitions.copy()
    for entry in edit.journey:
        p = entry.probability
        for s in _segments(params, entry.segments):
            if entry.after == START:
                T[s, k] = np.append(start[s], [0.0, 0.0])
                start[s] = (1 - p) * start[s] + p * np.eye(K)[k]
            else:
                a = params.touchpoints.index(entry.after)
                T[s, k] = T[s, a]
                T[s, a] = (1 - p) * T[s, a] + p * np.eye(K + 2)[k]
    contacts, onboarding = params.contacts.copy(), params.onboarding.copy()
    contacts[:, k] = [_value(edit.contacts_per_month, s, 0.0) for s in params.segments]
    for s in _segments(params, edit.onboarding):
        onboarding[s, k] = onboarding[s].max() + 1
    return params.replace(start=start, transitions=T, contacts=contacts, onboarding=onboarding)


def shift_bad_ratings(ratings: np.ndarray, factor: float) -> np.ndarray:
    """A rating distribution with bad ratings (1, 2) times ``factor``, the rest rescaled.

    r' = (f r1, f r2, c r3, c r4, c r5) with b = r1 + r2 and c = (1 - f b) / (1 - b): the
    mass taken from (or given to) the bad ratings is moved in proportion to ratings 3..5.

    Raises
    ------
    ValueError
        If f b > 1, or ratings 3..5 have no mass to move in proportion to.
    """
    bad = ratings[:2].sum()
    if factor * bad > 1 + 1e-12:
        raise ValueError(f"makes P(1) + P(2) = {factor * bad:.3g}, expected at most 1")
    if bad >= 1 and factor != 1:
        raise ValueError("has no ratings of 3 to 5 to move mass to or from")
    rest = (1 - factor * bad) / (1 - bad) if bad < 1 else 1.0
    return np.concatenate([factor * ratings[:2], rest * ratings[2:]])


def _fix(params: Parameters, edit: FixTouchpoint) -> Parameters:
    k, name = params.touchpoints.index(edit.touchpoint), edit.touchpoint
    ratings, queues = params.ratings.copy(), params.queues
    for s, segment in enumerate(params.segments):
        if edit.ratings is not None:
            ratings[s, k] = edit.ratings.get(segment, edit.ratings.get("default", ratings[s, k]))
    for s in _segments(params, edit.segments) if edit.bad_ratings is not None else []:
        try:
            ratings[s, k] = shift_bad_ratings(ratings[s, k], edit.bad_ratings)
        except ValueError as error:
            raise EditError("bad_ratings", f"for {params.segments[s]}: {error}") from None
    if edit.queue is not None:
        if k not in queues:
            raise EditError("queue", f"{name!r} has no queue, expected a queued touchpoint")
        queues = {**queues, k: fixed_queue(queues[k], edit.queue)}
    crews = params.appointments
    if edit.appointments is not None:
        if k not in crews:
            raise EditError("appointments", f"{name!r} has no appointments, expected crews")
        crews = {**crews, k: fixed_appointments(crews[k], edit.appointments)}
    return params.replace(ratings=ratings, queues=queues, appointments=crews)


def fixed_appointments(settings: AppointmentSettings, fix: AppointmentsFix) -> AppointmentSettings:
    """A touchpoint's appointments with the fix's capacity or working days, validated again."""
    update: dict[str, object] = {}
    if fix.visits_per_day is not None or fix.extra_visits_per_day is not None:
        update["visits_per_day"] = (
            fix.visits_per_day
            if fix.visits_per_day is not None
            else settings.visits_per_day + fix.extra_visits_per_day
        )
    if fix.days is not None:
        update["days"] = fix.days
    fields = settings.model_dump()
    for wait in ("max_wait", "bad_after"):  # durations are read from text, with their unit
        fields[wait] = None if fields[wait] is None else f"{fields[wait]!r} min"
    try:
        return AppointmentSettings.model_validate(fields | update)
    except ValidationError as error:
        where, message = describe_all(error.errors())[0]
        if where == "visits_per_day" and fix.extra_visits_per_day is not None:
            where = "extra_visits_per_day"
        raise EditError(f"appointments.{where}", message) from None


def fixed_queue(settings: QueueSettings, fix: QueueFix) -> QueueSettings:
    """Queue settings with the fix's changes, validated again.

    A new handling mean m' scales a lognormal's sd by m'/m (the same coefficient of
    variation).
    """
    update: dict[str, object] = {}
    if fix.agents is not None or fix.extra_agents is not None:
        update["agents"] = (
            fix.agents if fix.agents is not None else (settings.agents + fix.extra_agents)
        )
        if update["agents"] < 1:
            raise EditError(
                "queue.extra_agents",
                f"leaves {update['agents']} agents on duty, expected at least 1",
            )
    if fix.resolution is not None:
        update["resolution"] = fix.resolution
    if fix.handling_mean is not None:
        h, ratio = settings.handling, fix.handling_mean / settings.handling.mean
        update["handling"] = h.model_copy(
            update={"mean": fix.handling_mean, "sd": None if h.sd is None else h.sd * ratio}
        )
    changed = settings.model_copy(update=update)
    try:  # nested models pass as instances; agents and resolution are checked again
        return QueueSettings.model_validate(dict(changed))
    except ValidationError as error:
        where, message = describe_all(error.errors())[0]
        raise EditError(f"queue.{where}", message) from None


def remove_from_journey(
    start: np.ndarray,
    transitions: np.ndarray,
    k: int,
    traffic: Traffic | str,
    touchpoints: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray, float]:
    """One segment's journey without touchpoint k: (start, transitions, kept share).

    With q = T[k, k] and the onward row o = T[k] without its self-loop over (1 - q) (where a
    prospect at k goes when leaving it, after any repeat visits), the traffic's shares
    (p_succ on to the successors, p_lost lost, p_j to touchpoint j) give the destination row

        d = p_succ o + p_lost e_lost + sum_j p_j e_j,

    and every row i gets T[i] + T[i, k] d, with T[i, k] = 0: every move into k goes, with
    share p_succ, on along o, with share p_lost to lost, with share p_j to j. Row k leads
    to lost (k is never met). The start share a_k goes the same way, a_k d; the part of it
    that would be lost at once, l = a_k d_lost, cannot be a first step, so a is
    renormalised over the rest and ``kept`` = 1 - l is the share of arrivals that still
    enter the journey (:func:`remove` thins prospect arrivals by it, which is the same in
    distribution).

    The surgery is linear in the shares: with s = p_succ and 1 - s = p_lost, the rows are
    (1 - s) times those of the ``lost`` end plus s times those of the ``successors`` end,
    and so is kept a. The two ends are computed as the general case with one share 1 and
    the other terms left out, the same operations as before mixes existed (bit for bit).

    Parameters
    ----------
    traffic
        Where the moves into k go (:class:`scenarios.scenario.Traffic`, or ``successors``
        or ``lost``).
    touchpoints
        The ids of the touchpoint columns, to find the touchpoints ``traffic`` names.

    Raises
    ------
    ValueError
        If a share goes to the successors and k only leads to itself, or prospects would
        start at k and go straight to purchase; KeyError for a named touchpoint not in
        ``touchpoints``.
    """
    traffic = Traffic.of(traffic)
    K = len(start)
    T, destination = transitions.copy(), np.zeros(K + 2)
    if traffic.successors > 0:
        onward = transitions[k].copy()
        if onward[k] >= 1:
            raise ValueError("only leads to itself")
        onward[k] = 0.0
        onward /= 1.0 - transitions[k, k]
        destination += traffic.successors * onward
    if traffic.lost > 0:
        destination[K + 1] += traffic.lost
    for name, share in traffic.to:
        j = list(touchpoints).index(name) if name in touchpoints else None
        if j is None or j == k:
            raise KeyError(f"{name!r} is not a touchpoint to send traffic to")
        destination[j] += share
    into = T[:, k].copy()
    T[:, k] = 0.0
    T += into[:, None] * destination
    first = start[k] * destination
    if first[K] > 0:
        raise ValueError(
            "prospects who start there would go straight to purchase, which a "
            "journey cannot do; expected no share to its successors (traffic: lost, or "
            "named touchpoints), or a reroute of start first"
        )
    T[k] = 0.0
    T[k, K + 1] = 1.0
    kept = 1.0 - first[K + 1]
    start = start.copy()
    start[k] = 0.0
    start += first[:K]
    return (start / kept if kept > 0 else start), T, kept


def remove(
    params: Parameters,
    touchpoint: str,
    traffic: Traffic | str = LOST_END,
    replaced_by: str | None = None,
) -> Parameters:
    """``params`` without a touchpoint: journeys (:func:`remove_from_journey`, arrivals and
    referrals thinned by the kept share), recurring contacts and onboarding.

    ``traffic`` defaults to ``lost``, the conservative end (a parameter set knows no stated
    substitution; a scenario file's removal gets the world's: :func:`default_traffic`).
    With ``replaced_by``, that touchpoint takes over the recurring contacts (rates added)
    and, where it has none, the removed one's place in onboarding: the need stays.

    Raises
    ------
    EditError
        Where prospects would start at it and go straight to purchase (a share to its
        successors), or a touchpoint the traffic names is not one of ``params``.
    """
    k = params.touchpoints.index(touchpoint)
    start, T = params.start.copy(), params.transitions.copy()
    kept = np.ones(len(params.segments))
    for s, segment in enumerate(params.segments):
        try:
            start[s], T[s], kept[s] = remove_from_journey(
                start[s], T[s], k, traffic, params.touchpoints
            )
        except KeyError as error:
            raise EditError("traffic", error.args[0]) from None
        except ValueError as error:
            raise EditError("traffic", f"in {segment}, {touchpoint!r}: {error}") from None
    contacts, onboarding = params.contacts.copy(), params.onboarding.copy()
    if replaced_by is not None:
        r = params.touchpoints.index(replaced_by)
        contacts[:, r] += contacts[:, k]
        onboarding[:, r] = np.where(onboarding[:, r] > 0, onboarding[:, r], onboarding[:, k])
    contacts[:, k] = onboarding[:, k] = 0.0
    return params.replace(
        start=start,
        transitions=T,
        contacts=contacts,
        onboarding=onboarding,
        prospects=params.prospects * kept,
        referral_rate=params.referral_rate * kept,
    )


def _remove(params: Parameters, edit: RemoveTouchpoint) -> Parameters:
    traffic = LOST_END if edit.traffic is None else edit.traffic
    return remove(params, edit.touchpoint, traffic, edit.replaced_by)


def with_substitution(plan: Plan | Scenario, share: float) -> Plan | Scenario:
    """The same plan (or scenario) with every removal's traffic ``Traffic.mix(share)``:
    share s on to the removed touchpoint's successors, 1 - s lost, whatever it stated
    (named touchpoints included); everything else as it was (names, costs, sources).

    Run a plan at s = 0 (no substitute: what the removed touchpoint's prospects are worth)
    and at s = 1 (a free substitute: what the touchpoint itself costs) to bound its value,
    and :func:`scenarios.chains.break_even` gives the share at which it pays. A plan
    without removals comes back unchanged.

    The result is not checked against the world again: where prospects start at a removed
    touchpoint whose successors include purchase, s > 0 is refused when the plan is
    scheduled (EditError; :func:`scenarios.load.recheck` reports it as a file problem).

    Raises
    ------
    ValueError
        If ``share`` is outside [0, 1].
    """
    traffic = Traffic.mix(share, basis=f"a substitution share of {share:g}, for comparison")
    if isinstance(plan, Plan):
        return Plan(plan.name, tuple(_substituted(s, traffic) for s in plan.scenarios))
    return _substituted(plan, traffic)


def _substituted(scenario: Scenario, traffic: Traffic) -> Scenario:
    edits = [
        e.model_copy(update={"traffic": traffic}) if isinstance(e, RemoveTouchpoint) else e
        for e in scenario.edits
    ]
    if edits == scenario.edits:
        return scenario
    copy = scenario.model_copy(update={"edits": edits})
    copy._source, copy._world = scenario._source, scenario._world
    return copy


def _reroute(params: Parameters, edit: Reroute) -> Parameters:
    s, K = params.segments.index(edit.segment), len(params.touchpoints)
    column = {**{t: i for i, t in enumerate(params.touchpoints)}, PURCHASE: K, LOST: K + 1}
    start, T = params.start.copy(), params.transitions.copy()
    for state, row in edit.journey.items():
        values = np.zeros(K + 2)
        for target, p in row.items():
            values[column[target]] = p
        if state == START:
            start[s] = values[:K]
        else:
            T[s, column[state]] = values
    return params.replace(start=start, transitions=T)


def _prospects(params: Parameters, edit: ChangeProspects) -> Parameters:
    factor = 1.0 if edit.factor is None else edit.factor
    prospects = [
        edit.per_month.get(segment, n * _value(factor, segment, 1.0))
        for segment, n in zip(params.segments, params.prospects, strict=True)
    ]
    return params.replace(prospects=np.array(prospects, dtype=float))


def _shift(params: Parameters, edit: Shift) -> Parameters:
    f, g = params.touchpoints.index(edit.from_), params.touchpoints.index(edit.to)
    rows = _segments(params, edit.segments)
    start, T, contacts = params.start.copy(), params.transitions.copy(), params.contacts.copy()
    for array in (start, T, contacts):
        moved = edit.share * array[rows, ..., f]
        array[rows, ..., g] += moved
        array[rows, ..., f] -= moved
    return params.replace(start=start, transitions=T, contacts=contacts)


def _market_move(params: Parameters, edit: MarketMove) -> Parameters:
    k = params.touchpoints.index(edit.touchpoint)
    market = np.zeros((len(params.touchpoints), 3)) if params.market is None else params.market
    market = market.copy()
    before = np.nan if edit.before is None else float(RATINGS @ np.array(edit.before))
    market[k] = [edit.extra_hazard_per_point, before, float(RATINGS @ np.array(edit.ratings))]
    return params.replace(market=market)


_APPLY = {
    "add": _add,
    "fix": _fix,
    "remove": _remove,
    "reroute": _reroute,
    "prospects": _prospects,
    "shift": _shift,
    "market_move": _market_move,
}
