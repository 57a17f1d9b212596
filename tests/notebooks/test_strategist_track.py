"""The strategist notebook after a launch: the plan held against demo data in which it
happened (slow: runs the notebook with papermill)."""

from __future__ import annotations

import nbformat
import pytest

from notebooks.report import execute
from scenarios.launch import launched
from scenarios.load import EXAMPLES, load_scenario
from sim.engine.feedback import demo_data, write_demo_data
from tests.helpers import notebook_outputs as outputs

pytestmark = pytest.mark.slow


def test_the_launched_plan_is_held_against_its_prediction(tmp_path, demo_world, demo_params):
    """The invoice fix alone, staged at its own month 4, launched in month 4 of 10 months of
    demo data (2025-05-01): the section says the verdicts after 6 months, shows their table
    and the figure."""
    invoice = load_scenario(EXAMPLES / "fix_invoice.yaml", demo_world)
    first, changes = launched(demo_params, invoice, 4, 10)
    tables = demo_data(first, customers=1_500, months=10, seed=2, changes=changes)
    (tmp_path / "data").mkdir()
    write_demo_data(tables, first, tmp_path / "data")
    settings = {"draws": 2, "customers": 1_500, "months": 12, "seed": 1, "executor": "serial"}
    executed = execute(
        "strategist_plan",
        {
            **settings,
            "scenarios": [str(EXAMPLES / "fix_invoice.yaml")],
            "launch": "2025-05-01",
            "tracked": str(tmp_path / "data"),
        },  # fmt: skip
        tmp_path / "strategist.ipynb",
    )
    notebook = nbformat.read(executed, as_version=4)
    text = "\n".join(outputs(notebook, "text/markdown"))
    assert "**Staged plan**, 6 months since the launch on 2025-05-01: on track on " in text
    assert any("p_half_effect" in html for html in outputs(notebook, "text/html"))
    assert len(outputs(notebook, "image/png")) == 10  # the plan's 9 and the tracking
    assert not outputs(notebook, "stderr")
