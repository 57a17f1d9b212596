"""The growing array keeps exactly the rows appended, across reallocations."""

import numpy as np

from sim.engine.growing import Growing


def test_extend_equals_concatenate_across_growth():
    rng = np.random.default_rng(0)
    parts = [rng.random((int(n), 2, 3)) for n in rng.integers(0, 40, 30)]
    grown = Growing((2, 3))
    for part in parts:
        grown.extend(part)
    np.testing.assert_array_equal(grown.values, np.concatenate(parts))
    assert len(grown) == sum(map(len, parts))


def test_replace_takes_a_new_row_shape_and_extends_on():
    grown = Growing((2,), np.int64)
    grown.extend(np.ones((5, 2), np.int64))
    grown.replace(np.zeros((3, 4), np.int64))
    grown.extend(np.full((2, 4), 7))
    assert grown.values.shape == (5, 4) and grown.values[3:].tolist() == [[7] * 4] * 2
