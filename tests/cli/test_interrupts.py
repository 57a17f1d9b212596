"""Ctrl-C works: the installed command, interrupted as a terminal does (SIGINT to its process
group), stops within 2 s with one line and exit code 130, no traceback and no process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CTM = str(Path(sys.executable).parent / "ctm")
SWEEP = ["quickwins", "demo", "--customers", "3000", "--months", "12", "--draws", "6"]


def interrupt(args: list[str], after: float) -> tuple[int, str, float]:
    """Run ``ctm args``, send SIGINT to its process group ``after`` seconds later; its exit
    code, stderr and the seconds it took to stop."""
    process = subprocess.Popen(
        [CTM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(after)
    assert process.poll() is None, "the command ended before the interrupt"
    sent = time.perf_counter()
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    stopped = time.perf_counter() - sent
    for _ in range(30):  # a worker ended with the command may linger as a zombie a moment
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a process of the command's group is still there 3 s after it stopped")
    return process.returncode, stderr, stopped


@pytest.mark.slow
@pytest.mark.parametrize("executor", [[], ["--serial"]])
def test_an_interrupted_sweep_stops_at_once_and_resumes(tmp_path, executor):
    out = tmp_path / "quickwins"
    code, stderr, stopped = interrupt([*SWEEP, *executor, "--out", str(out)], after=8)
    assert code == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().endswith("the same command resumes them.")
    assert stopped < 2.0, stopped
    assert not out.exists()
    done = subprocess.run([CTM, *SWEEP, *executor, "--out", str(out)], capture_output=True)
    assert done.returncode == 0 and (out / "quickwins.csv").exists()


@pytest.mark.slow
def test_an_interrupted_simulation_stops_at_once(tmp_path):
    args = ["simulate", "demo", "--customers", "50000", "--months", "60", "--out", str(tmp_path)]
    code, stderr, stopped = interrupt(args, after=4)
    assert code == 130 and "Traceback" not in stderr and stopped < 2.0, stderr
