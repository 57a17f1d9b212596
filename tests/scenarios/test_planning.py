"""A staged plan: quick wins first, start months from the team's capacity worked out by hand,
own start months respected, and the plan's edits and costs starting at the staged months."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from notebooks.plots import gantt
from scenarios.edits import schedule
from scenarios.load import load_scenario, parse_scenario, scenario_files
from scenarios.planning import SCHEDULE_COLUMNS, months_of_work, quick_wins_first, staged
from sim.inputs.errors import InputError
from sim.inputs.parameters import from_world


def scenario(world, name: str, effort: float, start: int, touchpoint: str, **extra):
    """A scenario halving the bad experiences of one touchpoint, 1000 one-off, 10 a month."""
    edits = extra.pop("edits", [{"kind": "fix", "touchpoint": touchpoint, "bad_ratings": "halve"}])
    data = {
        "name": name,
        "one_off_cost": 1000,
        "monthly_cost": 10,
        "effort_weeks": effort,
        "start_month": start,
        "edits": edits,
        **extra,
    }
    return parse_scenario(data, world, f"{name}.yaml")


@pytest.fixture
def four(demo_world):
    """Efforts 12, 5, 30, 8 person-weeks; own start months 0, 0, 2, 1."""
    return [
        scenario(demo_world, "B", 12, 0, "invoice"),
        scenario(demo_world, "A", 5, 0, "website"),
        scenario(demo_world, "D", 30, 2, "welcome"),
        scenario(demo_world, "C", 8, 1, "app"),
    ]


def test_least_effort_first_ties_by_own_start_month_then_given_order(demo_world):
    given = [
        scenario(demo_world, "late tie", 4, 3, "invoice"),
        scenario(demo_world, "big", 10, 0, "website"),
        scenario(demo_world, "early tie", 4, 1, "welcome"),
        scenario(demo_world, "same as early", 4, 1, "app"),
        scenario(demo_world, "free", 0, 5, "store"),
    ]
    names = [s.name for s in quick_wins_first(given)]
    assert names == ["free", "early tie", "same as early", "late tie", "big"]
    _, table = staged(given, "plan", 10.0)
    assert table["scenario"].tolist() == names
    assert table["order"].tolist() == [1, 2, 3, 4, 5]


def test_start_months_worked_out_by_hand(four):
    """Capacity 10 a month; order A 5, C 8, B 12, D 30. Work before each: 0, 5, 13, 25, so the
    team is free at months 0, ceil(0.5) = 1, ceil(1.3) = 2, ceil(2.5) = 3; D's own month 2
    is earlier than 3, so D waits; so does B (own month 0, started at 2): delays 0, 0, 2, 1.
    Finish: ceil(0.5, 1.3, 2.5, 5.5) = 1, 2, 3, 6."""
    plan, table = staged(four, "Staged", 10.0)
    assert list(table.columns) == list(SCHEDULE_COLUMNS)
    assert table["scenario"].tolist() == ["A", "C", "B", "D"]
    assert table["team_free_month"].tolist() == [0, 1, 2, 3]
    assert table["start_month"].tolist() == [0, 1, 2, 3]
    assert table["finish_month"].tolist() == [1, 2, 3, 6]
    assert table["delay_months"].tolist() == [0, 0, 2, 1]
    assert table["own_start_month"].tolist() == [0, 1, 0, 2]
    assert [s.start_month for s in plan.scenarios] == [0, 1, 2, 3]
    assert [s.name for s in plan.scenarios] == ["A", "C", "B", "D"]
    assert plan.name == "Staged"


def test_an_own_start_month_later_than_the_team_is_kept(demo_world):
    """Capacity 20: the team is free for the second at ceil(8 / 20) = 1, but it cannot take
    effect before its own month 9."""
    first = scenario(demo_world, "hire", 8, 0, "invoice")
    notice = scenario(demo_world, "notice", 40, 9, "website")
    plan, table = staged([notice, first], "plan", 20)
    assert table.set_index("scenario")["team_free_month"].to_dict() == {"hire": 0, "notice": 1}
    assert [s.start_month for s in plan.scenarios] == [0, 9]
    assert table["finish_month"].tolist() == [1, 3]
    assert table["delay_months"].tolist() == [0, 0]


def test_whole_months_are_not_rounded_up_further():
    assert months_of_work(40, 20) == 2
    assert months_of_work(0.3 * 3, 0.3) == 3  # 0.8999999... / 0.3 is not 4
    assert months_of_work(40.5, 20) == 3
    assert months_of_work(0, 20) == 0


def test_the_plans_edits_and_costs_start_at_the_staged_months(demo_world, four):
    plan, table = staged(four, "Staged", 10.0)
    months = dict(zip(table["scenario"], table["start_month"], strict=True))
    timed = plan.timed_edits()
    assert [t.month for t in timed] == sorted(months.values())
    assert {t.source: t.month for t in timed} == {f"{n}.yaml": m for n, m in months.items()}
    sets = schedule(from_world(demo_world), plan)
    assert [m for m, _ in sets] == sorted(set(months.values()))
    expected = np.zeros(8)
    for month in months.values():
        expected[month] += 1000
        expected[month:] += 10
    np.testing.assert_allclose(plan.costs(8), expected)
    assert plan.effort_weeks == table["effort_weeks"].sum() == 55


def test_the_given_scenarios_are_not_changed(four):
    before = [(s.name, s.start_month) for s in four]
    plan, _ = staged(four, "Staged", 10.0)
    assert [(s.name, s.start_month) for s in four] == before
    assert plan.scenarios[-1] is not four[2]
    assert plan.scenarios[-1].source == four[2].source == "D.yaml"


def test_a_shift_with_its_own_month_keeps_it(demo_world):
    """A market shock is not the team's work: its from_month stays as written."""
    shock = scenario(
        demo_world,
        "shock",
        30,
        0,
        "",
        edits=[{"kind": "shift", "from": "store", "to": "website", "share": 0.4, "from_month": 1}],
    )
    quick = scenario(demo_world, "quick", 10, 0, "invoice")
    plan, table = staged([shock, quick], "plan", 5.0)
    assert table.set_index("scenario")["start_month"].to_dict() == {"quick": 0, "shock": 2}
    assert sorted(t.month for t in plan.timed_edits()) == [0, 1]


def test_the_bundled_examples_stage_into_one_plan(demo_world):
    scenarios = [load_scenario(path, demo_world) for path in scenario_files(None)]
    assert len(scenarios) == 5
    plan, table = staged(scenarios, "Staged plan", 4.0)
    assert table["effort_weeks"].is_monotonic_increasing
    assert (table["start_month"] >= table["own_start_month"]).all()
    assert (table["start_month"] >= table["team_free_month"]).all()
    assert (
        table["start_month"] == np.maximum(table["own_start_month"], table["team_free_month"])
    ).all()
    assert len(plan.scenarios) == 5 and plan.one_off_cost == table["one_off_cost"].sum()


@pytest.mark.parametrize("capacity", [0, -5.0, float("nan"), float("inf"), True, "20"])
def test_a_capacity_that_is_not_a_positive_number_is_refused(four, capacity):
    with pytest.raises(ValueError, match="team_weeks_per_month"):
        staged(four, "plan", capacity)


def test_empty_repeated_or_clashing_names_are_refused(demo_world, four):
    with pytest.raises(ValueError, match="no scenarios"):
        staged([], "plan", 10)
    twin = scenario(demo_world, "A", 1, 0, "store")
    with pytest.raises(ValueError, match="'A'"):
        staged([*four, twin], "plan", 10)
    with pytest.raises(ValueError, match="plan's name 'B'"):
        staged(four, "B", 10)


def test_edits_that_clash_once_staged_name_the_file(demo_world):
    """Removing the store before a fix of it (the removal is quicker) cannot be combined."""
    removal = scenario(
        demo_world, "close", 2, 0, "", edits=[{"kind": "remove", "touchpoint": "store"}]
    )
    fix = scenario(demo_world, "fix store", 6, 0, "store")
    with pytest.raises(InputError, match="fix store.yaml"):
        staged([fix, removal], "plan", 10)


def test_the_gantt_chart_draws_work_and_effect_bars_by_month(four):
    """Per scenario a bar of the team's work (free to finish) and one in effect (start to the
    end of the run), in staged order from the top, in the colours given."""
    _, table = staged(four, "Staged", 10.0)
    colours = {"A": "#112233", "B": "#445566", "C": "#778899", "D": "#aabbcc"}
    fig = gantt(table, 8, colours)
    (ax,) = fig.axes
    bars = ax.patches
    assert len(bars) == 2 * len(table)
    for i, row in enumerate(table.itertuples()):
        work, effect = bars[2 * i], bars[2 * i + 1]
        assert (work.get_x(), work.get_width()) == (
            row.team_free_month,
            row.finish_month - row.team_free_month,
        )
        assert (effect.get_x(), effect.get_width()) == (row.start_month, 8 - row.start_month)
        assert to_hex(effect.get_facecolor()) == colours[row.scenario]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "C", "B", "D"]
    assert "month of the run" in ax.get_xlabel()
