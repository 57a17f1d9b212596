"""One desk alone, fed Poisson arrivals: the queue the Erlang formulas describe.

The tests and ``benchmarks/queues.py`` hold a :class:`~sim.engine.desk.QueueDesk` against
Erlang C and A (:mod:`sim.formulas.erlang`) and against Ciw with it.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.desk import DeskMetrics, QueueDesk
from sim.engine.streams import Streams
from sim.inputs.queues import QueueSettings


def simulate_isolated(
    lam: float, settings: QueueSettings, minutes: float, warmup: float, seed: int,
    retries: bool = False,
) -> DeskMetrics:  # fmt: skip
    """Poisson(lam per minute) arrivals into one desk; metrics of [warmup, warmup + minutes).

    Inter-arrival times are Exp(lam) from ``numpy.random.default_rng(seed)``; contact i is
    customer i with key ``Streams(seed).keys("queue", i)``, so the same seed gives the same
    customers at any staffing (common random numbers). Arrivals stop at warmup + minutes and
    the desk then drains, so every contact counted has an outcome.
    """
    end = warmup + minutes
    rng, times = np.random.default_rng(seed), np.zeros(1)
    while times[-1] < end:  # one batch almost always suffices
        n = int(lam * end + 10 * math.sqrt(lam * end) + 10)
        times = np.concatenate((times, times[-1] + np.cumsum(rng.exponential(1 / lam, n))))
    times = times[1:][times[1:] < end]
    streams = Streams(seed)
    desk = QueueDesk(settings, streams, retries=retries)
    desk.offer(streams.keys("queue", np.arange(len(times), dtype=np.uint64)), times)
    desk.advance(math.inf)
    return desk.metrics(warmup, end)
