"""A plan launched in a month of demo data: nothing changes before it, the plan after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios.launch import launch_month, launched
from scenarios.load import EXAMPLES, load_scenario
from sim.engine.feedback import demo_data

SMALL = {"customers": 3_000, "months": 10, "seed": 3}
LAUNCH = 5  # month 5 of the data: 2025-06-01


@pytest.fixture(scope="module")
def invoice(demo_world):
    return load_scenario(EXAMPLES / "fix_invoice.yaml", demo_world)


@pytest.fixture(scope="module")
def both(demo_params, invoice):
    plain = demo_data(demo_params, **SMALL)
    first, changes = launched(demo_params, invoice, LAUNCH, SMALL["months"])
    return plain, demo_data(first, changes=changes, **SMALL)


def test_the_launch_is_the_first_edits_month(invoice, demo_world):
    assert launch_month(invoice) == invoice.start_month == 4


def test_the_schedule_moves_to_the_launch_and_stops_at_the_runs_end(demo_params, invoice):
    first, changes = launched(demo_params, invoice, LAUNCH, SMALL["months"])
    assert [m for m, _ in changes] == [LAUNCH]
    assert first.touchpoints == demo_params.touchpoints  # the plan adds none
    np.testing.assert_array_equal(first.ratings, demo_params.ratings)
    assert launched(demo_params, invoice, 12, 12)[1] == []  # launched after the data
    with pytest.raises(ValueError, match="launch month 0"):
        launched(demo_params, invoice, 0, 12)


def test_nothing_changes_before_the_launch(both):
    """Common random numbers: the same customers and answers until the launch month."""
    plain, planned = both
    before = pd.Timestamp("2025-06-01")
    for name in ("responses", "ratings"):
        a, b = (t[name] for t in (plain, planned))
        pd.testing.assert_frame_equal(
            a[a["date"] < before].reset_index(drop=True),
            b[b["date"] < before].reset_index(drop=True),
        )


def test_the_invoices_bad_ratings_halve_after_it(both, demo_params):
    """The fix halves P(rating <= 2) of the invoice; in the transactional ratings after the
    launch the share falls by half (a binomial tolerance: 4 standard errors of the
    difference of two shares of some 400 ratings each, about 0.09)."""
    plain, planned = both
    after = pd.Timestamp("2025-06-01")
    shares = []
    for tables in (plain, planned):
        rated = tables["ratings"].dropna(subset=["invoice"])
        rated = rated[rated["date"] >= after]
        shares.append(((rated["invoice"] <= 2).mean(), len(rated)))
    (p0, n0), (p1, n1) = shares
    se = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    assert abs(p1 - p0 / 2) < 4 * se, (p0, p1, se)
    assert p0 - p1 > 4 * se  # and the drop is there
