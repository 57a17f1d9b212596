"""The dice a prospect or a customer rolls: the compiled engine's counter-based streams, one
number at a time, in plain Python.

Every agent has one stream per purpose (its journey, its contacts, its experiences, its churn
decision, ...), keyed by the run's seed, the purpose and the agent's id, and the n-th number of
a stream is a hash of (key, n) (:mod:`sim.engine.streams`). The agents read the same numbers
at the same addresses as the compiled engine: "the rating of the invoice in month 7" is the
number at ``address(0, 7, invoice, 0)`` of the customer's experience stream in both. Python's
integers do the 64-bit arithmetic (masked to 64 bits), which is faster for one number than a
call into compiled code; tests/sim/agents/test_draws.py holds them equal bit for bit.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from sim.engine.streams import Streams

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_53_BITS = 2.0**-53


def mix(z: int) -> int:
    """The SplitMix64 finaliser (:func:`sim.engine.streams.mix`) of one 64-bit integer."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def uniform(key: int, counter: int) -> float:
    """The uniform in [0, 1) at position ``counter`` of the stream ``key``
    (:func:`sim.engine.streams.counter_uniform`)."""
    z = (key + counter * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK  # mix(z), written out: the call costs a tenth
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return ((z ^ (z >> 31)) >> 11) * _53_BITS


def child(key: int, counter: int) -> int:
    """The key of a child stream: the 64 random bits at ``counter`` of the stream ``key``
    (:meth:`sim.engine.streams.Streams.derive`), e.g. one contact of a customer."""
    z = (key + counter * _GOLDEN) & _MASK
    return mix(z)


def address(a: int = 0, b: int = 0, c: int = 0, d: int = 0) -> int:
    """A draw's place in a stream: four small parts of 16 bits, ``a`` highest
    (:func:`sim.engine.streams.pack`)."""
    return (a << 48) | (b << 32) | (c << 16) | d


pick = bisect_right
"""``pick(cdf, u)``: the category a uniform ``u`` falls in, by inversion of the cumulative
distribution ``cdf`` without its last entry (:func:`sim.engine.streams.inverse`: the number
of entries at most u), which is ``bisect_right`` itself (no wrapper: it is called a few
times per customer-month)."""


def perceive(view: float, rating: float, weight: float) -> float:
    """A view after one experience: the rating at the first, else p + w (r - p)
    (:func:`sim.formulas.perception.perceive`)."""
    if math.isnan(view):
        return rating
    return view + weight * (rating - view)


def poor_view(view: float) -> float:
    """x = (3 - p) / 2, 0 for a touchpoint never met (:func:`sim.formulas.perception.poor_view`)."""
    if math.isnan(view):
        return 0.0
    return (3.0 - view) / 2.0


class Dice:
    """The streams of one run, as agents key them.

    Parameters
    ----------
    streams
        The run's streams (the seed and every purpose's key).
    """

    def __init__(self, streams: Streams):
        self.streams = streams
        self._purpose = {}

    def stream(self, purpose: str, agent: int) -> int:
        """The key of the stream of ``purpose`` of the agent with id ``agent``
        (:meth:`sim.engine.streams.Streams.keys`)."""
        key = self._purpose.get(purpose)
        if key is None:
            key = self._purpose[purpose] = self.streams.purpose_key(purpose)
        return mix(key ^ mix(agent))
