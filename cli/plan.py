"""``ctm plan``: the best set of candidate scenarios under a budget and an effort cap.

It runs every candidate alone (one sweep, as ``ctm quickwins`` does), chooses the set of
largest expected net value within the limits (an exact knapsack), simulates that set
together, and prints the candidates, the efficient frontier and the chosen plan
(:mod:`scenarios.budget`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    CustomersOpt,
    DrawsOpt,
    Engine,
    EngineOpt,
    PosteriorOpt,
    SchedulerOpt,
    SeedOpt,
    SerialOpt,
    WorldArg,
    console,
    executor,
    simulating,
    study_inputs,
    user_errors,
)
from cli.whatif import QUICK, CostsOpt, ValueOpt


@user_errors
def plan(
    world: WorldArg,
    candidates: Annotated[
        list[str],
        typer.Argument(
            help="Candidates: scenario files or folders, quick-win candidates by name ('fix "
            "invoice', 'remove store'), or 'quickwins' for every quick-win candidate.",
            show_default=False,
        ),
    ],
    budget: Annotated[
        float,
        typer.Option(
            min=0,
            help="Budget in the world's currency: one-off plus monthly cost over the world's "
            "horizon, undiscounted (the cash a budget holder approves).",
            show_default=False,
        ),
    ],
    effort_weeks: Annotated[
        float | None,
        typer.Option(min=0, help="Effort cap in person-weeks (default: none).", show_default=False),
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="Choose only candidates whose gain exceeds their cost in at least this share "
            "of the draws (default 0: the expected value alone decides).",
        ),
    ] = 0.0,
    team_weeks_per_month: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Stage the chosen set for a team of this capacity (least effort first, each "
            "when the team is free) before simulating it together; default: each at its own "
            "start month.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the chosen set as one plan.")] = "Best plan",
    posterior: PosteriorOpt = None,
    draws: DrawsOpt = QUICK["draws"],
    customers: CustomersOpt = QUICK["customers"],
    months: Annotated[int, typer.Option(min=1, help="Months of each run.")] = QUICK["months"],
    seed: SeedOpt = 1,
    costs: CostsOpt = None,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    engine: EngineOpt = Engine.compiled,
    value: ValueOpt = "lifetime",
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/plan"),
) -> None:
    """The best set of candidates within a budget and an effort cap, and the frontier."""
    from sim.inputs.errors import InputError

    for option, given in (("--budget", budget), ("--effort-weeks", effort_weeks),
                          ("--team-weeks-per-month", team_weeks_per_month)):  # fmt: skip
        if given is not None and not math.isfinite(given):
            raise InputError(option, [("", f"got {given}, expected a finite number")])
    if team_weeks_per_month == 0:
        raise InputError(
            "--team-weeks-per-month", [("", "got 0, expected a capacity above 0 person-weeks")]
        )
    from notebooks.budget_view import (
        candidates_table,
        frontier_plot,
        frontier_table,
        notes,
        plan_text,
    )
    from scenarios.budget import (
        Limits,
        best_plan,
        candidate_plans,
        check_name,
        write_budget_plan,
    )
    from scenarios.quickwins import load_costs

    limits = Limits(budget, math.inf if effort_weeks is None else effort_weeks, min_confidence)
    loaded, sets, settings = study_inputs(
        world, posterior, draws, customers, months, seed, engine=engine
    )
    given = load_costs(costs, loaded) if costs else None
    plans, bases = candidate_plans(loaded, candidates, given)
    check_name(name, plans)
    currency = loaded.economics.currency
    with simulating(out) as (store, progress):
        found = best_plan(
            loaded, plans, sets, settings, limits, executor(scheduler, serial), store,
            progress, value, name, team_weeks_per_month, bases,
        )  # fmt: skip
        files = write_budget_plan(found, out, {"frontier.png": frontier_plot(found, currency)})
    console.print(candidates_table(found.options, currency, value))
    console.print(frontier_table(found.frontier, currency))
    for line in plan_text(found, currency) + notes(found, currency):
        console.print(line, markup=False, highlight=False)
    console.print(f"Results: {out}/ ({', '.join(files)})")
