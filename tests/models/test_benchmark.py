"""Competitor benchmarks: the gaps' intervals against the Dirichlet-multinomial closed forms,
exact figures where nothing is uncertain, and the "match the best competitor" candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from models.benchmark import Rival, bad_share, gaps, matches, mean_rating
from scenarios.edits import schedule
from scenarios.quickwins import FIX_BY_CHANNEL, candidates
from sim.inputs.files import read_yaml
from sim.inputs.load import DEMO
from sim.inputs.parameters import from_world
from sim.inputs.world import World
from tests.helpers import ctm

R = np.arange(1, 6)


def dirichlet_mean_rating(c: np.ndarray) -> tuple[float, float]:
    """Mean and variance of m = sum_r r p_r under p ~ Dirichlet(c), written out:
    E p_r = c_r / c0, Cov(p_r, p_s) = (delta_rs E p_r - E p_r E p_s) / (c0 + 1), so
    Var m = (sum r^2 E p_r - (sum r E p_r)^2) / (c0 + 1)."""
    c0 = c.sum()
    e = c / c0
    mean = float(R @ e)
    return mean, float((R**2 @ e - mean**2) / (c0 + 1))


def world_with(benchmark: dict) -> World:
    data = read_yaml(DEMO)
    data["benchmark"] = benchmark
    return World.model_validate(data)


@pytest.mark.parametrize(
    "counts, prior",
    [([40, 50, 110, 130, 70], 1.0), ([0, 1, 2, 0, 3], 0.5), ([3, 0, 0, 0, 0], 2.0)],
)
def test_draws_of_counts_have_the_dirichlet_multinomial_moments(counts, prior):
    """The mean rating of Dirichlet(prior + counts) draws: its mean within 4 Monte-Carlo
    standard errors (sd / sqrt(n)) of the closed form, its variance within 4 standard errors
    of a sample variance (var sqrt(2 / (n - 1)), exact for a normal; a bounded m has lighter
    tails, so this is generous enough). Small counts check that the prior is added."""
    n = 40_000
    world = world_with({"prior": prior, "touchpoints": {"installer": {"X": {"counts": counts}}}})
    rival = matches_or_rivals(world)
    m = mean_rating(rival.draws(n, np.random.default_rng(7)))
    mean, var = dirichlet_mean_rating(prior + np.array(counts, float))
    assert abs(m.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(m.var(ddof=1) - var) < 4 * var * np.sqrt(2 / (n - 1))


def matches_or_rivals(world: World) -> Rival:
    from models.benchmark import rivals

    (rival,) = rivals(world)["installer"]
    return rival


def test_the_bad_share_interval_is_the_beta_closed_form():
    """b = p1 + p2 under Dirichlet(c) is Beta(c1 + c2, c0 - c1 - c2) (aggregation): the
    table's 90% interval of the competitor's bad share is its 5% and 95% quantiles within 4
    Monte-Carlo standard errors of a quantile, sqrt(q (1 - q) / n) / f(x_q)."""
    counts, prior, n = np.array([25, 45, 160, 120, 50]), 1.0, 20_000
    world = world_with(
        {"prior": prior, "touchpoints": {"invoice": {"X": {"counts": counts.tolist()}}}}
    )
    found = gaps(world, draws=n, seed=3)
    row = found.competitors.iloc[0]
    c = prior + counts
    beta = stats.beta(c[:2].sum(), c.sum() - c[:2].sum())
    for q, column in ((0.05, "bad_low"), (0.95, "bad_high")):
        x = beta.ppf(q)
        se = np.sqrt(q * (1 - q) / n) / beta.pdf(x)
        assert abs(row[column] - x) < 4 * se, (column, row[column], x)
    assert abs(row["bad"] - beta.mean()) < 4 * beta.std() / np.sqrt(n)
    mean, var = dirichlet_mean_rating(c)
    assert abs(row["mean"] - mean) < 4 * np.sqrt(var / n)
    # the interval of the mean rating is about mean -+ 1.645 sd (the posterior of 400 answers
    # is close to normal): within 0.1 sd
    sd = np.sqrt(var)
    assert abs(row["mean_low"] - (mean - 1.645 * sd)) < 0.1 * sd
    assert abs(row["mean_high"] - (mean + 1.645 * sd)) < 0.1 * sd


def test_exact_ratings_give_exact_gaps_without_interval(demo_world):
    """The demo's app: ours (the world's) 3.64, FibreCo's probabilities 3.50, both exact."""
    table = gaps(demo_world, draws=50).table.set_index("touchpoint")
    app = table.loc["app"]
    ours = np.array([0.04, 0.08, 0.28, 0.40, 0.20])
    theirs = np.array([0.06, 0.10, 0.30, 0.36, 0.18])
    assert app["segments"] == "all" and app["competitor"] == "FibreCo"
    assert app["ours_mean"] == pytest.approx(R @ ours) and app["their_mean"] == pytest.approx(
        R @ theirs
    )
    assert app["gap_mean"] == pytest.approx(R @ ours - R @ theirs)
    assert app["gap_bad"] == pytest.approx(0.12 - 0.16)
    assert app["gap_mean_low"] == pytest.approx(app["gap_mean_high"])
    assert app["p_behind"] == 0.0


def test_segments_share_a_row_where_their_ratings_are_the_same(demo_world):
    """The installer: households and small businesses alike, enterprises their own."""
    table = gaps(demo_world, draws=50).table
    assert table.loc[table["touchpoint"] == "installer", "segments"].tolist() == [
        "household, small_business",
        "enterprise",
    ]


def test_our_posterior_draws_carry_into_the_gap(demo_world):
    """With our ratings uncertain and the competitor's exact, the gap's interval is ours
    shifted: draws of ours from a Dirichlet, the gap's quantiles those of our mean less theirs."""
    params = from_world(demo_world)
    rng = np.random.default_rng(5)
    ours = np.broadcast_to(params.ratings, (2_000, *params.ratings.shape)).copy()
    k = params.touchpoints.index("app")
    ours[:, :, k] = rng.dirichlet([8, 16, 56, 80, 40], size=(2_000, len(params.segments)))
    row = gaps(demo_world, ours).table.query("touchpoint == 'app'").iloc[0]
    m = mean_rating(ours[:, 0, k])
    assert row["segments"] == "household"  # each segment its own draws now
    assert row["gap_mean_low"] == pytest.approx(np.quantile(m, 0.05) - 3.5)
    assert row["gap_mean_high"] == pytest.approx(np.quantile(m, 0.95) - 3.5)
    assert row["p_behind"] == pytest.approx((m < 3.5).mean())


def test_the_best_competitor_is_the_highest_expected_mean_rating():
    world = world_with(
        {"touchpoints": {"installer": {
            "Low": {"ratings": [0.2, 0.2, 0.2, 0.2, 0.2]},
            "High": {"counts": [0, 0, 0, 1, 9]},
            "Mid": {"ratings": [0.0, 0.0, 0.5, 0.5, 0.0]},
        }}}
    )  # fmt: skip
    row = gaps(world, draws=100).table.iloc[0]
    assert row["competitor"] == "High"
    assert row["their_mean"] == pytest.approx((R @ (1 + np.array([0, 0, 0, 1, 9]))) / 15, abs=0.05)


def test_match_is_offered_only_where_the_competitor_is_better(demo_world):
    """The demo's app is better than FibreCo's: no "match app"; the call centre's enterprise
    line is better than FibreCo's: the match sets households and small businesses only, and
    leaves the enterprises' ratings exactly as they were."""
    found = {c.name: c for c in candidates(demo_world)}
    assert "match app" not in found and "match store" not in found
    assert {n for n in found if n.startswith("match")} == {
        "match installer", "match call_centre", "match invoice", "match field_repair"
    }  # fmt: skip
    match = found["match call_centre"]
    assert match.kind == "match" and match.cost == FIX_BY_CHANNEL["phone"]
    params = from_world(demo_world)
    ((_, after),) = schedule(params, match.plan)
    k = params.touchpoints.index("call_centre")
    e = params.segments.index("enterprise")
    assert np.array_equal(after.ratings[e], params.ratings[e])  # ours already better: unchanged
    fibre = np.array([40, 50, 110, 130, 70]) + 1.0
    for s in ("household", "small_business"):
        assert after.ratings[params.segments.index(s), k] == pytest.approx(fibre / fibre.sum())
    others = np.delete(np.arange(len(params.touchpoints)), k)
    assert np.array_equal(after.ratings[:, others], params.ratings[:, others])


def test_match_where_ours_is_better_everywhere_is_not_offered(demo_world):
    """A competitor worse than ours in every segment gives no candidate, and matches() gives
    nothing to set there."""
    world = world_with(
        {"touchpoints": {"invoice": {"Weak": {"ratings": [0.5, 0.3, 0.1, 0.05, 0.05]}}}}
    )
    assert matches(world) == {}
    assert not [c for c in candidates(world) if c.kind == "match"]
    assert len(candidates(world)) == 2 * len(world.touchpoints)


def test_ctm_benchmark_prints_and_writes(tmp_path):
    out = tmp_path / "b"
    done = ctm("benchmark", "demo", "--draws", "500", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "installer" in done.stdout and "Dirichlet posteriors (500 draws)" in done.stdout
    summary = json.loads((out / "benchmark.json").read_text())
    assert summary["draws"] == 500 and summary["interval"] == 0.9
    assert {row["touchpoint"] for row in summary["gaps"]} == {
        "installer", "call_centre", "invoice", "app", "field_repair"
    }  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "benchmark.csv", "benchmark.json", "competitors.csv"
    ]  # fmt: skip


def test_bad_share_and_mean_rating_of_a_point_mass():
    assert mean_rating(np.eye(5)).tolist() == [1, 2, 3, 4, 5]
    assert bad_share(np.eye(5)).tolist() == [1, 1, 0, 0, 0]
