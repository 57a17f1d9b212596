"""A plan's launch: the month its first edit takes effect, and its schedule moved to another.

A scenario file says from which month of a run its edits take effect (``start_month``, a
shift's ``from_month``); a plan of several starts at several months. Its **launch** is the
first of them, the month a company would call the plan's launch date: ``ctm compare`` predicts
the months from it on (:mod:`scenarios.prediction`), ``ctm track`` sets them against the
months from the real launch date, and ``ctm demo-data --plan`` writes data in which the plan
was launched in a chosen month, its later edits the same number of months after it as in
the plan.
"""

from __future__ import annotations

from scenarios.edits import Schedule, align, schedule
from scenarios.scenario import Plan, Scenario, as_plan
from sim.inputs.parameters import Parameters


def launch_month(plan: Plan | Scenario) -> int:
    """The month of the run in which the plan's first edit takes effect."""
    return min(item.month for item in as_plan(plan).timed_edits())


def launched(
    params: Parameters, plan: Plan | Scenario, month: int, months: int
) -> tuple[Parameters, Schedule]:
    """The run's first parameter set and its changes (as :func:`sim.engine.simulation.
    simulate` takes them) for a plan launched at the start of ``month`` (1 or later) of a run
    of ``months`` months: the world, aligned with the plan's touchpoints, until then; each
    set of the plan's schedule from ``month + (m - launch)`` on, those after the run left out.
    """
    if month < 1:
        raise ValueError(f"launch month {month}: expected 1 or later (month 0 has no before)")
    first = launch_month(plan)
    moved = [(month + m - first, p) for m, p in schedule(params, plan) if m >= first]
    return align(params, plan), [(m, p) for m, p in moved if m < months]
