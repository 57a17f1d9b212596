"""`ctm validate` on defective world files: one clear line per problem, exit code 2.

Each file in ``worlds_bad/`` varies the compact ``valid_base.yaml`` by exactly one defect
(its first line says which). The tests run ``ctm validate`` in this process
(:func:`tests.helpers.ctm`, which shows an escaping exception as the traceback a user would
see), so they check the exit code, stderr, and that no traceback ever reaches the user;
``tests/cli/test_world.py`` runs the installed script too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import ctm

WORLDS = Path(__file__).parent / "worlds_bad"
TOUCHPOINTS = "expected one of ad, website, installer, call_centre"


def validate(world: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``ctm validate WORLD`` and capture its output."""
    return ctm("validate", str(world))


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


# (file, path to the field or "" for the file as a whole, key phrase of the message)
ONE_LINE_CASES = [
    ("empty.yaml", "", "the file is empty, expected a YAML mapping"),
    ("not_yaml.yaml", "line 4", "not valid YAML (expected ',' or '}', but got ':')"),
    ("list_not_mapping.yaml", "", "got a YAML list, expected a mapping of fields"),
    ("missing_segments.yaml", "segments", "missing, expected a value"),
    (
        "duplicate_touchpoint_id.yaml",
        "touchpoints[4].id",
        "duplicate id 'ad', expected each id once",
    ),
    (
        "duplicate_segment_id.yaml",
        "segments[2].id",
        "duplicate id 'business', expected each id once",
    ),
    (
        "segment_id_all.yaml",
        "segments[1].id",
        "'all' is a word the tool uses (the company total), expected another id",
    ),
    (
        "journey_unknown_touchpoint.yaml",
        "segments[0].journey.ad.shop",
        "unknown state 'shop', expected one of ad, website, installer, call_centre, purchase, lost",
    ),
    (
        "ratings_unknown_segment.yaml",
        "touchpoints[1].ratings.enterprise",
        "unknown segment 'enterprise', expected one of household, business, default",
    ),
    (
        "journey_sum_not_one.yaml",
        "segments[1].journey.website",
        "probabilities sum to 1.2, expected 1",
    ),
    (
        "journey_probability_above_one.yaml",
        "segments[0].journey.start.website",
        "got 1.4, expected <= 1",
    ),
    (
        "rating_sum_not_one.yaml",
        "touchpoints[2].ratings.default",
        "rating probabilities sum to 1.1, expected 1",
    ),
    (
        "rating_four_values.yaml",
        "touchpoints[3].ratings.default",
        "has 4 items, expected at least 5",
    ),
    ("negative_cost_per_contact.yaml", "touchpoints[2].cost_per_contact", "got -85, expected >= 0"),
    ("negative_margin_per_month.yaml", "segments[0].margin_per_month", "got -18, expected >= 0"),
    ("negative_referral_rate.yaml", "segments[1].referral_rate", "got -0.06, expected >= 0"),
    ("unknown_stage.yaml", "touchpoints[3].stage", "'aftercare'"),
    (
        "horizon_unknown_unit.yaml",
        "economics.horizon",
        "got '3 parsecs', expected a number and a unit",
    ),
    (
        "contacts_unknown_touchpoint.yaml",
        "segments[1].contacts_per_month.chatbot",
        f"unknown touchpoint 'chatbot', {TOUCHPOINTS}",
    ),
    (
        "onboarding_unknown_touchpoint.yaml",
        "segments[0].onboarding[1]",
        f"unknown touchpoint 'welcome_pack', {TOUCHPOINTS}",
    ),
    (
        "churn_baseline_wrong_length.yaml",
        "churn.baseline.household",
        "has 3 values, expected 2 (one per tenure band)",
    ),
    ("churn_baseline_above_one.yaml", "churn.baseline.business[0]", "got 1.5, expected < 1"),
    ("churn_sbg_unknown_segment.yaml", "churn.sbg.enterprise", "unknown segment 'enterprise'"),
    ("churn_sbg_alpha_zero.yaml", "churn.sbg.business.alpha", "got 0, expected > 0"),
    (
        "ratings_segment_missing_no_default.yaml",
        "touchpoints[2].ratings",
        "no ratings for business, expected a distribution per segment or a 'default'",
    ),
    ("journey_no_start.yaml", "segments[1].journey", "no 'start' row, expected"),
    (
        "journey_state_without_row.yaml",
        "segments[0].journey.installer",
        "is reached but has no row, expected",
    ),
    (
        "journey_start_lost.yaml",
        "segments[0].journey.start.lost",
        "the start row lists first touchpoints only, expected no 'lost'",
    ),
    (
        "tenure_bands_not_from_zero.yaml",
        "churn.tenure_bands[0]",
        "expected the first band to start at 0 months",
    ),
    (
        "loyalty_cutpoints_not_increasing.yaml",
        "loyalty.cutpoints.default",
        "expected three increasing numbers",
    ),
    (
        "add_on_probability_above_one.yaml",
        "segments[0].add_ons.loyal.probability",
        "got 1.2, expected <= 1",
    ),
    (
        "add_on_margin_negative.yaml",
        "segments[0].add_ons.advocate.margin",
        "got -30, expected >= 0",
    ),
    (
        "add_on_unknown_class.yaml",
        "segments[0].add_ons.fan",
        "unknown key 'fan', expected one of 'dissatisfied', 'satisfied', 'loyal' or 'advocate'",
    ),
    (
        "margin_uplift_unknown_class.yaml",
        "segments[0].margin_uplift.promoter",
        "unknown key 'promoter', expected one of 'dissatisfied', 'satisfied', 'loyal' or "
        "'advocate'",
    ),
    (
        "margin_uplift_below_minus_one.yaml",
        "segments[0].margin_uplift.dissatisfied",
        "got -1.5, expected >= -1",
    ),
    (
        "churn_effect_unknown_touchpoint.yaml",
        "churn.effects.chatbot",
        f"unknown touchpoint 'chatbot', {TOUCHPOINTS}",
    ),
    (
        "journey_loop.yaml",
        "segments[0].journey.ad",
        "cannot reach purchase or lost (nor can call_centre), expected a way out",
    ),
    ("misspelt_field.yaml", "segments[1].margin_per_mnth", "did you mean 'margin_per_month'?"),
    ("duplicate_yaml_key.yaml", "line 52", "duplicate key 'ad', expected each key once"),
    ("negative_duration.yaml", "economics.horizon", "expected a duration of at least 0"),
    ("infinite_cost.yaml", "touchpoints[0].cost_per_contact", "should be a finite number"),
    (
        "queue_no_agents.yaml",
        "touchpoints[3].queue.agents",
        "got 0, expected at least 1 agent on duty (or shifts)",
    ),
    ("substitution_above_one.yaml", "touchpoints[1].substitution", "got 1.2, expected <= 1"),
    ("probability_true.yaml", "segments[0].journey.start.ad", "a valid number (got True)"),
    ("tenure_mix_word.yaml", "segments[0].tenure_mix", "got 'stable', expected steady, new or"),
    (
        "tenure_mix_not_whole_months.yaml",
        "segments[0].tenure_mix.10 weeks",
        "is 2.3 months, expected whole months",
    ),
    ("tenure_mix_sum_not_one.yaml", "segments[1].tenure_mix", "shares sum to 1.1, expected 1"),
    (
        "tenure_mix_no_unit.yaml",
        "segments[0].tenure_mix.0",
        "got 0, expected a tenure such as '3 months'",
    ),
    (
        "tenure_mix_same_tenure_twice.yaml",
        "segments[1].tenure_mix.1 year",
        "the same tenure as '12 months', expected each tenure once",
    ),
    ("does_not_exist.yaml", "", "no such file"),
]


def test_every_defective_file_has_a_case():
    files = {p.name for p in WORLDS.glob("*.yaml")} - {"valid_base.yaml", "two_defects.yaml"}
    cases = {name for name, *_ in ONE_LINE_CASES}
    assert files == cases - {"does_not_exist.yaml"}
    assert not (WORLDS / "does_not_exist.yaml").exists()


@pytest.mark.parametrize(
    ("name", "where", "phrase"),
    [
        *(pytest.param(*case, id=case[0]) for case in ONE_LINE_CASES),
    ],
)
def test_one_defect_gives_one_clear_line(name: str, where: str, phrase: str):
    path = WORLDS / name
    result = validate(path)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "OK" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    prefix = f"{path}: {where}: " if where else f"{path}: "
    assert line.startswith(prefix), line
    assert phrase in line, line


def test_two_defects_are_both_reported():
    path = WORLDS / "two_defects.yaml"
    result = validate(path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        f"{path}: segments[0].contacts_per_month.chatbot: unknown touchpoint 'chatbot', "
        f"{TOUCHPOINTS}",
        f"{path}: segments[1].journey.website: probabilities sum to 1.2, expected 1",
    ]


def test_valid_base_world_is_ok():
    path = WORLDS / "valid_base.yaml"
    result = validate(path)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"OK: {path}: 4 touchpoints, 2 segments")


def test_stated_add_ons_and_margin_uplift_are_ok(tmp_path):
    """``add_ons`` and ``margin_uplift`` (optional) per loyalty class, the bounds included."""
    text = (WORLDS / "valid_base.yaml").read_text()
    path = tmp_path / "world.yaml"
    old = "    contacts_per_month: {call_centre: 0.1}\n"
    add = (
        "    add_ons: {loyal: {probability: 0, margin: 0}, advocate: {probability: 1, "
        "margin: 40}}\n    margin_uplift: {dissatisfied: -1, advocate: 0.1}\n"
    )
    path.write_text(text.replace(old, old + add))
    assert "add_ons" in path.read_text()
    result = validate(path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("share", ["0", "0.6", "1"])
def test_a_stated_substitution_from_0_to_1_is_ok(tmp_path, share):
    """``substitution`` (optional) takes any share from 0 to 1 (the bounds included)."""
    text = (WORLDS / "valid_base.yaml").read_text()
    path = tmp_path / "world.yaml"
    path.write_text(
        text.replace(
            "    cost_per_contact: 0.2\n", f"    cost_per_contact: 0.2\n    substitution: {share}\n"
        )
    )
    assert "substitution" in path.read_text()
    result = validate(path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_bundled_demo_is_ok():
    result = validate("demo")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("OK: demo:")


@pytest.mark.parametrize(
    "mix",
    ["steady", "new", "{0 months: 0.2, 1 year: 0.5, 3 years: 0.3, 6 years: 0}", "{5 years: 1}"],
)
def test_a_stated_tenure_mix_is_ok(tmp_path, mix):
    """``tenure_mix`` (optional, steady by default) takes steady, new or a table of shares."""
    text = (WORLDS / "valid_base.yaml").read_text()
    path = tmp_path / "world.yaml"
    old = "    contacts_per_month: {call_centre: 0.1}\n"
    path.write_text(text.replace(old, f"{old}    tenure_mix: {mix}\n"))
    assert "tenure_mix" in path.read_text()
    result = validate(path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
