"""The sub-models ctm fit adds: draws aligned to the churn grid, journeys, arrivals."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.data import BUNDLED, load_customers, load_responses
from models.submodels import align, arrivals, journeys, left_to_world, tenure


def grid(chains: int, draws: int) -> xr.Dataset:
    return xr.Dataset(coords={"chain": np.arange(chains), "draw": np.arange(draws)})


def test_align_reshapes_equal_counts_and_thins_or_repeats_others():
    values = np.arange(12.0)[:, None] * np.ones(2)
    np.testing.assert_array_equal(align(values, 2, 6)[1, 0], [6.0, 6.0])  # chain 1, draw 0
    assert align(values, 2, 3)[:, :, 0].tolist() == [[0, 2, 4], [7, 9, 11]]
    assert align(values[:3], 2, 3)[:, :, 0].ravel().tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.slow  # samples the journeys with NUTS
def test_journeys_and_arrivals_from_the_demo_data(demo_world):
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    found, draws, conversion = journeys(
        demo_world, customers, BUNDLED / "events.csv", grid(2, 4), seed=0
    )
    assert found.fitted and found.variables == ["start", "transitions"]
    assert draws["transitions"].dims == ("chain", "draw", "segment", "touchpoint", "next")
    assert draws.sizes["chain"] == 2 and draws.sizes["draw"] == 4
    np.testing.assert_allclose(draws["transitions"].sum("next"), 1.0)
    assert conversion.dims == ("sample", "segment") and conversion.sizes["sample"] == 8
    assert ((conversion > 0) & (conversion < 1)).all()


@pytest.mark.slow  # samples the journeys with NUTS
def test_arrivals_recover_the_worlds_prospects(demo_world, demo_params):
    """The demo data (5,000 of the world's 232,000 customers, 24 months) give prospects a
    month at the world's scale whose 94% intervals hold the world's 12,000, 1,500 and 80: new
    customers over the journeys' conversion, less referrals, over the sample fraction."""
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    responses = load_responses(BUNDLED / "responses.csv", demo_world, customers)
    on = grid(2, 200)
    _, _, conversion = journeys(demo_world, customers, BUNDLED / "events.csv", on, seed=0)
    found, draws = arrivals(
        demo_world, customers, responses, "customers.csv", conversion, on, seed=0
    )
    assert found.fitted and found.variables == ["prospects"]
    assert found.report["household"]["sample_fraction"] == pytest.approx(5_000 / 232_000, rel=0.01)
    low, high = draws["prospects"].quantile([0.03, 0.97], ("chain", "draw")).values
    assert np.all((low <= demo_params.prospects) & (demo_params.prospects <= high))
    # the check has power: had the conversion been left out (new customers taken for
    # prospects), every truth would lie above its interval
    assert np.all(high * conversion.mean("sample").values < demo_params.prospects)


def test_arrivals_need_journeys_and_self_classes(demo_world):
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    responses = load_responses(BUNDLED / "responses.csv", demo_world, customers)
    found, draws = arrivals(
        demo_world, customers, responses, "customers.csv", None, grid(2, 4), seed=0
    )
    assert not found.fitted and "--events" in found.note and not draws.data_vars
    conversion = xr.DataArray(
        np.full((8, 3), 0.3), dims=("sample", "segment"), coords={"segment": demo_world.segment_ids}
    )
    found, _ = arrivals(
        demo_world,
        customers,
        responses.drop(columns="self_class"),
        "customers.csv",
        conversion,
        grid(2, 4),
        seed=0,
    )
    assert not found.fitted and "self_class" in found.note


def test_from_world_lists_the_fields_no_posterior_variable_replaces():
    left = left_to_world(["alpha", "beta", "gamma", "mu"])
    assert "ratings" in left and "prospects" in left and "cutpoints" in left
    assert not {"alpha", "beta", "gamma", "segments", "touchpoints"} & set(left)


def test_transactional_ratings_recover_the_worlds_and_reach_the_simulation(demo_world, demo_params):
    """The demo's transactional ratings (5% of the simulated customers' experiences): the 94%
    intervals of the rated touchpoints hold at least 85% of the world's rating probabilities
    (rule and reason in tests/models/test_experience.py; 95% seen), and fewer than 60% of
    the ratings moved one step up (30% seen). The queued call centre and the touchpoints
    customers never meet after purchase keep the world's; each draw becomes one parameter
    set's ratings."""
    from models.draws import parameter_sets
    from models.submodels import ratings

    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    experiences = load_responses(BUNDLED / "ratings.csv", demo_world, customers)
    assert "call_centre" in experiences  # rated in the file, not fitted
    found, draws = ratings(
        demo_world, customers, experiences, "ratings.csv", grid(2, 200), demo_params.ratings, seed=0
    )
    assert found.variables == ["ratings"] and "rated: installer, welcome" in found.note
    values = draws["ratings"].transpose("chain", "draw", "segment", "touchpoint", "rating")
    low, high = values.quantile([0.03, 0.97], ("chain", "draw")).values
    truth, touchpoints = demo_params.ratings, demo_world.touchpoint_ids
    rated = [
        touchpoints.index(k)
        for k in (
            "installer",
            "welcome",
            "app",
            "account_manager",
            "invoice",
            "field_repair",
            "renewal_offer",
        )
    ]
    assert ((low <= truth) & (truth <= high))[:, rated].mean() >= 0.85
    wrong = np.roll(truth, 1, axis=-1)
    wrong[..., -1] += wrong[..., 0]
    wrong[..., 0] = 0
    assert ((low <= wrong) & (wrong <= high))[:, rated].mean() < 0.6
    for kept in ("call_centre", "tv_ad"):
        np.testing.assert_array_equal(
            values.sel(touchpoint=kept).values[0, 0], truth[:, touchpoints.index(kept)]
        )
    sets = list(parameter_sets(draws, demo_params))
    np.testing.assert_array_equal(sets[3].ratings, values.isel(chain=0, draw=3).values)


def test_tenure_mix_of_the_customers_in_service_at_the_tables_end(demo_world):
    """The demo table's customers in service on its last day (31 December 2026) by months of
    service on 1 January 2027: shares exactly those of the table (a point estimate, no
    chain or draw), none at tenure 0 (who joins then is not in the table yet), and the
    demo's installed base aged by the 24 months observed plus the customers acquired in
    them: a household mean of 38.3 months against the world's steady 31.4."""
    import pandas as pd

    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    found, draws = tenure(demo_world, customers, "customers.csv")
    assert found.fitted and found.variables == ["base_tenure"] and "point estimate" in found.note
    mix = draws["base_tenure"]
    assert mix.dims == ("segment", "tenure")
    np.testing.assert_allclose(mix.sum("tenure"), 1.0)
    active = customers[customers["end"].isna()]
    assert found.rows == len(active)
    household = active[active["segment"] == "household"]
    months = (pd.Period("2027-01", "M") - household["start"].dt.to_period("M")).map(lambda m: m.n)
    counts = np.bincount(months, minlength=mix.sizes["tenure"]) / len(household)
    np.testing.assert_allclose(mix.sel(segment="household").values, counts, rtol=1e-12)
    assert float(mix[:, 0].sum()) == 0
    mean = float((mix.sel(segment="household") * mix["tenure"]).sum())
    assert mean == pytest.approx(38.27, abs=0.01)


def _tables(days_ahead: int, answers: int, rated: bool):
    import pandas as pd

    today = pd.Timestamp.today().normalize()
    customers = pd.DataFrame(
        {"customer_id": ["A", "B"], "start": [today - pd.Timedelta(days=400)] * 2,
         "end": [pd.NaT, today + pd.Timedelta(days=days_ahead)]}
    )  # fmt: skip
    responses = pd.DataFrame(
        {"customer_id": ["A"] * answers, "date": [today - pd.Timedelta(days=30)] * answers,
         "invoice": pd.array([3 if rated else pd.NA] * answers, dtype="Int8")}
    )  # fmt: skip
    return customers, responses, {"customers": "c.csv", "responses": "r.csv"}


def test_plausible_data_pass_quietly():
    from models.fitting import implausible

    assert implausible(*_tables(days_ahead=20, answers=100, rated=True)) == []


@pytest.mark.parametrize(
    ("tables", "warning"),
    [
        ({"days_ahead": 4000, "answers": 3, "rated": True}, "c.csv: 1 dates after today"),
        ({"days_ahead": 0, "answers": 101, "rated": True}, "r.csv: customer A answered 101 times"),
        ({"days_ahead": 0, "answers": 5, "rated": False}, "r.csv: not one touchpoint rating"),
    ],
)
def test_implausible_data_are_named_in_one_line(tables, warning):
    """Dates years ahead, one customer answering more than 100 times, a survey with no
    rating: each a warning naming the file (the fit goes on, and records it)."""
    from models.fitting import implausible

    found = implausible(*_tables(**tables))
    assert len(found) == 1 and found[0].startswith(warning), found
