"""Random streams: draws are stable and uniform."""

from __future__ import annotations

import bisect

import numpy as np
from scipy import stats

from sim.engine.streams import Streams, categorical, inverse, pack, packed


def test_pack_is_sixteen_bits_a_part():
    assert int(pack(1, 2)) == (1 << 16) | 2
    assert int(pack(3, 0, 5)) == (3 << 32) | 5


def test_categorical_agrees_with_bisect_on_the_cumulative_distribution():
    p = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    u = Streams(1).uniform(np.arange(5_000, dtype=np.uint64), 0)
    cdf = np.cumsum(p)[:-1].tolist()
    assert categorical(u, p).tolist() == [bisect.bisect_right(cdf, x) for x in u]


def test_uniforms_look_uniform_and_independent_across_purposes():
    streams = Streams(9)
    ids = np.arange(200_000, dtype=np.uint64)
    churn = streams.uniform(streams.keys("churn", ids), 3)
    loyalty = streams.uniform(streams.keys("loyalty", ids), 3)
    # Kolmogorov-Smirnov at the 0.1% level: a false alarm once in a thousand seeds.
    assert stats.kstest(churn, "uniform").pvalue > 1e-3
    # Correlation of 200,000 independent pairs has a standard error of 0.0022; 5 SE.
    assert abs(np.corrcoef(churn, loyalty)[0, 1]) < 0.011


def test_a_draw_depends_only_on_its_address():
    streams, other = Streams(5), Streams(5)
    ids = np.arange(10, dtype=np.uint64)
    a = streams.uniform(streams.keys("experience", ids), pack(4, 2, 0))
    b = other.uniform(other.keys("experience", ids[::-1]), pack(4, 2, 0))[::-1]
    assert a.tolist() == b.tolist()
    assert not np.array_equal(a, streams.uniform(streams.keys("experience", ids), pack(4, 2, 1)))


def test_compiled_forms_agree_with_pack_and_categorical():
    """``packed`` and ``inverse`` (used inside compiled loops) draw what the numpy forms draw."""
    parts = np.random.default_rng(3).integers(0, 65536, (50, 4)).astype(np.uint64)
    assert (packed(*parts.T) == pack(*parts.T)).all()
    p = np.array([0.05, 0.15, 0.3, 0.3, 0.2])
    u = Streams(2).uniform(np.arange(2_000, dtype=np.uint64), 0)
    u = np.concatenate([u, np.cumsum(p)[:-1]])  # the boundaries too
    assert [inverse(np.cumsum(p), x) for x in u] == list(categorical(u, p))


def test_keys_of_several_purposes_are_the_columns_of_each():
    streams, ids = Streams(5), np.arange(7, dtype=np.uint64)
    both = streams.keys(("churn", "queue"), ids)
    assert (both[:, 0] == streams.keys("churn", ids)).all()
    assert (both[:, 1] == streams.keys("queue", ids)).all()
