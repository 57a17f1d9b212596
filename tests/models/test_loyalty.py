"""Tests for models.loyalty: survey rows, the simulation's convention, recovery, and the NPS.

Tolerances are stated where they are used. Tests that sample are marked ``slow``; each fit
first compiles the model with numba (10-30 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats
from scipy.special import expit

from models.loyalty import (
    CLASSES,
    OVERALL,
    LoyaltyModel,
    class_probabilities,
    collapse_classes,
    net_promoter_score,
    nps_counts,
    survey_rows,
)
from sim.engine.population import Population
from sim.engine.streams import Streams
from sim.formulas.perception import poor_view

SHARES = {"household": 2000, "small_business": 1200, "enterprise": 800}
"""Responses per segment in the recovery test: 4,000 in all, the smaller segments
over-sampled (as a stratified survey would) so that their cutpoints are tested too."""


def simulate_rows(params, sizes: dict[str, int], seed: int, rated: float = 0.5) -> pd.DataFrame:
    """Survey rows whose classes follow the simulation's formula exactly.

    Each response rates each touchpoint with probability ``rated``, the rating drawn from the
    world's distribution for the segment; ``P(class <= j) = logistic(c[s, j] + x . gamma)``
    and ``class = #{j : P(class <= j) <= u}``, u uniform: Population._classify, line by line.
    """
    rng = np.random.default_rng(seed)
    segment = np.repeat([params.segments.index(s) for s in sizes], list(sizes.values()))
    cdf = np.cumsum(params.ratings[segment], axis=-1)  # (response, touchpoint, 5)
    rating = 1 + (rng.random(cdf.shape[:2])[..., None] > cdf[..., :-1]).sum(axis=-1)
    x = poor_view(np.where(rng.random(rating.shape) < rated, rating, np.nan))
    below = expit(params.cutpoints[segment] + (x @ params.gamma)[:, None])
    classes = (below <= rng.random(len(x))[:, None]).sum(axis=1)
    rows = pd.DataFrame(x, columns=[f"x_{t}" for t in params.touchpoints])
    rows.insert(
        0,
        "segment",
        pd.Categorical(np.array(params.segments)[segment], categories=list(params.segments)),
    )
    rows["self_class"] = pd.Categorical.from_codes(classes, categories=list(CLASSES))
    return rows


# Survey rows and counts (fast) --------------------------------------------------------------


def test_survey_rows_hand_made():
    """x = (3 - rating) / 2, 0 where empty or without a column; unknown customers dropped."""
    customers = pd.DataFrame(
        {"customer_id": ["A", "B"], "segment": pd.Categorical(["household", "enterprise"])}
    )
    responses = pd.DataFrame(
        {
            "customer_id": ["A", "B", "Z", "A"],
            "invoice": pd.array([1, 5, 3, None], dtype="Int8"),
            "nps": pd.array([10, 0, 5, None], dtype="Int8"),
            "self_class": pd.Categorical(
                ["advocate", None, "loyal", "satisfied"], categories=CLASSES
            ),
        }
    )
    rows = survey_rows(responses, customers, ["invoice", "app"])
    assert rows["segment"].astype(str).tolist() == ["household", "enterprise", "household"]
    assert rows["x_invoice"].tolist() == [1.0, -1.0, 0.0]  # ratings 1, 5, empty
    assert rows["x_app"].tolist() == [0.0, 0.0, 0.0]
    assert rows["self_class"].cat.codes.tolist() == [3, -1, 1]  # advocate, none, satisfied
    assert rows["nps"].isna().tolist() == [False, False, True]
    assert rows["nps"].iloc[:2].tolist() == [10, 0]


def test_collapse_classes_counts():
    """Identical (segment, x) rows become one row; counts add up to the answered responses."""
    rows = pd.DataFrame(
        {
            "segment": ["a", "a", "a", "b", "a"],
            "x_k": [0.5, 0.5, 0.5, 0.5, -1.0],
            "self_class": pd.Categorical(
                ["loyal", "loyal", "advocate", "loyal", None], categories=CLASSES
            ),
        }
    )
    counts = collapse_classes(rows, ["k"])
    assert counts[["segment", "x_k"]].values.tolist() == [["a", 0.5], ["b", 0.5]]
    assert counts[list(CLASSES)].values.tolist() == [[0, 0, 2, 1], [0, 0, 1, 0]]


def test_class_probabilities_match_the_simulation(demo_params):
    """Class shares that Population._classify draws agree with class_probabilities.

    200,000 customers of one kind per (segment, view) case; each share within 4 binomial
    standard errors (a false alarm about once in 16,000 comparisons; 24 comparisons here).
    A sign error in eta moves the shares by 10-40 points, hundreds of standard errors.
    """
    n = 200_000
    population = Population(demo_params, Streams(7))
    ids = np.arange(n, dtype=np.uint64)  # _classify keys its streams by id
    k = demo_params.touchpoints.index("call_centre")
    for s in range(len(demo_params.segments)):
        for view in (1.0, 5.0):
            x = np.zeros((n, len(demo_params.touchpoints)))
            x[:, k] = poor_view(np.array(view))
            drawn = population._classify(3, ids, np.full(n, s), x)
            shares = np.bincount(drawn, minlength=4) / n
            expected = class_probabilities(demo_params.cutpoints[s], x[0] @ demo_params.gamma)
            assert np.all(np.abs(shares - expected) <= 4 * np.sqrt(expected * (1 - expected) / n))


def test_likelihood_is_the_simulation_formula_up_to_a_constant():
    """The model's log-likelihood minus sum log q[class] (q the simulation's class
    probabilities) is the same at two parameter points: only the multinomial coefficients,
    which do not depend on the parameters, separate them. Tolerance 1e-8 (float64 sums of
    a few hundred terms); with the sign of eta flipped in the model the two differ by 14.5.
    """
    rng = np.random.default_rng(3)
    classes = pd.Categorical.from_codes(rng.integers(0, 4, 300), list(CLASSES))
    rows = pd.DataFrame(
        {
            "segment": rng.choice(["a", "b"], 300),
            "x_k1": rng.choice([-1.0, 0.0, 1.0], 300),
            "x_k2": rng.choice([-0.5, 0.5], 300),
            "self_class": classes,
        }
    )
    model = LoyaltyModel().build_model(rows, ["a", "b"], ["k1", "k2"])
    likelihood = model.compile_logp(vars=model.observed_RVs, jacobian=False, mode="FAST_COMPILE")
    ordered = pm.distributions.transforms.ordered
    code = pd.Categorical(rows["segment"], ["a", "b"]).codes
    x, y = rows[["x_k1", "x_k2"]].to_numpy(), rows["self_class"].cat.codes.to_numpy()
    gaps = []
    points = (([[-1, 0, 1], [-2, 0.5, 1.5]], [0.8, -0.3]), ([[0, 1, 3], [-1, 0, 2]], [2, 1]))
    for c, gamma in points:
        c, gamma = np.array(c, float), np.array(gamma, float)
        point = {"cutpoints_ordered__": ordered.forward(c).eval(), "gamma": gamma}
        q = class_probabilities(c[code], x @ gamma)
        gaps.append(likelihood(point) - np.log(q[np.arange(len(y)), y]).sum())
    assert abs(gaps[0] - gaps[1]) < 1e-8


def test_bad_input():
    rows = pd.DataFrame(
        {"segment": ["a"], "x_k": [0.0], "self_class": pd.Categorical([None], categories=CLASSES)}
    )
    with pytest.raises(ValueError, match="no response has a self_class"):
        LoyaltyModel().build_model(rows, ["a"], ["k"])
    with pytest.raises(ValueError, match="unknown segments"):
        LoyaltyModel().build_model(rows, ["b"], ["k"])
    with pytest.raises(ValueError, match="lack columns x_other"):
        LoyaltyModel().build_model(rows, ["a"], ["other"])
    with pytest.raises(ValueError, match="chains"):
        LoyaltyModel(chains=1)
    with pytest.raises(ValueError, match="nps_prob"):
        LoyaltyModel(nps_prob=1.0)


# Net promoter score (fast) ------------------------------------------------------------------


def test_nps_counts_hand_made():
    """0-6 detractors, 7-8 passives, 9-10 promoters; missing answers skipped; 'all' sums."""
    nps = pd.Series(pd.array([0, 6, 7, 8, 9, 10, None, 10], dtype="Int8"))
    segment = ["a", "a", "a", "b", "b", "b", "b", "a"]
    counts = nps_counts(nps, segment, ["a", "b", "c"])
    assert counts.index.tolist() == ["a", "b", "c", OVERALL]
    assert counts.values.tolist() == [[1, 1, 2], [2, 1, 0], [0, 0, 0], [3, 2, 2]]
    table, samples = net_promoter_score(nps, segment, ["a", "b", "c"])
    assert table["nps"].iloc[[0, 1, 3]].tolist() == pytest.approx([-25.0, 200 / 3, 100 / 7])
    assert np.isnan(table.loc["c", "nps"])
    assert samples.dims == ("draw", "segment") and samples.sizes["draw"] == 4000


TRUE_SHARES = np.array([0.35, 0.40, 0.25])  # promoters, passives, detractors: NPS 10


def nps_sample(n: int, rng: np.random.Generator) -> pd.Series:
    """n answers 0..10 with the promoter, passive and detractor shares TRUE_SHARES."""
    group = rng.choice(3, n, p=TRUE_SHARES)
    answers = np.choose(
        group, [rng.integers(9, 11, n), rng.integers(7, 9, n), rng.integers(0, 7, n)]
    )
    return pd.Series(answers)


def test_nps_interval_coverage():
    """The 90% interval holds the true NPS (10) in 85%-95% of 200 samples of 300 answers.

    If the coverage is exactly 90%, the hits are Binomial(200, 0.9): sd 4.2, so 85%-95%
    (170-190 hits) is +-2.4 sd, a false alarm about 2% of the time; the seeds are fixed, so
    the test is deterministic. An interval half as wide covers about 60%; a posterior on
    the wrong scale (shares instead of points) about 0%.
    """
    hits = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        answers = nps_sample(300, rng)
        table, _ = net_promoter_score(answers, ["a"] * 300, ["a"], prob=0.9, draws=2000, seed=seed)
        hits += table.loc["a", "lower"] <= 10.0 <= table.loc["a", "upper"]
    print(f"NPS 90% interval coverage: {hits / 200:.3f}")
    assert 170 <= hits <= 190


def test_nps_large_sample():
    """With 100,000 answers the 90% interval holds the truth and is about +-0.5 points.

    The posterior sd of P - D is sqrt((P + D - (P - D)^2) / n) x 100 = 0.24 points, so the
    interval is about +-0.4 points; we allow up to 0.6 (Monte Carlo error of the quantiles).
    """
    answers = nps_sample(100_000, np.random.default_rng(1))
    table, _ = net_promoter_score(answers, ["a"] * len(answers), ["a"])
    row = table.loc["a"]
    assert row["lower"] <= 10.0 <= row["upper"]
    assert row["upper"] - row["lower"] < 1.2
    assert row["mean"] == pytest.approx(row["nps"], abs=0.05)


# Sampling (slow) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recovery(demo_params):
    """Demo-world cutpoints and gamma, 4,000 simulated responses, one fit."""
    rows = simulate_rows(demo_params, SHARES, seed=5)
    model = LoyaltyModel(draws=700, tune=700, seed=2)
    return model.fit(rows, demo_params.segments, demo_params.touchpoints)


@pytest.mark.slow
def test_recovery(recovery, demo_params):
    """True cutpoints (9) and gamma (14, 7 of them 0) inside their 94% intervals.

    Misses of exact 94% intervals over 23 parameters are about Binomial(23, 0.06): 1.4
    expected, P(at most 1) = 0.60, P(at most 4) = 0.99. So we allow 4 misses, not 1, which
    a correct fit would fail 40% of the time (the seed is fixed; the test is deterministic).
    A sign error in gamma would put all 7 non-zero gammas outside.
    """
    draws = {"cutpoints": recovery.cutpoints_draws(), "gamma": recovery.gamma_draws()}
    truth = {"cutpoints": demo_params.cutpoints, "gamma": demo_params.gamma}
    misses = 0
    for name, values in draws.items():
        lower, upper = values.quantile([0.03, 0.97], "draw").values
        misses += int(((truth[name] < lower) | (truth[name] > upper)).sum())
    print(
        f"loyalty recovery: {misses} of 23 outside 94%; {recovery.diagnostics_}; "
        f"{recovery.sampling_seconds_:.1f} s sampling, {recovery.n_rows_} rows"
    )
    assert misses <= 4
    assert recovery.diagnostics_["ok"], recovery.diagnostics_


@pytest.mark.slow
def test_draws_fit_the_parameters(recovery, demo_params):
    """Draws are labelled (draw, segment, cutpoint) and (draw, touchpoint), increasing
    cutpoints, and one draw drops into Parameters in place of the world's values."""
    cut, gamma = recovery.cutpoints_draws(), recovery.gamma_draws()
    assert cut.dims == ("draw", "segment", "cutpoint") and gamma.dims == ("draw", "touchpoint")
    assert cut.sizes["draw"] == gamma.sizes["draw"] == 1400
    assert cut["segment"].values.tolist() == list(demo_params.segments)
    assert gamma["touchpoint"].values.tolist() == list(demo_params.touchpoints)
    assert bool((cut.diff("cutpoint") > 0).all())
    params = demo_params.replace(cutpoints=cut[0].values, gamma=gamma[0].values)
    assert params.cutpoints.shape == demo_params.cutpoints.shape
    assert params.gamma.shape == demo_params.gamma.shape


@pytest.mark.slow
def test_poor_view_of_a_strong_touchpoint_means_more_dissatisfied(demo_params):
    """gamma = 2.5 for the call centre, classes drawn by Population._classify itself.

    The fit must find gamma > 0 (all of its 94% interval) and hold 2.5 in it, and predict,
    for a household with only a call-centre view, P(dissatisfied) higher at a rating of 1
    than at 5, each within 0.05 of the simulation's formula (the posterior sd of these
    probabilities is about 0.01-0.02 with 3,000 responses).
    """
    k = demo_params.touchpoints.index("call_centre")
    gamma = np.zeros(len(demo_params.touchpoints))
    gamma[k] = 2.5
    params = demo_params.replace(gamma=gamma)
    n, rng = 3000, np.random.default_rng(4)
    x = np.zeros((n, len(gamma)))
    x[:, k] = poor_view(rng.integers(1, 6, n).astype(float))
    population = Population(params, Streams(4))
    classes = population._classify(0, np.arange(n, dtype=np.uint64), np.zeros(n, dtype=int), x)
    rows = pd.DataFrame(
        {
            "segment": "household",
            "x_call_centre": x[:, k],
            "self_class": pd.Categorical.from_codes(classes, list(CLASSES)),
        }
    )
    model = LoyaltyModel(draws=500, tune=500, seed=3).fit(rows, ["household"], ["call_centre"])
    g = model.gamma_draws().sel(touchpoint="call_centre").values
    assert np.quantile(g, 0.03) > 0 and np.quantile(g, 0.03) <= 2.5 <= np.quantile(g, 0.97)
    cut = model.cutpoints_draws().sel(segment="household").values
    for view in (1.0, 5.0):
        eta = poor_view(np.array(view)) * g
        fitted = class_probabilities(cut, eta)[:, 0].mean()
        true = class_probabilities(params.cutpoints[0], poor_view(np.array(view)) * 2.5)[0]
        assert fitted == pytest.approx(true, abs=0.05)
    poor, good = (class_probabilities(cut, poor_view(np.array(v)) * g)[:, 0] for v in (1.0, 5.0))
    assert np.all(poor > good)
    assert stats.spearmanr(x[:, k], classes).statistic < 0  # poorer view, lower class
