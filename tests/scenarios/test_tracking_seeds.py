"""ctm track over 20 seeds of demo data: a plan that happened is on track, one that did not
is behind by month 6 (slow: some 40 simulated data sets).

The plan: the invoice made one customers like (ratings 1..5 with P = 1%, 2%, 7%, 40%, 50%;
a mean of 4.36 against the demo's 3.35), launched a month into the data. The prediction is
``ctm compare``'s (:func:`scenarios.prediction.predict`, 10 simulations of the world of
20,000 customers, the world's parameters: no posterior). The data are ``ctm demo-data``'s
tables (:func:`sim.engine.feedback.demo_data`, with ``--plan --launch-month 1`` or without),
all four tables, read month by month since launch (:func:`models.realised.realised_counts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.realised import realised_counts
from scenarios.launch import launched
from scenarios.load import parse_scenario
from scenarios.prediction import predict
from scenarios.runner import Settings, run
from scenarios.scenario import as_plan
from scenarios.tracking import LEVEL, months_to_tell, power, track
from sim.engine.feedback import demo_data

pytestmark = pytest.mark.slow

PLAN = {
    "name": "Great invoice",
    "description": "An invoice customers like (a test plan with a large effect).",
    "one_off_cost": 150_000,
    "monthly_cost": 3_000,
    "effort_weeks": 24,
    "start_month": 1,
    "edits": [
        {
            "kind": "fix",
            "touchpoint": "invoice",
            "ratings": {"default": [0.01, 0.02, 0.07, 0.4, 0.5]},
        }
    ],
}
MONTHS = 8  # of data: month 0 before the launch, then 7 months since it
LAUNCH = pd.Timestamp("2025-02-01")
SEEDS = range(1, 21)


@pytest.fixture(scope="module")
def plan(demo_world):
    return as_plan(parse_scenario(PLAN, demo_world))


@pytest.fixture(scope="module")
def prediction(demo_world, demo_params, plan):
    plans = {PLAN["name"]: plan}
    settings = Settings(customers=20_000, months=MONTHS, seed=1, replications=10)
    results = run([demo_params], plans, settings, executor="serial")
    return predict(results, [demo_params], plans, demo_world)


def tracked(prediction, tables) -> pd.DataFrame:
    counts = realised_counts(
        LAUNCH, tables["customers"], tables["responses"], tables["ratings"], tables["events"],
        ["invoice"],
    )  # fmt: skip
    return track(prediction, PLAN["name"], counts)


def test_a_plan_that_happened_is_on_track_on_every_outcome(demo_params, plan, prediction):
    """Each outcome's band holds 1 - 0.01 / 6 of its predictive distribution, so a plan that
    goes as predicted is on track on all 6 at once in at least 99% of data sets (Bonferroni);
    at least 18 of the 20 seeds (the issue's 90%) leaves room for the Monte-Carlo error of the
    prediction's 10 simulations. Judged at the data's last month, 7 months since launch.
    Seen: 18 of 20 (seed 11: the invoice's rating ahead, 4.43 against a band up to 4.42, its
    5% sample of ratings 3.35 standard errors above all its experiences, a chance 100 more
    seeds never repeated; seed 19: the NPS behind)."""
    first, changes = launched(demo_params, plan, 1, MONTHS)
    on_track, misses = 0, []
    for seed in SEEDS:
        tables = demo_data(first, customers=5_000, months=MONTHS, seed=seed, changes=changes)
        table = tracked(prediction, tables)
        last = table[table["month"] == table["month"].max()]
        assert len(last) == 6  # retention, churn of all and new, conversion, NPS, invoice
        off = last[last["verdict"] != "on track"]
        on_track += off.empty
        misses += [(seed, o) for o in off["outcome"]]
    assert on_track >= 18, misses


def test_a_plan_that_did_not_happen_is_behind_by_month_6(demo_params, prediction):
    """Data in which nothing changed, 10,000 customers: the invoice's rating and the
    retention of the installed base are flagged behind 6 months after launch in at least 80%
    of the seeds.

    The power calculation behind the month (:func:`scenarios.tracking.power`): at the first
    seed's counts (9,760 customers in service at launch, some 480 invoice ratings a month),
    the probability that no-change data fall below the plan's band is, for the base's
    retention, 0.36 after 4 months, 0.69 after 5 and 0.92 after 6 (by then the plan keeps
    88.7% of the base against 87.0% without it, and the band's lower half at 99.8% is 1.1
    points wide); for the rating it is 1 from the first month (3.35 against 4.36). With the
    demo's 5,000 customers retention is flagged 0.63 of the time after 6 months and 0.79
    after 7. Seen: 19 and 20 of 20."""
    counts = None
    behind = {"base_retention": 0, "rating:invoice": 0}
    for seed in SEEDS:
        tables = demo_data(demo_params, customers=10_000, months=MONTHS, seed=seed)
        table = tracked(prediction, tables)
        if counts is None:
            counts = realised_counts(LAUNCH, tables["customers"], tables["responses"],
                                     tables["ratings"], tables["events"], ["invoice"])  # fmt: skip
            level = 1 - (1 - LEVEL) / 6
            for outcome in behind:
                p = power(prediction, PLAN["name"], outcome, counts, level)
                assert months_to_tell(p) <= 6, (outcome, np.round(p, 2))
        at_6 = table[table["month"] == 5].set_index("outcome")["verdict"]
        for outcome in behind:
            behind[outcome] += at_6[outcome] == "behind"
    assert all(count >= 16 for count in behind.values()), behind
