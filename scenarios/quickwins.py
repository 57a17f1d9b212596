"""Quick wins: every touchpoint fixed and removed, ranked with its uncertainty, and placed in an
impact-effort matrix.

For each touchpoint k of a world two candidate scenarios are built (:func:`candidates`):

- ``fix k``: bad experiences halved (``bad_ratings: halve``: P(1), P(2) times 0.5, ratings 3-5
  times (1 - 0.5 b) / (1 - b), b = P(1) + P(2): :func:`scenarios.edits.shift_bad_ratings`). A
  queued touchpoint gets one more agent on duty instead, not both: its bad experiences come
  mostly from waits, abandonment and unresolved contacts, and one lever keeps the cost plain.
- ``match k``: our ratings at k set to the best competitor's (the world's ``benchmark``,
  :func:`models.benchmark.matches`: the competitor with the highest expected mean rating, its
  distribution or, from survey counts, its posterior mean), in the segments whose own mean
  rating is below it; the others keep theirs. Offered only where the competitor is better in
  some segment: elsewhere it would change nothing. Its default cost is a fix's of the
  touchpoint's channel (:data:`FIX_BY_CHANNEL`), the costs file's ``match`` replaces it.
- ``remove k``: nobody meets k any more. Where k's prospects go is an assumption
  (:class:`scenarios.scenario.Traffic`): share s of them goes on to k's successors as if k had
  been met, the rest is lost. The candidate is ranked at the share the costs file or the
  world states (``substitution``), and where neither does at s = 0, the conservative end: no
  substitute is assumed free. Every removal is also run at both ends, s = 0 and s = 1, and
  its **break-even share** is where its net gain (value gained less cost) changes sign, by
  linear interpolation between the ends (:func:`scenarios.chains.break_even`): the share of
  k's traffic that must find its way on for the removal to pay. A removal takes away k's
  experiences and contact costs, not the need k met, so a touchpoint the world marks
  ``essential`` (a repair, the bill) is not removed. Such a candidate, and one the edits
  refuse (purchase as a first step), is skipped with the reason.

Every candidate starts at month 0 (no implementation delay), so gains compare. The world file
has no improvement costs: one-off cost, monthly cost and effort (person-weeks) come from a
costs file (:func:`load_costs`) or the defaults :data:`FIX_BY_CHANNEL`, :data:`ONE_MORE_AGENT`
and :data:`REMOVAL`.

All candidates run with the baseline in one go (:func:`scenarios.runner.run`, common random
numbers), each draw a simulation of its own (posterior draws, or replications of the world's
parameters), so every figure carries the parameters' uncertainty and the simulation's noise.
Value gained is :func:`scenarios.compare.economics`' ``value_gain`` (lifetime value by
default), before the candidate's own cost. Rankings: value per cost g / c (c the discounted
cost) and value per effort g / e (e in person-weeks), both largest first. How sure the
ranking is: ``p_top`` is the share of draws in which the candidate is among the
:data:`TOP` best by value per cost, and ``apart`` the share in which it beats the next
candidate of the ranking; below :data:`APART` the two cannot be told apart.

**Evidence first.** A mean over a few draws is a noisy figure, and the candidate with the
largest mean among two dozen is the one whose noise happened to be largest (the winner's
curse); a cheap candidate multiplies that noise by a small cost. So a candidate **pays** when
the 90% interval of its value gained (over the draws, which carry the parameters' uncertainty
and the simulation's noise: ``value_gain_low`` and ``value_gain_high``) lies above its cost,
**loses** when it lies below, and is **unsure** when the interval holds the cost
(``evidence``): the rule a reader can check in the table. The ranking takes the candidates
that pay first, then the unsure, then those that lose, each group by value per cost (by value
per effort for ``rank_effort``). With few draws the interval's ends are the extreme draws
(with 10 draws, paying needs about all 10 above the cost).

**What a removal assumes of the customers.** The churn model sees a touchpoint's experiences,
not what it does: a customer who never meets k churns as one whose every experience of k was
neutral (x_k = 0, :mod:`models.churn`). So removing k is, for churn, the same as making every
experience of k a neutral 3 of 5, and whatever k does for customers beyond the experience (a
renewal offer's discount, a welcome pack's instructions) is assumed worth nothing. If that is
wrong, the removal loses the customers k keeps by what it does. ``break_even_kept`` says how
many: a removal with net gain n = g - c pays only if k keeps fewer than n / v customers, v the
lifetime value of a customer of the installed base in the baseline (:data:`sim.engine.results.
OUTCOMES` ``lifetime_value``, or ``value_run`` with ``value="run"``), at company scale.

Quadrants (:func:`quadrant`): impact high when g > G = max(0, median g), effort high when
e > E = median e, over the candidates run (one that loses value is never high impact). Quick
win: high impact, low effort; major project: high, high; fill-in: low, low; thankless task:
low impact, high effort. A candidate above the impact line that does not surely pay is
**unproven**, neither a quick win nor a project: measure before acting on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import ValidationError

from models.benchmark import Rival, matches
from scenarios.compare import Value, value_gained
from scenarios.load import parse_scenario
from scenarios.runner import Settings
from scenarios.scenario import Plan, Traffic, as_plan
from scenarios.study import Study, run_study, write_study
from sim.engine.results import outcomes
from sim.inputs.checks import unknown
from sim.inputs.errors import InputError
from sim.inputs.files import atomic_directory, csv_safe, describe_all, read_yaml
from sim.inputs.parameters import Parameters
from sim.inputs.schema import NonNegative, Probability, StrictModel
from sim.inputs.world import Touchpoint, World

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Cost(StrictModel):
    """What a candidate costs: one-off and monthly (world currency), effort in person-weeks.

    Not negative, so value per cost ranks; savings in contacts are in the run's cost to serve,
    and other savings (a closed store's rent) belong in a scenario file for ``ctm compare``.
    """

    one_off_cost: NonNegative
    monthly_cost: NonNegative = 0.0
    effort_weeks: NonNegative


class TouchpointCosts(StrictModel):
    """A touchpoint's costs of being fixed and of being removed (either may be left out), and
    the share of its traffic that would go on to its successors if it were removed (the
    world's ``substitution``, replaced)."""

    fix: Cost | None = None
    match: Cost | None = None
    remove: Cost | None = None
    substitution: Probability | None = None


class Costs(StrictModel):
    """A costs file: ``touchpoints: {invoice: {fix: {one_off_cost: ..., effort_weeks: ...}}}``."""

    touchpoints: dict[str, TouchpointCosts] = {}


FIX_BY_CHANNEL = {
    # channel: halving bad experiences (research, redesign, training), in the world's currency
    "digital": Cost(one_off_cost=60_000, monthly_cost=1_000, effort_weeks=12),  # design, build
    "e-mail": Cost(one_off_cost=20_000, effort_weeks=4),  # rewrite and test templates
    "mail": Cost(one_off_cost=80_000, monthly_cost=1_000, effort_weeks=12),  # document, system
    "media": Cost(one_off_cost=100_000, effort_weeks=8),  # new creative, pre-tests
    "phone": Cost(one_off_cost=50_000, monthly_cost=2_000, effort_weeks=8),  # scripts, coaching
    "human": Cost(one_off_cost=40_000, monthly_cost=2_000, effort_weeks=8),  # small team
    "field sales": Cost(one_off_cost=60_000, monthly_cost=2_000, effort_weeks=10),
    "retail": Cost(one_off_cost=150_000, monthly_cost=5_000, effort_weeks=20),  # every store
    "field": Cost(one_off_cost=120_000, monthly_cost=4_000, effort_weeks=16),  # crews, tools
}
"""Default cost of a fix by the touchpoint's channel (magnitudes of a mid-size European firm)."""
OTHER_CHANNEL = Cost(one_off_cost=80_000, monthly_cost=2_000, effort_weeks=12)
"""Default cost of a fix for a channel not in :data:`FIX_BY_CHANNEL`."""
ONE_MORE_AGENT = Cost(one_off_cost=17_500, monthly_cost=20_000, effort_weeks=2)
"""Half of scenarios/examples/more_agents.yaml: one seat around the clock, about 5.5 hires."""
REMOVAL = Cost(one_off_cost=30_000, effort_weeks=6)
"""Default cost of a removal: decommissioning, redirecting customers, telling them."""
FREE = Cost(one_off_cost=0, effort_weeks=0)
QUADRANTS = {
    (True, False): "quick win",
    (True, True): "major project",
    (False, False): "fill-in",
    (False, True): "thankless task",
}
"""(high impact, high effort) -> quadrant."""
COLOURS = {"fix": "tab:blue", "match": "tab:green", "remove": "tab:orange"}
DEFAULTS = {"draws": 40, "customers": 5_000, "months": 24}
"""The sweep's default size: draws (posterior draws, or simulations of the world's
parameters), customers and months of each run. On the demo the top 5 is then the same set
for at least 4 of 5 seeds (tests/scenarios/test_quickwins.py). 20 draws were enough for 28
candidates; with the 4 "match" candidates of the competitor benchmark, the demo's fifth,
sixth and seventh (fix order, fix app, match call_centre: 43.9, 38.1 and 37.0 of value per
cost) changed places, and 20 draws gave the same top 5 in 3 of 5 seeds only. ``ctm
quickwins demo`` takes about a minute on two cores."""
TOP = 5
"""The short list: ``p_top`` is the share of draws in which a candidate is among these best."""
APART = 0.9
"""A candidate and the next of the ranking are told apart when one beats the other by value
per cost in at least this share of draws."""
EVIDENCE = ("pays", "unsure", "loses")
"""The evidence groups, in the ranking's order."""
UNPROVEN = "unproven"
"""The quadrant of a candidate above the impact line that does not surely pay."""
PER_CUSTOMER = {"lifetime": "lifetime_value", "run": "value_run"}
"""The outcome that values one customer of the installed base, by measure of value."""
ESSENTIAL = (
    "essential in the world file: customers need what it does, so removing it is "
    "no option; a scenario that replaces it can be compared"
)


@dataclass(frozen=True)
class Candidate:
    """One quick-win scenario: a touchpoint fixed or removed, or why it was skipped."""

    name: str
    touchpoint: str
    kind: str
    change: str
    cost: Cost
    plan: Plan | None
    skipped: str = ""
    substitution: float | None = None
    """A removal's share of traffic going on to the successors, as ranked."""
    basis: str = ""
    """Where a removal's share comes from."""


@dataclass(frozen=True)
class Thresholds:
    """The quadrant lines: impact G (value gained, currency) and effort E (person-weeks)."""

    impact: float
    effort: float

    def describe(self, currency: str) -> str:
        return (
            f"high impact: value gained above {self.impact:,.0f} {currency} "
            f"(the median, at least 0); high effort: above {self.effort:g} person-weeks "
            "(the median)"
        )


@dataclass
class QuickWins:
    """The run (results, comparison, economics), the ranked table and the quadrant lines."""

    study: Study
    table: pd.DataFrame
    thresholds: Thresholds


def load_costs(path: Path, world: World) -> Costs:
    """A costs file, validated; InputError naming the file and each bad field."""
    try:
        costs = Costs.model_validate(read_yaml(path))
    except ValidationError as error:
        raise InputError(str(path), describe_all(error.errors())) from None
    problems = unknown("touchpoints", costs.touchpoints, world.touchpoint_ids, "touchpoint")
    if problems:
        raise InputError(str(path), problems)
    return costs


def candidates(world: World, costs: Costs | None = None) -> list[Candidate]:
    """A fix and a removal of every touchpoint, and a match where a competitor is better,
    with their costs (module notes)."""
    given = (costs or Costs()).touchpoints
    matched = matches(world)
    found = []
    for tp in world.touchpoints:
        own = given.get(tp.id, TouchpointCosts())
        if tp.queue is not None:
            fix, change = {"queue": {"extra_agents": 1}}, "one more agent on duty"
            fix_cost = own.fix or ONE_MORE_AGENT
        else:
            fix, change = {"bad_ratings": "halve"}, "bad experiences halved"
            fix_cost = own.fix or FIX_BY_CHANNEL.get(tp.channel, OTHER_CHANNEL)
        found.append(_candidate(world, tp, "fix", change, fix, fix_cost))
        if tp.id in matched:
            cost = own.match or FIX_BY_CHANNEL.get(tp.channel, OTHER_CHANNEL)
            found.append(_match(world, tp, *matched[tp.id], cost))
        cost = own.remove or REMOVAL
        if tp.essential:
            found.append(
                Candidate(f"remove {tp.id}", tp.id, "remove", "removed", cost, None, ESSENTIAL)
            )
        else:
            found.append(_removal(world, tp, cost, own.substitution))
    return found


def _removal(world: World, tp: Touchpoint, cost: Cost, stated: float | None) -> Candidate:
    """Removing ``tp``, ranked at the share the costs file states, else the world's, else 0
    (module notes)."""
    name = f"remove {tp.id}"
    if stated is not None:
        share, basis = stated, "stated in the costs file"
    elif tp.substitution is not None:
        share, basis = tp.substitution, "stated in the world file"
    else:
        share, basis = 0.0, "none stated: the conservative end"
    change = f"removed, {share:.0%} of its traffic on to its successors"
    edit = {"kind": "remove", "touchpoint": tp.id, "traffic": Traffic.mix(share).written()}
    try:
        plan = one_edit_plan(world, name, edit, cost)
    except InputError as error:
        return Candidate(name, tp.id, "remove", change, cost, None, refusal(error), share, basis)
    return Candidate(name, tp.id, "remove", change, cost, plan, "", share, basis)


def _match(
    world: World, tp: Touchpoint, rival: Rival, ratings: dict[str, list[float]], cost: Cost
) -> Candidate:
    """Our ratings at ``tp`` set to the best competitor's in the segments ``ratings`` names."""
    where = "" if len(ratings) == len(world.segments) else f" for {', '.join(ratings)}"
    change = f"ratings matched to {rival.name}'s{where}"
    return _candidate(world, tp, "match", change, {"ratings": ratings}, cost, edit_kind="fix")


def one_edit_plan(world: World, name: str, edit: dict, cost: Cost = FREE) -> Plan:
    """A plan of one edit from month 0, checked like a scenario file (InputError if the
    edits refuse it)."""
    data = {"name": name, **cost.model_dump(), "start_month": 0, "edits": [edit]}
    return as_plan(parse_scenario(data, world, f"scenario '{name}'"))


def _candidate(
    world: World,
    tp: Touchpoint,
    kind: str,
    change: str,
    edit: dict,
    cost: Cost,
    edit_kind: str | None = None,
) -> Candidate:
    """The candidate ``kind`` of ``tp``: one edit of ``edit_kind`` (default ``kind``)."""
    name = f"{kind} {tp.id}"
    edit = {"kind": edit_kind or kind, "touchpoint": tp.id, **edit}
    try:
        plan = one_edit_plan(world, name, edit, cost)
    except InputError as error:
        return Candidate(name, tp.id, kind, change, cost, None, refusal(error))
    return Candidate(name, tp.id, kind, change, cost, plan)


def refusal(error: InputError) -> str:
    """Why the edits refused a plan, in one line."""
    return "; ".join(message for _, message in error.problems)


def quick_wins(
    world: World,
    draws: list[Parameters],
    settings: Settings,
    costs: Costs | None = None,
    executor: str = "processes",
    store: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    value: Value = "lifetime",
) -> QuickWins:
    """Run every candidate with the baseline (common random numbers; every removal at both
    ends of its substitution share too: :func:`scenarios.study.run_study`); rank and place
    them (module notes)."""
    found = candidates(world, costs)
    plans = {c.name: c.plan for c in found if c.plan is not None}
    study = run_study(world, plans, draws, settings, executor, store, progress, value=value)
    gains = value_gained(study.results, value)
    worth = customer_value(study.results, value)
    table = ranked(found, study.money, gains, study.removals, worth)
    limits = thresholds(table)
    table["quadrant"] = [
        quadrant(g, e, limits, evidence) if not s else ""
        for g, e, evidence, s in zip(
            table["value_gain"],
            table["effort_weeks"],
            table["evidence"],
            table["skipped"],
            strict=True,
        )
    ]
    return QuickWins(study, table, limits)


def customer_value(results: xr.Dataset, value: Value = "lifetime") -> float:
    """What one customer of the installed base is worth in the baseline, mean over draws (the
    outcome :data:`PER_CUSTOMER` names, all segments): the v of ``break_even_kept``."""
    baseline = outcomes(results.sel(scenario="baseline", drop=True))
    return float(baseline[PER_CUSTOMER[value]].sel(segment="all").mean())


def evidence(low: float, high: float, cost: float) -> str:
    """``pays`` when the 90% interval of the value gained, ``low`` to ``high``, lies above
    ``cost``, ``loses`` when below, else ``unsure``; empty for a candidate not run."""
    if pd.isna(low) or pd.isna(high):
        return ""
    if low > cost:
        return "pays"
    return "loses" if high < cost else "unsure"


def ranked(
    found: list[Candidate],
    money: pd.DataFrame,
    gains: xr.DataArray | None = None,
    removals: pd.DataFrame | None = None,
    per_customer: float | None = None,
) -> pd.DataFrame:
    """One row per candidate, those that pay first, then the unsure, then those that lose,
    each group best value per cost first, skipped ones last (module notes); with ``gains``
    (value gained per draw, :func:`scenarios.compare.value_gained`), how sure the ranking is
    (``p_top``, ``apart``); with ``removals`` (:attr:`scenarios.study.Study.removals`), a
    removal's value gained at both ends of its substitution share and its break-even
    share; with ``per_customer`` (:func:`customer_value`), a removal's ``break_even_kept``."""
    rows = pd.DataFrame(
        [
            {
                "scenario": c.name,
                "touchpoint": c.touchpoint,
                "kind": c.kind,
                "change": c.change,
                "effort_weeks": c.cost.effort_weeks,
                "skipped": c.skipped,
                "substitution": c.substitution,
                "substitution_basis": c.basis,
            }
            for c in found
        ]
    )
    table = rows.merge(money.drop(columns="effort_weeks"), on="scenario", how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["value_per_cost"] = table["value_gain"] / table["cost"]
        table["value_per_effort"] = table["value_gain"] / table["effort_weeks"]
    ends = ["value_gain_none_go_on", "value_gain_all_go_on", "break_even_share", "end_refused"]
    if removals is not None and not removals.empty:
        table = table.merge(removals[["scenario", *ends]], on="scenario", how="left")
    else:
        table = table.assign(**{column: np.nan for column in ends})
    table["evidence"] = [
        evidence(low, high, cost)
        for low, high, cost in zip(
            table["value_gain_low"], table["value_gain_high"], table["cost"], strict=True
        )
    ]
    net = table["value_gain"] - table["cost"]
    kept = net / per_customer if per_customer and per_customer > 0 else np.nan
    table["break_even_kept"] = np.where((table["kind"] == "remove") & (net > 0), kept, np.nan)
    group = table["evidence"].map({e: i for i, e in enumerate(EVIDENCE)})
    for by in ("cost", "effort"):  # by group, then by value per cost (effort) in the group
        within = table[f"value_per_{by}"].groupby(group).rank(ascending=False, method="min")
        table[f"rank_{by}"] = (group * (len(table) + 1) + within).rank(method="min")
    table = table.sort_values(["rank_cost", "rank_effort"], na_position="last", ignore_index=True)
    if gains is not None:
        _certainty(table, gains)
    return table


def _certainty(table: pd.DataFrame, gains: xr.DataArray) -> None:
    """``p_top``: the share of draws in which each candidate run is among the :data:`TOP`
    best by value per cost; ``apart``: the share in which it beats the next candidate of the
    ranking by value per cost (empty for the last and the skipped)."""
    run = table["rank_cost"].notna()
    names = table.loc[run, "scenario"].tolist()
    cost = table.loc[run, "cost"].to_numpy()
    g = gains.sel(scenario=names).transpose("scenario", "draw").values
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cost = np.where(cost[:, None] > 0, g / cost[:, None], np.sign(g) * np.inf)
    order = np.argsort(-per_cost, axis=0, kind="stable")  # per draw, best first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(len(names))[:, None], axis=0)
    p_top = (rank < TOP).mean(axis=1)
    apart = [np.nan] * len(names)
    for i in range(len(names) - 1):
        apart[i] = float((per_cost[i] > per_cost[i + 1]).mean())
    table["p_top"] = np.nan
    table["apart"] = np.nan
    table.loc[run, "p_top"] = p_top
    table.loc[run, "apart"] = apart


def thresholds(table: pd.DataFrame) -> Thresholds:
    """G = max(0, median value gained) and E = median effort, over the candidates run."""
    run = table[table["skipped"] == ""]
    return Thresholds(
        impact=max(0.0, float(run["value_gain"].median())),
        effort=float(run["effort_weeks"].median()),
    )


def quadrant(
    value_gain: float, effort_weeks: float, limits: Thresholds, evidence: str = "pays"
) -> str:
    """The quadrant of a candidate: high means strictly above the line; above the impact line
    without surely paying, :data:`UNPROVEN` (module notes)."""
    high = value_gain > limits.impact
    if high and evidence != "pays":
        return UNPROVEN
    return QUADRANTS[(high, effort_weeks > limits.effort)]


def write_quickwins(
    wins: QuickWins, out: Path, figures: Mapping[str, Figure] | None = None
) -> list[str]:
    """The run (``study/``: results.nc, comparison, economics), ``quickwins`` as CSV, Parquet
    and JSON (with the thresholds and settings) and each of ``figures`` (file name: figure,
    such as the matrix of :func:`notebooks.touchpoint_plots.matrix_plot`), into ``out``
    atomically."""
    currency = wins.study.results.attrs["currency"]
    with atomic_directory(out) as folder:
        write_study(wins.study, folder / "study")
        csv_safe(wins.table).to_csv(folder / "quickwins.csv", index=False)
        wins.table.to_parquet(folder / "quickwins.parquet", index=False)
        settings = {
            k: v.item() if hasattr(v, "item") else v for k, v in wins.study.results.attrs.items()
        }
        summary = {
            "settings": settings,
            "thresholds": asdict(wins.thresholds),
            "rule": wins.thresholds.describe(currency),
            "quickwins": json.loads(wins.table.to_json(orient="records")),
        }
        (folder / "quickwins.json").write_text(json.dumps(summary, indent=1))
        for name, figure in (figures or {}).items():
            figure.savefig(folder / name, dpi=120)
    return sorted(p.name for p in out.iterdir())
