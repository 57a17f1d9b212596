"""What to measure next on top of the quick wins: EVPPI of every touchpoint's churn effect.

Run: ``.venv/bin/python benchmarks/evppi.py`` (the demo posterior out/demo/posterior.nc, as
``make demo`` writes it; ``--posterior FILE`` for another), which runs ``ctm quickwins demo``
at the demo's size (10 draws x 2,000 customers x 24 months, as ``make demo``) into a temporary
folder, then times what EVPPI adds: reading and checking the folder, and the estimate for
each of the 14 touchpoints (a polynomial fit per option, 200 bootstrap resamples and 200
permutations each: :mod:`scenarios.information`). ``--quickwins FOLDER`` (repeatable) times
EVPPI over folders already written instead of running the sweep (e.g. ``--draws 100``
sweeps, to see how the cost grows with the draws).

Reported: the sweep's wall time; per folder the draws, options, the EVPPI's wall and CPU time
against the target, and the demo's figures (EVPI, the top three EVPPI with standard errors
and noise floors, how many are above the noise). Target (issue 19): EVPPI under 10 s on top
of the sweep.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 10.0
"""Seconds: what EVPPI may add to the sweep."""
DEMO_SIZE = ("--draws", "10", "--customers", "2000", "--months", "24")
"""The sweep of ``make demo``."""


def sweep(posterior: Path, out: Path) -> float:
    """Run ``ctm quickwins demo`` at the demo's size; its wall time."""
    ctm = Path(sys.executable).parent / "ctm"
    args = [str(ctm), "quickwins", "demo", "--posterior", str(posterior), *DEMO_SIZE]
    start = time.perf_counter()
    done = subprocess.run([*args, "--out", str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - start


def time_evppi(folder: Path, posterior: Path) -> None:
    """Time EVPPI over one quick-wins folder and print its figures."""
    from models.posterior import load_posterior
    from scenarios.information import check_quickwins, quickwins_information
    from sim.inputs.load import load_world

    world = load_world("demo")
    tree = load_posterior(posterior, world)  # ctm maturity loads it for the quiz anyway
    start, cpu = time.perf_counter(), time.process_time()
    run = check_quickwins(folder, world, tree, posterior)
    info = quickwins_information(*run, world, tree)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    verdict = "met" if seconds < TARGET else "NOT met"
    money = info.currency
    print(
        f"{folder}: {info.draws} draws, {info.options} options (do nothing and the candidates), "
        f"14 touchpoints: EVPPI in {seconds:.2f} s wall, {cpu:.2f} s CPU (target under "
        f"{TARGET:.0f} s on top of the sweep: {verdict})"
    )
    top = info.table.head(3)
    shown = "; ".join(
        f"{r.touchpoint} {r.evppi:,.0f} ± {r.evppi_se:,.0f} (floor {r.noise_floor:,.0f})"
        for r in top.itertuples()
    )
    above = int(info.table["above_noise"].sum())
    largest = float(info.table["evppi"].max())
    print(
        f"  chosen now {info.chosen} ({info.chosen_net:,.0f} {money}); EVPI {info.evpi:,.0f} "
        f"{money}; largest EVPPI {largest:,.0f} ({'at most' if largest <= info.evpi else 'ABOVE'}"
        f" EVPI); top 3: {shown}; {above} of {len(info.table)} above the noise"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posterior", type=Path, default=Path("out/demo/posterior.nc"))
    parser.add_argument("--quickwins", type=Path, action="append", default=[])
    args = parser.parse_args()
    if not args.posterior.is_file():
        raise SystemExit(f"{args.posterior}: no such file, expected 'make demo' first")
    if args.quickwins:
        for folder in args.quickwins:
            time_evppi(folder, args.posterior)
        return
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "quickwins"
        seconds = sweep(args.posterior, out)
        print(f"ctm quickwins demo {' '.join(DEMO_SIZE)}: {seconds:.1f} s wall")
        time_evppi(out, args.posterior)


if __name__ == "__main__":
    main()
