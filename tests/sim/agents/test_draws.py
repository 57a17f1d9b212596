"""The agents' dice are the compiled engine's streams, number for number."""

from __future__ import annotations

import numpy as np

from sim.agents.draws import Dice, address, child, mix, perceive, pick, poor_view, uniform
from sim.engine.streams import PURPOSES, Streams, counter_uniform, inverse, pack
from sim.engine.streams import mix as compiled_mix
from sim.formulas.perception import perceive as compiled_perceive
from sim.formulas.perception import poor_view as compiled_poor_view

RNG = np.random.default_rng(20261205)
KEYS = RNG.integers(0, 2**64, 2_000, dtype=np.uint64)
COUNTERS = RNG.integers(0, 2**64, 2_000, dtype=np.uint64)


def test_mix_and_uniform_are_the_compiled_ones_bit_for_bit():
    assert [mix(int(k)) for k in KEYS] == compiled_mix(KEYS).tolist()
    small = COUNTERS % 2**20  # the addresses a run uses are small; large ones wrap around
    for counters in (COUNTERS, small):
        expected = counter_uniform(KEYS, counters).tolist()
        assert [uniform(int(k), int(c)) for k, c in zip(KEYS, counters, strict=True)] == expected


def test_address_is_pack():
    parts = RNG.integers(0, 65536, (200, 4))
    assert [address(*map(int, row)) for row in parts] == pack(*parts.T).tolist()
    assert address(0, 7, 3) == int(pack(0, 7, 3, 0))


def test_a_stream_is_keyed_as_the_compiled_engine_keys_it():
    streams = Streams(17)
    dice, ids = Dice(streams), RNG.integers(0, 2**63, 300, dtype=np.uint64)
    for purpose in PURPOSES:
        assert [dice.stream(purpose, int(i)) for i in ids] == streams.keys(purpose, ids).tolist()


def test_pick_is_inverse_at_the_boundaries_too():
    p = RNG.dirichlet(np.ones(5))
    cdf = np.cumsum(p)
    u = np.concatenate([RNG.uniform(size=1_000), cdf[:-1], np.nextafter(cdf[:-1], 0)])
    assert [pick(cdf[:-1].tolist(), float(x)) for x in u] == [inverse(cdf, x) for x in u]


def test_views_move_as_the_compiled_formulas_move_them():
    views = np.concatenate([[np.nan], RNG.uniform(1, 5, 500)])
    ratings, weights = RNG.integers(1, 6, len(views)).astype(float), RNG.uniform(0, 1, len(views))
    moved = [
        perceive(float(v), float(r), float(w))
        for v, r, w in zip(views, ratings, weights, strict=True)
    ]
    assert moved == compiled_perceive(views, ratings, weights).tolist()
    assert [poor_view(float(v)) for v in views] == compiled_poor_view(views).tolist()


def test_a_child_stream_is_derived_as_the_compiled_engine_derives_it():
    """A call's stream: the child at (month, touchpoint, visit) of its customer's queue stream."""
    parts = RNG.integers(0, 65536, (len(KEYS), 3))
    counters = pack(*parts.T)
    expected = Streams.derive(KEYS, counters).tolist()
    assert [child(int(k), int(c)) for k, c in zip(KEYS, counters, strict=True)] == expected
