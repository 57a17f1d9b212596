"""Tests for models.experience: recovery, consistency, pooling, fallback, the demo data.

Recovery rule: each rating probability's exact 94% interval (Beta marginal) should hold the
truth about 94 times in 100. Over 2 surveys x 3 segments x 14 touchpoints x 5 ratings (420
probabilities, five per distribution and so correlated) we require at least 85%: below that
has probability far under 1 in 1,000 for independent intervals. So that the check can fail, a
truth with every rating moved one step up (5 stays 5) must be held by fewer than 60%.
"""

import numpy as np
import pandas as pd
import pytest

from models.data import BUNDLED, load_customers, load_responses
from models.experience import FLOOR, PRIOR_STRENGTH, RatingModel


def survey(
    ratings: np.ndarray,
    segments,
    touchpoints,
    responders: list[int],
    seed: int,
    answered: float = 0.6,
):
    """Each responder rates each touchpoint with probability ``answered``, drawing from
    ``ratings`` (segment, touchpoint, 5). Returns responses, customers and the tally."""
    rng = np.random.default_rng(seed)
    tally = np.zeros(ratings.shape)
    responses, customers = [], []
    for s, n in enumerate(responders):
        ids = [f"{segments[s]}-{i}" for i in range(n)]
        table = pd.DataFrame({"customer_id": ids, "date": pd.Timestamp("2025-01-15")})
        for k, name in enumerate(touchpoints):
            r = 1 + (ratings[s, k].cumsum() < rng.random(n)[:, None]).sum(axis=1).clip(0, 4)
            given = rng.random(n) < answered
            np.add.at(tally[s, k], r[given] - 1, 1)
            table[name] = pd.array(np.where(given, r, 0), dtype="Int8")
            table.loc[~given, name] = pd.NA
        responses.append(table)
        customers.append(pd.DataFrame({"customer_id": ids, "segment": segments[s]}))
    return pd.concat(responses, ignore_index=True), pd.concat(customers), tally


def covered(model: RatingModel, truth: np.ndarray) -> np.ndarray:
    interval = model.interval(0.94)
    return ((interval.sel(bound="low") <= truth) & (truth <= interval.sel(bound="high"))).values


def moved_up(ratings: np.ndarray) -> np.ndarray:
    """Every rating one step better; the 5s stay 5."""
    out = np.roll(ratings, 1, axis=-1)
    out[..., -1] += out[..., 0]
    out[..., 0] = 0
    return out


def test_recovery(demo_params):
    segments, touchpoints = list(demo_params.segments), list(demo_params.touchpoints)
    hits, misses_wrong = [], []
    for seed in (1, 2):
        responses, customers, _ = survey(
            demo_params.ratings, segments, touchpoints, [400, 150, 25], seed
        )
        model = RatingModel(seed=seed).fit(responses, customers, segments, touchpoints)
        hits.append(covered(model, demo_params.ratings))
        misses_wrong.append(covered(model, moved_up(demo_params.ratings)))
    assert np.mean(hits) >= 0.85
    assert np.mean(misses_wrong) < 0.6


def test_consistency_mean_tends_to_frequencies(demo_params):
    """|mean - n_r / N| <= (kappa + 5 a0) / (kappa + 5 a0 + N): exact algebra (tolerance
    1e-12); with about 6,000 ratings per distribution the gap is below 0.003."""
    segments, touchpoints = list(demo_params.segments), list(demo_params.touchpoints)
    responses, customers, tally = survey(
        demo_params.ratings, segments, touchpoints, [10000, 10000, 10000], seed=3
    )
    model = RatingModel().fit(responses, customers, segments, touchpoints)
    np.testing.assert_array_equal(model.counts_.values, tally)
    n = tally.sum(axis=-1, keepdims=True)
    mass = PRIOR_STRENGTH + 5 * FLOOR
    gap = np.abs(model.mean().values - tally / n)
    assert np.all(gap <= mass / (mass + n) + 1e-12)
    assert gap.max() < 0.003


def test_thin_segment_borrows_the_pooled_share():
    segments, touchpoints = ["a", "b"], ["web"]
    responses = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "date": pd.Timestamp("2025-01-01"),
            "web": pd.array([5, 5, 1], dtype="Int8"),
        }
    )
    customers = pd.DataFrame({"customer_id": ["x", "y", "z"], "segment": ["a", "a", "a"]})
    model = RatingModel(prior_strength=10, floor=0.5).fit(
        responses, customers, segments, touchpoints
    )
    pooled = np.array([1, 0, 0, 0, 2]) / 3
    expected_b = (10 * pooled + 0.5) / 12.5
    np.testing.assert_allclose(
        model.mean().sel(segment="b", touchpoint="web"), expected_b, atol=1e-12
    )
    expected_a = (10 * pooled + 0.5 + [1, 0, 0, 0, 2]) / 15.5
    np.testing.assert_allclose(
        model.mean().sel(segment="a", touchpoint="web"), expected_a, atol=1e-12
    )


def test_unrated_touchpoints_keep_the_world(demo_params):
    segments, touchpoints = list(demo_params.segments), list(demo_params.touchpoints)
    responses, customers, _ = survey(demo_params.ratings, segments, touchpoints, [50, 20, 5], 4)
    responses = responses.drop(columns=["tv_ad", "sales_rep"])
    model = RatingModel(seed=1).fit(
        responses, customers, segments, touchpoints, fallback=demo_params.ratings
    )
    assert model.source_.sel(touchpoint=["tv_ad", "sales_rep"]).values.tolist() == ["world"] * 2
    assert (model.source_ == "data").sum() == 12
    world = demo_params.ratings[:, [0, 4]]
    np.testing.assert_array_equal(model.mean().sel(touchpoint=["tv_ad", "sales_rep"]), world)
    draws = model.sample(5).sel(touchpoint=["tv_ad", "sales_rep"])
    np.testing.assert_array_equal(draws, np.broadcast_to(world, draws.shape))
    without = RatingModel().fit(responses, customers, segments, touchpoints)
    assert without.source_.sel(touchpoint="tv_ad") == "prior"
    np.testing.assert_allclose(without.mean().sel(touchpoint="tv_ad"), 0.2, atol=1e-12)


def test_each_customers_latest_rating():
    responses = pd.DataFrame(
        {
            "customer_id": ["x", "x", "y"],
            "date": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-01-01"]),
            "web": pd.array([4, 1, pd.NA], dtype="Int8"),
        }
    )
    customers = pd.DataFrame({"customer_id": ["x", "y"], "segment": ["a", "a"]})
    last = RatingModel().fit(responses, customers, ["a"], ["web"])
    assert last.counts_.sel(segment="a", touchpoint="web").values.tolist() == [0, 0, 0, 1, 0]
    every = RatingModel(per_customer="all").fit(responses, customers, ["a"], ["web"])
    assert every.counts_.sel(segment="a", touchpoint="web").values.tolist() == [1, 0, 0, 1, 0]


def test_draws_labelled_reproducible_and_centred(demo_params):
    """Sample means within 5 standard errors (sd <= 0.5, 4,000 draws: 0.04) of the mean."""
    segments, touchpoints = list(demo_params.segments), list(demo_params.touchpoints)
    responses, customers, _ = survey(demo_params.ratings, segments, touchpoints, [80, 30, 5], 5)
    draws = RatingModel(seed=9).fit(responses, customers, segments, touchpoints).sample(4000)
    again = RatingModel(seed=9).fit(responses, customers, segments, touchpoints).sample(4000)
    assert draws.dims == ("draw", "segment", "touchpoint", "rating")
    assert draws.identical(again)
    np.testing.assert_allclose(draws.sum("rating"), 1, atol=1e-12)
    model = RatingModel().fit(responses, customers, segments, touchpoints)
    assert float(abs(draws.mean("draw") - model.mean()).max()) < 0.04


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda r: r.assign(customer_id=["nobody", *r["customer_id"][1:]]),
            "1 responses from customers not in the customers table, such as 'nobody'",
        ),
        (
            lambda r: r.assign(web=pd.array([7, 1], dtype="Int8")),
            "rating 7 of touchpoint 'web', expected 1..5 or missing",
        ),
    ],
)
def test_bad_inputs(change, message):
    responses = pd.DataFrame(
        {
            "customer_id": ["x", "y"],
            "date": pd.Timestamp("2025-01-01"),
            "web": pd.array([4, 1], dtype="Int8"),
        }
    )
    customers = pd.DataFrame({"customer_id": ["x", "y"], "segment": ["a", "a"]})
    with pytest.raises(ValueError, match=message):
        RatingModel().fit(change(responses), customers, ["a"], ["web"])


def test_fit_on_the_demo_data(demo_world, demo_params):
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    responses = load_responses(BUNDLED / "responses.csv", demo_world, customers)
    model = RatingModel(seed=1).fit(
        responses,
        customers,
        demo_world.segment_ids,
        demo_world.touchpoint_ids,
        fallback=demo_params.ratings,
    )
    assert (model.source_ == "data").all()
    rated = responses.melt("customer_id", demo_world.touchpoint_ids).dropna()
    assert model.counts_.sum() == len(rated.drop_duplicates(["customer_id", "variable"]))
    np.testing.assert_allclose(model.mean().sum("rating"), 1, atol=1e-12)
    np.testing.assert_allclose(model.sample(10).sum("rating"), 1, atol=1e-12)
