"""Limits with reasons: a number out of its plausible range, in a file or an option, is one
line naming it, the value and the range, exit code 2, before any work; a run that would not
fit in memory is refused with its estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ctm

WORLDS = Path(__file__).parents[1] / "sim" / "worlds_bad"


def refused(done) -> str:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--customers", "1000000000"], "--customers: got 1,000,000,000, expected 1 to"),
        (["--months", "601"], "--months: got 601, expected 1 to 600"),
        (["--seed", str(2**64)], "--seed: got 18,446,744,073,709,551,616, expected 0 to"),
        (["--customers", "100000000"], "--customers: 100,000,000 customers x 36 months need"),
    ],
)
def test_an_option_out_of_range_is_one_line(tmp_path, args, start):
    out = tmp_path / "run"
    line = refused(ctm("simulate", "demo", *args, "--out", str(out)))
    assert line.startswith(start), line
    assert not out.exists()


def test_a_sweep_too_large_for_memory_is_refused_with_its_estimate(tmp_path):
    line = refused(ctm("quickwins", "demo", "--customers", "20000000", "--out", str(tmp_path)))
    assert line.startswith("--customers: 20,000,000 customers x 24 months (") and "GiB" in line


@pytest.mark.parametrize(
    ("old", "new", "where", "phrase"),
    [
        ("contacts_per_month: {call_centre: 0.1}", "contacts_per_month: {call_centre: 1.0e+9}",
         "segments[0].contacts_per_month.call_centre", "expected <= 1000"),
        ("prospects_per_month: 100\n", "prospects_per_month: 1.0e+12\n",
         "segments[0].prospects_per_month", "expected <= 100000000"),
        ("horizon: 12 months", "horizon: 1000 months", "economics.horizon", "expected <= "),
        ("call_centre: 0.9", "call_centre: 90", "churn.effects.call_centre", "expected -20 to 20"),
    ],
)  # fmt: skip
def test_a_number_out_of_range_in_a_world_is_one_line(tmp_path, old, new, where, phrase):
    text = (WORLDS / "valid_base.yaml").read_text()
    assert old in text
    path = tmp_path / "world.yaml"
    path.write_text(text.replace(old, new, 1))
    line = refused(ctm("validate", str(path)))
    assert line.startswith(f"{path}: {where}") and phrase in line, line


def test_a_number_yaml_reads_as_text_says_how_to_write_it(tmp_path):
    text = (WORLDS / "valid_base.yaml").read_text()
    path = tmp_path / "world.yaml"
    path.write_text(text.replace("prospects_per_month: 100\n", "prospects_per_month: 1e5\n", 1))
    line = refused(ctm("validate", str(path)))
    assert line == (
        f"{path}: segments[0].prospects_per_month: got '1e5' as text, expected a number (YAML "
        "reads 1e9 as text: write 1.0e+9 or 1000000000)"
    )
