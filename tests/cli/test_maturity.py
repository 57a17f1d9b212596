"""ctm maturity: the demo's answers and level, each table taken away, a touchpoint the world
lacks, and bad input as one line with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.data import BUNDLED
from models.draws import parameter_sets
from models.maturity import LEVELS, reach
from models.posterior import save_posterior, stored_checksum
from sim.inputs.parameters import from_world
from tests.helpers import ctm, posterior_file, quickwins_folder

TABLES = {name: BUNDLED / f"{name}.csv" for name in ("customers", "responses", "events", "ratings")}
RANK = {name: i for i, (_, name) in enumerate(reversed(LEVELS))}  # Observer 0 ... Visionary 3


def run(tmp_path, **tables) -> tuple[dict, pd.DataFrame]:
    """``ctm maturity demo`` with the tables given (name: file); the JSON and CSV written."""
    options = [x for name, path in tables.items() for x in (f"--{name}", str(path))]
    out = tmp_path / "out"
    done = ctm("maturity", "demo", *options, "--out", str(out))
    assert done.returncode == 0, done.stderr
    found = json.loads((out / "maturity.json").read_text())
    assert found["note"] in done.stdout.replace("\n", " ")
    return found, pd.read_csv(out / "maturity.csv")


def answers(found: dict) -> dict[int, str]:
    return {a["number"]: a["answer"] for a in found["answers"]}


def test_the_demo_files_make_a_visionary_without_knowing_what_customers_value(tmp_path):
    """The demo holds every table (an event log with lost prospects, thousands of survey
    answers with self_class, post-contact ratings at every stage after purchase) but no
    posterior: only question 2 needs a fit, so 5 yes, a Visionary by the quiz."""
    found, table = run(tmp_path, **TABLES)
    assert answers(found) == {1: "yes", 2: "no", 3: "yes", 4: "yes", 5: "yes", 6: "yes"}
    assert (found["yes"], found["partly"], found["level"]) == (5, 0, "Visionary")
    assert list(table.columns) == ["number", "question", "answer", "evidence"]
    assert table["answer"].tolist() == [a["answer"] for a in found["answers"]]
    evidence = dict(zip(table["number"], table["evidence"], strict=True))
    events = pd.read_csv(TABLES["events"], parse_dates=["timestamp"])
    assert f"event log of {len(events):,} events" in evidence[5]
    began = events.groupby("customer_id")["timestamp"].min()  # cases begun before the last
    closed = (began < began.max().replace(day=1, hour=0, minute=0, second=0)).sum()  # month
    assert f"{closed:,} cases" in evidence[5]
    responses = pd.read_csv(TABLES["responses"], parse_dates=["date"])
    recent = responses[responses["date"] > responses["date"].max() - pd.DateOffset(months=12)]
    classified = recent.dropna(subset=["self_class"])["customer_id"].nunique()
    assert evidence[6].startswith(f"{classified:,} customers classified themselves")
    assert "no posterior" in evidence[2] and "ctm fit" in evidence[2]


def test_the_bundled_demo_is_read_when_no_table_is_given(tmp_path):
    given, _ = run(tmp_path / "a", **TABLES)
    bundled, _ = run(tmp_path / "b")
    assert bundled == given


def test_a_posterior_answers_question_2_with_the_bundled_tables(tmp_path, demo_world):
    """Draws around the world's own effects (sd 0.1 in each segment, 200 draws): weighted by
    reach the call centre (0.9) and field repair (0.8) stand 2 to 3 sd above the installer
    (0.6) and the invoice (0.585), which are a coin toss for third place: 2 of 3 sure."""
    posterior = posterior_file(tmp_path / "posterior.nc", demo_world, draws=100)
    found, _ = run(tmp_path, posterior=posterior)
    q2 = found["answers"][1]
    assert q2["answer"] == "partly", q2["evidence"]
    assert "the posterior's 200 draws" in q2["evidence"] and "2 of 3 above 0.8" in q2["evidence"]
    assert answers(found) == {1: "yes", 2: "partly", 3: "yes", 4: "yes", 5: "yes", 6: "yes"}
    assert (found["level"], found["partly"]) == ("Visionary", 1)


@pytest.mark.parametrize(
    ("left_out", "became_no", "became_partly"),
    [
        ("events", [5], [1, 4]),  # the log alone shows sequences; it checks the inventory and
        # shows acquisition needs (5 of 8 stages stay measured by ratings: more than half)
        ("self_class", [6], []),
        ("ratings", [4], []),  # without them only the 3 acquisition stages are measured
    ],
)
def test_taking_a_table_away_turns_its_questions_to_no_and_lowers_the_level(
    tmp_path, left_out, became_no, became_partly
):
    full, _ = run(tmp_path / "full", **TABLES)
    tables = {k: v for k, v in TABLES.items() if k != left_out}
    if left_out == "self_class":
        responses = pd.read_csv(TABLES["responses"], dtype=str, keep_default_na=False)
        tables["responses"] = tmp_path / "responses.csv"
        responses.drop(columns="self_class").to_csv(tables["responses"], index=False)
    less, _ = run(tmp_path / "less", **tables)
    before, after = answers(full), answers(less)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == set(became_no) | set(became_partly)
    assert all(after[n] == "no" for n in became_no)
    assert all(after[n] == "partly" for n in became_partly)
    assert less["yes"] == full["yes"] - len(changed)
    assert RANK[less["level"]] < RANK[full["level"]]


def test_a_touchpoint_in_the_events_but_not_the_world_makes_question_1_partly(tmp_path):
    """A web chat the world file does not list: its contacts in the log are named."""
    events = pd.read_csv(TABLES["events"], dtype=str)
    chat = events.index[events["touchpoint"] == "website"][::10]
    events.loc[chat, "touchpoint"] = "web_chat"
    log = tmp_path / "events.csv"
    events.to_csv(log, index=False)
    found, _ = run(tmp_path, **{**TABLES, "events": log})
    q1 = found["answers"][0]
    assert q1["answer"] == "partly"
    assert f"web_chat ({len(chat):,} events)" in q1["evidence"]
    assert found["level"] == "Leader"  # 4 yes


def _one_line(done, *phrases: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert all(p in lines[0] for p in phrases), lines[0]


def test_a_customers_table_with_an_unknown_segment_is_one_line(tmp_path):
    customers = pd.read_csv(TABLES["customers"], dtype=str, keep_default_na=False)
    customers.loc[3, "segment"] = "martians"
    path = tmp_path / "customers.csv"
    customers.to_csv(path, index=False)
    done = ctm("maturity", "demo", "--customers", str(path), "--out", str(tmp_path / "out"))
    _one_line(done, f"{path}: row 4, column segment", "unknown segment 'martians'")
    assert not (tmp_path / "out").exists()


def test_a_posterior_of_another_world_is_one_line(tmp_path, demo_world):
    other = demo_world.model_copy(
        update={"touchpoints": [t for t in demo_world.touchpoints if t.id != "welcome"]}
    )
    S, K = len(other.segment_ids), len(other.touchpoint_ids)
    posterior = xr.Dataset(
        {"beta": (("chain", "draw", "segment", "touchpoint"), np.zeros((2, 3, S, K)))},
        coords={"segment": other.segment_ids, "touchpoint": other.touchpoint_ids},
    )
    path = tmp_path / "posterior.nc"
    save_posterior(
        xr.DataTree.from_dict({"posterior": posterior}),
        path,
        world=other,
        data={},
        diagnostics={"ok": True},
    )
    done = ctm("maturity", "demo", "--posterior", str(path))
    _one_line(done, f"{path}: ctm_touchpoints", "welcome missing")


def test_a_missing_file_is_one_line(tmp_path):
    missing = tmp_path / "events.csv"
    done = ctm("maturity", "demo", "--events", str(missing))
    _one_line(done, f"{missing}", "no such file")


def test_an_event_log_with_an_unknown_segment_is_one_line(tmp_path):
    """A lead's segment the world does not have (the log's optional segment column)."""
    events = pd.read_csv(TABLES["events"], dtype=str)
    events["segment"] = ""
    events.loc[0, "segment"] = "martians"
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    done = ctm("maturity", "demo", "--customers", str(TABLES["customers"]), "--events", str(path))
    _one_line(done, f"{path}: row 1, column segment", "unknown segment 'martians'")


def installer_decides(tmp_path, demo_world, draws: int = 20):
    """A posterior (30 draws) and quick wins of 20 of its draws in which fixing the installer
    is worth 1 M EUR per sd of the installer's reach-weighted effect above its mean (as the
    sweep's draws carried it: :func:`models.draws.parameter_sets`), fixing the invoice 0."""
    posterior = posterior_file(tmp_path / "posterior.nc", demo_world, draws=15)
    with xr.open_datatree(posterior, engine="h5netcdf") as tree:
        sets = list(parameter_sets(tree["posterior"].to_dataset(), from_world(demo_world), draws))
    k = demo_world.touchpoint_ids.index("installer")
    effect = np.array([(reach(demo_world) * p.beta).sum(axis=0)[k] for p in sets])
    net = {"fix installer": 1e6 * (effect - effect.mean()) / effect.std(),
           "fix invoice": np.zeros(draws)}  # fmt: skip
    folder = quickwins_folder(
        tmp_path / "qw", demo_world, stored_checksum(posterior), net, list(range(draws))
    )
    return posterior, folder, net


def what_to_measure(posterior, quickwins, out) -> tuple:
    """``ctm maturity demo`` (customers table alone) with the posterior and the quick wins:
    the command's result, the ``evppi`` entry of maturity.json and evppi.csv."""
    done = ctm("maturity", "demo", "--customers", str(TABLES["customers"]), "--posterior",
               str(posterior), "--quickwins", str(quickwins), "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads((out / "maturity.json").read_text())["evppi"]
    return done, found, pd.read_csv(out / "evppi.csv")


def test_quickwins_add_what_to_measure_next(tmp_path, demo_world):
    """The installer's effect alone decides between fixing it and not: knowing it is worth
    all there is to know, mean(max(0, NB)) = EVPI exactly (its net benefit is a line in the
    effect, which the regression recovers without error); it ranks first, the question names
    it, and evppi.csv and maturity.json hold the table."""
    posterior, folder, net = installer_decides(tmp_path, demo_world)
    done, found, table = what_to_measure(posterior, folder, tmp_path / "out")
    first = table.iloc[0]
    expected = np.maximum(0, net["fix installer"]).mean()
    assert first["touchpoint"] == "installer"
    assert first["evppi"] == pytest.approx(expected, rel=1e-6)
    assert found["evpi"] == pytest.approx(expected, rel=1e-9)
    assert (table["evppi"] <= found["evpi"] * (1 + 1e-9)).all()
    assert first["above_noise"] and first["question"].startswith(
        "ask customers about the installer visit (installer): worth about"
    )
    assert "What to measure next" in done.stdout and "installer" in done.stdout
    assert found["note"].split(";")[0] in done.stdout.replace("\n", " ")
    assert found["draws"] == 20 and found["max_degree"] == 3


@pytest.mark.slow  # a quick-win sweep, small
def test_ctm_quickwins_then_maturity_end_to_end(tmp_path, demo_world):
    """``ctm quickwins --posterior`` records the posterior's checksum; ``ctm maturity
    --quickwins`` reads that run: 14 touchpoints, every EVPPI at most the EVPI, the chosen plan
    the best by expected net benefit (value gained less cost) and the 10 draws' note."""
    posterior = posterior_file(tmp_path / "posterior.nc", demo_world, draws=5)
    wins = tmp_path / "quickwins"
    done = ctm("quickwins", "demo", "--posterior", str(posterior), "--draws", "10",
               "--customers", "300", "--months", "6", "--serial", "--out", str(wins))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(wins / "study" / "results.nc", engine="h5netcdf") as results:
        assert results.attrs["posterior_checksum"] == stored_checksum(posterior)
    done, found, table = what_to_measure(posterior, wins, tmp_path / "maturity")
    assert sorted(table["touchpoint"]) == sorted(demo_world.touchpoint_ids)
    assert (table["evppi"] >= 0).all() and (table["evppi"] <= found["evpi"] + 1e-6).all()
    economics = pd.read_csv(wins / "study" / "economics.csv")
    net = (economics["value_gain"] - economics["cost"]).to_numpy()
    best = economics["scenario"].iloc[net.argmax()] if net.max() > 0 else "do nothing"
    assert found["chosen"] == best and found["draws"] == 10 and found["max_degree"] == 1
    assert "rough" in found["note"] and "What to measure next" in done.stdout
