"""A segment whose baseline is the shifted-beta-geometric model (Fader & Hardie 2007):
simulated retention against the closed form S(t) = B(a, b + t) / B(a, b)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from models.sbg import survival_probability
from sim.engine.simulation import simulate
from sim.inputs.load import DEMO, load_world
from tests.helpers import constant_hazard

N = 20_000
A, B = 0.8, 12.0  # mean monthly churn 6%, widely spread across customers


@pytest.fixture(scope="module")
def heterogeneous(demo_params):
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=0.01)
    sbg = np.full((len(params.segments), 2), np.nan)
    sbg[0] = A, B  # households: sBG; the others keep the banded (here constant) hazard
    # The whole base at tenure 0 (tenure_mix: new), so its curve is the sBG's from the start
    # (a base with a mix of tenures: tests/sim/test_tenure.py).
    params = params.replace(sbg=sbg, queues={}, base_tenure=None)
    return simulate(params, customers=N, months=24, seed=11)


def test_retention_follows_the_shifted_beta_geometric_curve(heterogeneous):
    base = heterogeneous["cohort_size"].sel(cohort=0)
    survivors = heterogeneous["survivors"].sel(cohort=0)
    t = np.arange(1, 25)
    expected = np.exp(betaln(A, B + t) - betaln(A, B))
    np.testing.assert_allclose(expected, survival_probability(A, B, t))  # two forms agree
    household = (survivors.isel(segment=0) / base.isel(segment=0)).values
    n = float(base.isel(segment=0))
    # Binomial SE of a share of n customers; 4 SE over 24 months: false failure < 0.2%.
    assert np.all(np.abs(household - expected) <= 4 * np.sqrt(expected * (1 - expected) / n))
    # The banded segments are untouched: geometric at 5% a month.
    others = (
        survivors.isel(segment=slice(1, None)).sum("segment")
        / base.isel(segment=slice(1, None)).sum("segment")
    ).values
    m = float(base.isel(segment=slice(1, None)).sum())
    geometric = 0.95**t
    assert np.all(np.abs(others - geometric) <= 4 * np.sqrt(geometric * (1 - geometric) / m))


def test_the_segment_hazard_falls_with_tenure(heterogeneous):
    """Monthly churn of survivors: a / (a + b + t - 1), from 5.9% to about 2.3% at month 24."""
    survivors = heterogeneous["survivors"].sel(cohort=0).isel(segment=0).values
    alive = np.concatenate(
        [[float(heterogeneous["cohort_size"].sel(cohort=0).isel(segment=0))], survivors]
    )
    hazard = 1 - alive[1:] / alive[:-1]
    assert hazard[:3].mean() > 1.8 * hazard[-3:].mean()  # closed form: ratio 2.4


def test_world_file_gives_the_engine_its_sbg_segments(tmp_path):
    import yaml

    from sim.inputs.parameters import from_world

    document = yaml.safe_load(DEMO.read_text())
    document["churn"]["sbg"] = {"enterprise": {"alpha": 0.7, "beta": 3.2}}
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(document))
    params = from_world(load_world(str(path)))
    np.testing.assert_array_equal(params.sbg[params.segments.index("enterprise")], [0.7, 3.2])
    assert np.isnan(params.sbg[params.segments.index("household")]).all()
