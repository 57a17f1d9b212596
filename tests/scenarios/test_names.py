"""Names are checked once, in the schema: reserved words, control characters, lengths; a
plan may not take a scenario's name. One line each, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ctm

WORLDS = Path(__file__).parents[1] / "sim" / "worlds_bad"
EXAMPLES = Path(__file__).parents[2] / "scenarios" / "examples"


def one_line(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("old", "new", "where", "phrase"),
    [
        ("name: Compact test world", 'name: "Bad\\e[31m red"', "name", "control character"),
        ("name: Compact test world", 'name: "nul\\0"', "name", "control character"),
        ("name: Compact test world", f"name: {'x' * 130}", "name", "at most 120"),
        ("  - id: ad\n", '  - id: "ad\\n"\n', "touchpoints[0].id", "control character"),
        ("  - id: ad\n", '  - id: " ad"\n', "touchpoints[0].id", "no space at its start"),
    ],
)
def test_a_bad_name_in_a_world_is_one_line(tmp_path, old, new, where, phrase):
    text = (WORLDS / "valid_base.yaml").read_text()
    assert old in text
    path = tmp_path / "world.yaml"
    path.write_text(text.replace(old, new, 1))
    line = one_line(ctm("validate", str(path)))
    assert line.startswith(f"{path}: {where}") and phrase in line, line


def test_a_scenario_named_baseline_and_a_plan_named_like_a_scenario_are_refused(tmp_path):
    text = (EXAMPLES / "fix_invoice.yaml").read_text()
    path = tmp_path / "baseline.yaml"
    path.write_text(text.replace("name: Clearer invoice", "name: Baseline"))
    line = one_line(ctm("compare", "demo", str(path), "--out", str(tmp_path / "out")))
    assert line.startswith(f"{path}: name: ") and "the run without edits" in line
    fix = str(EXAMPLES / "fix_invoice.yaml")
    for plan, phrase in (
        ("Clearer invoice", "is the name of a scenario given"),
        ("baseline", "the run without edits"),
        ("bad\x1b[2J", "control character"),
    ):
        args = ("compare", "demo", fix, "--plan", plan, "--out", str(tmp_path / "out"))
        line = one_line(ctm(*args))
        assert line.startswith("--plan: ") and phrase in line, line
    assert not (tmp_path / "out").exists()


def test_a_name_a_spreadsheet_would_run_is_quoted_in_the_csv(tmp_path):
    """A scenario named like a formula reaches comparison.csv with a leading apostrophe (the
    spreadsheet shows it as text); the Parquet and JSON keep the name as written."""
    import pandas as pd

    text = (EXAMPLES / "fix_invoice.yaml").read_text()
    path = tmp_path / "formula.yaml"
    path.write_text(text.replace("name: Clearer invoice", 'name: "=HYPERLINK(\\"x\\")"'))
    out = tmp_path / "out"
    args = ("compare", "demo", str(path), "--draws", "2", "--customers", "300", "--months", "5")
    done = ctm(*args, "--serial", "--out", str(out))
    assert done.returncode == 0, done.stderr
    csv = pd.read_csv(out / "economics.csv")
    assert csv["scenario"].tolist() == ['\'=HYPERLINK("x")']
    assert pd.read_parquet(out / "economics.parquet")["scenario"].tolist() == ['=HYPERLINK("x")']
