"""The memory estimate is an upper bound of a run's peak memory, and not a wild one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim.engine.simulation import memory_needed

RUN = """
import resource
from sim.engine.simulation import simulate
from sim.inputs.load import load_world
from sim.inputs.parameters import from_world
simulate(from_world(load_world("demo")), customers={customers}, months={months}, seed=1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("customers", "months"), [(20_000, 24), (60_000, 60)])
def test_the_estimate_bounds_the_peak_within_a_few_times(demo_params, customers, months):
    """The peak resident memory of a fresh process running the demo (its own ru_maxrss, in
    KiB on Linux) is below the estimate and above a quarter of it."""
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(customers=customers, months=months)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    peak = int(done.stdout.split()[-1]) * 1024
    estimate = memory_needed(demo_params, customers, months)
    assert peak <= estimate <= 4 * peak, (peak / 2**30, estimate / 2**30)
