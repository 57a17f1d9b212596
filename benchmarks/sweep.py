"""The quick-win sweep at scale: every demo touchpoint fixed and removed, over many draws.

Run: ``.venv/bin/python benchmarks/sweep.py`` (full size: 100 draws, 10,000 customers, 24
months) or smaller, e.g. ``--draws 5``; ``--posterior FILE`` uses a fitted posterior.

Parameter sets. Without a posterior the sweep is fit-free: ``--draws`` sets made from the demo
world's defaults with the churn effects drawn with noise, beta'[s, k] = beta[s, k] + 0.2 z,
z standard normal (numpy default_rng(seed)), which is what a posterior of the churn model
varies; the rest of each set is the world's.

The sweep is :func:`scenarios.quickwins.quick_wins`: 14 touchpoints fixed and removed plus the
baseline, 29 scenarios per draw (2,900 simulations at full size), on local processes (one per
core) unless ``--serial``. Quick wins do not remove a touchpoint the world marks essential (4
in the demo world); as the issue's benchmark names every touchpoint fixed and removed, the
benchmark clears those marks, unless ``--keep-essential`` (25 scenarios per draw, as
``ctm quickwins demo`` runs).

Reported: wall time of the sweep (ranking and quadrants included, writing not), simulations
(scenario x draw) per minute, and peak resident memory: this process's and the largest
child's (``ru_maxrss`` of RUSAGE_CHILDREN is the largest single reaped child, not a sum;
with W workers the total stays below self + W x child), and CPU time (user + system, this
process and its workers), which a busy machine does not stretch. For a smaller run the full
size is extrapolated linearly in simulations and customer-months, from the wall time and
from the CPU time shared by 2 idle cores (the engine's time is close to linear in both;
fixed costs per simulation and process start-up make it an overestimate when the run is
much smaller than the full one).

Target (issue "Scenarios"): the full sweep under 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

FULL = {"draws": 100, "customers": 10_000, "months": 24}
NOISE = 0.2
"""Standard deviation of the noise added to each churn effect beta[s, k] (log-odds)."""


def parameter_sets(count: int, seed: int, posterior: Path | None) -> list:
    """``count`` parameter sets: the posterior's, or the demo's with noisy churn effects."""
    import numpy as np

    from scenarios.study import draws_of
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    world = load_world("demo")
    if posterior is not None:
        return draws_of(world, posterior, count)
    params = from_world(world)
    rng = np.random.default_rng(seed)
    return [
        params.replace(beta=params.beta + NOISE * rng.standard_normal(params.beta.shape))
        for _ in range(count)
    ]


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children so far."""
    return sum(
        resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )


def peak_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in FULL.items():
        parser.add_argument(f"--{name}", type=int, default=value)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--posterior", type=Path)
    parser.add_argument("--serial", action="store_true", help="one process")
    parser.add_argument(
        "--keep-essential",
        action="store_true",
        help="do not remove the touchpoints the world marks essential",
    )
    args = parser.parse_args()

    from scenarios.quickwins import quick_wins
    from scenarios.runner import Settings
    from sim.inputs.load import load_world

    world = load_world("demo")
    if not args.keep_essential:
        world = world.model_copy(
            update={
                "touchpoints": [
                    tp.model_copy(update={"essential": False}) for tp in world.touchpoints
                ]
            }
        )
    draws = parameter_sets(args.draws, args.seed, args.posterior)
    settings = Settings(customers=args.customers, months=args.months, seed=args.seed)
    executor = "serial" if args.serial else "processes"
    workers = 1 if args.serial else os.cpu_count() or 1
    start, cpu = time.perf_counter(), cpu_seconds()
    wins = quick_wins(world, draws, settings, executor=executor)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    results = wins.study.results
    runs = results.sizes["scenario"] * results.sizes["draw"]
    own, child = peak_mb()
    print(
        f"sweep: {results.sizes['scenario']} scenarios (baseline included) x {args.draws} "
        f"draws = {runs:,} simulations of {args.customers:,} customers x {args.months} months "
        f"on {workers} worker(s)"
    )
    print(
        f"wall time {seconds:,.1f} s; {60 * runs / seconds:,.1f} simulations per minute; "
        f"CPU {cpu:,.1f} s, {cpu / runs:,.2f} s per simulation (a busy machine stretches the "
        f"wall time, not the CPU time)"
    )
    print(
        f"peak memory: this process {own:,.0f} MB, largest worker {child:,.0f} MB "
        f"(total below {own + workers * child:,.0f} MB)"
    )
    full_runs = results.sizes["scenario"] * FULL["draws"]
    size = (FULL["customers"] * FULL["months"]) / (args.customers * args.months)
    estimate, idle = seconds * full_runs / runs * size, cpu * full_runs / runs * size / 2
    how = "this run" if (runs, size) == (full_runs, 1) else "extrapolated"
    print(
        f"full size ({full_runs:,} simulations, {FULL['customers']:,} customers x "
        f"{FULL['months']} months), {how}: {estimate / 60:,.1f} min at this wall "
        f"time, {idle / 60:,.1f} min from the CPU time on 2 idle cores (target: under 5 min "
        f"on 2 cores: {'met' if max(estimate, idle) < 300 else 'not met'})"
    )
    top = wins.table[["scenario", "value_gain", "cost", "effort_weeks", "quadrant"]].head(5)
    print(f"best value per cost:\n{top.to_string(index=False)}")


if __name__ == "__main__":
    main()
