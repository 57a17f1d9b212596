"""The maturity quiz of touchpoint management, answered from a company's files.

A board asks "how mature is our touchpoint management?" and the method's quiz answers it with
six yes-or-no questions: does the organisation know (1) all its touchpoints, (2) which
touchpoints customers value highly, (3) customers' views of those touchpoints, (4) customers'
needs at each lifecycle stage, (5) the most common sequence of touchpoints prospects meet, (6)
how customers classify themselves (dissatisfied, satisfied, loyal, advocate)? No yes makes an
*Observer*, 1 or 2 a *Follower*, 3 or 4 a *Leader*, 5 or 6 a *Visionary*. Companies answer it
by feel; :func:`assess` answers it from the world file (the touchpoint inventory), the
feedback tables (:mod:`models.data`) and a posterior of ``ctm fit``, when given: each question
yes, partly or no, with its evidence in one line.

What counts as knowing. One yardstick runs through the rules: a share (of poor views, of
contacts that fall short, of a class, of prospects taking a move) is **known** when its 90%
interval is narrower than 0.1, i.e. within about 5 points either way (:data:`WIDTH`). A
quick win such as halving bad experiences moves a typical share of 15% to 30% by 7 to 15
points; an estimate within 5 points tells such a change from noise, a wider one does not. The
interval is that of a uniform prior updated by the counts (Beta(1 + k, 1 + n - k); for one of
C classes the Dirichlet's marginal), so a handful of answers is never "known". Survey
answers count once per customer (the latest) and only from the last 12 months of the table
(:data:`WINDOW_MONTHS`): a view is what a customer thinks now, a year covers every season and
billing cycle once, and an older answer may be of a customer who has since changed their mind
or left. Transactional ratings (one per experience) and the event log count whole: each
records a contact as it happened, and the needs a stage must meet change with the product and
its processes, not from month to month.

1. **All touchpoints.** Yes when the inventory (the world file) has a touchpoint at every
   stage of the lifecycle (awareness, consideration, purchase, onboarding, usage, billing,
   support, renewal) and the event log shows no contact at a touchpoint outside it. Partly
   when the log shows such touchpoints (each named with its events), when a stage has no
   touchpoint (named), or when there is no event log to check the inventory against (a list
   nobody held against what customers do is a belief). No when half the stages or more have
   no touchpoint: most of the lifecycle is not in the inventory.
2. **Which touchpoints customers value highly.** A touchpoint customers value is one whose
   poor view drives them away: the churn model's effect of a poor view (beta, as
   :mod:`models.drivers`), weighted by reach, so that it counts for the customers who meet
   the touchpoint: the sum over segments of the segment's share of the installed base (the
   world's ``customers``) times its effect, for the segments that meet it (its journey,
   onboarding or recurring contacts in the world). An account manager whom 1% of customers
   meet (the demo's enterprises, 2,000 of 232,000) is not what "customers" value, however
   much those few do. Yes when a posterior ranks three touchpoints in the top 3 in more than
   80% of its draws each (:data:`SURE`: four chances in five, the odds on which a budget is
   committed) and it passed its convergence diagnostics. Partly when one or two are that
   sure, or all three but the posterior failed its diagnostics. No without a posterior (the
   world file's effects are assumptions: they are named, with what ``ctm fit`` would add),
   without churn effects in it, or when no touchpoint is that sure.
3. **Customers' views of those touchpoints.** The three of question 2 (the posterior's, else
   the world file's assumed top three, named as such). A view is a survey rating (the
   responses table; a customer's latest in the last 12 months); it is known when the share
   of customers with a poor view (1 or 2) is. Yes for all three, partly for one or two, no
   for none or without a responses table.
4. **Customers' needs at each lifecycle stage.** A need unmet shows where it happens: a
   contact that falls short (a transactional rating of 1 or 2, given right after the
   experience: the ratings table) or, at the acquisition stages (awareness, consideration,
   purchase), a prospect who leaves after the contact (the event log's cases that end there
   without a purchase, those begun in its last month left out as in question 5; needs the
   customers table to tell buyers). A stage is measured when either share is known. Survey
   ratings do not count here: they are views formed over many contacts, and do not say at
   which contact a need went unmet. Yes when every stage is
   measured; partly when more than half are (the needs along most of the lifecycle); no
   otherwise. Shares are pooled over segments (a thin segment, such as the demo's 54
   enterprise customers, would never reach 5 points, and its needs are known account by
   account).
5. **The most common sequence prospects meet.** From the event log (a case's touchpoints in
   time order, :func:`models.eventlog.case_table`; cases begun in the log's last calendar
   month are left out, as ``ctm fit`` leaves them out of the journeys: their purchase may not
   be recorded yet, and they would count as lost). Yes when the log holds prospects who did
   not buy as well as buyers (so the customers table is needed), its most common sequence
   is clearly the most common (the 90% interval of its share less the runner-up's is above
   0) and every move along it (from the start, between its touchpoints and to its end) is
   known. Partly with a log that falls short of any of these; no without a log.
6. **How customers classify themselves.** The ``self_class`` answers of the responses table
   (a customer's latest in the last 12 months). Yes when the shares of all four classes
   are known; partly with fewer answers; no without any.

The level counts the yes answers only, by the quiz's thresholds (:data:`LEVELS`). A partly is
counted as a no: the quiz asks yes or no, and knowing in part is not knowing enough to act on;
the result says how many partly answers there are and what level they would make as yes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import betaincinv

from models.eventlog import case_table
from models.posterior import attribute
from sim.inputs.files import atomic_directory, csv_safe
from sim.inputs.parameters import from_world
from sim.inputs.world import LOST, LOYALTY_CLASSES, PURCHASE, STAGES, World

QUESTIONS = (
    "all its touchpoints",
    "which touchpoints customers value highly",
    "customers' views of those touchpoints",
    "customers' needs at each lifecycle stage",
    "the most common sequence of touchpoints prospects meet",
    "how customers classify themselves",
)
"""What the organisation is asked whether it knows, in the quiz's order."""
LEVELS = ((5, "Visionary"), (3, "Leader"), (1, "Follower"), (0, "Observer"))
"""The quiz's levels by the fewest yes answers that reach them."""
WIDTH = 0.10
"""A share is known when its 90% interval is narrower than this (about 5 points either way)."""
PROBABILITY = 0.90
"""The probability of the intervals."""
TOP = 3
"""How many touchpoints question 2 asks to be ranked."""
SURE = 0.8
"""P(in the top 3) above which a touchpoint's place among the most valued is known."""
WINDOW_MONTHS = 12
"""Survey answers and ratings count from this many months before the table's last date."""
ACQUISITION = ("awareness", "consideration", "purchase")
"""The stages a prospect passes before buying: needs unmet there show as prospects leaving."""
YES, PARTLY, NO = "yes", "partly", "no"
_DRAWS_SEED = 0
"""Seed of the Dirichlet draws behind question 5's difference of shares (reproducible)."""


@dataclass(frozen=True)
class Answer:
    """One question of the quiz answered: yes, partly or no, and why in one line."""

    number: int
    question: str
    answer: str
    evidence: str


@dataclass(frozen=True)
class Maturity:
    """The six answers and the level they make (yes answers only count)."""

    answers: tuple[Answer, ...]

    @property
    def yes(self) -> int:
        return sum(a.answer == YES for a in self.answers)

    @property
    def partly(self) -> int:
        return sum(a.answer == PARTLY for a in self.answers)

    @property
    def level(self) -> str:
        return level(self.yes)

    def note(self) -> str:
        """How the level was reached, and what the partly answers would make as yes."""
        text = f"{self.level}: {self.yes} of {len(self.answers)} questions answered yes"
        if self.partly:
            would = level(self.yes + self.partly)
            text += (
                f"; {self.partly} partly, counted as no (knowing in part is not knowing "
                f"enough to act on); as yes they would make {would}"
            )
        return text

    def table(self) -> pd.DataFrame:
        """One row per question: number, question, answer, evidence."""
        return pd.DataFrame([asdict(a) for a in self.answers])

    def as_dict(self) -> dict:
        """The answers, the level and its counts, as JSON-ready values."""
        return {
            "answers": [asdict(a) for a in self.answers],
            "yes": self.yes,
            "partly": self.partly,
            "level": self.level,
            "note": self.note(),
        }


def level(yes: int) -> str:
    """The quiz's level for a number of yes answers: 0 Observer, 1-2 Follower, 3-4 Leader,
    5-6 Visionary."""
    return next(name for least, name in LEVELS if yes >= least)


def assess(
    world: World,
    customers: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    posterior: xr.DataTree | None = None,
) -> Maturity:
    """Answer the six questions from what is given (see the module notes for the rules).

    Parameters
    ----------
    world
        The touchpoint inventory, segments and assumed effects.
    customers, responses, ratings
        The tables of :func:`models.data.load_customers` and
        :func:`models.data.load_responses` (survey responses; transactional ratings).
    events
        The event log of :func:`models.eventlog.read_event_log`, which keeps touchpoints the
        world lacks (question 1 names them).
    posterior
        A posterior of ``ctm fit`` loaded by :func:`models.posterior.load_posterior`.

    Returns
    -------
    Maturity
        The answers in the quiz's order and the level.
    """
    top, q2 = valued(world, posterior, responses)
    answers = (
        inventory(world, events),
        q2,
        views(world, responses, top, assumed=not has_effects(posterior)),
        needs(world, customers, events, ratings),
        sequence(world, events, customers),
        classes(responses),
    )
    return Maturity(tuple(answers))


def interval(k: float, n: float, categories: int = 2) -> tuple[float, float]:
    """The 90% interval of a share with ``k`` of ``n`` counts, uniform prior over
    ``categories`` (the Dirichlet's marginal Beta(1 + k, categories - 1 + n - k))."""
    tail = (1 - PROBABILITY) / 2
    low, high = betaincinv(1 + k, categories - 1 + n - k, [tail, 1 - tail])
    return float(low), float(high)


def width(k: float, n: float, categories: int = 2) -> float:
    """The width of :func:`interval`."""
    low, high = interval(k, n, categories)
    return high - low


def known(k: float, n: float, categories: int = 2) -> bool:
    """Whether a share with ``k`` of ``n`` counts is known: its interval narrower than WIDTH."""
    return width(k, n, categories) < WIDTH


def has_effects(posterior: xr.DataTree | None) -> bool:
    """Whether a posterior holds the churn model's effects of poor views (``beta``)."""
    return (
        posterior is not None
        and "posterior" in posterior.children
        and "beta" in posterior["posterior"].data_vars
    )


def inventory(world: World, events: pd.DataFrame | None) -> Answer:
    """Question 1: every lifecycle stage has a touchpoint, and the event log meets no other."""
    stages = {t.stage for t in world.touchpoints}
    missing = [s for s in STAGES if s not in stages]
    listed = f"{len(world.touchpoints)} touchpoints in the world file"
    parts = [f"{listed} at {len(STAGES) - len(missing)} of {len(STAGES)} lifecycle stages"]
    if missing:
        parts[0] += f" (none at {', '.join(missing)})"
    unknown = pd.Series(dtype=int)
    if events is None:
        parts.append("no event log to hold it against what customers do")
    else:
        touched = events["touchpoint"].astype(str)
        unknown = touched[~touched.isin(world.touchpoint_ids)].value_counts()
        if len(unknown):
            named = ", ".join(f"{k} ({n:,} events)" for k, n in unknown.items())
            parts.append(f"the event log meets touchpoints not in it: {named}")
        else:
            parts.append(f"every touchpoint of the event log's {len(events):,} events is in it")
    if 2 * len(missing) >= len(STAGES):
        answer = NO
    elif missing or len(unknown) or events is None:
        answer = PARTLY
    else:
        answer = YES
    return Answer(1, QUESTIONS[0], answer, "; ".join(parts))


def reach(world: World) -> np.ndarray:
    """(segment, touchpoint): the segment's share of the installed base where it meets the
    touchpoint (journey, onboarding or recurring contacts in the world), else 0; segments
    count alike in a world with no installed base (a start-up's)."""
    params = from_world(world)
    K = len(params.touchpoints)
    meets = (
        (params.start > 0)
        | (params.transitions[:, :, :K] > 0).any(axis=1)
        | (params.onboarding > 0)
        | (params.contacts > 0)
    )
    total = params.customers.sum()
    count = len(params.customers)
    share = params.customers / total if total > 0 else np.full(count, 1 / count)
    return share[:, None] * meets


def valued(
    world: World, posterior: xr.DataTree | None, responses: pd.DataFrame | None
) -> tuple[list[str], Answer]:
    """Question 2: the top three touchpoints by reach-weighted effect of a poor view on churn,
    and how sure the posterior is of them. Returns (the top three, the answer)."""
    weights = reach(world)
    ids = world.touchpoint_ids
    name = QUESTIONS[1]
    if not has_effects(posterior):
        assumed = (weights * from_world(world).beta).sum(axis=0)
        top = [ids[k] for k in np.argsort(-assumed, kind="stable")[:TOP]]
        why = "no posterior" if posterior is None else "the posterior holds no churn effects"
        data = (
            f"ctm fit on the customers and the {len(responses):,} survey responses"
            if responses is not None
            else "ctm fit on customers and survey responses"
        )
        evidence = (
            f"{why}: the world file assumes {', '.join(top)} matter most (weighted by reach), "
            f"an assumption, not a measure; {data} would rank them from data, each with its "
            "P(in the top 3)"
        )
        return top, Answer(2, name, NO, evidence)
    effect = effects(world, posterior["posterior"]["beta"])  # (draw, touchpoint)
    ranks = (-effect).argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    p_top = (ranks < TOP).mean(axis=0)
    order = np.argsort(-p_top, kind="stable")[:TOP]
    top = [ids[k] for k in order]
    sure = [k for k in order if p_top[k] > SURE]
    shown = ", ".join(f"{ids[k]} {p_top[k]:.2f}" for k in order)
    passed = bool(attribute(posterior, "diagnostics").get("ok", False))
    evidence = (
        f"the posterior's {len(effect):,} draws rank by reach-weighted effect of a poor view "
        f"on churn, P(in the top 3): {shown}; {len(sure)} of {TOP} above {SURE}"
    )
    if not passed:
        evidence += "; the posterior failed its convergence diagnostics"
    if len(sure) == TOP and passed:
        answer = YES
    elif sure:
        answer = PARTLY
    else:
        answer = NO
    return top, Answer(2, name, answer, evidence)


def effects(world: World, beta: xr.DataArray) -> np.ndarray:
    """Each touchpoint's effect of a poor view on churn weighted by reach (:func:`reach`), draw
    by draw: ``beta`` (chain, draw, segment, touchpoint) to (chain x draw, touchpoint), the
    draws in the order of :func:`models.draws.sample_indices` (chain by chain)."""
    ids = world.touchpoint_ids
    beta = beta.transpose("chain", "draw", "segment", "touchpoint")
    beta = beta.sel(segment=world.segment_ids, touchpoint=ids).values.reshape(
        -1, len(world.segment_ids), len(ids)
    )
    return (reach(world)[None] * beta).sum(axis=1)


def recent(table: pd.DataFrame, date: str = "date") -> pd.DataFrame:
    """The rows of the last :data:`WINDOW_MONTHS` months before the table's latest date."""
    latest = table[date].max()
    return table[table[date] > latest - pd.DateOffset(months=WINDOW_MONTHS)]


def latest_answers(responses: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Each customer's latest non-empty answer in each column, of the last 12 months."""
    window = recent(responses).sort_values("date", kind="stable")
    return window.groupby("customer_id", sort=False)[columns].last()


def views(world: World, responses: pd.DataFrame | None, top: list[str], assumed: bool) -> Answer:
    """Question 3: the share of poor views (1 or 2) of each of the top three is known."""
    which = "the world file's assumed top three" if assumed else "the posterior's top three"
    name = QUESTIONS[2]
    if responses is None:
        return Answer(3, name, NO, f"no survey responses; {which}: {', '.join(top)}")
    rated = [t for t in top if t in responses.columns]
    latest = latest_answers(responses, rated) if rated else pd.DataFrame()
    parts, good = [], 0
    for t in top:
        answers = latest[t].dropna() if t in latest else pd.Series(dtype=float)
        n, k = len(answers), int((answers <= 2).sum())
        if known(k, n):
            good += 1
        low, high = interval(k, n)
        share = f"{k / n:.0%} with a poor view ({low:.0%} to {high:.0%})" if n else "not rated"
        parts.append(f"{t} {n:,} customers, {share}")
    answer = YES if good == len(top) else PARTLY if good else NO
    evidence = (
        f"{which}, customers' latest survey view in the last {WINDOW_MONTHS} months: "
        f"{'; '.join(parts)}; {good} of {len(top)} known within 5 points"
    )
    return Answer(3, name, answer, evidence)


def needs(
    world: World,
    customers: pd.DataFrame | None,
    events: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
) -> Answer:
    """Question 4: at how many lifecycle stages the share of contacts that fall short (a
    transactional rating of 1 or 2; a prospect leaving after the contact) is known."""
    stage_of = {t.id: t.stage for t in world.touchpoints}
    short = dict.fromkeys(STAGES, (0, 0))  # stage: (fell short, contacts) of the best measure
    source = dict.fromkeys(STAGES, "")
    counted = {"ratings": 0, "events": 0}

    def offer(stage: str, k: int, n: int, where: str) -> None:
        old_k, old_n = short[stage]
        if n and (not old_n or width(k, n) < width(old_k, old_n)):
            short[stage], source[stage] = (k, n), where

    if ratings is not None:
        rated = [t for t in world.touchpoint_ids if t in ratings.columns]
        counted["ratings"] = int(ratings[rated].notna().sum().sum())
        for stage in STAGES:
            columns = [t for t in rated if stage_of[t] == stage]
            given = pd.concat([ratings[t].dropna() for t in columns]) if columns else pd.Series()
            offer(stage, int((given <= 2).sum()), len(given), "ratings")
    if events is not None and customers is not None:
        events, _ = closed(events)
        inside = events[events["touchpoint"].astype(str).isin(world.touchpoint_ids)]
        last = ~inside["customer_id"].duplicated(keep="last")
        bought = inside["customer_id"].isin(customers["customer_id"])
        left = last & ~bought
        stage = inside["touchpoint"].astype(str).map(stage_of)
        counted["events"] = int(stage.isin(ACQUISITION).sum())
        for g in ACQUISITION:
            at = stage == g
            offer(g, int((left & at).sum()), int(at.sum()), "events")
    measured = [g for g in STAGES if short[g][1] and known(*short[g])]
    unmeasured = [g for g in STAGES if g not in measured]
    answer = YES if not unmeasured else PARTLY if 2 * len(measured) > len(STAGES) else NO
    sources = []
    if counted["events"]:
        sources.append(
            f"{counted['events']:,} acquisition contacts of the event log (a prospect leaving "
            "after it)"
        )
    if counted["ratings"]:
        sources.append(f"{counted['ratings']:,} transactional ratings (a rating of 1 or 2)")
    parts = [
        f"contacts falling short known within 5 points at {len(measured)} of {len(STAGES)} "
        f"lifecycle stages",
        "from " + " and ".join(sources) if sources else "no event log with customers, no ratings",
    ]
    if measured:
        worst = max(measured, key=lambda g: width(*short[g]))
        k, n = short[worst]
        low, high = interval(k, n)
        parts.append(f"least sure {worst} {k / n:.0%} ({low:.0%} to {high:.0%}, {n:,} contacts)")
    if unmeasured:
        parts.append(f"not known at {', '.join(unmeasured)}")
    return Answer(4, QUESTIONS[3], answer, "; ".join(parts))


def closed(events: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The log without the cases begun in its last calendar month, whose purchase may not be
    recorded yet (as ``ctm fit`` leaves them out of the journeys), and how many cases that is.
    A log within one month is kept whole."""
    last_month = events["timestamp"].max().to_period("M").start_time
    if events["timestamp"].min() >= last_month:
        return events, 0
    began = events.groupby("customer_id")["timestamp"].transform("min")
    open_case = began >= last_month
    return events[~open_case], int(events.loc[open_case, "customer_id"].nunique())


def sequence(world: World, events: pd.DataFrame | None, customers: pd.DataFrame | None) -> Answer:
    """Question 5: the log's most common sequence, clearly first, and its moves known."""
    name = QUESTIONS[4]
    if events is None:
        return Answer(5, name, NO, "no event log of prospects' contacts")
    given = customers if customers is not None else pd.DataFrame(columns=["customer_id", "segment"])
    whole = len(events)
    events, left_open = closed(events)
    cases = case_table(events, given, world.segment_ids)
    paths, bought = list(cases["path"]), cases["purchased"].to_numpy()
    ends = np.where(bought, PURCHASE, LOST)
    cases = pd.Series([" > ".join(p) for p in paths]).value_counts()
    n = len(paths)
    first, count = cases.index[0], int(cases.iloc[0])
    second = int(cases.iloc[1]) if len(cases) > 1 else 0
    runner_up = cases.index[1] if len(cases) > 1 else "none"
    rng = np.random.default_rng(_DRAWS_SEED)
    shares = rng.dirichlet([1 + count, 1 + second, 1 + n - count - second], size=4000)
    clear = np.quantile(shares[:, 0] - shares[:, 1], (1 - PROBABILITY) / 2) > 0
    moves: Counter[tuple[str, str]] = Counter(
        (a, b)
        for path, end in zip(paths, ends, strict=True)
        for a, b in zip(("start", *path), (*path, end), strict=True)
    )
    from_counts: Counter[str] = Counter()
    for (a, _), k in moves.items():
        from_counts[a] += k
    steps = first.split(" > ")
    common_end = pd.Series(
        [e for p, e in zip(paths, ends, strict=True) if p == tuple(steps)]
    ).mode()[0]
    along = list(zip(("start", *steps), (*steps, common_end), strict=True))
    widths = [width(moves[m], from_counts[m[0]]) for m in along]
    moves_known = max(widths) < WIDTH
    lost_seen = customers is not None and not bought.all()
    parts = [
        f"event log of {whole:,} events, {n:,} cases ({bought.mean():.0%} bought; "
        f"{left_open:,} begun in its last month left out, their purchase may be to come)",
        f"most common sequence {first} (then {common_end}), {count / n:.0%} of cases, "
        + ("clearly ahead of" if clear else "not clearly ahead of")
        + f" the next, {runner_up} ({second / n:.0%})",
        f"moves along it known within 5 points (widest 90% interval {max(widths):.3f})"
        if moves_known
        else f"a move along it not known within 5 points (90% interval {max(widths):.2f} wide)",
    ]  # fmt: skip
    if bought.any():
        buyers = pd.Series([" > ".join(p) for p, b in zip(paths, bought, strict=True) if b])
        top = buyers.value_counts()
        parts.append(f"among buyers {top.index[0]}, {top.iloc[0] / len(buyers):.0%}")
    if customers is None:
        parts.append("no customers table: buyers cannot be told from prospects who left")
    elif not lost_seen:
        parts.append("every case bought: the log holds no prospect who left")
    answer = YES if clear and moves_known and lost_seen else PARTLY
    return Answer(5, name, answer, "; ".join(parts))


def classes(responses: pd.DataFrame | None) -> Answer:
    """Question 6: the shares of the four self-classifications are known."""
    name = QUESTIONS[5]
    if responses is None or "self_class" not in responses.columns:
        why = "no survey responses" if responses is None else "the responses have no self_class"
        return Answer(6, name, NO, why)
    answered = responses[responses["self_class"].notna()]
    if answered.empty:
        return Answer(6, name, NO, "no self_class answered in the responses")
    latest = latest_answers(answered, ["self_class"])["self_class"].dropna()
    counts = latest.value_counts().reindex(list(LOYALTY_CLASSES), fill_value=0)
    n, C = int(counts.sum()), len(LOYALTY_CLASSES)
    sure = [known(k, n, C) for k in counts]
    shares = ", ".join(f"{k / n:.0%} {c}" for c, k in counts.items())
    widest = max(width(k, n, C) for k in counts)
    evidence = (
        f"{n:,} customers classified themselves in the last {WINDOW_MONTHS} months (latest "
        f"answer each): {shares}; widest 90% interval {widest:.3f}"
    )
    answer = YES if all(sure) else PARTLY
    return Answer(6, name, answer, evidence)


def write_maturity(
    found: Maturity, out: Path, extra: tuple[str, pd.DataFrame, dict] | None = None
) -> list[str]:
    """``maturity.csv`` (one row per question; text cells made safe for a spreadsheet) and
    ``maturity.json`` (the answers, the level and how it was reached) into ``out``, atomically;
    returns the file names. ``extra`` (name, table, summary), such as what to measure next
    (``ctm maturity --quickwins``): the table as ``name.csv`` and the summary under ``name``
    in the JSON."""
    summary = found.as_dict()
    with atomic_directory(out) as folder:
        csv_safe(found.table()).to_csv(folder / "maturity.csv", index=False)
        if extra is not None:
            name, table, summary[name] = extra
            csv_safe(table).to_csv(folder / f"{name}.csv", index=False)
        (folder / "maturity.json").write_text(json.dumps(summary, indent=1))
    return sorted(p.name for p in out.iterdir())
