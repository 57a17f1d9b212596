"""The runner: the baseline and every scenario, over posterior draws, with common random numbers.

A run is a grid of pieces (scenario, draw, replication). Each piece simulates one parameter
set (the draw's, edited by the scenario's schedule) and keeps the counts the outcomes are
read from (:meth:`sim.engine.results.Recorder.counts`). The seed of a piece depends on the
draw and the replication only, never on the scenario: every scenario meets the same
customers with the same random numbers as the baseline (common random numbers), so
differences are the scenario's doing and not sampling noise.

Every simulation is kept, replications too: the result's ``draw`` dimension holds one entry
per (parameter draw, replication), so intervals and probabilities taken over it carry the
simulation's own noise (Monte-Carlo error) as well as the parameters' uncertainty. Without a
posterior there is one parameter set, and the replications alone make the spread.

Executors (:mod:`scenarios.pool`): ``"serial"``, ``"processes"`` (local processes, the
default) or a ``dask.distributed`` scheduler address (``"local"`` starts a LocalCluster). A
piece's result depends only on its inputs, so every executor gives identical results. With a
``store`` folder each finished piece is saved at once (written to a temporary name, then
renamed), and a rerun with the same settings loads the finished pieces instead of simulating
them again: an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import xarray as xr

from scenarios.edits import schedule
from scenarios.pool import execute
from scenarios.scenario import Plan
from sim.agents.simulation import Simulation as Agents
from sim.engine.simulation import Simulation
from sim.inputs.files import atomic_file, process_alive
from sim.inputs.parameters import Parameters

ENGINES = {"compiled": Simulation, "agents": Agents}
"""The engines by name: the same arguments, the same results."""
BASELINE = "baseline"
STORE_FORMAT = "pieces-3: npz; the counts of sim.engine.results.END, add-ons included"
"""What a stored piece holds; part of the store's fingerprint, so that pieces written by
another version of the code are never read."""


@dataclass(frozen=True)
class Settings:
    """What each simulation of a run is given."""

    customers: int = 10_000
    months: int = 24
    seed: int = 1
    replications: int = 1
    engine: str = "compiled"
    """Which engine simulates: ``compiled`` (:mod:`sim.engine`) or ``agents``
    (:mod:`sim.agents`); both give the same results, so stored pieces serve either."""

    def __post_init__(self):
        for name, low in (("customers", 1), ("months", 1), ("seed", 0), ("replications", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} is {value!r}, expected an integer of at least {low}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine is {self.engine!r}, expected one of {', '.join(ENGINES)}")

    def piece_seed(self, draw: int, replication: int) -> int:
        """The seed of a (draw, replication): the same for every scenario."""
        state = np.random.SeedSequence([self.seed, draw, replication]).generate_state(1)
        return int(state[0])


@dataclass(frozen=True)
class Piece:
    """One simulation of the grid."""

    scenario: str
    draw: int
    replication: int


def run(
    draws: list[Parameters],
    plans: Mapping[str, Plan],
    settings: Settings,
    executor: str = "processes",
    store: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Simulate the baseline and every plan for each parameter set in ``draws``.

    Parameters
    ----------
    draws
        One complete parameter set per posterior draw (or just the world's defaults).
    plans
        The scenarios or plans by name; ``"baseline"`` is reserved for no edits.
    settings
        Customers, months, seed and replications of each simulation.
    executor
        ``"serial"``, ``"processes"``, or a dask scheduler address (``"local"``: a LocalCluster).
    store
        A folder for finished pieces (created); a rerun resumes from it.
    progress
        Called as ``progress(done, total)`` after each piece.

    Returns
    -------
    xarray.Dataset
        The counts of :func:`sim.engine.results.counts` (monthly totals per segment,
        ``advocates`` and ``dissatisfied``, the installed base's ``base_active``,
        ``base_size`` and ``base_value``), dims (scenario, draw, segment, month), one
        ``draw`` per simulation (see :func:`_assemble`). The attribute ``scale`` converts the
        sample's totals to the company's.
    """
    if BASELINE in plans:
        raise ValueError(f"'{BASELINE}' is reserved for the run without edits; rename it")
    names = [BASELINE, *plans]
    pieces = [Piece(name, d, r) for d in range(len(draws)) for name in names
              for r in range(settings.replications)]  # fmt: skip
    with _locked(store):
        return _run(draws, plans, settings, executor, store, progress, names, pieces)


def _run(
    draws: list[Parameters],
    plans: Mapping[str, Plan],
    settings: Settings,
    executor: str,
    store: Path | None,
    progress: Callable[[int, int], None] | None,
    names: list[str],
    pieces: list[Piece],
) -> xr.Dataset:
    folder = _store(store, draws, plans, settings)
    done: dict[Piece, xr.Dataset] = {}
    for piece in pieces:
        found = _load(folder, piece, draws[0].segments, settings.months)
        if found is not None:
            done[piece] = found
    total = len(pieces)
    if progress:
        progress(len(done), total)
    schedules = {
        (name, d): _schedule(draws[d], plans.get(name))  # once, whatever replication
        for name, d in {(p.scenario, p.draw) for p in pieces if p not in done}
    }
    jobs = {
        p: (schedules[p.scenario, p.draw], settings, settings.piece_seed(p.draw, p.replication))
        for p in pieces
        if p not in done
    }
    for piece, result in execute(simulate_piece, jobs, executor):
        if folder is not None:
            _save(folder, piece, result)
        done[piece] = result
        if progress:
            progress(len(done), total)
    return _assemble(done, names, len(draws), settings)


def simulate_piece(
    changes: list[tuple[int, Parameters]], settings: Settings, seed: int
) -> xr.Dataset:
    """One simulation, reduced to the counts the outcomes are read from
    (:meth:`sim.engine.results.Recorder.counts`)."""
    (_, first), *later = changes
    engine = ENGINES[settings.engine]
    simulation = engine(first, settings.customers, settings.months, seed, changes=later)
    simulation.play()
    return simulation.recorder.counts(
        scale=float(simulation.attrs["scale"]), discount_rate=float(first.discount_rate)
    )


def _schedule(params: Parameters, plan: Plan | None) -> list[tuple[int, Parameters]]:
    return [(0, params)] if plan is None else schedule(params, plan)


def _assemble(
    done: dict[Piece, xr.Dataset], names: list[str], n_draws: int, settings: Settings
) -> xr.Dataset:
    """The pieces as one Dataset (scenario, draw, segment, month): one ``draw`` per
    simulation, parameter draw d's replication r at d * replications + r (coordinates
    ``parameter_draw`` and ``replication`` say which)."""
    first = done[Piece(BASELINE, 0, 0)]
    samples = [(d, r) for d in range(n_draws) for r in range(settings.replications)]
    data = {
        var: xr.Variable(
            ("scenario", "draw", *template.dims),
            np.array([[done[Piece(name, d, r)][var].values for d, r in samples] for name in names]),
            attrs=template.attrs,
        )
        for var, template in first.data_vars.items()
    }
    draw, replication = (np.array(column) for column in zip(*samples, strict=True))
    coords = {
        "scenario": names,
        "draw": np.arange(len(samples)),
        "parameter_draw": ("draw", draw),
        "replication": ("draw", replication),
        **first.coords,
    }
    return xr.Dataset(data, coords=coords, attrs={**first.attrs, **asdict(settings)})


def _store(
    store: Path | None, draws: list[Parameters], plans: Mapping[str, Plan], settings: Settings
) -> Path | None:
    """The folder of this run's pieces, named by a fingerprint of everything they depend on,
    so that a rerun with other inputs never picks up stale pieces."""
    if store is None:
        return None
    same = {k: v for k, v in asdict(settings).items() if k != "engine"}  # either engine's
    digest = hashlib.sha256(json.dumps(same, sort_keys=True).encode())
    digest.update(STORE_FORMAT.encode())
    for params in draws:
        for field in fields(params):
            value = getattr(params, field.name)
            if isinstance(value, np.ndarray):
                digest.update(np.ascontiguousarray(value, dtype=float).tobytes())
            elif field.name == "queues":
                digest.update(
                    repr(sorted((k, q.model_dump_json()) for k, q in value.items())).encode()
                )
            else:
                digest.update(repr(value).encode())
    for name, plan in plans.items():
        digest.update(name.encode())
        digest.update(repr([s.model_dump_json() for s in plan.scenarios]).encode())
    folder = store / f"pieces-{digest.hexdigest()[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(folder: Path, piece: Piece) -> Path:
    safe = hashlib.sha256(piece.scenario.encode()).hexdigest()[:12]
    return folder / f"{safe}-d{piece.draw}-r{piece.replication}.npz"


def _save(folder: Path, piece: Piece, result: xr.Dataset) -> None:
    """A piece's arrays and attributes as one ``.npz`` (written whole or not at all): a few
    milliseconds, where netCDF took fifty, which a sweep of hundreds of pieces felt."""
    arrays = {f"var.{name}": v.values for name, v in result.data_vars.items()}
    arrays |= {f"dims.{name}": np.array(v.dims) for name, v in result.data_vars.items()}
    arrays |= {f"coord.{name}": c.values for name, c in result.coords.items()}
    arrays |= {f"attr.{name}": np.array(value) for name, value in result.attrs.items()}
    with atomic_file(_path(folder, piece)) as partial:
        with partial.open("wb") as file:
            np.savez(file, **arrays)


class StoreBusy(RuntimeError):
    """Another run is writing to the same store of pieces."""


@contextlib.contextmanager
def _locked(store: Path | None) -> Iterator[None]:
    """Hold the store's lock for the block: two runs writing one store would mix and delete
    each other's pieces, so the second is refused (:class:`StoreBusy`). A lock left by a run
    that died (its process is gone) is taken over."""
    if store is None:
        yield
        return
    store.mkdir(parents=True, exist_ok=True)
    lock = store / "lock"
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = int(lock.read_text() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and process_alive(owner):
                raise StoreBusy(f"another run (process {owner}) is writing there") from None
            lock.unlink(missing_ok=True)  # left by a run that died
            continue
        with os.fdopen(handle, "w") as file:
            file.write(str(os.getpid()))
        break
    else:
        raise StoreBusy("another run is writing there")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _load(folder: Path | None, piece: Piece, segments, months: int) -> xr.Dataset | None:
    """A finished piece saved by an earlier run, or None when there is none or it is damaged
    (cut short, unreadable, or not the shape of this run's pieces): a damaged piece is
    deleted and simulated again."""
    if folder is None or not _path(folder, piece).exists():
        return None
    try:
        found = _read(folder, piece)
        if list(found["segment"].values) != list(segments) or found.sizes["month"] != months:
            raise ValueError("another shape")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        _path(folder, piece).unlink(missing_ok=True)
        return None
    return found


def _read(folder: Path, piece: Piece) -> xr.Dataset:
    with np.load(_path(folder, piece), allow_pickle=False) as saved:
        parts = {key: saved[key] for key in saved.files}
    field = {kind: {} for kind in ("var", "dims", "coord", "attr")}
    for key, value in parts.items():
        kind, name = key.split(".", 1)
        field[kind][name] = value
    data = {name: (tuple(field["dims"][name]), v) for name, v in field["var"].items()}
    attrs = {name: v.item() for name, v in field["attr"].items()}
    return xr.Dataset(data, coords=field["coord"], attrs=attrs)
