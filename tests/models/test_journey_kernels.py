"""Readable references for the journey model's compiled kernels (:mod:`models.journeys`).

The log density and its gradient are checked against the model written out and against
central differences (tests/models/test_journeys.py), but that check reads the probabilities
from the compiled :func:`_log_probabilities` itself, and the responsibilities P(segment |
path) that split the cases of unknown segment (:func:`_mean_responsibility`, the fit's
``counts_``) are checked only through the fit. Here both are written a second time from
their definitions, on nested lists rather than the kernels' flat layout, and compared on
seeded random cases and edge cases (a segment alone, a path one segment allows, no path of
unknown segment, one draw, probabilities near 0).

Probabilities and responsibilities are held to 1e-12 relative (1e-12 absolute on a log
probability): a handful of roundings of numbers of order one apart, where a wrong block,
entry or weight moves them by whole percent.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.journeys import _log_probabilities, _mean_responsibility

RELATIVE = 1e-12


def reference_log_probabilities(ratios: list[list[float]]) -> list[list[float]]:
    """Each block's probabilities from its additive log-ratios x_j = log(p_j / p_last), the
    last entry the reference: p_j = e^x_j / (1 + sum_i e^x_i), p_last = 1 / (1 + sum_i e^x_i)."""
    out = []
    for x in ratios:
        total = math.fsum([1.0, *(math.exp(v) for v in x)])
        out.append([v - math.log(total) for v in x] + [-math.log(total)])
    return out


def flatten_blocks(ratios: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernels' layout (:class:`models.journeys._Marginal`): ``x`` every block's log-ratios
    in turn, ``block`` the bounds of each block's entries, ``first`` where its ratios begin."""
    sizes = [len(x) + 1 for x in ratios]
    block = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    first = block - np.arange(len(block))
    x = np.array([v for block_ratios in ratios for v in block_ratios], float)
    return x, block, first


def random_blocks(rng: np.random.Generator, spread: float) -> list[list[float]]:
    """1 to 6 blocks of 1 to 6 entries (a block of one entry: one segment's share)."""
    return [rng.normal(0, spread, rng.integers(0, 6)).tolist() for _ in range(rng.integers(1, 7))]


@pytest.mark.parametrize("seed", range(40))
def test_log_probabilities_are_the_log_ratios_inverted(seed):
    rng = np.random.default_rng(seed)
    ratios = random_blocks(rng, spread=[0.5, 3.0, 20.0][seed % 3])
    x, block, first = flatten_blocks(ratios)
    got = _log_probabilities(x, block, first)
    expected = [v for b in reference_log_probabilities(ratios) for v in b]
    np.testing.assert_allclose(got, expected, rtol=0, atol=RELATIVE * max(1.0, *map(abs, expected)))
    for low, high in zip(block[:-1], block[1:], strict=True):
        assert math.fsum(np.exp(got[low:high])) == pytest.approx(1.0, abs=1e-12)


def test_a_block_of_one_entry_is_certain():
    """One segment: its share is 1 and has no log-ratio."""
    x, block, first = flatten_blocks([[], [0.3], []])
    last = -math.log(1 + math.exp(0.3))
    expected = [0.0, 0.3 + last, last, 0.0]
    assert _log_probabilities(x, block, first).tolist() == pytest.approx(expected, abs=RELATIVE)


# -- Responsibilities -------------------------------------------------------------------------


def reference_responsibility(paths: list[dict], log_p: np.ndarray) -> list[float]:
    """P(segment | path) of every (path, segment allowing it) pair, averaged over the draws.

    A case of unknown segment on a path has, under segment s, the probability pi_s prod_e
    p_e^m_e (its share, then each move's probability to the power of its count in the path):
    ``terms`` lists (entry, weight) pairs of its logarithm. Bayes: P(s | path) is its
    segment's term over the sum of all segments'; computed as 1 / sum_s' e^(l_s' - l_s) so
    that paths far below the smallest float stay exact.
    """
    draws = []
    for draw in log_p:
        given = []
        for path in paths:
            logs = [math.fsum(w * draw[e] for e, w in pair) for pair in path["pairs"]]
            given += [1.0 / math.fsum(math.exp(other - mine) for other in logs) for mine in logs]
        draws.append(given)
    return [math.fsum(column) / len(draws) for column in zip(*draws, strict=True)]


def flatten_paths(paths: list[dict]) -> dict[str, np.ndarray]:
    """The kernels' layout (:attr:`models.journeys._Marginal.mixture`): a path's pairs from
    ``path_ptr``, a pair's terms from ``term_ptr``."""
    pairs = [pair for path in paths for pair in path["pairs"]]
    terms = [term for pair in pairs for term in pair]
    return {
        "cases": np.array([path["cases"] for path in paths], float),
        "path_ptr": np.cumsum([0] + [len(path["pairs"]) for path in paths]).astype(np.int64),
        "term_ptr": np.cumsum([0] + [len(pair) for pair in pairs]).astype(np.int64),
        "term_entry": np.array([e for e, _ in terms], np.int64),
        "term_weight": np.array([w for _, w in terms], float),
    }


def random_paths(rng: np.random.Generator, entries: int, segments: int) -> list[dict]:
    """0 to 8 paths, each allowed by 1 to ``segments`` segments; a pair's terms are its
    segment's share (weight 1) and 1 to 5 moves counted 1 to 3 times."""

    def pair(segment: int) -> list[tuple[int, float]]:
        moves = rng.integers(segments, entries, rng.integers(1, 6))
        return [(segment, 1.0)] + [(int(e), float(rng.integers(1, 4))) for e in moves]

    paths = []
    for _ in range(rng.integers(0, 9)):
        allowing = rng.choice(segments, rng.integers(1, segments + 1), replace=False)
        paths.append(
            {"cases": int(rng.integers(1, 500)), "pairs": [pair(int(s)) for s in sorted(allowing)]}
        )
    return paths


@pytest.mark.parametrize("seed", range(40))
def test_responsibilities_are_bayes_rule_averaged_over_draws(seed):
    rng = np.random.default_rng([seed, 1])
    segments, entries, draws = (
        int(rng.integers(1, 4)),
        int(rng.integers(5, 20)),
        [1, 3, 8][seed % 3],
    )
    paths = random_paths(rng, entries, segments)
    log_p = np.log(rng.dirichlet(np.ones(entries) / 3, draws))  # near 0 too: log p to -700
    log_p = np.maximum(log_p, -700.0)
    got = _mean_responsibility(log_p, **flatten_paths(paths))
    expected = reference_responsibility(paths, log_p)
    np.testing.assert_allclose(got, expected, rtol=RELATIVE, atol=RELATIVE)
    bounds = np.cumsum([0] + [len(path["pairs"]) for path in paths])
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        assert math.fsum(got[low:high]) == pytest.approx(1.0, abs=1e-12), "a path's segments"


def test_a_path_one_segment_allows_is_that_segments():
    paths = [{"cases": 7, "pairs": [[(1, 1.0), (3, 2.0)]]}]
    log_p = np.log(np.random.default_rng(2).dirichlet(np.ones(5), 4))
    assert _mean_responsibility(log_p, **flatten_paths(paths)).tolist() == [1.0]


def test_no_path_of_unknown_segment_has_no_responsibility():
    log_p = np.log(np.full((3, 4), 0.25))
    assert _mean_responsibility(log_p, **flatten_paths([])).shape == (0,)
