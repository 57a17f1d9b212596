"""Speed of the queue desk (sim.queues, its loop compiled) against Ciw on the same M/M/c+M queue.

The reference example: 2 calls/min, exponential 3-minute calls, 7 agents, exponential patience
with rate ln 2.5 per minute ("60% hang up within 1 min"). Both simulate the same time from an
empty system; the output gives customers simulated per wall-clock second for each, their
ratio (best of --repeat timings), and each P(abandon) against Erlang A as a sanity check.

Usage: ``python benchmarks/queues.py [--minutes 20000] [--seed 1] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import math
import time

import ciw

from sim.engine.isolated import simulate_isolated
from sim.formulas.erlang import erlang_a
from sim.inputs.queues import QueueSettings

LAM, MEAN, AGENTS, THETA = 2.0, 3.0, 7, math.log(2.5)


def run_desk(minutes: float, seed: int) -> tuple[int, float, float]:
    """(customers, wall seconds, P(abandon)) of the desk, retries off."""
    settings = QueueSettings.model_validate(
        {
            "agents": AGENTS,
            "handling": {"distribution": "exponential", "mean": f"{MEAN} min"},
            "patience": {"mean": f"{1 / THETA!r} min"},
        }
    )
    start = time.perf_counter()
    m = simulate_isolated(LAM, settings, minutes, 0.0, seed)
    return m.offered, time.perf_counter() - start, m.p_abandon


def run_ciw(minutes: float, seed: int) -> tuple[int, float, float]:
    """(customers, wall seconds, P(abandon)) of Ciw; customers arriving in the last 30 minutes
    are left out of P(abandon), as Ciw stops with them unfinished."""
    start = time.perf_counter()
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAM)],
        service_distributions=[ciw.dists.Exponential(rate=1 / MEAN)],
        number_of_servers=[AGENTS],
        reneging_time_distributions=[ciw.dists.Exponential(rate=THETA)],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(minutes)
    seconds = time.perf_counter() - start
    records = [r for r in simulation.get_all_records() if r.arrival_date < minutes - 30]
    abandoned = sum(r.record_type == "renege" for r in records)
    return len(simulation.get_all_records()), seconds, abandoned / len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20_000.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    args = parser.parse_args()
    exact = erlang_a(LAM, 1 / MEAN, AGENTS, THETA).p_abandon
    print(f"M/M/{AGENTS}+M, lam={LAM}/min, mean {MEAN} min, theta=ln 2.5/min, {args.minutes} min")
    rates = {}
    for name, run in (("sim.queues", run_desk), (f"Ciw {ciw.__version__}", run_ciw)):
        n, seconds, p_ab = min((run(args.minutes, args.seed) for _ in range(args.repeat)),
                               key=lambda r: r[1])  # fmt: skip
        rates[name] = n / seconds
        print(
            f"{name:20s} {n:8d} customers in {seconds:6.2f} s = {n / seconds:9.0f} customers/s;"
            f" P(abandon) {p_ab:.4f} (Erlang A {exact:.4f}, diff {p_ab - exact:+.4f})"
        )
    desk, other = rates.values()
    print(f"speed ratio sim.queues / Ciw = {desk / other:.2f}")


if __name__ == "__main__":
    main()
