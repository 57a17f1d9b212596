"""The best plan under a budget: the exact knapsack against brute-force enumeration, the
empty plan, the monotone frontier, conflicting candidates, the budget's spend, and a set of
one simulated together equal to itself alone."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scenarios.budget import (
    Limits,
    best_plan,
    budget_grid,
    candidate_plans,
    conflicts,
    frontier,
    spend,
)
from scenarios.knapsack import best_set
from scenarios.load import EXAMPLES, parse_scenario
from scenarios.runner import Settings
from scenarios.scenario import as_plan
from scenarios.study import late_edits
from sim.inputs.errors import InputError
from sim.inputs.parameters import from_world


def enumerate_best(value, cost, effort, budget, cap, pairs) -> tuple[float, tuple[int, ...]]:
    """The reference: every subset tried; the largest total value that fits (0 for none)."""
    best = (0.0, ())
    for size in range(1, len(value) + 1):
        for subset in itertools.combinations(range(len(value)), size):
            if any(i in subset and j in subset for i, j in pairs):
                continue
            chosen = list(subset)
            if cost[chosen].sum() > budget + 1e-9 or effort[chosen].sum() > cap + 1e-9:
                continue
            if value[chosen].sum() > best[0]:
                best = (float(value[chosen].sum()), subset)
    return best


def random_instance(rng: np.random.Generator, n: int):
    """Values of either sign, costs with some savings (negative), efforts with some zeros,
    limits somewhere inside the totals, and a few conflicting pairs."""
    value = rng.normal(1.0, 2.0, n)
    cost = rng.gamma(2.0, 1.0, n) * np.where(rng.random(n) < 0.15, -1, 1)
    effort = rng.gamma(2.0, 1.0, n) * (rng.random(n) < 0.9)
    budget = rng.uniform(0, cost.clip(0).sum() + 0.1)
    cap = rng.uniform(0, effort.sum() + 0.1) if rng.random() < 0.7 else np.inf
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.08]
    return value, cost, effort, budget, cap, pairs


def test_the_chosen_set_is_the_best_of_every_subset():
    """200 random instances of up to 10 candidates: the branch and bound finds the set that
    enumerating all 2^n subsets finds (values continuous, so the best set is unique)."""
    rng = np.random.default_rng(20)
    for _ in range(200):
        value, cost, effort, budget, cap, pairs = random_instance(rng, int(rng.integers(1, 11)))
        total, expected = enumerate_best(value, cost, effort, budget, cap, pairs)
        found = best_set(value, cost, effort, budget, cap, pairs)
        assert found == expected, (found, expected, value, cost, effort, budget, cap, pairs)
        assert value[list(found)].sum() == pytest.approx(total, abs=1e-12)


def test_additive_toy_frontier_is_brute_force_and_monotone():
    """Additive effects (per-draw gains of 8 candidates, costs and spends): at each budget the
    frontier's set is the enumeration's, its net value the sum of the parts' means, and the
    net value never falls as the budget grows."""
    rng = np.random.default_rng(5)
    n, draws = 8, 50
    gains = rng.normal(rng.uniform(-1, 4, n)[:, None], 1.0, (n, draws))
    cost = rng.uniform(0.1, 1.0, n)
    cash = rng.uniform(0.5, 3.0, n)
    effort = rng.uniform(1, 10, n)
    names = [f"c{i}" for i in range(n)]
    net = gains.mean(axis=1) - cost
    budgets = budget_grid(4.0, net, cash)
    table = frontier(gains, cost, cash, effort, budgets, 25.0, [(0, 1)], names)
    for row in table.itertuples():
        total, subset = enumerate_best(net, cash, effort, row.budget, 25.0, [(0, 1)])
        assert row.scenarios == "; ".join(names[i] for i in subset)
        assert row.net_value == pytest.approx(total, abs=1e-9)
        assert row.spend <= row.budget + 1e-9 and row.effort_weeks <= 25.0 + 1e-9
        draws_net = gains[list(subset)].sum(axis=0) - cost[list(subset)].sum()
        assert row.net_low == pytest.approx(np.quantile(draws_net, 0.05))
    assert (np.diff(table["net_value"]) >= 0).all()
    assert table["net_value"].iloc[-1] > 0 and table["count"].iloc[0] == 0
    assert budgets[0] == 0 and 4.0 in budgets and budgets[-1] >= cash[net > 0].sum() - 1e-9


def test_a_budget_below_every_cost_chooses_nothing():
    value = np.array([5.0, 3.0, 1.0])
    cost = np.array([10.0, 20.0, 30.0])
    assert best_set(value, cost, np.ones(3), 9.99) == ()
    assert best_set(value, cost, np.ones(3), 10.0) == (0,)  # exactly the budget fits
    assert best_set(value, cost, np.ones(3), 1e9, effort_cap=0.5) == ()
    assert best_set(-value, -cost, np.zeros(3), 0.0) == ()  # savings that lose value


def test_a_saving_makes_room_for_others():
    """Closing something that saves 10 and loses 1 pays for a candidate of cost 10 worth 5."""
    value, cost = np.array([5.0, -1.0]), np.array([10.0, -10.0])
    assert best_set(value, cost, np.zeros(2), 0.0) == (0, 1)


def test_bad_limits_are_refused():
    for limits in ({"budget": -1.0}, {"budget": float("nan")}, {"budget": float("inf")},
                   {"budget": 1.0, "effort_weeks": -2.0}, {"budget": "1e5"},
                   {"budget": 1.0, "confidence": 1.5}):  # fmt: skip
        with pytest.raises(ValueError, match="expected"):
            Limits(**limits)
    with pytest.raises(ValueError, match="not finite"):
        best_set(np.array([np.nan]), np.ones(1), np.ones(1), 1.0)
    with pytest.raises(ValueError, match="negative"):
        best_set(np.ones(1), np.ones(1), -np.ones(1), 1.0)


def test_candidates_by_name_file_and_word(demo_world, tmp_path):
    plans, bases = candidate_plans(demo_world, ["fix invoice", "remove store"])
    assert list(plans) == ["fix invoice", "remove store"]
    assert bases == {"remove store": "none stated: the conservative end"}
    every, _ = candidate_plans(demo_world, ["quickwins"])
    matches = [name for name in every if name.startswith("match ")]
    assert len(matches) == 4  # where a competitor is better: installer, call centre, ...
    assert len(every) == 2 * len(demo_world.touchpoints) - 4 + 4  # 4 essential: not removed
    with pytest.raises(InputError, match="unknown candidate") as error:
        candidate_plans(demo_world, ["fix nowhere"])
    assert error.value.source == "fix nowhere"
    with pytest.raises(InputError, match="not a candidate: essential"):
        candidate_plans(demo_world, ["remove invoice"])
    with pytest.raises(InputError, match="another candidate"):
        candidate_plans(demo_world, ["fix invoice", "fix invoice"])


def test_fixing_matching_and_removing_one_touchpoint_exclude_each_other(demo_world):
    """Fix k and remove k exclude each other, and so do fix k and match k (alternatives
    fixing one touchpoint); a match of an essential touchpoint has no removal to clash with."""
    plans, _ = candidate_plans(demo_world, ["quickwins"])
    found = {(a, b) for a, b, _ in conflicts(plans)}
    removed = [n.removeprefix("remove ") for n in plans if n.startswith("remove ")]
    matched = [n.removeprefix("match ") for n in plans if n.startswith("match ")]
    expected = {(f"fix {t}", f"remove {t}") for t in removed}
    expected |= {(f"fix {t}", f"match {t}") for t in matched}
    expected |= {(f"match {t}", f"remove {t}") for t in matched if t in removed}
    assert found == expected


def test_spend_counts_one_off_and_monthly_over_the_horizon(demo_world):
    """A scenario from month 4 with one-off 100 and monthly 10 spends 100 + 10 (H - 4)."""
    data = {"name": "x", "one_off_cost": 100, "monthly_cost": 10, "effort_weeks": 1,
            "start_month": 4, "edits": [{"kind": "fix", "touchpoint": "invoice",
                                         "bad_ratings": "halve"}]}  # fmt: skip
    plan = as_plan(parse_scenario(data, demo_world))
    horizon = demo_world.economics.horizon_months
    assert spend(plan, horizon) == 100 + 10 * (horizon - 4)
    assert spend(plan, 3) == 0  # starts after a horizon of 3 months


def test_a_candidate_starting_after_the_run_is_not_eligible(demo_world):
    """Closing the stores from month 12 saves rent after a 12-month run that never sees the
    stores closed: not eligible in a run of 12 months, eligible in one of 24."""
    plans, _ = candidate_plans(demo_world, [str(EXAMPLES / "remove_store_visit.yaml")])
    (plan,) = plans.values()
    assert plan.scenarios[0].start_month == 12
    assert late_edits(plan, 12) and not late_edits(plan, 24)


@pytest.mark.slow  # two small sweeps: about 10 s
def test_best_plan_on_the_demo(demo_world):
    """A set of one simulated together is the candidate alone (same plan, same random
    numbers: interaction exactly 0); a budget below every spend chooses nothing and simulates
    nothing more; the given budget's frontier row is the chosen set; closing the stores from
    month 12, a saving with no effect in a run of 6 months, is not chosen."""
    plans, bases = candidate_plans(demo_world, ["fix invoice", "fix website", "remove tv_ad"])
    draws, settings = [from_world(demo_world)], Settings(300, 6, 1, replications=3)
    cheapest = min(spend(p, demo_world.economics.horizon_months) for p in plans.values())
    nothing = best_plan(demo_world, plans, draws, settings, Limits(cheapest - 1), "serial")
    assert nothing.chosen == [] and nothing.together is None
    assert nothing.frontier.loc[nothing.frontier["given"], "count"].item() == 0
    website = spend(plans["fix website"], demo_world.economics.horizon_months)  # < invoice's
    stores, _ = candidate_plans(demo_world, [str(EXAMPLES / "remove_store_visit.yaml")])
    one = best_plan(demo_world, plans | stores, draws, settings, Limits(website), "serial",
                    bases=bases)  # fmt: skip
    closing = one.options.set_index("scenario").loc["Close the stores"]
    assert closing["net_value"] > 0 and not closing["eligible"]  # a saving the run never sees
    assert one.chosen == ["fix website"], one.options
    assert one.summary["interaction"] == 0.0
    assert one.summary["value_gain"] == pytest.approx(one.summary["additive_value_gain"])
    given = one.frontier[one.frontier["given"]].iloc[0]
    assert given["scenarios"] == one.chosen[0]
    assert (np.diff(one.frontier["net_value"]) >= 0).all()
    assert one.options.set_index("scenario").loc["remove tv_ad", "basis"] == bases["remove tv_ad"]
