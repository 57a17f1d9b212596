"""The memory estimate is an upper bound of a run's peak memory, and not a wild one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.engine.simulation import memory_needed

RUN = """
from pathlib import Path
from sim.engine.simulation import simulate
from sim.inputs.load import load_world
from sim.inputs.parameters import from_world
simulate(from_world(load_world("demo")), customers={customers}, months={months}, seed=1)
print(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
@pytest.mark.parametrize(("customers", "months"), [(20_000, 24), (60_000, 60)])
def test_the_estimate_bounds_the_peak_within_a_few_times(demo_params, customers, months):
    """The peak resident memory of a fresh process running the demo is below the estimate and
    above a quarter of it.

    The peak is the process's own high-water mark (VmHWM, reset at exec). Not ``ru_maxrss``:
    Linux carries it over from the parent through fork and exec, so a child of a pytest that
    had grown to 1.2 GiB read 1.2 GiB whatever it ran.
    """
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(customers=customers, months=months)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    peak = int(done.stdout.split()[-1]) * 1024
    estimate = memory_needed(demo_params, customers, months)
    assert peak <= estimate <= 4 * peak, (peak / 2**30, estimate / 2**30)
