"""Competitor benchmarks: our touchpoints' ratings against the best competitor's.

A strategist holds each touchpoint's proficiency against the competitors': does our
installer visit leave customers as pleased as FibreCo's? The world file's ``benchmark``
block (:mod:`sim.inputs.benchmark`) gives each competitor's rating distribution at a
touchpoint, as probabilities (taken as exact) or as counts n from a benchmark survey. Counts
carry their uncertainty: with the stated symmetric prior a, the competitor's distribution is

    p ~ Dirichlet(a + n_1, ..., a + n_5)

(the conjugate posterior of a multinomial; Gelman et al., *Bayesian Data Analysis*, 3rd ed.,
sec. 3.4). Two figures are compared, each a function of a distribution p over ratings 1..5:

- the **mean rating** m = sum_r r p_r (the level a customer's view settles at: a view is a
  moving average of experiences, :mod:`sim.formulas.perception`); under the Dirichlet with
  c = a + n and c_0 = sum c its mean is sum_r r c_r / c_0 and its variance
  (sum_r r^2 c_r / c_0 - (sum_r r c_r / c_0)^2) / (c_0 + 1);
- the **share of bad experiences** b = p_1 + p_2 (a rating of 1 or 2: the ones that make a
  prospect leave the journey), whose posterior is exactly Beta(c_1 + c_2, c_0 - c_1 - c_2)
  (the Dirichlet's aggregation property).

The **best competitor** at a touchpoint is the one with the highest expected mean rating
(ties: the lower bad share). It is chosen once, on the expected values, not draw by draw:
the best of several noisy estimates, taken per draw, is biased upwards.

Ours is the world's distribution, or with a posterior its draws (a Dirichlet posterior per
segment and touchpoint when ``ctm fit`` had transactional ratings). Segments whose ratings
of a touchpoint are the same in every draw share a row. Gaps are ours less the competitor's,
draw by draw (competitor draw i against our draw i: independent), with their 90% intervals
(5% and 95% quantiles) and P(behind), the share of draws in which our mean rating is below
the competitor's. Without counts and without a posterior every figure is exact, and its
interval a point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.inputs.benchmark import Competitor
from sim.inputs.files import atomic_directory, csv_safe
from sim.inputs.parameters import from_world
from sim.inputs.world import RATINGS, World

LEVEL = 0.9
"""The intervals' probability: from the 5% to the 95% quantile."""
DRAWS = 4_000
"""Competitor draws without a posterior: the Monte-Carlo error of a 5% quantile is then
about 0.03 posterior standard deviations (sqrt(q (1 - q) / n) / f(x_q) for a normal)."""
BEHIND = 1e-9
"""A competitor is better at a touchpoint when its mean rating exceeds ours by more than this
(rounding of hand-written probabilities is not a gap)."""


@dataclass(frozen=True)
class Rival:
    """One competitor's ratings of one touchpoint (:class:`sim.inputs.benchmark.Competitor`)."""

    touchpoint: str
    name: str
    ratings: np.ndarray | None
    """(5,) probabilities taken as exact, or None for counts."""
    counts: np.ndarray | None
    """(5,) survey answers per rating, or None."""
    prior: float
    """a of the symmetric Dirichlet prior of counts."""

    @classmethod
    def of(cls, touchpoint: str, name: str, given: Competitor, prior: float) -> Rival:
        ratings = None if given.ratings is None else np.asarray(given.ratings, float)
        counts = None if given.counts is None else np.asarray(given.counts, float)
        return cls(touchpoint, name, ratings, counts, prior)

    @property
    def concentration(self) -> np.ndarray | None:
        """c = a + n of the Dirichlet posterior (None for exact probabilities)."""
        return None if self.counts is None else self.prior + self.counts

    @property
    def expected(self) -> np.ndarray:
        """(5,) the distribution, or its posterior mean c / c_0."""
        c = self.concentration
        return self.ratings if c is None else c / c.sum()

    @property
    def basis(self) -> str:
        """Where the figures come from, in words."""
        if self.counts is None:
            return "probabilities"
        return f"{int(self.counts.sum()):,} answers, Dirichlet prior {self.prior:g}"

    def draws(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """(count, 5) distributions: the exact one repeated, or Dirichlet(c) draws."""
        c = self.concentration
        if c is None:
            return np.broadcast_to(self.ratings, (count, len(RATINGS)))
        return rng.dirichlet(c, size=count)


def mean_rating(p: np.ndarray) -> np.ndarray:
    """m = sum_r r p_r over the last axis."""
    return np.asarray(p) @ RATINGS


def bad_share(p: np.ndarray) -> np.ndarray:
    """b = p_1 + p_2 over the last axis: experiences rated 1 or 2."""
    return np.asarray(p)[..., :2].sum(axis=-1)


def rivals(world: World) -> dict[str, list[Rival]]:
    """Touchpoint id -> its competitors, in the order the world file gives them."""
    if world.benchmark is None:
        return {}
    prior = world.benchmark.prior
    return {
        k: [Rival.of(k, name, given, prior) for name, given in competitors.items()]
        for k, competitors in world.benchmark.touchpoints.items()
    }


def best(found: list[Rival]) -> Rival:
    """The competitor with the highest expected mean rating (ties: the lower bad share)."""
    return max(found, key=lambda r: (mean_rating(r.expected), -bad_share(r.expected)))


def matches(world: World) -> dict[str, tuple[Rival, dict[str, list[float]]]]:
    """Touchpoint id -> (its best competitor, segment -> the competitor's expected
    distribution) for the segments whose own mean rating (the world's) is below the
    competitor's: "match the best competitor at k" sets those and leaves the others. A
    touchpoint where the competitor is better in no segment is left out: matching it would
    change nothing."""
    found = {}
    for k, competitors in rivals(world).items():
        rival = best(competitors)
        tp = world.touchpoints[world.touchpoint_ids.index(k)]
        theirs = float(mean_rating(rival.expected))
        ratings = {
            s: rival.expected.tolist()
            for s in world.segment_ids
            if theirs > float(mean_rating(tp.rating_distribution(s))) + BEHIND
        }
        if ratings:
            found[k] = (rival, ratings)
    return found


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, 5% quantile, 95% quantile) over the draws."""
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(np.mean(values)), float(low), float(high)


def _groups(ours: np.ndarray, k: int, segments: tuple[str, ...]) -> list[list[int]]:
    """Segments whose ratings of touchpoint k are the same in every draw, grouped."""
    groups: list[list[int]] = []
    for s in range(len(segments)):
        for group in groups:
            if np.array_equal(ours[:, group[0], k], ours[:, s, k]):
                group.append(s)
                break
        else:
            groups.append([s])
    return groups


@dataclass
class Gaps:
    """The gaps per touchpoint (and group of segments) against the best competitor, every
    competitor's figures, and how they were made."""

    table: pd.DataFrame
    competitors: pd.DataFrame
    draws: int
    ours: str
    """Where our ratings come from: the world's, or a posterior's draws."""
    source: str

    def as_dict(self) -> dict:
        return {
            "draws": self.draws,
            "interval": LEVEL,
            "ours": self.ours,
            "source": self.source,
            "gaps": json.loads(self.table.to_json(orient="records")),
            "competitors": json.loads(self.competitors.to_json(orient="records")),
        }


def gaps(
    world: World,
    ours: np.ndarray | None = None,
    draws: int = DRAWS,
    seed: int = 1,
    ours_basis: str = "the world file",
) -> Gaps:
    """Our mean rating and bad share against the best competitor's, per benchmarked
    touchpoint (module notes).

    Parameters
    ----------
    ours
        (draw, segment, touchpoint, 5) our rating distributions per draw (a posterior's), in
        the world's segment and touchpoint order; None: the world's, exact.
    draws
        Competitor draws when ``ours`` has one draw; otherwise as many as ``ours`` has.
    seed
        Seed of the competitors' Dirichlet draws.
    """
    params = from_world(world)
    ours = params.ratings[None] if ours is None else np.asarray(ours, float)
    count = draws if len(ours) == 1 else len(ours)
    rng = np.random.default_rng(seed)
    rows, every = [], []
    for k, competitors in rivals(world).items():
        sampled = {r.name: r.draws(count, rng) for r in competitors}
        top = best(competitors)
        for r in competitors:
            m, b = mean_rating(sampled[r.name]), bad_share(sampled[r.name])
            every.append(
                {"touchpoint": k, "competitor": r.name, "basis": r.basis,
                 **_figures("mean", m), **_figures("bad", b), "best": r is top}
            )  # fmt: skip
        theirs = sampled[top.name]
        j = params.touchpoints.index(k)
        for group in _groups(ours, j, params.segments):
            mine = np.broadcast_to(ours[:, group[0], j], (count, len(RATINGS)))
            names = [params.segments[s] for s in group]
            gap_mean = mean_rating(mine) - mean_rating(theirs)
            rows.append(
                {
                    "touchpoint": k,
                    "segments": "all" if len(group) == len(params.segments) else ", ".join(names),
                    "competitor": top.name,
                    "basis": top.basis,
                    **_figures("ours_mean", mean_rating(mine)),
                    **_figures("their_mean", mean_rating(theirs)),
                    **_figures("gap_mean", gap_mean),
                    **_figures("ours_bad", bad_share(mine)),
                    **_figures("their_bad", bad_share(theirs)),
                    **_figures("gap_bad", bad_share(mine) - bad_share(theirs)),
                    "p_behind": float((gap_mean < 0).mean()),
                }
            )
    source = world.benchmark.source if world.benchmark is not None else ""
    return Gaps(pd.DataFrame(rows), pd.DataFrame(every), count, ours_basis, source)


def _figures(name: str, values: np.ndarray) -> dict[str, float]:
    mean, low, high = _interval(values)
    return {name: mean, f"{name}_low": low, f"{name}_high": high}


def write_gaps(found: Gaps, out: Path) -> list[str]:
    """``benchmark.csv`` (the gaps), ``competitors.csv`` (every competitor's figures) and
    ``benchmark.json`` (both, with how they were made) into ``out``, atomically; returns the
    file names."""
    with atomic_directory(out) as folder:
        csv_safe(found.table).to_csv(folder / "benchmark.csv", index=False)
        csv_safe(found.competitors).to_csv(folder / "competitors.csv", index=False)
        (folder / "benchmark.json").write_text(json.dumps(found.as_dict(), indent=1))
    return sorted(p.name for p in out.iterdir())
