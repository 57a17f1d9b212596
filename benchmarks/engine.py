"""Engine speed and memory on the demo world: customer-months per second and peak memory.

Run: ``.venv/bin/python benchmarks/engine.py`` (or ``--customers 10000 100000 --months 24``).
Each size runs in a fresh single-threaded process, so the peak resident memory reported is
that run's alone (interpreter and libraries included). Two variants: the demo as it is (its
call centre is a queued touchpoint: every call waits for an agent in continuous time), and
the demo with the call centre answered at once (the array engine alone). Targets (issue
"Foundation"): at least 100,000 customer-months per second on one core, under 1 GB peak at
100,000 customers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def measure(customers: int, months: int, seed: int, queued: bool) -> dict:
    """One run in this process: wall time of the simulation alone, and peak RSS."""
    from sim.engine.simulation import simulate
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    params = from_world(load_world("demo"))
    if not queued:
        params = params.replace(queues={})
    simulate(params, customers=100, months=2, seed=seed)  # warm-up: imports, first calls
    start = time.perf_counter()
    results = simulate(params, customers=customers, months=months, seed=seed)
    seconds = time.perf_counter() - start
    customer_months = float(results["active_start"].sum())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "variant": "queued call centre" if queued else "no queues",
        "customers": customers,
        "months": months,
        "seconds": seconds,
        "customer_months": customer_months,
        "per_second": customer_months / seconds,
        "peak_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", choices=["queued", "instant"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.customers[0], args.months, args.seed, args.one == "queued")))
        return
    print(
        f"{'variant':<20} {'customers':>10} {'months':>6} {'cust-months':>12} "
        f"{'seconds':>8} {'cust-months/s':>14} {'peak MB':>8}"
    )
    for variant in ("instant", "queued"):
        for n in args.customers:
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    variant,
                    "--customers",
                    str(n),
                    "--months",
                    str(args.months),
                    "--seed",
                    str(args.seed),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **ONE_THREAD},
            )
            r = json.loads(child.stdout)
            print(
                f"{r['variant']:<20} {r['customers']:>10,} {r['months']:>6} "
                f"{r['customer_months']:>12,.0f} {r['seconds']:>8.2f} "
                f"{r['per_second']:>14,.0f} {r['peak_mb']:>8.0f}"
            )


if __name__ == "__main__":
    main()
