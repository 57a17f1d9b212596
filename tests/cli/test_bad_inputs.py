"""Bad inputs across every command: exit code 2, one line naming the file or option, no
traceback, nothing left behind, before any work, in under 10 s.

Each case of :data:`CASES` names the ``ctm`` arguments, the files to create for it in
``tmp_path`` and the fragment its one error line must hold. Arguments and the expected start
of the line may name ``{tmp}`` (the case's folder), ``{worlds}``, ``{scenarios}``, ``{data}``
(the defect files of the other tests), ``{demo}`` (the bundled demo tables) and ``{base}``
(the compact valid world). The work a command would start (a simulation, a sampler, the
report notebook, the maturity assessment) is replaced by a function that raises, so a bad
input refused only after the work began shows as a traceback, and no case ever runs one.

``pytest -s`` prints the count of cases tried, those refused well and the slowest refusal
(:func:`test_summary`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers import ctm

TESTS = Path(__file__).parents[1]
WORLDS = TESTS / "sim" / "worlds_bad"
SCENARIOS = TESTS / "scenarios" / "scenarios_bad"
DATA_BAD = TESTS / "models" / "data_bad"
DEMO = Path(__file__).parents[2] / "models" / "demo"
FIX = Path(__file__).parents[2] / "scenarios" / "examples" / "fix_invoice.yaml"
SECONDS = 10.0


class Case(NamedTuple):
    id: str
    args: tuple[str, ...]
    fragment: str
    start: str
    """What the line starts with: the file or the option it names."""
    files: dict[str, str | bytes | Callable[[Path], None]] = {}
    bug: str = ""
    """Why the case fails today (a strict xfail), or empty."""


# --- file contents --------------------------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)
DEEP = "name: " + "[" * 100 + "]" * 100 + "\n"
HUGE = "# " + "x" * 1_000_001 + "\n"
CUSTOMERS = (
    "customer_id,segment,start,end\n"
    "C1,household,2024-01-10,2024-03-20\n"
    "C2,household,2024-02-03,\n"
    "C3,enterprise,2024-04-01,\n"
)
COHORTS = "segment,cohort,month,alive,at_risk\n"
PATHS = "path,total_conversions,total_null\n"


def _world(old: str, new: str) -> str:
    """The compact valid world with one replacement."""
    text = (WORLDS / "valid_base.yaml").read_text()
    assert old in text, old
    return text.replace(old, new, 1)


RATED_CALLS = "    ratings: {default: [0.12, 0.15, 0.28, 0.30, 0.15]}\n"
"""The call centre's ratings, the last line of the compact world's touchpoints."""
QUEUE = "    queue:\n      agents: 1\n      handling: {mean: 6 min}\n"
"""A queue for the compact world's call centre, its further settings to follow."""


def _scenario(old: str, new: str) -> str:
    """The bundled 'Clearer invoice' scenario with one replacement."""
    text = FIX.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def _crews(appointments: str) -> str:
    """The compact valid world whose installer has crews with these ``appointments``."""
    return _world(
        "cost_per_contact: 85\n", f"cost_per_contact: 85\n    appointments: {appointments}\n"
    )


def _benchmark(competitor: str, touchpoint: str = "installer") -> str:
    """The compact valid world with a benchmark block of one competitor."""
    block = f"benchmark:\n  touchpoints:\n    {touchpoint}:\n      FibreCo: {competitor}\n"
    return _world("loyalty:\n", block + "loyalty:\n")


BASE = str(WORLDS / "valid_base.yaml")
FIRMS = (WORLDS / "valid_base.yaml").read_text().replace("business", "firms")
"""The compact world with its segment 'business' named 'firms': a posterior of the compact
world differs from it in the segments alone."""


def _posterior(world: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from sim.inputs.load import load_world
        from tests.helpers import posterior_file

        posterior_file(path, load_world(world))

    return make


def _quickwins(checksum: str, name: str = "") -> Callable[[Path], None]:
    """A quick-wins folder of the demo world (its name replaced by ``name`` if given) recorded
    as run with the posterior of ``checksum`` (none when empty)."""

    def make(path: Path) -> None:
        import numpy as np

        from sim.inputs.load import load_world
        from tests.helpers import quickwins_folder

        world = load_world("demo")
        world = world.model_copy(update={"name": name}) if name else world
        quickwins_folder(path, world, checksum, {"fix app": np.ones(2)}, [0, 1])

    return make


def _damaged(how: str) -> Callable[[Path], None]:
    """A demo posterior, then damaged: ``truncated`` bytes, ``changed`` values (the stored
    checksum no longer matches), or ``nan`` values (no checksum stored)."""

    def make(path: Path) -> None:
        import xarray as xr

        _posterior("demo")(path)
        if how == "truncated":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
            return
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
        alpha = tree["posterior"]["alpha"].copy()
        alpha.values[0, 0, 0, 0] = float("nan") if how == "nan" else alpha.values[0, 0, 0, 0] + 1
        tree["posterior"]["alpha"] = alpha
        if how == "nan":
            del tree.attrs["ctm_checksum"]
        path.unlink()
        tree.to_netcdf(path, engine="h5netcdf")

    return make


# --- the table ------------------------------------------------------------------------------

W = "{tmp}/w.yaml"
OUT = ("--out", "{tmp}/out")
SC = "{tmp}/s.yaml"
C_ = "{tmp}/c.csv"
P_ = "{tmp}/p.nc"

CASES: list[Case] = [
    # validate: world files (defects of the other tests, limits, YAML bombs)
    Case("validate-empty", ("validate", "{worlds}/empty.yaml"), "the file is empty",
         "{worlds}/empty.yaml"),
    Case("validate-not-yaml", ("validate", "{worlds}/not_yaml.yaml"), "not valid YAML",
         "{worlds}/not_yaml.yaml"),
    Case("validate-list", ("validate", "{worlds}/list_not_mapping.yaml"),
         "got a YAML list, expected a mapping", "{worlds}/list_not_mapping.yaml"),
    Case("validate-duplicate-key", ("validate", "{worlds}/duplicate_yaml_key.yaml"),
         "duplicate key", "{worlds}/duplicate_yaml_key.yaml"),
    Case("validate-duplicate-touchpoint", ("validate", "{worlds}/duplicate_touchpoint_id.yaml"),
         "touchpoints[4].id: duplicate id 'ad'", "{worlds}/duplicate_touchpoint_id.yaml"),
    Case("validate-segment-all", ("validate", "{worlds}/segment_id_all.yaml"),
         "segments[1].id: 'all' is a word the tool uses", "{worlds}/segment_id_all.yaml"),
    Case("validate-journey-sum", ("validate", "{worlds}/journey_sum_not_one.yaml"),
         "segments[1].journey.website: probabilities sum to 1.2",
         "{worlds}/journey_sum_not_one.yaml"),
    Case("validate-unknown-state", ("validate", "{worlds}/journey_unknown_touchpoint.yaml"),
         "unknown state 'shop'", "{worlds}/journey_unknown_touchpoint.yaml"),
    Case("validate-negative-cost", ("validate", "{worlds}/negative_cost_per_contact.yaml"),
         "touchpoints[2].cost_per_contact: got -85, expected >= 0",
         "{worlds}/negative_cost_per_contact.yaml"),
    Case("validate-horizon-unit", ("validate", "{worlds}/horizon_unknown_unit.yaml"),
         "economics.horizon: got '3 parsecs'", "{worlds}/horizon_unknown_unit.yaml"),
    Case("validate-misspelt", ("validate", "{worlds}/misspelt_field.yaml"), "did you mean",
         "{worlds}/misspelt_field.yaml"),
    Case("validate-missing-file", ("validate", "{tmp}/nowhere.yaml"), "no such file",
         "{tmp}/nowhere.yaml"),
    Case("validate-folder", ("validate", "{tmp}"), "is a folder, expected a YAML file", "{tmp}"),
    Case("validate-not-utf8", ("validate", W), "not a UTF-8 text file", W,
         {"w.yaml": b"name: caf\xe9\n"}),
    Case("validate-alias-bomb", ("validate", W), "values once its aliases are expanded", W,
         {"w.yaml": ALIAS_BOMB}),
    Case("validate-deep", ("validate", W), "nested more than 64 levels deep", W,
         {"w.yaml": DEEP}),
    Case("validate-huge", ("validate", W), "is larger than 1,000,000 bytes", W,
         {"w.yaml": HUGE}),
    Case("validate-prospects-limit", ("validate", W),
         "segments[0].prospects_per_month: got 1000000000000.0, expected <= 100000000", W,
         {"w.yaml": _world("prospects_per_month: 100\n", "prospects_per_month: 1.0e+12\n")}),
    Case("validate-contacts-limit", ("validate", W),
         "segments[0].contacts_per_month.call_centre", W,
         {"w.yaml": _world("contacts_per_month: {call_centre: 0.1}",
                           "contacts_per_month: {call_centre: 1.0e+9}")}),
    Case("validate-horizon-limit", ("validate", W), "economics.horizon", W,
         {"w.yaml": _world("horizon: 12 months", "horizon: 100000 months")}),
    Case("validate-number-as-text", ("validate", W), "got '1e5' as text, expected a number", W,
         {"w.yaml": _world("prospects_per_month: 100\n", "prospects_per_month: 1e5\n")}),
    Case("validate-name-control", ("validate", W), "holds the control character", W,
         {"w.yaml": _world("name: Compact test world", 'name: "Compact\\x1b[31m world"')}),
    Case("validate-name-nul", ("validate", W), "holds the control character", W,
         {"w.yaml": _world("name: Compact test world", 'name: "Compact\\0world"')}),
    # appointments: crews' capacity, waits, days; the engine that simulates them
    Case("validate-crews-negative", ("validate", W), "visits_per_day: got -40, expected > 0", W,
         {"w.yaml": _crews("{visits_per_day: -40, max_wait: 10 days}")}),
    Case("validate-crews-bad-after", ("validate", W),
         "bad_after (12 days) is longer than max_wait (10 days)", W,
         {"w.yaml": _crews("{visits_per_day: 40, max_wait: 10 days, bad_after: 12 days}")}),
    Case("validate-crews-day", ("validate", W), "days[1]: input should be 'mon', 'tue'", W,
         {"w.yaml": _crews("{visits_per_day: 40, max_wait: 10 days, days: [mon, tues]}")}),
    Case("simulate-crews-compiled", ("simulate", W, "--engine", "compiled", *OUT),
         "touchpoints[2].appointments: appointments (crews booked by the day) are served by "
         "the agent engine only, expected --engine agents", W,
         {"w.yaml": _crews("{visits_per_day: 40, max_wait: 10 days}")}),
    Case("validate-priority-segment", ("validate", W),
         "touchpoints[3].queue.priority.firms: unknown segment 'firms', expected one of", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE + "      priority: [firms]\n")}),
    Case("validate-shift-ends-first", ("validate", W),
         "touchpoints[3].queue.shifts[0]: ends at 08:00, not after it starts (20:00)", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + '      shifts: [{from: "20:00", to: "08:00", agents: 2}]\n')}),
    Case("validate-shift-agents", ("validate", W), "touchpoints[3].queue.shifts[0].agents", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + '      shifts: [{from: "08:00", to: "20:00", agents: -2}]\n')}),
    Case("validate-profile-hours", ("validate", W),
         "touchpoints[3].queue.profile.by_hour: has 23 weights, expected 24", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + f"      profile: {{by_hour: {[1] * 23}}}\n")}),
    Case("validate-profile-zero", ("validate", W),
         "touchpoints[3].queue.profile.by_weekday: weights are all zero", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + f"      profile: {{by_weekday: {[0] * 7}}}\n")}),
    Case("validate-profile-negative", ("validate", W),
         "touchpoints[3].queue.profile.by_weekday[6]", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + f"      profile: {{by_weekday: {[1] * 6 + [-1]}}}\n")}),
    # simulate: options, worlds, outputs
    Case("simulate-compiled-shifts", ("simulate", W, *OUT),
         "touchpoints[3].queue.shifts: the agent engine alone serves agents' shifts, expected "
         "--engine agents", W,
         {"w.yaml": _world(RATED_CALLS, RATED_CALLS + QUEUE
                           + '      shifts: [{from: "08:00", to: "20:00", agents: 2}]\n')}),
    Case("simulate-customers", ("simulate", "demo", "--customers", "1000000000", *OUT),
         "got 1,000,000,000, expected 1 to 100,000,000", "--customers"),
    Case("simulate-months", ("simulate", "demo", "--months", "100000", *OUT),
         "got 100,000, expected 1 to 600", "--months"),
    Case("simulate-seed", ("simulate", "demo", "--seed", str(2**64), *OUT),
         "got 18,446,744,073,709,551,616, expected 0 to", "--seed"),
    Case("simulate-memory", ("simulate", "demo", "--customers", "100000000", *OUT),
         "need about", "--customers"),
    Case("simulate-alias-bomb", ("simulate", W, *OUT), "aliases are expanded", W,
         {"w.yaml": ALIAS_BOMB}),
    Case("simulate-out-file", ("simulate", "{base}", "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    Case("simulate-out-dot", ("simulate", "{base}", "--out", "."), "is not a folder's name",
         "."),
    Case("simulate-out-empty", ("simulate", "{base}", "--out", ""), "is not a folder's name",
         "."),
    Case("simulate-out-parent-file", ("simulate", "{base}", "--out", "{tmp}/taken/run"),
         "its folder is a file", "{tmp}/taken/run", {"taken": "x"}),
    # compare: scenario files, names, posteriors, options, outputs
    *[
        Case(f"compare-{name}", ("compare", "demo", f"{{scenarios}}/{name}.yaml", *OUT),
             fragment, f"{{scenarios}}/{name}.yaml")
        for name, fragment in [
            ("empty", "the file is empty"),
            ("unknown_kind", "edits[0].kind: unknown kind 'improve'"),
            ("edit_without_kind", "edits[0]: no 'kind'"),
            ("fix_unknown_touchpoint", "edits[0].touchpoint: unknown touchpoint 'invoise'"),
            ("bad_ratings_word", "edits[0].bad_ratings: got 'eliminate'"),
            ("traffic_sum_not_one", "shares sum to"),
            ("traffic_share_above_one", "edits[0].traffic.successors: got 1.5, expected <= 1"),
            ("traffic_unknown_touchpoint", "traffic"),
            ("add_existing_id", "touchpoint 'store' exists in the world"),
            ("remove_essential", "touchpoint 'call_centre' is essential"),
            ("remove_twice", "touchpoint 'store' is removed by edits[0]"),
            ("queue_on_unqueued", "'invoice' has no queue"),
            ("duplicate_yaml_key", "duplicate key 'monthly_cost'"),
            ("no_edits", "edits: has 0 items, expected at least 1"),
        ]
    ],
    Case("compare-name-baseline", ("compare", "demo", SC, *OUT),
         "name: 'Baseline' is the name of the run without edits", SC,
         {"s.yaml": _scenario("name: Clearer invoice", "name: Baseline")}),
    Case("compare-name-control", ("compare", "demo", SC, *OUT), "holds the control character", SC,
         {"s.yaml": _scenario("name: Clearer invoice", 'name: "Clearer\\x1b]0;pwned\\x07"')}),
    Case("compare-name-nul", ("compare", "demo", SC, *OUT), "holds the control character", SC,
         {"s.yaml": _scenario("name: Clearer invoice", 'name: "Clearer\\0invoice"')}),
    Case("compare-name-twice", ("compare", "demo", str(FIX), SC, *OUT),
         "'Clearer invoice' is the name of another scenario given", SC,
         {"s.yaml": FIX.read_text()}),
    Case("compare-after-the-run", ("compare", "demo", SC, "--months", "12", *OUT),
         "edits[0]: takes effect in month 12, at or after the run's end (12 months)", SC,
         {"s.yaml": (FIX.parent / "remove_store_visit.yaml").read_text()}),
    Case("compare-alias-bomb", ("compare", "demo", SC, *OUT), "aliases are expanded", SC,
         {"s.yaml": ALIAS_BOMB}),
    Case("compare-deep", ("compare", "demo", SC, *OUT), "nested more than 64", SC,
         {"s.yaml": DEEP}),
    Case("compare-plan-baseline", ("compare", "demo", str(FIX), "--plan", "baseline", *OUT),
         "'baseline' is the name of the run without edits", "--plan"),
    Case("compare-plan-all-space", ("compare", "demo", str(FIX), "--plan", " All ", *OUT),
         "expected no space at its start or end", "--plan"),
    Case("compare-plan-empty", ("compare", "demo", str(FIX), "--plan", "", *OUT), "is empty",
         "--plan"),
    Case("compare-plan-control", ("compare", "demo", str(FIX), "--plan", "a\x1b[2Jb", *OUT),
         "holds the control character", "--plan"),
    Case("compare-plan-scenario", ("compare", "demo", str(FIX), "--plan", "Clearer invoice",
                                   *OUT),
         "'Clearer invoice' is the name of a scenario given", "--plan"),
    Case("compare-draws-limit", ("compare", "demo", str(FIX), "--draws", "1000000", *OUT),
         "got 1,000,000, expected 1 to 100,000", "--draws"),
    Case("compare-replications", ("compare", "demo", str(FIX), "--replications", "100000",
                                  *OUT), "expected 1 to 10,000", "--replications"),
    Case("compare-posterior-not-netcdf", ("compare", "demo", str(FIX), "--posterior", P_, *OUT),
         "not a netCDF posterior file", P_, {"p.nc": "not a netCDF file\n"}),
    Case("compare-posterior-missing", ("compare", "demo", str(FIX), "--posterior", P_, *OUT),
         "no such file", P_),
    Case("compare-posterior-other-world", ("compare", W, str(FIX), "--posterior", P_, *OUT),
         "ctm_segments: fitted to business not in the world; the world's firms missing", P_,
         {"w.yaml": FIRMS, "p.nc": _posterior(BASE)}),
    Case("compare-posterior-truncated", ("compare", "demo", str(FIX), "--posterior", P_, *OUT),
         "not a netCDF posterior file", P_, {"p.nc": _damaged("truncated")}),
    Case("compare-posterior-changed", ("compare", "demo", str(FIX), "--posterior", P_, *OUT),
         "ctm_checksum: the draws differ", P_, {"p.nc": _damaged("changed")}),
    Case("compare-posterior-nan", ("compare", "demo", str(FIX), "--posterior", P_, *OUT),
         "alpha: 1 values NaN or infinite", P_, {"p.nc": _damaged("nan")}),
    Case("compare-draws-beyond-posterior",
         ("compare", "demo", str(FIX), "--posterior", P_, "--draws", "50", *OUT),
         "ask for at most that many", P_, {"p.nc": _posterior("demo")}),
    Case("compare-out-file", ("compare", "demo", str(FIX), "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    Case("compare-out-dot", ("compare", "demo", str(FIX), "--out", "."),
         "is not a folder's name", "."),
    Case("compare-out-parent-file", ("compare", "demo", str(FIX), "--out", "{tmp}/taken/x"),
         "its folder is a file", "{tmp}/taken/x", {"taken": "x"}),
    Case("compare-scenario-folder-empty", ("compare", "demo", "{tmp}/none", *OUT),
         "is a folder, expected a YAML file", "{tmp}/none", {"none/.keep": ""}),
    # quickwins: costs files, options, outputs
    Case("quickwins-costs-unknown", ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT),
         "unknown touchpoint 'invoise'", "{tmp}/c.yaml",
         {"c.yaml": "touchpoints:\n  invoise:\n    fix: {one_off_cost: 1, effort_weeks: 1}\n"}),
    Case("quickwins-costs-negative", ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT),
         "touchpoints.invoice.fix.one_off_cost: got -1, expected >= 0", "{tmp}/c.yaml",
         {"c.yaml": "touchpoints:\n  invoice:\n    fix: {one_off_cost: -1, effort_weeks: 1}\n"}),
    Case("quickwins-costs-missing", ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT),
         "touchpoints.invoice.fix.effort_weeks: missing", "{tmp}/c.yaml",
         {"c.yaml": "touchpoints:\n  invoice:\n    fix: {one_off_cost: 1}\n"}),
    Case("quickwins-costs-bomb", ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT),
         "aliases are expanded", "{tmp}/c.yaml", {"c.yaml": ALIAS_BOMB}),
    Case("quickwins-costs-missing-file",
         ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT), "no such file",
         "{tmp}/c.yaml"),
    Case("quickwins-months", ("quickwins", "demo", "--months", "100000", *OUT),
         "expected 1 to 600", "--months"),
    Case("quickwins-memory", ("quickwins", "demo", "--customers", "20000000", *OUT),
         "need about", "--customers"),
    Case("quickwins-out-file", ("quickwins", "demo", "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    # attribution: world mode and --paths
    Case("attribution-both", ("attribution", "demo", "--paths", C_, *OUT),
         "got both, expected a world file", "ctm attribution", {"c.csv": PATHS + "a,1,0\n"}),
    Case("attribution-neither", ("attribution", *OUT), "got neither", "ctm attribution"),
    Case("attribution-paths-posterior", ("attribution", "--paths", C_, "--posterior", P_, *OUT),
         "a posterior is for a world", P_, {"c.csv": PATHS + "a,1,0\n"}),
    Case("attribution-seed", ("attribution", "demo", "--seed", str(2**64), *OUT),
         "expected 0 to", "--seed"),
    Case("attribution-posterior-other-world", ("attribution", W, "--posterior", P_, *OUT),
         "ctm_segments: fitted to business not in the world", P_,
         {"w.yaml": FIRMS, "p.nc": _posterior(BASE)}),
    Case("attribution-out-file", ("attribution", "demo", "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    Case("paths-empty-path", ("attribution", "--paths", C_, *OUT),
         "row 2, column path: empty", C_, {"c.csv": PATHS + "a > b,1,0\n,1,1\n"}),
    Case("paths-separator", ("attribution", "--paths", C_, *OUT), "an unknown separator", C_,
         {"c.csv": PATHS + '"a|b",1,0\n'}),
    Case("paths-both-zero", ("attribution", "--paths", C_, *OUT),
         "columns total_conversions and total_null: both 0", C_,
         {"c.csv": PATHS + "a > b,0,0\n"}),
    Case("paths-negative", ("attribution", "--paths", C_, *OUT),
         "row 1, column total_null: -2 is negative", C_, {"c.csv": PATHS + "a > b,1,-2\n"}),
    Case("paths-reserved-step", ("attribution", "--paths", C_, *OUT),
         "is a state of the chain", C_, {"c.csv": PATHS + "a > conversion,1,0\n"}),
    Case("paths-columns", ("attribution", "--paths", C_, *OUT), "expected columns", C_,
         {"c.csv": "route,count\na,1\n"}),
    Case("paths-suffix", ("attribution", "--paths", "{tmp}/c.xlsx", *OUT),
         "unsupported file type '.xlsx'", "{tmp}/c.xlsx", {"c.xlsx": PATHS + "a,1,0\n"}),
    Case("paths-out-file", ("attribution", "--paths", C_, "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken",
         {"c.csv": PATHS + "a > b,1,2\n", "taken": "x"}),
    # report
    Case("report-scenario", ("report", "--scenarios", "{scenarios}/unknown_kind.yaml",
                             "--out", "{tmp}/r.html"),
         "unknown kind 'improve'", "{scenarios}/unknown_kind.yaml"),
    Case("report-plan", ("report", "--plan", "baseline", "--out", "{tmp}/r.html"),
         "'baseline' is the name of the run without edits", "--plan"),
    Case("report-posterior", ("report", "--posterior", P_, "--out", "{tmp}/r.html"),
         "not a netCDF posterior file", P_, {"p.nc": b"\x89HDF\r\n\x1a\n garbage"}),
    Case("report-world-bomb", ("report", "--world", W, "--out", "{tmp}/r.html"),
         "aliases are expanded", W, {"w.yaml": ALIAS_BOMB}),
    Case("report-out-folder", ("report", "--out", "{tmp}/folder"),
         "is a folder, expected the name of a file", "{tmp}/folder", {"folder/.keep": ""}),
    Case("report-customers", ("report", "--customers", "1000000000", "--out", "{tmp}/r.html"),
         "expected 1 to 100,000,000", "--customers"),
    # fit: customers alone, cohorts, survey
    Case("fit-customers-columns", ("fit", "--customers", C_, "--out", P_),
         "columns: missing end", C_, {"c.csv": "customer_id,segment,start\nC1,a,2024-01-01\n"}),
    Case("fit-customers-date", ("fit", "--customers", C_, "--out", P_),
         "row 2, column start", C_, {"c.csv": CUSTOMERS.replace("2024-02-03", "2024-02-31")}),
    Case("fit-customers-end-before-start", ("fit", "--customers", C_, "--out", P_),
         "is before start", C_, {"c.csv": CUSTOMERS.replace("2024-03-20", "2023-12-01")}),
    Case("fit-customers-after-snapshot",
         ("fit", "--customers", C_, "--snapshot", "2024-03-31", "--out", P_),
         "is after the snapshot 2024-03-31", C_, {"c.csv": CUSTOMERS}),
    Case("fit-customers-reserved-segment", ("fit", "--customers", C_, "--out", P_),
         "segment 'all' is a word the tool uses", C_,
         {"c.csv": CUSTOMERS.replace("enterprise", "all")}),
    Case("fit-customers-duplicate-id", ("fit", "--customers", C_, "--out", P_),
         "row 2, column customer_id", C_, {"c.csv": CUSTOMERS.replace("C2", "C1")}),
    Case("fit-customers-unknown-segment", ("fit", "--world", "demo", "--customers", C_,
                                           "--out", P_),
         "row 1, column segment", C_, {"c.csv": CUSTOMERS.replace("C1,household", "C1,martians")
                                       .replace("C3,enterprise", "C3,household")}),
    Case("fit-customers-latin1", ("fit", "--customers", "{data}/customers_latin1.csv",
                                  "--out", P_),
         "is not UTF-8", "{data}/customers_latin1.csv"),
    Case("fit-customers-not-parquet", ("fit", "--customers", "{data}/not_parquet.parquet",
                                       "--out", P_),
         "cannot be read as Parquet", "{data}/not_parquet.parquet"),
    Case("fit-customers-header-only", ("fit", "--customers", C_, "--out", P_),
         "no data rows below the header", C_, {"c.csv": "customer_id,segment,start,end\n"}),
    Case("fit-snapshot", ("fit", "--customers", C_, "--snapshot", "soon", "--out", P_),
         "got 'soon', expected a date", "--snapshot", {"c.csv": CUSTOMERS}),
    Case("fit-baseline", ("fit", "--customers", C_, "--baseline", "spline", "--out", P_),
         "got 'spline', expected walk or sbg", "--baseline", {"c.csv": CUSTOMERS}),
    Case("fit-out-folder", ("fit", "--customers", C_, "--out", "{tmp}"),
         "is a folder, expected the name of a file", "{tmp}", {"c.csv": CUSTOMERS}),
    Case("fit-out-empty", ("fit", "--customers", C_, "--out", ""),
         "is a folder, expected the name of a file", ".", {"c.csv": CUSTOMERS}),
    Case("fit-out-parent-file", ("fit", "--customers", C_, "--out", "{tmp}/c.csv/p.nc"),
         "its folder is a file", "{tmp}/c.csv/p.nc", {"c.csv": CUSTOMERS}),
    Case("fit-cohorts-rising", ("fit", "--cohorts", C_, "--out", P_),
         "row 3, column alive: segment 'household' has more customers alive in month 2", C_,
         {"c.csv": "segment,month,alive\nhousehold,0,100\nhousehold,1,90\nhousehold,2,95\n"}),
    Case("fit-cohorts-negative", ("fit", "--cohorts", C_, "--out", P_),
         "row 2, column alive", C_,
         {"c.csv": "segment,month,alive\nhousehold,0,100\nhousehold,1,-5\n"}),
    Case("fit-cohorts-unknown-segment", ("fit", "--cohorts", C_, "--out", P_),
         "row 2, column segment: unknown segment 'martians'", C_,
         {"c.csv": "segment,month,alive\nhousehold,0,100\nmartians,0,90\n"}),
    Case("fit-cohorts-at-risk", ("fit", "--cohorts", C_, "--out", P_),
         "has 120 at risk in month 1 but 100 alive in month 0", C_,
         {"c.csv": COHORTS + "household,2024-01,0,100,\nhousehold,2024-01,1,80,120\n"}),
    Case("fit-cohorts-with-events", ("fit", "--cohorts", C_, "--events", C_, "--out", P_),
         "--events and --ratings need --customers", "ctm fit",
         {"c.csv": "segment,month,alive\nhousehold,0,100\n"}),
    Case("fit-responses-alone", ("fit", "--responses", C_, "--out", P_),
         "--customers and --responses are needed", "ctm fit",
         {"c.csv": "customer_id,date,invoice\nC1,2024-01-15,4\n"}),
    Case("fit-survey-ragged", ("fit", "--world", "demo", "--customers", "{tmp}/k.csv",
                               "--responses", "{data}/responses_ragged.csv", "--out", P_),
         "cannot be read as CSV", "{data}/responses_ragged.csv",
         {"k.csv": "customer_id,segment,start,end\nC1,household,2024-01-01,\n"
                   "C2,household,2024-01-01,\n"}),
    Case("fit-survey-rating", ("fit", "--world", "demo", "--customers", "{tmp}/k.csv",
                               "--responses", C_, "--out", P_),
         "row 1, column invoice", C_,
         {"k.csv": "customer_id,segment,start,end\nC1,household,2024-01-01,\n",
          "c.csv": "customer_id,date,invoice\nC1,2024-01-15,7\n"}),
    Case("fit-survey-unknown-customer", ("fit", "--world", "demo", "--customers", "{tmp}/k.csv",
                                         "--responses", C_, "--out", P_),
         "row 1, column customer_id", C_,
         {"k.csv": "customer_id,segment,start,end\nC1,household,2024-01-01,\n",
          "c.csv": "customer_id,date,invoice\nC9,2024-01-15,4\n"}),
    # cohorts
    Case("cohorts-columns", ("cohorts", C_, "--out", "{tmp}/k.csv"), "columns: missing", C_,
         {"c.csv": "id,segment\n1,a\n"}),
    Case("cohorts-world-segment", ("cohorts", C_, "--world", "demo", "--out", "{tmp}/k.csv"),
         "row 3, column segment", C_, {"c.csv": CUSTOMERS.replace("enterprise", "martians")}),
    Case("cohorts-snapshot", ("cohorts", C_, "--snapshot", "2024-13-45", "--out",
                              "{tmp}/k.csv"),
         "expected a date", "--snapshot", {"c.csv": CUSTOMERS}),
    Case("cohorts-after-snapshot", ("cohorts", C_, "--snapshot", "2024-03-31", "--out",
                                    "{tmp}/k.csv"),
         "is after the snapshot", C_, {"c.csv": CUSTOMERS}),
    Case("cohorts-out-dot", ("cohorts", C_, "--out", "."),
         "is a folder, expected the name of a file", ".", {"c.csv": CUSTOMERS}),
    Case("cohorts-missing-file", ("cohorts", C_, "--out", "{tmp}/k.csv"), "no such file", C_),
    # demo-data
    Case("demo-data-world", ("demo-data", W, *OUT), "nested more than 64", W, {"w.yaml": DEEP}),
    Case("demo-data-customers", ("demo-data", "--customers", "1000000000", *OUT),
         "expected 1 to 100,000,000", "--customers"),
    Case("demo-data-months", ("demo-data", "--months", "100000", *OUT),
         "expected 1 to 600", "--months"),
    Case("demo-data-seed", ("demo-data", "--seed", str(2**64), *OUT),
         "expected 0 to", "--seed"),
    Case("demo-data-out-file", ("demo-data", "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    # staffing
    Case("staffing-handling", ("staffing", "--calls-per-hour", "100", "--handling",
                               "3 parsecs"),
         "--handling: got '3 parsecs'", "ctm staffing"),
    Case("staffing-patience", ("staffing", "--calls-per-hour", "100", "--handling", "3 min",
                               "--patience", "120% within 1 min"),
         "--patience", "ctm staffing"),
    Case("staffing-target", ("staffing", "--calls-per-hour", "100", "--handling", "3 min",
                             "--target", "80% sometime"),
         "--target", "ctm staffing"),
    # maturity
    Case("maturity-world", ("maturity", W), "duplicate key", W,
         {"w.yaml": "name: a\nname: b\n"}),
    Case("maturity-customers", ("maturity", "demo", "--customers", C_, "--out", "{tmp}/out"),
         "row 3, column segment", C_, {"c.csv": CUSTOMERS.replace("enterprise", "martians")}),
    Case("maturity-events", ("maturity", "demo", "--events", C_, "--out", "{tmp}/out"),
         "expected columns", C_, {"c.csv": "who,what\n1,2\n"}),
    Case("maturity-posterior", ("maturity", W, "--posterior", P_, "--out", "{tmp}/out"),
         "ctm_segments: fitted to business not in the world", P_,
         {"w.yaml": FIRMS, "p.nc": _posterior(BASE)}),
    Case("maturity-out-file", ("maturity", "demo", "--customers", C_, "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"c.csv": CUSTOMERS, "taken": "x"}),
    Case("maturity-quickwins-alone", ("maturity", "demo", "--quickwins", "{tmp}/qw", *OUT),
         "expected --posterior too", "--quickwins"),
    Case("maturity-quickwins-missing",
         ("maturity", "demo", "--posterior", P_, "--quickwins", "{tmp}/qw", *OUT),
         "no such file, expected a folder written by 'ctm quickwins'",
         "{tmp}/qw/study/results.nc", {"p.nc": _posterior("demo")}),
    Case("maturity-quickwins-other",
         ("maturity", "demo", "--posterior", P_, "--quickwins", "{tmp}/qw", *OUT),
         "another posterior's draws", "{tmp}/qw/study/results.nc",
         {"p.nc": _posterior("demo"), "qw": _quickwins("0" * 64)}),
    Case("maturity-quickwins-no-posterior",
         ("maturity", "demo", "--posterior", P_, "--quickwins", "{tmp}/qw", *OUT),
         "quick wins run without a posterior", "{tmp}/qw/study/results.nc",
         {"p.nc": _posterior("demo"), "qw": _quickwins("")}),
    Case("maturity-quickwins-world",
         ("maturity", "demo", "--posterior", P_, "--quickwins", "{tmp}/qw", *OUT),
         "world: quick wins of 'Another world', expected 'Northwind Broadband (demo)'",
         "{tmp}/qw/study/results.nc",
         {"p.nc": _posterior("demo"), "qw": _quickwins("0" * 64, "Another world")}),
    Case("maturity-quickwins-garbage",
         ("maturity", "demo", "--posterior", P_, "--quickwins", "{tmp}/qw", *OUT),
         "unreadable files, expected a folder written by 'ctm quickwins'", "{tmp}/qw",
         {"p.nc": _posterior("demo"), "qw/study/results.nc": "not netCDF\n",
          "qw/quickwins.parquet": "not Parquet\n"}),
    # benchmark: competitors' ratings in the world file, the command, a market move
    Case("validate-benchmark-touchpoint", ("validate", W),
         "benchmark.touchpoints.installr: unknown touchpoint 'installr'", W,
         {"w.yaml": _benchmark("{counts: [1, 2, 3, 4, 5]}", "installr")}),
    Case("validate-benchmark-sum", ("validate", W),
         "benchmark.touchpoints.installer.FibreCo.ratings: rating probabilities sum to 0.9", W,
         {"w.yaml": _benchmark("{ratings: [0.1, 0.1, 0.2, 0.3, 0.2]}")}),
    Case("validate-benchmark-negative", ("validate", W),
         "benchmark.touchpoints.installer.FibreCo.counts[2]: got -3, expected >= 0", W,
         {"w.yaml": _benchmark("{counts: [1, 2, -3, 4, 5]}")}),
    Case("benchmark-touchpoint", ("benchmark", W, *OUT), "unknown touchpoint 'installr'", W,
         {"w.yaml": _benchmark("{counts: [1, 2, 3, 4, 5]}", "installr")}),
    Case("benchmark-no-block", ("benchmark", "{base}", *OUT), "benchmark: missing, expected",
         "{base}"),
    Case("benchmark-draws", ("benchmark", "demo", "--draws", "1000000", *OUT),
         "expected 1 to 100,000", "--draws"),
    Case("benchmark-out-file", ("benchmark", "demo", "--out", "{tmp}/taken"),
         "is a file, expected a folder", "{tmp}/taken", {"taken": "x"}),
    Case("compare-market-move-sum", ("compare", "demo", SC, *OUT),
         "edits[0].ratings: rating probabilities sum to 0.5", SC,
         {"s.yaml": _scenario("  - kind: fix\n    touchpoint: invoice\n",
                              "  - kind: market_move\n    touchpoint: installer\n"
                              "    competitor: FibreCo\n    extra_hazard_per_point: 0.1\n"
                              "    ratings: [0.1, 0.1, 0.1, 0.1, 0.1]\n")
                    .replace("    bad_ratings: halve", "#")}),
    # more sizes, files and names
    Case("validate-device", ("validate", "/dev/null"), "is not a regular file", "/dev/null"),
    Case("quickwins-costs-huge", ("quickwins", "demo", "--costs", "{tmp}/c.yaml", *OUT),
         "is larger than 1,000,000 bytes", "{tmp}/c.yaml", {"c.yaml": HUGE}),
    Case("compare-out-empty", ("compare", "demo", str(FIX), "--out", ""),
         "is not a folder's name", "."),
    Case("report-out-empty", ("report", "--out", ""), "is a folder, expected the name of a file",
         "."),
    Case("paths-draws", ("attribution", "--paths", C_, "--draws", "1000000000", *OUT),
         "expected 1 to 100,000", "--draws", {"c.csv": PATHS + "a > b,1,2\n"}),
    Case("paths-seed", ("attribution", "--paths", C_, "--seed", str(2**64), *OUT),
         "expected 0 to", "--seed", {"c.csv": PATHS + "a > b,1,2\n"}),
    # options typer refuses itself: a usage message in a box, not one line
    Case("simulate-months-zero", ("simulate", "demo", "--months", "0", *OUT),
         "greater than or equal to 1", "--months"),
    Case("compare-draws-word", ("compare", "demo", str(FIX), "--draws", "abc", *OUT),
         "valid integer", "--draws"),
    Case("fit-seed", ("fit", "--customers", C_, "--seed", str(2**64), "--out", P_),
         "less than or equal to 4294967295", "--seed", {"c.csv": CUSTOMERS}),
    Case("staffing-negative", ("staffing", "--calls-per-hour", "-1", "--handling", "3 min"),
         "greater than or equal to 0", "--calls-per-hour"),
    Case("simulate-unknown-option", ("simulate", "demo", "--bogus", "1", *OUT),
         "No such option: --bogus", "--bogus"),
]  # fmt: skip

TRIED: dict[str, float] = {}
"""Seconds per case run."""
REFUSED_WELL: set[str] = set()


@pytest.fixture
def no_work(monkeypatch):
    """Replace the work each command would start by a function that raises, so a case that
    reaches it fails with a traceback instead of running it."""
    import models.benchmark
    import models.fitting
    import models.maturity
    import notebooks.report
    import scenarios.attribution
    import scenarios.quickwins
    import scenarios.study
    import sim.engine.feedback
    import sim.engine.simulation

    def started(*args, **kwargs):
        raise RuntimeError("work started before the bad input was refused")

    for module, name in [
        (sim.engine.simulation, "simulate"),
        (sim.engine.feedback, "demo_data"),
        (scenarios.study, "run_study"),
        (scenarios.quickwins, "quick_wins"),
        (scenarios.attribution, "attribution"),
        (scenarios.attribution, "path_attribution"),
        (models.fitting, "fit_churn"),
        (models.fitting, "fit_baseline"),
        (models.maturity, "assess"),
        (models.benchmark, "gaps"),
        (notebooks.report, "execute"),
    ]:
        monkeypatch.setattr(module, name, started)


def _fill(text: str, tmp: Path) -> str:
    return text.format(
        tmp=tmp, worlds=WORLDS, scenarios=SCENARIOS, data=DATA_BAD, demo=DEMO,
        base=WORLDS / "valid_base.yaml",
    )  # fmt: skip


def _tree(root: Path, deep: bool = True) -> set[str]:
    """Every path under ``root`` (``deep``), or its entries alone."""
    return {str(p.relative_to(root)) for p in (root.rglob("*") if deep else root.iterdir())}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=c.bug))
        if c.bug
        else pytest.param(c, id=c.id)
        for c in CASES
    ],
)
def test_bad_input_is_refused_in_one_line(case: Case, tmp_path, no_work):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    args = [_fill(a, tmp_path) for a in case.args]
    before, cwd_before = _tree(tmp_path), _tree(Path.cwd(), deep=False)

    began = time.perf_counter()
    done = ctm(*args)
    TRIED[case.id] = seconds = time.perf_counter() - began

    shown = f"ctm {' '.join(map(repr, args))}\nexit {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr + done.stdout, shown
    assert done.returncode == 2, shown
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), shown
    line = lines[0]
    assert line.startswith(f"{_fill(case.start, tmp_path)}: "), shown
    assert case.fragment in line, shown
    assert _tree(tmp_path) == before, f"left behind: {_tree(tmp_path) - before}"
    assert _tree(Path.cwd(), deep=False) == cwd_before  # --out . or ""
    if "--out" in args:  # a new output is not there; an existing file or folder is as it was
        out = Path(args[args.index("--out") + 1])
        if out.is_relative_to(tmp_path) and out != tmp_path:
            assert out.exists() == (str(out.relative_to(tmp_path)) in before), out
    assert seconds < SECONDS, f"{seconds:.1f} s"
    REFUSED_WELL.add(case.id)


def test_summary():
    """At least 80 cases; with ``-s``, the count tried, refused well and the slowest."""
    assert len(CASES) >= 80 and len({c.id for c in CASES}) == len(CASES)
    if not TRIED:
        pytest.skip("no case ran in this session")
    slowest = max(TRIED, key=TRIED.get)
    xfail = sum(1 for c in CASES if c.bug)
    print(
        f"\nbad inputs: {len(TRIED)} tried, {len(REFUSED_WELL)} refused well, {xfail} known "
        f"bugs (xfail); slowest refusal {slowest} {TRIED[slowest]:.2f} s"
    )
