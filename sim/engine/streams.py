"""Random streams: one per purpose and per customer, for common random numbers.

Each purpose (journey, contacts, experience, churn, ...) gets a 64-bit key from numpy's
``SeedSequence(seed, spawn_key=(purpose,))``. A customer's stream for that purpose is keyed by
mixing the purpose key with the customer's id, and its n-th number is a hash of (key, n):
a counter-based generator (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2,
3"), with the SplitMix64 mixing function (Steele, Lea & Flood 2014) as the hash. So the
number a customer draws for "rating of the invoice in month 7" depends on nothing else:
changing one touchpoint or adding customers does not reshuffle anyone else's draws, and a
scenario and the baseline see the same numbers wherever they do the same thing.

Counters are composed of small named parts (month, touchpoint, visit, ...) packed 16 bits
each, so each draw has a fixed address in the stream.
"""

from __future__ import annotations

import numpy as np
from numba import float64, njit, uint64, vectorize

PURPOSES = (
    "arrivals", "referrals", "journey", "onboarding",
    "contacts", "experience", "churn", "loyalty", "queue", "survey", "frailty", "tenure",
    "add_ons",
)  # fmt: skip
"""Each purpose's key is spawned from its position here, so a new purpose goes at the end:
the others keep their numbers."""
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_53_BITS = 2.0**-53


@vectorize([uint64(uint64)], cache=True)
def mix(z):
    """The SplitMix64 finaliser: a bijective 64-bit hash with good avalanche (a ufunc;
    multiplication modulo 2**64 is the point)."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@vectorize([uint64(uint64, uint64)], cache=True)
def _derive(key, counter):
    return mix(key + counter * _GOLDEN)


@vectorize([float64(uint64, uint64)], cache=True)
def counter_uniform(key, counter):
    """The uniform in [0, 1) at position ``counter`` of the stream ``key`` (a ufunc, also
    called from compiled code); :meth:`Streams.uniform` is the same on arrays."""
    return float64(_derive(key, counter) >> uint64(11)) * _53_BITS


def pack(*parts: int | np.ndarray) -> np.ndarray:
    """Pack up to four small non-negative integers (< 65536 each) into one uint64."""
    if len(parts) > 4:
        raise ValueError(f"pack takes at most 4 parts, got {len(parts)}")
    padded = (0,) * (4 - len(parts)) + parts
    return packed(*(np.asarray(part, dtype=np.uint64) for part in padded))


@vectorize([uint64(uint64, uint64, uint64, uint64)], cache=True)
def packed(a, b, c, d):
    """``pack(a, b, c, d)`` as a ufunc, for compiled code: 16 bits each, ``a`` highest."""
    return (a << uint64(48)) | (b << uint64(32)) | (c << uint64(16)) | d


def customer_ids(segment: int, month: int, source: int, index: np.ndarray) -> np.ndarray:
    """Stable customer ids: segment (8 bits), month (16), source (4), index (36).

    A prospect keeps its id in every scenario as long as its segment sees the same arrivals,
    so its draws are common to all scenarios.
    """
    head = (segment << 56) | (month << 40) | (source << 36)
    return np.uint64(head) | np.asarray(index, dtype=np.uint64)


class Streams:
    """The random streams of one simulation run.

    Parameters
    ----------
    seed
        The run's seed; the same seed gives the same numbers, bit for bit.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._keys = {
            purpose: np.random.SeedSequence(self.seed, spawn_key=(i,)).generate_state(1, np.uint64)[
                0
            ]
            for i, purpose in enumerate(PURPOSES)
        }

    def purpose_key(self, purpose: str) -> int:
        """The 64-bit key of ``purpose``, from which each entity's stream of that purpose is
        keyed (:meth:`keys`): ``mix(purpose_key ^ mix(id))``."""
        return int(self._keys[purpose])

    def keys(self, purpose: str | tuple[str, ...], ids: np.ndarray) -> np.ndarray:
        """Per-entity stream keys for ``purpose``: one uint64 per id in ``ids``; for a tuple of
        purposes, one column per purpose."""
        mixed = mix(np.asarray(ids, np.uint64))
        if isinstance(purpose, str):
            return mix(self._keys[purpose] ^ mixed)
        return mix(np.array([self._keys[p] for p in purpose], np.uint64) ^ mixed[..., None])

    @staticmethod
    def derive(keys: np.ndarray, counter: np.ndarray | int) -> np.ndarray:
        """64 random bits at position ``counter`` of the streams ``keys``.

        Also the key of a child stream, e.g. one per contact of a customer. ``keys`` and
        ``counter`` broadcast against each other.
        """
        return _derive(np.asarray(keys, np.uint64), np.asarray(counter, np.uint64))

    def uniform(self, keys: np.ndarray, counter: np.ndarray | int) -> np.ndarray:
        """Uniforms in [0, 1) at position ``counter`` of the streams ``keys``.

        ``keys`` and ``counter`` broadcast against each other, so a column of keys and a
        row of counters give a matrix of independent draws.
        """
        return counter_uniform(np.asarray(keys, np.uint64), np.asarray(counter, np.uint64))

    def generator(self, purpose: str, *address: int) -> np.random.Generator:
        """A numpy Generator for aggregate draws (arrivals per segment and month)."""
        spawn_key = (PURPOSES.index(purpose), *address)
        sequence = np.random.SeedSequence(self.seed, spawn_key=spawn_key)
        return np.random.Generator(np.random.PCG64(sequence))


def categorical(u: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: index i with probability ``probabilities[..., i]``.

    Monotone in ``u``, so a scenario that shifts probability towards higher categories moves
    every draw up or leaves it (the coupling that makes common random numbers effective).
    """
    cdf = np.cumsum(probabilities, axis=-1)
    return (cdf[..., :-1] <= np.asarray(u)[..., None]).sum(axis=-1)


@njit(cache=True)
def inverse(cdf: np.ndarray, u: float) -> int:
    """:func:`categorical` of one uniform ``u``, for compiled code, given the cumulative
    distribution ``cdf`` (``np.cumsum(probabilities)``): the number of ``cdf[:-1]`` at most u."""
    found = 0
    for j in range(len(cdf) - 1):
        found += cdf[j] <= u
    return found
