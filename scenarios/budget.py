"""The best plan under a budget: which candidates to carry out together, and the frontier.

A strategist has a budget B and a team of E person-weeks, and a list of candidate scenarios
(the quick wins of :mod:`scenarios.quickwins`, or scenario files). :func:`best_plan`:

1. simulates the baseline and every candidate alone in one sweep (:func:`scenarios.study.run_study`:
   common random numbers, every draw a posterior draw with a simulation of its own, every
   removal at both ends of its substitution share too), which gives each candidate's value
   gained g_id in draw d (:func:`scenarios.compare.value_gained`, lifetime value by default)
   and its discounted cost k_i (:func:`scenarios.compare.plan_cost`: the economics' cost, with
   lifetime value its monthly cost after the run too);
2. chooses the set S that maximises the expected net value sum_{i in S} (mean_d g_id - k_i)
   within the budget and the effort cap (:func:`scenarios.knapsack.best_set`, exact); two
   candidates whose edits clash when combined (fixing and removing one touchpoint) exclude
   each other;
3. simulates the chosen set together (:func:`scenarios.load.combine`, or staged for a team's
   capacity by :func:`scenarios.planning.staged`) with the same draws and random numbers, and
   reports its value beside the sum of its parts: the difference, draw by draw, is how far
   the candidates' effects are from additive (**interaction**: two fixes that keep the same
   customers gain less together than apart; a fix that makes a journey busier gains more when
   the next step is fixed too);
4. solves the same problem for a grid of budgets: the **efficient frontier**, the best
   expected net value against the budget, each point with the 90% interval over draws of
   its set's net value taken as additive, sum_{i in S} g_id - k_i. Its mean never falls as
   the budget grows (a larger budget admits every set a smaller one does).

**What the budget counts.** Spending over the planning horizon H (the world's
``economics.horizon``): each candidate's one-off cost plus its monthly cost for the months of
the horizon from its start month, undiscounted (``Plan.costs(H).sum()``). A budget is cash
approved for a period, so it is counted as cash over the period; the discounted lifetime cost
counts a monthly cost for ever (a perpetuity: at 0.8% a month, 125 months' worth), which is
right against lifetime value, and so it is what the objective nets off, but it is not what
a budget holder signs. A saving (negative monthly cost) frees budget.

Every figure rests on the candidates' own assumptions: a removal is valued at the share of
its traffic that the costs file, the world or the scenario states goes on to its successors
(none where nothing is stated), and its break-even share is in the table
(:func:`scenarios.study.removals_table`). The objective is the expected value: a candidate
whose net value's 90% interval holds 0 can be chosen when its mean is positive (on the demo, a
cheap removal whose gain rests on a churn effect the data hardly pin down); the table says so
(``clear``), and :attr:`Limits.confidence` (``ctm plan --min-confidence 0.9``) makes only the
candidates whose gain exceeds their cost in at least that share of draws eligible. A candidate
with an edit at or after the run's end is not eligible (:func:`scenarios.study.late_edits`, the
check ``ctm compare`` refuses such a scenario with): the run does not see its effect, but its
cost after the run is counted, and a saving (closing stores) would then look like money for
nothing.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from scenarios.compare import INTERVAL, Value, value_gained
from scenarios.knapsack import best_set
from scenarios.load import combine, load_scenario, scenario_files
from scenarios.planning import staged
from scenarios.quickwins import Costs, candidates
from scenarios.runner import Settings
from scenarios.scenario import FixTouchpoint, Plan, RemoveTouchpoint, Shift, as_plan
from scenarios.study import Study, late_edits, run_study, write_study
from sim.inputs.errors import InputError
from sim.inputs.files import atomic_directory, csv_safe
from sim.inputs.parameters import Parameters
from sim.inputs.world import World

if TYPE_CHECKING:
    from matplotlib.figure import Figure

QUICKWINS = "quickwins"
"""The candidate word for every quick-win candidate of the world that is run (not skipped)."""
PLAN_NAME = "Best plan"
"""The default name of the chosen set simulated together."""
POINTS = 20
"""Budgets of the frontier besides the one given: 0 to the largest, evenly spaced."""


@dataclass(frozen=True)
class Limits:
    """The budget (world currency, spent over the horizon) and the effort cap
    (person-weeks; ``inf``: none)."""

    budget: float
    effort_weeks: float = float("inf")
    confidence: float = 0.0
    """A candidate is eligible only if its gain exceeds its cost in at least this share of
    the draws; 0 (the default): every candidate, the expected value alone decides."""

    def __post_init__(self) -> None:
        for name in ("budget", "effort_weeks", "confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} is {value!r}, expected a number")
            if not value >= 0:  # NaN too
                raise ValueError(f"{name} is {value!r}, expected a number of at least 0")
        if not np.isfinite(self.budget):
            raise ValueError(f"budget is {self.budget!r}, expected a finite sum of money")
        if self.confidence > 1:
            raise ValueError(f"confidence is {self.confidence!r}, expected a share from 0 to 1")


@dataclass
class BudgetPlan:
    """What :func:`best_plan` finds (module notes).

    ``options``: one row per candidate (value gained with its 90% interval, discounted cost,
    spend over the horizon, effort, expected net value with its interval, P(gain > cost),
    ``clear`` when the net value's interval is above 0, ``eligible``, ``chosen``,
    ``outside_run`` when it starts at or after the run's end; a removal's traffic as
    assumed and its break-even share). ``frontier``: one row per budget (:func:`frontier`).
    ``together``: the chosen set simulated as one plan (None when the set is empty), and
    ``summary`` its figures beside the sum of its parts. ``schedule``: the staging, when a
    team's capacity was given.
    """

    limits: Limits
    name: str
    horizon_months: int
    chosen: list[str]
    options: pd.DataFrame
    frontier: pd.DataFrame
    sweep: Study
    together: Study | None
    summary: dict
    conflicts: list[tuple[str, str, str]]
    schedule: pd.DataFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each step: ``sweep`` (the candidates alone), ``choice`` (the knapsack at
    every budget of the frontier, conflicts included), ``together`` (the chosen set); and
    its CPU time (``sweep_cpu``, ...: this process and its finished workers), which a busy
    machine does not stretch."""


def candidate_plans(
    world: World, given: list[str], costs: Costs | None = None
) -> tuple[dict[str, Plan], dict[str, str]]:
    """The candidates a user names: ``quickwins`` (every quick-win candidate that is run), a
    quick-win candidate by name (``fix invoice``, ``remove store``), or scenario files and
    folders (:func:`scenarios.load.scenario_files`); and, for each quick-win removal, where
    its traffic share comes from (:attr:`scenarios.quickwins.Candidate.basis`: the costs
    file, the world, or none stated).

    Raises
    ------
    InputError
        For a word that is none of these (naming it and what is expected), a quick-win
        candidate that is skipped (with the reason), a bad scenario file, or a name given
        twice.
    """
    quick = {c.name: c for c in candidates(world, costs)}
    plans: dict[str, Plan] = {}

    def add(name: str, plan: Plan, source: str) -> None:
        if name in plans:
            raise InputError(
                source,
                [("", f"'{name}' is the name of another candidate, expected distinct names")],
            )
        plans[name] = plan

    for word in given:
        if word == QUICKWINS:
            for c in quick.values():
                if c.plan is not None and c.name not in plans:
                    add(c.name, c.plan, word)
        elif word in quick:
            found = quick[word]
            if found.plan is None:
                raise InputError(word, [("", f"not a candidate: {found.skipped}")])
            add(word, found.plan, word)
        elif Path(word).expanduser().exists():
            for path in scenario_files([Path(word).expanduser()]):
                scenario = load_scenario(path, world)
                add(scenario.name, as_plan(scenario), str(path))
        else:
            example = next(iter(quick), "fix invoice")
            raise InputError(
                word,
                [
                    (
                        "",
                        "unknown candidate, expected a scenario file or folder, a quick-win "
                        f"candidate such as '{example}' (fix or remove, then a touchpoint of "
                        f"the world), or '{QUICKWINS}' for all of them",
                    )
                ],
            )
    if not plans:
        raise InputError("candidates", [("", "none given, expected at least one")])
    bases = {n: quick[n].basis for n in plans if n in quick and quick[n].kind == "remove"}
    return plans, bases


def check_name(name: str, plans: Mapping[str, Plan]) -> None:
    """Refuse a plan's name that is a candidate's (InputError naming ``--name``)."""
    if name in plans:
        raise InputError(
            "--name", [("", f"'{name}' is the name of a candidate, expected another name")]
        )


def conflicts(plans: Mapping[str, Plan]) -> list[tuple[str, str, str]]:
    """Pairs of candidates that exclude each other, with the reason: one removes a
    touchpoint the other fixes, removes or shifts traffic to or from (money spent on what is
    gone); both fix one touchpoint (alternatives, such as "fix k" and "match k": applied
    together the later edit overrides or compounds the earlier, so their gains do not add);
    or :func:`scenarios.load.combine` refuses the pair (a touchpoint added twice, an edit
    after a removal)."""
    names = list(plans)
    found = []
    for a, first in enumerate(names):
        for second in names[a + 1 :]:
            both = _removed(plans[first]) & _touched(plans[second])
            both |= _removed(plans[second]) & _touched(plans[first])
            if both:
                found.append((first, second, f"both change {', '.join(sorted(both))}, "
                              "and one removes it"))  # fmt: skip
                continue
            fixed = _fixed(plans[first]) & _fixed(plans[second])
            if fixed:
                found.append((first, second, f"both fix {', '.join(sorted(fixed))}: "
                              "alternatives, their gains do not add"))  # fmt: skip
                continue
            try:
                combine([*plans[first].scenarios, *plans[second].scenarios], "pair")
            except InputError as error:
                found.append((first, second, "; ".join(m for _, m in error.problems)))
    return found


def _removed(plan: Plan) -> set[str]:
    return {t.edit.touchpoint for t in plan.timed_edits() if isinstance(t.edit, RemoveTouchpoint)}


def _fixed(plan: Plan) -> set[str]:
    return {t.edit.touchpoint for t in plan.timed_edits() if isinstance(t.edit, FixTouchpoint)}


def _touched(plan: Plan) -> set[str]:
    """The touchpoints a plan fixes, removes, or shifts traffic from or to."""
    found = set()
    for timed in plan.timed_edits():
        edit = timed.edit
        if isinstance(edit, FixTouchpoint | RemoveTouchpoint):
            found.add(edit.touchpoint)
        elif isinstance(edit, Shift):
            found |= {edit.from_, edit.to}
    return found


def spend(plan: Plan, horizon_months: int) -> float:
    """What a plan spends of a budget: one-off plus monthly cost over the horizon from each
    scenario's start month, undiscounted (module notes)."""
    return float(plan.costs(horizon_months).sum())


def best_plan(
    world: World,
    plans: dict[str, Plan],
    draws: list[Parameters],
    settings: Settings,
    limits: Limits,
    executor: str = "processes",
    store: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    value: Value = "lifetime",
    name: str = PLAN_NAME,
    team_weeks_per_month: float | None = None,
    bases: Mapping[str, str] | None = None,
) -> BudgetPlan:
    """The best set of ``plans`` within ``limits``, simulated together, and the frontier
    (module notes). With ``team_weeks_per_month``, the chosen set is staged for that
    capacity (:func:`scenarios.planning.staged`: least effort first, each when the team is
    free) before it is simulated together; its schedule is returned. ``bases``: where a
    removal's traffic share comes from, by candidate (:func:`candidate_plans`), in place of
    the scenario's.

    Raises
    ------
    InputError
        If ``name`` is a candidate's name (:func:`check_name`).
    """
    check_name(name, plans)
    seconds: dict[str, float] = {}
    began = _clock()
    sweep = run_study(world, plans, draws, settings, executor, store, progress, value=value)
    began = _lap(seconds, "sweep", began)
    clashes = conflicts(plans)
    names = list(plans)
    gains = value_gained(sweep.results, value).sel(scenario=names).transpose("scenario", "draw")
    g = gains.values
    money = sweep.money.set_index("scenario").loc[names]
    horizon = world.economics.horizon_months
    cost = money["cost"].to_numpy(dtype=float)
    cash = np.array([spend(plans[n], horizon) for n in names])
    effort = np.array([plans[n].effort_weeks for n in names], dtype=float)
    net = g.mean(axis=1) - cost
    index = {n: i for i, n in enumerate(names)}
    pairs = [(index[a], index[b]) for a, b, _ in clashes]
    eligible = (g > cost[:, None]).mean(axis=1) >= limits.confidence
    eligible &= np.array([not late_edits(plans[n], settings.months) for n in names])
    chosen = choose(net, cash, effort, limits.budget, limits.effort_weeks, pairs, eligible)
    options = _options(names, g, money, cash, effort, sweep.removals, chosen, eligible)
    options["outside_run"] = [
        bool(late_edits(plans[n], settings.months)) for n in options["scenario"]
    ]
    for candidate, basis in (bases or {}).items():
        options.loc[options["scenario"] == candidate, "basis"] = basis
    grid = budget_grid(limits.budget, net[eligible], cash[eligible])
    table = frontier(g, cost, cash, effort, grid, limits.effort_weeks, pairs, names, eligible)
    table["given"] = table["budget"] == limits.budget
    began = _lap(seconds, "choice", began)
    picked = [names[i] for i in chosen]
    together, summary, schedule = None, _summary(picked, g[chosen], cost[chosen]), None
    if picked:
        scenarios = [s for n in picked for s in plans[n].scenarios]
        if team_weeks_per_month is None:
            combined = combine(scenarios, name)
        else:
            combined, schedule = staged(scenarios, name, team_weeks_per_month)
        together = run_study(
            world, {name: combined}, draws, settings, executor, store, progress, value=value
        )
        summary |= _together(together, name, value, g[chosen], spend(combined, horizon))
    _lap(seconds, "together", began)
    return BudgetPlan(
        limits,
        name,
        horizon,
        picked,
        options,
        table,
        sweep,
        together,
        summary,
        clashes,
        schedule,
        seconds,
    )


def _clock() -> tuple[float, float]:
    """Wall time, and CPU time of this process and its finished workers."""
    own, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return time.perf_counter(), own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _lap(seconds: dict[str, float], step: str, began: tuple[float, float]) -> tuple[float, float]:
    """Record the wall and CPU time since ``began`` as ``step``; the clock now."""
    now = _clock()
    seconds[step], seconds[f"{step}_cpu"] = now[0] - began[0], now[1] - began[1]
    return now


def choose(
    net: np.ndarray,
    cash: np.ndarray,
    effort: np.ndarray,
    budget: float,
    effort_cap: float,
    pairs,
    eligible: np.ndarray | None = None,
) -> list[int]:
    """:func:`scenarios.knapsack.best_set` among the ``eligible`` candidates (default: all);
    indices into all of them, increasing."""
    allowed = np.flatnonzero(np.ones(len(net), bool) if eligible is None else eligible)
    at = {int(i): k for k, i in enumerate(allowed)}
    inner = [(at[i], at[j]) for i, j in pairs if i in at and j in at]
    found = best_set(net[allowed], cash[allowed], effort[allowed], budget, effort_cap, inner)
    return [int(allowed[k]) for k in found]


def budget_grid(
    budget: float, net: np.ndarray, cash: np.ndarray, points: int = POINTS
) -> np.ndarray:
    """The budgets of the frontier: ``points`` + 1 evenly spaced from 0 to the larger of the
    given budget and the spend of every candidate worth having (positive expected net value),
    and the given budget itself."""
    top = max(budget, float(cash[(net > 0) & (cash > 0)].sum()))
    return np.unique(np.append(np.linspace(0.0, top, points + 1), budget))


def frontier(
    gains: np.ndarray,
    cost: np.ndarray,
    cash: np.ndarray,
    effort: np.ndarray,
    budgets: np.ndarray,
    effort_cap: float = np.inf,
    pairs: list[tuple[int, int]] | None = None,
    names: list[str] | None = None,
    eligible: np.ndarray | None = None,
) -> pd.DataFrame:
    """The best set for each budget (:func:`scenarios.knapsack.best_set`) and its net value
    taken as additive: mean, 90% interval and P(net value > 0) over draws.

    Parameters
    ----------
    gains
        g_id, value gained by candidate i in draw d (candidates, draws).
    cost, cash, effort
        Per candidate: discounted cost k_i, spend of the budget, person-weeks.
    budgets
        The budgets, increasing.
    effort_cap, pairs
        The effort cap and the conflicting pairs of :func:`best_set`.
    names
        The candidates' names (default: their indices).
    eligible
        Which candidates may be chosen (default: all; :attr:`Limits.confidence`).

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``scenarios`` (``; ``-joined, in candidate order),
        ``count``, ``spend``, ``effort_weeks``, ``cost``, ``value_gain``, ``net_value``,
        ``net_low``, ``net_high``, ``p_net_positive``.
    """
    names = names or [str(i) for i in range(len(cost))]
    net = gains.mean(axis=1) - cost
    rows = []
    for budget in budgets:
        chosen = choose(net, cash, effort, float(budget), effort_cap, pairs or (), eligible)
        draws = gains[chosen].sum(axis=0) - cost[chosen].sum()
        low, high = np.quantile(draws, INTERVAL)
        rows.append(
            {
                "budget": float(budget),
                "scenarios": "; ".join(names[i] for i in chosen),
                "count": len(chosen),
                "spend": float(cash[chosen].sum()),
                "effort_weeks": float(effort[chosen].sum()),
                "cost": float(cost[chosen].sum()),
                "value_gain": float(gains[chosen].sum(axis=0).mean()),
                "net_value": float(net[chosen].sum()),
                "net_low": float(low),
                "net_high": float(high),
                "p_net_positive": float((draws > 0).mean()),
            }
        )
    return pd.DataFrame(rows)


def _options(
    names: list[str],
    g: np.ndarray,
    money: pd.DataFrame,
    cash: np.ndarray,
    effort: np.ndarray,
    removals: pd.DataFrame,
    chosen: list[int],
    eligible: np.ndarray,
) -> pd.DataFrame:
    """One row per candidate, best expected net value first (see :class:`BudgetPlan`)."""
    cost = money["cost"].to_numpy(dtype=float)
    net = g - cost[:, None]
    low, high = np.quantile(net, INTERVAL, axis=1)
    table = pd.DataFrame(
        {
            "scenario": names,
            "value_gain": g.mean(axis=1),
            "value_gain_low": money["value_gain_low"].to_numpy(),
            "value_gain_high": money["value_gain_high"].to_numpy(),
            "cost": cost,
            "spend": cash,
            "effort_weeks": effort,
            "net_value": net.mean(axis=1),
            "net_low": low,
            "net_high": high,
            "p_gain_exceeds_cost": (net > 0).mean(axis=1),
            "clear": low > 0,
            "eligible": eligible,
            "chosen": [i in chosen for i in range(len(names))],
        }
    )
    ends = ["value_gain_none_go_on", "value_gain_all_go_on", "break_even_share"]
    if removals is not None and not removals.empty:
        table = table.merge(removals[["scenario", "traffic", "basis", *ends]], on="scenario",
                            how="left")  # fmt: skip
    else:
        table = table.assign(traffic=None, basis=None, **{end: np.nan for end in ends})
    return table.sort_values("net_value", ascending=False, ignore_index=True)


def _summary(picked: list[str], g: np.ndarray, cost: np.ndarray) -> dict:
    """The chosen set's figures taken as additive (the sum of its parts)."""
    if not picked:
        return {"scenarios": "", "count": 0, "additive_value_gain": 0.0, "cost": 0.0}
    return {
        "scenarios": "; ".join(picked),
        "count": len(picked),
        "additive_value_gain": float(g.sum(axis=0).mean()),
        "cost": float(cost.sum()),
    }


def _together(study: Study, name: str, value: Value, parts: np.ndarray, cash: float) -> dict:
    """The chosen set simulated as one plan: value gained, cost, net value with their 90%
    intervals, and the interaction, together less the sum of the parts, draw by draw."""
    row = study.money.set_index("scenario").loc[name]
    together = value_gained(study.results, value).sel(scenario=name).values
    interaction = together - parts.sum(axis=0)
    net = together - float(row["cost"])
    return {
        "value_gain": float(together.mean()),
        "value_gain_low": float(row["value_gain_low"]),
        "value_gain_high": float(row["value_gain_high"]),
        "cost": float(row["cost"]),
        "spend": cash,
        "effort_weeks": float(row["effort_weeks"]),
        "net_value": float(net.mean()),
        "net_low": float(np.quantile(net, INTERVAL[0])),
        "net_high": float(np.quantile(net, INTERVAL[1])),
        "p_net_positive": float((net > 0).mean()),
        "interaction": float(interaction.mean()),
        "interaction_low": float(np.quantile(interaction, INTERVAL[0])),
        "interaction_high": float(np.quantile(interaction, INTERVAL[1])),
    }


def write_budget_plan(
    found: BudgetPlan, out: Path, figures: Mapping[str, Figure] | None = None
) -> list[str]:
    """Into ``out``, atomically: ``sweep/`` (every candidate alone: results, comparison,
    economics, removals), ``together/`` (the chosen set as one plan, when not empty),
    ``candidates`` and ``frontier`` as CSV and Parquet, ``plan.json`` (limits, the chosen
    set, its figures, conflicts, settings) and each of ``figures`` (file name: figure)."""
    with atomic_directory(out) as folder:
        write_study(found.sweep, folder / "sweep")
        if found.together is not None:
            write_study(found.together, folder / "together")
        tables = [("candidates", found.options), ("frontier", found.frontier)]
        if found.schedule is not None:
            tables.append(("schedule", found.schedule))
        for file, table in tables:
            csv_safe(table).to_csv(folder / f"{file}.csv", index=False)
            table.to_parquet(folder / f"{file}.parquet", index=False)
        attrs = found.sweep.results.attrs
        summary = {
            "budget": found.limits.budget,
            "effort_weeks": found.limits.effort_weeks
            if np.isfinite(found.limits.effort_weeks)
            else None,
            "budget_counts": f"one-off plus monthly cost over the horizon of "
            f"{found.horizon_months} months, undiscounted",
            "min_confidence": found.limits.confidence,
            "plan": found.name,
            "chosen": found.chosen,
            "figures": found.summary,
            "conflicts": [list(c) for c in found.conflicts],
            "seconds": found.seconds,
            "settings": {k: v.item() if hasattr(v, "item") else v for k, v in attrs.items()},
        }
        (folder / "plan.json").write_text(json.dumps(summary, indent=1))
        for file, figure in (figures or {}).items():
            figure.savefig(folder / file, dpi=120)
    return sorted(p.name for p in out.iterdir())
