"""``ctm compare`` end to end: tables in the terminal, every output file, clear errors."""

from __future__ import annotations

import json

import pandas as pd

from tests.helpers import ctm

EXAMPLES = "scenarios/examples"


def test_compare_writes_the_comparison(tmp_path):
    out = tmp_path / "compare"
    done = ctm(
        "compare",
        "demo",
        f"{EXAMPLES}/more_agents.yaml",
        f"{EXAMPLES}/fix_invoice.yaml",
        "--plan",
        "both",
        "--customers",
        "1500",
        "--months",
        "6",
        "--draws",
        "3",
        "--serial",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "Two more call-centre agents" in done.stdout and "pays back" in done.stdout
    tables = [line for line in done.stdout.splitlines() if not line.startswith("Results:")]
    assert max(len(line) for line in tables) <= 100  # the tables fit a terminal
    table = pd.read_parquet(out / "comparison.parquet")
    assert set(table["scenario"]) == {"Two more call-centre agents", "Clearer invoice", "both"}
    assert set(table["segment"]) == {"household", "small_business", "enterprise", "all"}
    money = pd.read_csv(out / "economics.csv")
    assert money.set_index("scenario").loc["both", "effort_weeks"] == 4 + 24
    summary = json.loads((out / "comparison.json").read_text())
    assert len(summary["comparison"]) == len(table)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # pieces removed


def test_a_bad_scenario_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\none_off_cost: 1\nmonthly_cost: 0\neffort_weeks: 1\n"
        "start_month: 0\nedits: [{kind: fix, touchpoint: fax_machine, "
        "bad_ratings: halve}]\n"
    )
    done = ctm("compare", "demo", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "fax_machine" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_more_draws_than_the_posterior_holds_is_one_line_and_exit_2(tmp_path, demo_world):
    from tests.helpers import posterior_file

    posterior = posterior_file(tmp_path / "post.nc", demo_world, draws=4)  # 2 chains x 4
    done = ctm(
        "compare", "demo", f"{EXAMPLES}/fix_invoice.yaml", "--posterior", str(posterior),
        "--draws", "9", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"{posterior}: asked for 9 draws, the posterior holds 8; ask for at most that many\n"
    )
    assert not (tmp_path / "out").exists()


def test_compare_with_the_agents_writes_what_the_compiled_engine_writes(tmp_path):
    """Two more agents from a later month and a clearer invoice, compared by each engine."""
    written = {}
    for engine in ("agents", "compiled"):
        out = tmp_path / engine
        done = ctm(
            "compare", "demo", f"{EXAMPLES}/more_agents.yaml", f"{EXAMPLES}/fix_invoice.yaml",
            "--customers", "600", "--months", "5", "--draws", "2", "--serial",
            "--engine", engine, "--out", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written[engine] = pd.read_csv(out / "comparison.csv")
    pd.testing.assert_frame_equal(written["agents"], written["compiled"], rtol=1e-9)
