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

from scenarios.scenario import Plan, Scenario, combine

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    sim.errors.InputError
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


def gantt(schedule: pd.DataFrame, months: int, colours: dict[str, str] | None = None) -> Figure:
    """The schedule of :func:`staged` as a Gantt chart, months of the run on the x axis.

    Per scenario, top to bottom in staged order: a light bar while the team works on it
    (``team_free_month`` to ``finish_month``), a solid bar while it is in effect during the
    run (``start_month`` to ``months``), and a tick at its own start month. Made without
    pyplot: save it with ``savefig`` or show it with ``IPython.display.display``.

    Parameters
    ----------
    schedule
        The schedule table of :func:`staged`.
    months
        Months of the run: where the bars in effect end.
    colours
        A colour per scenario name (:func:`scenarios.plots.scenario_colours`); default:
        tab10 in staged order.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = Figure(figsize=(9, 0.6 * len(schedule) + 2.2), layout="constrained")
    ax = fig.subplots()
    palette = [f"C{i % 10}" for i in range(len(schedule))]
    for y, row in enumerate(schedule.itertuples()):
        colour = (colours or {}).get(row.scenario, palette[y])
        ax.barh(
            y,
            row.finish_month - row.team_free_month,
            left=row.team_free_month,
            height=0.7,
            color=colour,
            alpha=0.3,
            edgecolor=colour,
        )
        ax.barh(
            y, max(months - row.start_month, 0), left=row.start_month, height=0.35, color=colour
        )
        ax.plot([row.own_start_month] * 2, [y - 0.4, y + 0.4], color="black", linewidth=1.5)
    ax.axvline(months, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(schedule)), schedule["scenario"])
    ax.invert_yaxis()
    ax.set_xlim(
        0, max(months, int(schedule["finish_month"].max()), int(schedule["start_month"].max())) + 1
    )
    ax.set_xlabel("month of the run (0 = the first month; dashed: the end of the run)")
    ax.set_title("Staged plan: quick wins first", fontsize=10)
    fig.legend(
        handles=[
            Patch(color="grey", alpha=0.3, label="the team at work"),
            Patch(color="grey", label="in effect"),
            Line2D([], [], color="black", label="its own start month"),
        ],
        fontsize="small",
        loc="outside lower center",
        ncol=3,
    )
    return fig
