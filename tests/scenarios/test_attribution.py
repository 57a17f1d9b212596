"""Attribution: simulated removal effects against the exact chain, the never-bad churn
counterfactual with common random numbers, and ``ctm attribution`` end to end.

Tolerance of the removal effects: 4 standard errors of the simulated effect (delta method for
a ratio of paired means, :mod:`scenarios.attribution`). The chain is exact for the walk: a
rating is drawn afresh at every visit, so the walk follows the rows averaged over ratings
(:func:`scenarios.chains.effective_transitions`); no special parameter set is needed. About
26 comparisons at 4 SE: a false alarm about once in 600 runs (the seed is fixed, so a run
either passes or not).

Removal effects from journeys data (``ctm attribution --paths``, :func:`path_attribution`):

- a path file walked from a known chain (8 channels, 50,000 journeys): the posterior means
  within 0.01 of the chain's exact effects (fundamental matrix). The posterior sd of every
  effect is below 0.0034 there (checked), so 0.01 is 3 sd or more: the posterior has to be
  centred on the truth, not merely wide;
- the hand-made file of 3 paths: the effects at the frequencies and at the posterior mean,
  worked out by hand in fractions (1e-12: exact arithmetic against rounding), and the one
  touchpoint every conversion meets has effect 1 in every draw (exactly);
- at the posterior mean, the effects equal the standard first-order effect (Anderl et al.
  2016) computed here from the path strings, moves counted in plain Python, within 1e-12
  (two exact calculations differing by rounding only);
- bad input through the command: one line naming file, row and column, exit 2, nothing
  written; a removal undefined everywhere is shown, not a crash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from models.paths import read_chain
from scenarios.attribution import (
    EFFECT_COLUMNS,
    churn_avoided,
    journey_effects,
    never_bad_plans,
    path_attribution,
)
from scenarios.chains import chain_removal_effects, chains_removal_effects
from scenarios.runner import Settings, run
from sim.inputs.load import DEMO
from tests.helpers import ctm, read_csv

PROSPECTS = 50_000


@pytest.fixture(scope="module")
def effects(demo_params) -> pd.DataFrame:
    return journey_effects([demo_params], prospects=PROSPECTS, seed=1)


def test_simulated_removal_effects_agree_with_the_exact_chain(effects):
    visited = effects[effects["visits"] > 0]
    assert len(visited) == 2 * 13  # 5 + 5 + 3 touchpoints met by the three segments, 2 ways
    assert (np.abs(visited["simulated"] - visited["exact"]) <= 4 * visited["se"] + 1e-12).all()
    unknown = visited[(visited["exact"] > 0) & (visited["exact"] < 1)]
    assert (unknown["se"] > 0).all() and (unknown["low"] < unknown["simulated"]).all()
    assert (effects.loc[effects["visits"] == 0, ["exact", "simulated"]] == 0).all(axis=None)


def test_the_check_would_see_a_chain_without_the_dropout_rule(demo_params, effects):
    """The same check against effects computed as if bad experiences changed nothing
    (dropout odds 1): many differ by more than 4 standard errors, so the test has power."""
    naive = journey_effects([demo_params.replace(dropout_odds=np.ones(3))], prospects=100)
    off = np.abs(effects["simulated"] - naive["exact"]) > 4 * effects["se"] + 1e-12
    assert off.sum() >= 5


def test_draws_with_one_journey_are_simulated_once(demo_params, effects):
    """Draws differing only in churn parameters share the journey: the averages and the
    Monte-Carlo standard error are those of one set (not shrunk by the number of draws)."""
    draws = [demo_params.replace(beta=demo_params.beta * f) for f in (0.5, 1.5)]
    pd.testing.assert_frame_equal(journey_effects(draws, prospects=PROSPECTS, seed=1), effects)


def test_never_bad_churn_is_zero_without_an_effect_and_positive_with_one(demo_world, demo_params):
    """Invoice with beta = 0 and gamma = 0 (no loyalty effect either, so referrals, and with
    them the call centre's load, stay the same): never bad changes no one's churn, exactly,
    in every draw and segment (common random numbers). The app with a large beta: never bad
    avoids churn in every draw."""
    invoice, app = (demo_params.touchpoints.index(t) for t in ("invoice", "app"))
    gamma = demo_params.gamma.copy()
    gamma[invoice] = 0.0
    draws = []
    for strength in (2.0, 2.5, 3.0):
        beta = demo_params.beta.copy()
        beta[:, invoice], beta[:, app] = 0.0, strength
        draws.append(demo_params.replace(beta=beta, gamma=gamma))
    plans, skipped = never_bad_plans(demo_world, ["invoice", "app"])
    assert not skipped
    results = run(draws, plans, Settings(customers=1_500, months=8, seed=5), executor="serial")
    share = churn_avoided(results)
    invoice_share = share.sel(touchpoint="invoice")
    # NaN only where the baseline lost no one (enterprise: about 13 customers in the sample)
    assert ((invoice_share == 0) | invoice_share.isnull()).all()
    assert (invoice_share.sel(segment=["household", "all"]) == 0).all()
    assert share.sizes == {"touchpoint": 2, "draw": 3, "segment": 4}
    assert (share.sel(touchpoint="app", segment="all") > 0.02).all(), share.sel(touchpoint="app")


def test_ctm_attribution_end_to_end(tmp_path):
    out = tmp_path / "attribution"
    done = ctm(
        "attribution",
        "demo",
        "--customers",
        "1500",
        "--months",
        "6",
        "--draws",
        "1",
        "--prospects",
        "2000",
        "--serial",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "Sales lost without each touchpoint" in done.stdout and "installer" in done.stdout
    churn = pd.read_csv(out / "churn.csv")
    assert set(churn["segment"]) == {"household", "small_business", "enterprise", "all"}
    assert len(churn) == 14 * 4
    journeys = pd.read_parquet(out / "journeys.parquet")
    assert len(journeys) == 2 * 3 * 14
    assert {"exact", "simulated", "low", "high"} <= set(journeys.columns)
    assert (out / "attribution.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # pieces removed


# Removal effects from journeys data -------------------------------------------------------


def anderl(start: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Standard first-order removal effects (Anderl et al. 2016): 1 - P(conversion | every
    move into k redirected to null) / P(conversion), each from its own fundamental matrix
    (k's row and column left out: k is never reached)."""
    K = len(start)
    Q, R = T[:, :K], T[:, K]
    c = start @ np.linalg.inv(np.eye(K) - Q) @ R
    effects = []
    for k in range(K):
        keep = np.arange(K) != k
        N = np.linalg.inv(np.eye(K - 1) - Q[np.ix_(keep, keep)])
        effects.append(1 - start[keep] @ N @ R[keep] / c)
    return np.array(effects)


def walk_paths(start: np.ndarray, T: np.ndarray, n: int, seed: int) -> dict[tuple, list[int]]:
    """n journeys walked through the chain (numpy): {path: [conversions, nulls]}."""
    rng = np.random.default_rng(seed)
    K = len(start)
    state = rng.choice(K, size=n, p=start)
    paths = [[int(s)] for s in state]
    outcome = np.ones(n, dtype=int)
    active, cumulative = np.arange(n), T.cumsum(axis=1)
    while len(active):
        nxt = (rng.random(len(active))[:, None] > cumulative[state[active]]).sum(axis=1)
        nxt = np.minimum(nxt, K + 1)
        done = nxt >= K
        outcome[active[done]] = nxt[done] - K
        for i, j in zip(active[~done], nxt[~done], strict=True):
            paths[i].append(int(j))
        state[active[~done]] = nxt[~done]
        active = active[~done]
    found: dict[tuple, list[int]] = {}
    for path, out in zip(paths, outcome, strict=True):
        found.setdefault(tuple(path), [0, 0])[out] += 1
    return found


def write_paths(file, paths: dict[tuple, list[int]], names: list[str], sep: str = ","):
    lines = [sep.join(["path", "total_conversions", "total_null"])]
    for path, (converted, null) in paths.items():
        lines.append(sep.join([" > ".join(names[k] for k in path), str(converted), str(null)]))
    file.write_text("\n".join(lines) + "\n")
    return file


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """A known chain over 8 channels (self-loops and cycles; conversion 0.1 to 0.3 per step)
    and a path file of 50,000 journeys walked through it, semicolon separated."""
    rng = np.random.default_rng(11)
    K, stay = 8, 0.5
    conversion = rng.uniform(0.1, 0.3, K)
    T = np.hstack(
        [
            rng.dirichlet(np.full(K, 0.5), size=K) * stay,
            conversion[:, None],
            (1 - stay - conversion)[:, None],
        ]
    )
    start = rng.dirichlet(np.ones(K))
    names = [f"channel {k}" for k in range(K)]
    file = tmp_path_factory.mktemp("known") / "paths.csv"
    write_paths(file, walk_paths(start, T, 50_000, seed=3), names, sep=";")
    return start, T, names, file


def test_posterior_means_recover_a_known_chain(known):
    start, T, names, file = known
    found = path_attribution(read_chain(file), draws=1_000, seed=1)
    table = found.effects.set_index("touchpoint").loc[names]
    exact = anderl(start, T)
    sd = (table["high"] - table["low"]) / (2 * 1.645)  # the 90% interval's width in sds
    assert sd.max() < 0.0034
    np.testing.assert_allclose(table["removal_effect"], exact, atol=0.01, rtol=0)
    assert (table["low"] < table["removal_effect"]).all()
    assert (table["removal_effect"] < table["high"]).all()
    assert found.effects["attributed"].sum() == pytest.approx(read_chain(file).conversions)


def test_the_posterior_mean_chain_gives_the_standard_effects(known):
    """Moves counted here from the path strings in plain Python, the prior added (1 / m_i on
    each of the m_i states seen from i), Anderl's effects from fundamental matrices: equal
    to the scenarios' removal (remove_from_journey, lost) on the fitted chain's mean."""
    _, _, names, file = known
    chain = read_chain(file)
    K = len(names)
    column = {name: k for k, name in enumerate(sorted(names))}
    counts = np.zeros((K + 1, K + 2))
    for line in file.read_text().splitlines()[1:]:
        path, converted, null = line.split(";")
        steps = [column[step] for step in path.split(" > ")]
        n = int(converted) + int(null)
        counts[0, steps[0]] += n
        for a, b in zip(steps[:-1], steps[1:], strict=True):
            counts[a + 1, b] += n
        counts[steps[-1] + 1, K] += int(converted)
        counts[steps[-1] + 1, K + 1] += int(null)
    seen = counts > 0
    mean = counts + seen / seen.sum(axis=1, keepdims=True)
    mean /= mean.sum(axis=1, keepdims=True)
    expected = anderl(mean[0, :K], mean[1:])
    _, ours = chain_removal_effects(*chain.mean())
    np.testing.assert_allclose(ours, expected, atol=1e-12, rtol=0)
    start, T = chain.mean()
    _, batched = chains_removal_effects(start[None], T[None])
    np.testing.assert_allclose(batched[0], expected, atol=1e-12, rtol=0)
    found = path_attribution(chain, draws=10)
    at_frequencies = found.effects.set_index("touchpoint")
    frequencies = counts / counts.sum(axis=1, keepdims=True)
    # at the frequencies the chain converts as often as the journeys did (flow conservation)
    c, _ = chain_removal_effects(frequencies[0, :K], frequencies[1:])
    assert c == pytest.approx(found.conversion["observed"], abs=1e-12)
    assert found.conversion["observed"] == counts[:, K].sum() / counts[0].sum()
    np.testing.assert_allclose(
        at_frequencies.loc[sorted(names), "standard"],
        anderl(frequencies[0, :K], frequencies[1:]),
        atol=1e-12,
        rtol=0,
    )


HAND = "path,total_conversions,total_null\nC1 > C2,1,0\nC1,0,1\nC2 > C3,1,1\n"


def test_hand_made_paths(tmp_path):
    """By hand. Frequencies: start -> C1, C2 1/2 each; C1 -> C2, null 1/2; C2 -> C3 2/3,
    conversion 1/3; C3 -> conversion, null 1/2. From C2: 1/3 + 2/3 * 1/2 = 2/3; from C1:
    1/2 * 2/3 = 1/3; c = (1/3 + 2/3) / 2 = 1/2, the observed 2 of 4. Without C1: c = 1/3,
    effect 1/3; without C2: c = 0, effect 1; without C3: from C2 1/3, from C1 1/6, c = 1/4,
    effect 1/2.
    Posterior mean (prior 1/2 on each move seen; only C2's row changes: (2.5, 1.5) / 4):
    from C2 3/8 + 5/8 * 1/2 = 11/16, c = 33/64; without C1: 22/64, effect 1/3; without C3:
    from C2 3/8, from C1 3/16, c = 9/32, effect 1 - 18/33 = 5/11."""
    file = tmp_path / "hand.csv"
    file.write_text(HAND)
    chain = read_chain(file)
    c, effects = chain_removal_effects(*chain.frequencies())
    assert c == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(effects, [1 / 3, 1, 1 / 2], atol=1e-12)
    c, effects = chain_removal_effects(*chain.mean())
    assert c == pytest.approx(33 / 64, abs=1e-12)
    np.testing.assert_allclose(effects, [1 / 3, 1, 5 / 11], atol=1e-12)
    found = path_attribution(chain, draws=200)
    c2 = found.effects.set_index("touchpoint").loc["C2"]
    assert c2["removal_effect"] == c2["low"] == c2["high"] == 1.0  # in every draw
    assert found.conversion["observed"] == 0.5


def test_ctm_attribution_paths_end_to_end(tmp_path):
    file = tmp_path / "hand.csv"
    file.write_text(HAND)
    out = tmp_path / "out"
    done = ctm("attribution", "--paths", str(file), "--out", str(out), "--draws", "200")
    assert done.returncode == 0, done.stderr
    assert "Conversions lost without each touchpoint" in done.stdout
    assert "P(conversion) per journey" in done.stdout and "Journey map" in done.stdout
    table = read_csv(out / "removal_effects.csv")
    assert list(table.columns) == EFFECT_COLUMNS
    assert list(table["touchpoint"]) == ["C2", "C3", "C1"]  # largest effect first
    assert table.loc[0, ["removal_effect", "low", "high"]].tolist() == [1.0, 1.0, 1.0]
    moves = read_csv(out / "journey_map.csv")
    assert moves["journeys"].sum() == 4 + 2 + 3 + 2
    for figure in ("journey_map.png", "removal_effects.png"):
        assert (out / figure).stat().st_size > 10_000
    quiet = ctm("attribution", "--paths", str(file), "--draws", "50")
    assert quiet.returncode == 0 and "Results:" not in quiet.stdout


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ("a > b,1,0\n,2,3\n", "row 2, column path: empty"),
        ("a > b,1,0\na | b,2,3\n", "row 2, column path: step 'a | b' holds '|'"),
        ("a > b,1,0\nb,0,0\n", "row 2, columns total_conversions and total_null: both 0"),
        ("a > b,1,0\nb,3,-1\n", "row 2, column total_null: -1 is negative"),
    ],
)
def test_ctm_attribution_paths_refuses_bad_rows(tmp_path, rows, where):
    file = tmp_path / "paths.csv"
    file.write_text("path,total_conversions,total_null\n" + rows)
    out = tmp_path / "out"
    done = ctm("attribution", "--paths", str(file), "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert done.stderr.startswith(f"{file}: {where}")
    assert not out.exists() and list(tmp_path.iterdir()) == [file]


def test_ctm_attribution_paths_refuses_missing_columns(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text("path;total_conversions\na > b;1\n")
    done = ctm("attribution", "--paths", str(file), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{file}: columns: missing total_null;")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_ctm_attribution_wants_a_world_or_paths(tmp_path):
    neither = ctm("attribution")
    assert neither.returncode == 2
    assert neither.stderr.strip() == (
        "ctm attribution: got neither, expected a world file (or demo) or --paths FILE, one of them"
    )
    file = tmp_path / "hand.csv"
    file.write_text(HAND)
    both = ctm("attribution", "demo", "--paths", str(file))
    assert both.returncode == 2 and "got both" in both.stderr


def test_no_conversion_leaves_every_effect_undefined(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text("path,total_conversions,total_null\na > b,0,5\nb,0,2\n")
    out = tmp_path / "out"
    done = ctm("attribution", "--paths", str(file), "--out", str(out), "--draws", "20")
    assert done.returncode == 0, done.stderr
    assert "not defined" in done.stdout and "no journey converts" in done.stdout
    table = read_csv(out / "removal_effects.csv")
    assert table[["removal_effect", "low", "high"]].isna().all(axis=None)


def test_world_attribution_with_every_removal_to_successors_undefined(tmp_path):
    """Every prospect starts at the order, which leads to purchase: removing it with its
    traffic going on to its successors is refused in every segment, so the successors' end
    is NaN for every touchpoint met (it once ended in KeyError: ('exact', 'successors'),
    exit 1, after the results were written)."""
    world = yaml.safe_load(DEMO.read_text())
    for segment in world["segments"]:
        segment["journey"] = {"start": {"order": 1.0}, "order": {"purchase": 0.9, "lost": 0.1}}
    file = tmp_path / "world.yaml"
    file.write_text(yaml.safe_dump(world))
    out = tmp_path / "out"
    done = ctm(
        "attribution",
        str(file),
        *("--customers", "300", "--months", "2", "--draws", "1", "--prospects", "200"),
        *("--serial", "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr
    assert "not defined" in done.stdout and "nan" not in done.stdout
    journeys = pd.read_csv(out / "journeys.csv")
    met = journeys[journeys["visits"] > 0]
    assert set(met["touchpoint"]) == {"order"}
    assert met.loc[met["traffic"] == "successors", "exact"].isna().all()
