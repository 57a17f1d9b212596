"""No litter: a fit leaves nothing in the system temp folder (PyTensor's generated source goes
to its own cache folder, :func:`models.churn.keep_generated_source`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIT = """
import numpy as np
from models.baseline import BaselineModel
at_risk = np.array([[1000, 900, 820, 760]])
churned = np.array([[100, 80, 60, 50]])
BaselineModel(kind="sbg", draws=100, tune=100).fit(at_risk, churned, ["household"])
"""


@pytest.mark.slow
def test_a_fit_leaves_nothing_in_the_temp_folder(tmp_path):
    """A fresh process with its own empty temp folder (TMPDIR) compiles and samples a model:
    the folder is still empty after. Before, each compiled function left a file there."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", FIT], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(Path(__file__).parents[2])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in temp.iterdir()) == []
