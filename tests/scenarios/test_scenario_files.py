"""Scenario files: defective files give one clear line each; the examples load and combine.

Each file in ``scenarios_bad/`` has exactly one defect (its first line says which) against
the demo world. A scenario's problems are InputErrors, which the command line prints as
these lines with exit code 2 (``cli.common.user_errors``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenarios.edits import schedule
from scenarios.load import combine, load_scenario, parse_scenario
from scenarios.scenario import Plan
from sim.inputs.errors import InputError
from sim.inputs.load import load_world
from tests.helpers import ctm

BAD = Path(__file__).parent / "scenarios_bad"
EXAMPLES = Path(__file__).parents[2] / "scenarios" / "examples"
TOUCHPOINTS = (
    "tv_ad, online_ad, website, store, sales_rep, order, installer, welcome, app, "
    "account_manager, invoice, call_centre, field_repair, renewal_offer"
)
SEGMENTS = "expected one of household, small_business, enterprise"
KINDS = "add, fix, remove, reroute, prospects, shift, market_move"

# (file, path to the field or "" for the file as a whole, key phrase of the message)
ONE_LINE_CASES = [
    ("empty.yaml", "", "the file is empty, expected a YAML mapping"),
    ("duplicate_yaml_key.yaml", "line 7", "duplicate key 'monthly_cost', expected each key once"),
    ("misspelt_field.yaml", "one_of_cost", "unknown field, did you mean 'one_off_cost'?"),
    ("negative_start_month.yaml", "start_month", "got -1, expected >= 0"),
    ("start_month_fraction.yaml", "start_month", "a valid integer (got 3.5)"),
    ("cost_as_text.yaml", "one_off_cost", "a valid number (got '120k')"),
    ("no_edits.yaml", "edits", "has 0 items, expected at least 1"),
    (
        "edit_not_mapping.yaml",
        "edits[0]",
        f"got 'remove store', expected a mapping with a kind ({KINDS})",
    ),
    ("unknown_kind.yaml", "edits[0].kind", f"unknown kind 'improve', expected one of {KINDS}"),
    ("edit_without_kind.yaml", "edits[0]", f"no 'kind', expected one of {KINDS}"),
    (
        "fix_unknown_touchpoint.yaml",
        "edits[0].touchpoint",
        f"unknown touchpoint 'invoise', expected one of {TOUCHPOINTS}",
    ),
    (
        "fix_nothing.yaml",
        "edits[0]",
        "nothing to fix, expected ratings, bad_ratings, queue or appointments",
    ),
    (
        "bad_ratings_word.yaml",
        "edits[0].bad_ratings",
        "got 'eliminate', expected 'halve' or a factor such as 0.5",
    ),
    (
        "bad_ratings_factor_too_large.yaml",
        "edits[0].bad_ratings",
        "for household: makes P(1) + P(2) = 1.2, expected at most 1",
    ),
    (
        "queue_on_unqueued.yaml",
        "edits[0].queue",
        "'invoice' has no queue, expected a queued touchpoint",
    ),
    (
        "too_few_agents.yaml",
        "edits[0].queue.extra_agents",
        "leaves 0 agents on duty, expected at least 1",
    ),
    (
        "add_existing_id.yaml",
        "edits[0].touchpoint.id",
        "touchpoint 'store' exists in the world, expected a new id",
    ),
    (
        "add_after_unknown.yaml",
        "edits[0].journey[0].after",
        f"unknown touchpoint 'web_site', expected one of start, {TOUCHPOINTS}",
    ),
    (
        "add_ratings_sum_not_one.yaml",
        "edits[0].touchpoint.ratings.default",
        "rating probabilities sum to 1.1, expected 1",
    ),
    (
        "add_never_met.yaml",
        "edits[0]",
        "customers never meet it, expected journey, contacts_per_month or onboarding",
    ),
    (
        "add_two_entries_one_segment.yaml",
        "edits[0].journey[1]",
        "household already meets 'web_chat' by journey[0], expected one entry per segment",
    ),
    (
        "remove_essential.yaml",
        "edits[0].touchpoint",
        "touchpoint 'call_centre' is essential (customers need what it does), expected "
        "replaced_by: the touchpoint that takes over its contacts",
    ),
    (
        "replaced_by_itself.yaml",
        "edits[0].replaced_by",
        "'invoice' replaces itself, expected another touchpoint in use",
    ),
    (
        "remove_twice.yaml",
        "edits[1].touchpoint",
        "touchpoint 'store' is removed by edits[0], expected one in use",
    ),
    (
        "remove_start_to_purchase.yaml",
        "edits[1].traffic",
        "in household, 'order': prospects who start there would go straight to purchase",
    ),
    (
        "reroute_sum_not_one.yaml",
        "edits[0].journey.website",
        "probabilities sum to 1.1, expected 1",
    ),
    (
        "reroute_unknown_segment.yaml",
        "edits[0].segment",
        f"unknown segment 'households', {SEGMENTS}",
    ),
    (
        "reroute_to_removed.yaml",
        "edits[1].journey.website.store",
        "touchpoint 'store' is removed by edits[0], expected one in use",
    ),
    (
        "reroute_trap.yaml",
        "edits[0]",
        "leaves household prospects stuck at website, store, expected a way out of the journey",
    ),
    (
        "reroute_start_to_lost.yaml",
        "edits[0].journey.start.lost",
        "start leads to touchpoints only, expected no 'lost' from start",
    ),
    ("shift_to_itself.yaml", "edits[0]", "'from' and 'to' are both 'store', expected two"),
    (
        "shift_before_added.yaml",
        "edits[1].to",
        "touchpoint 'web_chat' is added only from month 3 by edits[0], expected one in use",
    ),
    (
        "prospects_unknown_segment.yaml",
        "edits[0].per_month.residential",
        f"unknown segment 'residential', {SEGMENTS}",
    ),
    (
        "traffic_sum_not_one.yaml",
        "edits[0].traffic",
        "shares sum to 1.1, expected 1",
    ),
    ("traffic_share_above_one.yaml", "edits[0].traffic.successors", "got 1.5, expected <= 1"),
    (
        "traffic_unknown_touchpoint.yaml",
        "edits[0].traffic.web_site",
        "unknown touchpoint 'web_site', expected successors, lost or one of "
        + TOUCHPOINTS.replace("store, ", ""),
    ),
    (
        "traffic_to_itself.yaml",
        "edits[0].traffic.store",
        "'store' is the touchpoint removed, expected successors, lost or another touchpoint",
    ),
    (
        "traffic_to_removed.yaml",
        "edits[1].traffic.website",
        "touchpoint 'website' is removed by edits[0], expected one in use",
    ),
    (
        "traffic_word.yaml",
        "edits[0].traffic",
        "got 'elsewhere', expected successors, lost or shares such as {successors: 0.5, lost: 0.5}",
    ),
    ("does_not_exist.yaml", "", "no such file"),
]
TRAFFIC_CASES = [case for case in ONE_LINE_CASES if case[0].startswith("traffic_")]


def problems(path: Path, world) -> list[str]:
    """The lines a user would see for ``path``; [] if it loads."""
    try:
        load_scenario(path, world)
    except InputError as error:
        return error.lines()
    return []


def test_every_defective_file_has_a_case():
    files = {p.name for p in BAD.glob("*.yaml")} - {"two_defects.yaml"}
    assert files == {name for name, *_ in ONE_LINE_CASES} - {"does_not_exist.yaml"}
    assert len(files) >= 12
    assert not (BAD / "does_not_exist.yaml").exists()


@pytest.mark.parametrize(
    ("name", "where", "phrase"), [pytest.param(*case, id=case[0]) for case in ONE_LINE_CASES]
)
def test_one_defect_gives_one_clear_line(demo_world, name: str, where: str, phrase: str):
    path = BAD / name
    lines = problems(path, demo_world)
    assert len(lines) == 1, lines
    prefix = f"{path}: {where}: " if where else f"{path}: "
    assert lines[0].startswith(prefix), lines[0]
    assert phrase in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "where", "phrase"), [pytest.param(*case, id=case[0]) for case in TRAFFIC_CASES]
)
def test_a_bad_traffic_is_one_line_and_exit_2_from_the_command_line(tmp_path, name, where, phrase):
    """What a user sees: ``ctm compare`` stops before simulating, with the line and exit
    code 2 (:func:`cli.common.user_errors`), and writes nothing."""
    path = BAD / name
    done = ctm("compare", "demo", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"{path}: {where}: ") and done.stderr.count("\n") == 1
    assert phrase in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_two_defects_are_both_reported(demo_world):
    path = BAD / "two_defects.yaml"
    assert problems(path, demo_world) == [
        f"{path}: edits[0].touchpoint: unknown touchpoint 'kiosk', expected one of {TOUCHPOINTS}",
        f"{path}: edits[1].journey.website: probabilities sum to 1.1, expected 1",
    ]


@pytest.fixture(scope="module")
def examples(demo_world):
    return {p.stem: load_scenario(p, demo_world) for p in sorted(EXAMPLES.glob("*.yaml"))}


def test_examples_load_against_the_demo_world(examples):
    assert set(examples) == {
        "fix_invoice",
        "more_agents",
        "add_web_chat",
        "remove_store_visit",
        "market_shift_online",
    }
    for scenario in examples.values():
        assert scenario.name and scenario.description
        assert scenario.source.endswith(".yaml")


def test_examples_combine_into_one_plan(examples, demo_params):
    plan = combine(list(examples.values()), "everything")
    assert isinstance(plan, Plan)
    assert plan.one_off_cost == sum(s.one_off_cost for s in examples.values())
    assert plan.monthly_cost == sum(s.monthly_cost for s in examples.values())
    assert plan.effort_weeks == sum(s.effort_weeks for s in examples.values())
    # each edit keeps its scenario's month; the market shift its own from_month
    assert [m for m, _ in schedule(demo_params, plan)] == [0, 2, 3, 4, 6, 12]


def test_plan_costs_by_month(examples):
    plan = combine([examples["more_agents"], examples["fix_invoice"]], "service")
    spend = plan.costs(6)
    # more_agents: 35,000 once at month 2, then 40,000 a month; fix_invoice: 150,000 at 4 + 3,000
    np.testing.assert_array_equal(spend, [0, 0, 75_000, 40_000, 193_000, 43_000])


def scenario_data(*edits: dict, start_month: int = 3) -> dict:
    return {
        "name": "test",
        "one_off_cost": 0,
        "monthly_cost": 0,
        "effort_weeks": 0,
        "start_month": start_month,
        "edits": list(edits),
    }


def test_combined_scenarios_may_not_remove_twice(demo_world):
    first = parse_scenario(
        scenario_data({"kind": "remove", "touchpoint": "store"}), demo_world, "close.yaml"
    )
    second = parse_scenario(
        scenario_data({"kind": "remove", "touchpoint": "store"}, start_month=5),
        demo_world,
        "close_again.yaml",
    )
    with pytest.raises(InputError) as raised:
        combine([first, second], "twice")
    assert raised.value.lines() == [
        "close_again.yaml: edits[0].touchpoint: touchpoint 'store' is removed by close.yaml "
        "edits[0], expected one in use"
    ]


CHAT = {
    "id": "web_chat",
    "stage": "consideration",
    "channel": "digital",
    "department": "customer service",
    "cost_per_contact": 3,
    "emotional_weight": 0.3,
    "ratings": {"default": [0.05, 0.08, 0.27, 0.38, 0.22]},
}


def test_combined_scenarios_may_not_add_one_id_twice(examples, demo_world):
    again = parse_scenario(
        scenario_data({"kind": "add", "touchpoint": CHAT, "contacts_per_month": 0.1}),
        demo_world,
        "chat_again.yaml",
    )
    with pytest.raises(InputError) as raised:
        combine([examples["add_web_chat"], again], "two chats")
    assert raised.value.lines() == [
        f"chat_again.yaml: edits[0].touchpoint.id: touchpoint 'web_chat' is also added by "
        f"{EXAMPLES / 'add_web_chat.yaml'} edits[0], expected each new id once"
    ]


def test_combine_needs_one_world(examples):
    other = load_world("demo")  # equal, but a different object: loaded separately
    alone = load_scenario(EXAMPLES / "fix_invoice.yaml", other)
    with pytest.raises(ValueError, match="one world"):
        combine([examples["more_agents"], alone], "mixed")
