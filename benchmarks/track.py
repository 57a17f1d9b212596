"""``ctm track`` on a year of post-launch demo data, with and without the refit.

Run: ``.venv/bin/python benchmarks/track.py`` (``--keep DIR`` to keep the files).

Set up, not timed: ``ctm demo-data --plan scenarios/examples/fix_invoice.yaml
--launch-month 12`` (5,000 customers, 24 months: a year before the launch, a year after)
and ``ctm compare demo fix_invoice.yaml --draws 20 --customers 5000 --months 24`` (the
prediction). Timed, each as a user runs it (wall time from start to exit, and CPU time, user
+ system of the command: a busy machine stretches the first, not the second):

- ``ctm track PREDICTION --launch 2026-01-01`` with the four tables: reading and checking
  them, the counts, the bands and verdicts of 6 outcomes over 12 months, the table, figure
  and files;
- the same with ``--refit --draws 20``: the churn model refitted to the customers and
  responses (2 chains x 1,000 draws), then the plan and the baseline simulated over 20 draws
  of the new posterior (5,000 customers, 24 months).

Target (issue 19, benchmark): under 60 s with the refit.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CTM = str(Path(sys.executable).parent / "ctm")
PLAN = "scenarios/examples/fix_invoice.yaml"


def timed(*args: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of a ctm command, and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([CTM, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"ctm {' '.join(args)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="Keep the data, prediction and outputs here.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ctm-track-"))
    data, compare = folder / "data", folder / "compare"
    print("setting up: demo data with the invoice fix launched in month 12, the prediction")
    timed("demo-data", "--plan", PLAN, "--launch-month", "12", "--out", str(data))
    wall, cpu, _ = timed("compare", "demo", PLAN, "--draws", "20", "--customers", "5000",
                         "--months", "24", "--out", str(compare))  # fmt: skip
    print(f"  (ctm compare: {wall:.1f} s wall, {cpu:.1f} s CPU)")
    tables = [x for name in ("customers", "responses", "ratings", "events")
              for x in (f"--{name}", str(data / f"{name}.csv"))]  # fmt: skip
    common = [str(compare), "--launch", "2026-01-01", *tables]
    wall, cpu, out = timed("track", *common, "--out", str(folder / "track"))
    print(f"ctm track, 12 months since launch:          {wall:5.1f} s wall, {cpu:5.1f} s CPU")
    verdicts = [line for line in out.splitlines() if "on track" in line or "behind" in line]
    wall, cpu, out = timed("track", *common, "--refit", "--draws", "20", "--out",
                           str(folder / "refit"))  # fmt: skip
    print(f"ctm track --refit --draws 20:               {wall:5.1f} s wall, {cpu:5.1f} s CPU "
          "(target: under 60 s)")  # fmt: skip
    print("\n".join(verdicts[-6:]))
    print("\n".join(line for line in out.splitlines() if "before launch" in line
                    or "refitted" in line or "Churn model" in line))  # fmt: skip
    print(f"files: {folder}")


if __name__ == "__main__":
    main()
