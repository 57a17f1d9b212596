"""Both engines' speed and memory on the demo world: customer-months per second and peak memory.

Run: ``.venv/bin/python benchmarks/engine.py`` (or ``--customers 10000 100000 --months 24``).
Each size of each variant runs in a fresh single-threaded process, so the peak resident
memory reported is that run's alone (interpreter and libraries included). Both engines (the
compiled one, and the agents of :mod:`sim.agents`: every prospect and customer a SimPy
process), each on the demo as it is (its call centre is a queued touchpoint: every call
waits for an agent in continuous time) and on the demo with the call centre answered at
once. Speed is given per second of
wall time and per second of the process's CPU time (on a machine others share, the CPU time
is the fairer measure of one core). The last lines hold the compiled engine against the
agents on the same world. Targets (issues "Foundation" and "SimPy agents"): the compiled
engine at least 100,000 customer-months per second on one core and under 1 GB peak at
100,000 customers; the agent engine at least 50,000, the compiled engine at least 20 times
the agents.
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
VARIANTS = {
    "compiled-queued": ("compiled", True, "compiled, queued call centre"),
    "compiled-instant": ("compiled", False, "compiled, no queues"),
    "agents-queued": ("agents", True, "agents, queued call centre"),
    "agents-instant": ("agents", False, "agents, no queues"),
}


def measure(customers: int, months: int, seed: int, variant: str) -> dict:
    """One run in this process: wall and CPU time of the simulation alone, and peak RSS."""
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    engine, queued, name = VARIANTS[variant]
    if engine == "agents":
        from sim.agents.simulation import simulate
    else:
        from sim.engine.simulation import simulate
    params = from_world(load_world("demo"))
    if not queued:
        params = params.replace(queues={})
    simulate(params, customers=100, months=2, seed=seed)  # warm-up: imports, first calls
    start, cpu = time.perf_counter(), time.process_time()
    results = simulate(params, customers=customers, months=months, seed=seed)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    customer_months = float(results["active_start"].sum())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "variant": name,
        "customers": customers,
        "months": months,
        "seconds": seconds,
        "cpu": cpu,
        "customer_months": customer_months,
        "per_second": customer_months / seconds,
        "per_cpu_second": customer_months / cpu,
        "peak_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--one", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.customers[0], args.months, args.seed, args.one)))
        return
    print(
        f"{'variant':<30} {'customers':>10} {'months':>6} {'cust-months':>12} "
        f"{'wall s':>7} {'cpu s':>7} {'c-m/s wall':>11} {'c-m/s cpu':>10} {'peak MB':>8}"
    )
    rows = {}
    for variant in args.variants:
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
            r = rows[variant, n] = json.loads(child.stdout)
            print(
                f"{r['variant']:<30} {r['customers']:>10,} {r['months']:>6} "
                f"{r['customer_months']:>12,.0f} {r['seconds']:>7.2f} {r['cpu']:>7.2f} "
                f"{r['per_second']:>11,.0f} {r['per_cpu_second']:>10,.0f} {r['peak_mb']:>8.0f}"
            )
    for n in args.customers:
        for world in ("queued", "instant"):
            twin, agents = rows.get((f"compiled-{world}", n)), rows.get((f"agents-{world}", n))
            if twin and agents:
                print(
                    f"compiled / agents at {n:,} customers, {twin['variant'][10:]}: "
                    f"{twin['per_second'] / agents['per_second']:.1f} x (wall), "
                    f"{twin['per_cpu_second'] / agents['per_cpu_second']:.1f} x (cpu)"
                )


if __name__ == "__main__":
    main()
