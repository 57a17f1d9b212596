"""A staged plan: chosen scenarios ordered into one plan, quick wins first.

One team carries out the scenarios one after another, with a capacity of c person-weeks a
month. :func:`staged` orders them by effort, least first (quick wins first, longer projects
after); ties keep the earlier own start month first, then the order given. With
e_1, ..., e_n the efforts in that order and W_i = e_1 + ... + e_(i-1) the work before
scenario i, the team is free for i from month r_i = ceil(W_i / c), and

    start_i = max(own start_month_i, r_i),    finish_i = ceil((W_i + e_i) / c)

``start_i`` is the month i's edits take effect (and its costs begin: one-off at the start,
monthly from it on); ``finish_i`` the month the team has finished i and is free for the
next. A scenario's own ``start_month`` is the earliest month it can take effect (a release
cycle, a notice period), so the queue can delay it but never bring it forward. A ``shift``
with its own ``from_month`` (a market shock, not the team's work) keeps that month
(:meth:`scenarios.scenario.Scenario.month_of`).

The staged scenarios are combined with :func:`scenarios.scenario.combine`, so their edits
are cross-checked together and each starts at its staged month
(:func:`scenarios.edits.schedule`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from scenarios.load import combine
from scenarios.scenario import Plan, Scenario

if TYPE_CHECKING:
    pass

SCHEDULE_COLUMNS = (
    "order",
    "scenario",
    "effort_weeks",
    "own_start_month",
    "team_free_month",
    "start_month",
    "finish_month",
    "delay_months",
    "one_off_cost",
    "monthly_cost",
)
"""Columns of the schedule table :func:`staged` returns."""
_ROUNDING = 1e-9
"""Slack before rounding months up, so that 40 / 20 is month 2 and not 3."""


def quick_wins_first(scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios by effort (person-weeks), least first.

    Ties: the earlier own ``start_month`` first, then the order given (a stable sort).
    """
    return sorted(scenarios, key=lambda s: (s.effort_weeks, s.start_month))


def months_of_work(effort_weeks: float, team_weeks_per_month: float) -> int:
    """ceil(effort / capacity): the whole months a team needs for ``effort_weeks``."""
    return math.ceil(effort_weeks / team_weeks_per_month - _ROUNDING)


def staged(
    scenarios: list[Scenario], name: str, team_weeks_per_month: float
) -> tuple[Plan, pd.DataFrame]:
    """Order scenarios quick wins first and start each when the team is free for it.

    Implements the staging of the module notes: start_i = max(own start_month_i,
    ceil(W_i / c)) with W_i the effort of the scenarios before i and c the capacity.

    Parameters
    ----------
    scenarios
        Scenarios loaded against one world (:func:`scenarios.scenario.load_scenario`), with
        distinct names.
    name
        The plan's name; not the name of one of its scenarios.
    team_weeks_per_month
        The team's capacity c in person-weeks a month (20: five people full time).

    Returns
    -------
    plan : Plan
        The staged scenarios (copies with their staged ``start_month``) combined, in staged
        order.
    schedule : pandas.DataFrame
        One row per scenario in staged order, columns :data:`SCHEDULE_COLUMNS`: ``order``
        (1 first), ``own_start_month`` (the file's), ``team_free_month`` r_i,
        ``start_month``, ``finish_month``, ``delay_months`` (start less own start), the
        costs in the world's currency.

    Raises
    ------
    ValueError
        If there are no scenarios, names repeat, or the capacity is not a positive number.
    sim.inputs.errors.InputError
        If the scenarios' edits clash (:func:`scenarios.scenario.combine`).
    """
    _check(scenarios, name, team_weeks_per_month)
    rows, copies, work = [], [], 0.0
    for order, scenario in enumerate(quick_wins_first(scenarios), start=1):
        free = months_of_work(work, team_weeks_per_month)
        start = max(scenario.start_month, free)
        work += scenario.effort_weeks
        copies.append(scenario.model_copy(update={"start_month": start}))
        rows.append(
            {
                "order": order,
                "scenario": scenario.name,
                "effort_weeks": scenario.effort_weeks,
                "own_start_month": scenario.start_month,
                "team_free_month": free,
                "start_month": start,
                "finish_month": months_of_work(work, team_weeks_per_month),
                "delay_months": start - scenario.start_month,
                "one_off_cost": scenario.one_off_cost,
                "monthly_cost": scenario.monthly_cost,
            }
        )
    return combine(copies, name), pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))


def _check(scenarios: list[Scenario], name: str, team_weeks_per_month: float) -> None:
    """Refuse what :func:`staged` cannot stage, saying what is expected."""
    if not scenarios:
        raise ValueError("no scenarios to stage, expected at least one")
    if isinstance(team_weeks_per_month, bool) or not isinstance(team_weeks_per_month, int | float):
        raise ValueError(
            f"team_weeks_per_month is {team_weeks_per_month!r}, expected a "
            "number of person-weeks a month"
        )
    if not (team_weeks_per_month > 0 and math.isfinite(team_weeks_per_month)):
        raise ValueError(
            f"team_weeks_per_month is {team_weeks_per_month!r}, expected a "
            "positive number of person-weeks a month (20: five people full time)"
        )
    names = [s.name for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"scenario names repeat ({', '.join(map(repr, repeated))}), expected distinct names"
        )
    if name in names:
        raise ValueError(f"the plan's name {name!r} is also a scenario's, expected another name")
