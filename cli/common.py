"""What every ``ctm`` command shares: the consoles, one-line errors, options, progress.

A command prints its results on standard output (:data:`console`) and its progress, warnings
and errors on standard error (:data:`errors`). Bad input (:class:`sim.inputs.errors.InputError`)
becomes one line per problem and exit code 2, never a traceback (:func:`user_errors`).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.interrupts import deferred_interrupts
from sim.inputs.errors import InputError

console = Console(width=None if sys.stdout.isatty() else 100, soft_wrap=True)
errors = Console(stderr=True)

WorldArg = Annotated[str, typer.Argument(help="World file (YAML), or 'demo' for the bundled demo.")]
PosteriorOpt = Annotated[
    Path | None, typer.Option(help="Posterior from 'ctm fit'; without it, the world's parameters.")
]
DrawsOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Posterior draws to simulate; without a posterior, simulations of the world's "
        "parameters with other random numbers.",
    ),
]
CustomersOpt = Annotated[int, typer.Option(min=1, help="Customers of the base to simulate.")]
MonthsOpt = Annotated[int | None, typer.Option(min=1, help="Months (default: world horizon).")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of every random stream.")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="dask scheduler address, or 'local' for a LocalCluster.")
]
SerialOpt = Annotated[bool, typer.Option(help="One process (default: local processes).")]


class Engine(enum.StrEnum):
    """Which engine runs a world: the compiled, month-stepped one, or the agents (every
    prospect and customer a SimPy process), which give the same results more slowly."""

    compiled = "compiled"
    agents = "agents"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        help="compiled (fast) or agents (every prospect and customer a SimPy process: the "
        "same results, some 50 times slower)."
    ),
]


def check_engine(world: str, loaded, engine: Engine) -> None:
    """Refuse, before any work, a world that uses what the engine chosen does not serve
    (:func:`sim.inputs.checks.compiled_refusals`): one line each, naming the capability and
    the engine that has it.

    Raises
    ------
    InputError
        Naming the world file and the field.
    """
    from sim.inputs.checks import compiled_refusals

    problems = compiled_refusals(loaded) if Engine(engine) == Engine.compiled else []
    if problems:
        raise InputError(str(world), problems)


INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells expect."""


class PiecesKept(KeyboardInterrupt):
    """Ctrl-C during a sweep (:func:`simulating`): its finished pieces stay for a rerun."""


def user_errors(command: Callable) -> Callable:
    """Turn InputError into one line per problem on stderr and exit code 2, Ctrl-C into one
    line and exit code 130 (work finished before it, such as a sweep's pieces, is kept for a
    rerun to resume), and a full disk into one line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with deferred_interrupts():
                return command(*args, **kwargs)
        except InputError as error:
            for line in error.lines():
                errors.print(line, markup=False, highlight=False, soft_wrap=True)
            sys.exit(2)
        except KeyboardInterrupt as stop:
            kept = (
                "; finished simulations are kept, and the same command resumes them"
                if isinstance(stop, PiecesKept)
                else ""
            )
            errors.print(f"Interrupted: nothing was written{kept}.", soft_wrap=True)
            sys.exit(INTERRUPTED)
        except OSError as error:
            if error.errno not in FULL:
                raise
            where = error.filename or "ctm"
            errors.print(
                f"{where}: {error.strerror}: nothing was written (outputs appear whole or not "
                "at all); expected room to write, free some space or choose another --out",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            sys.exit(1)

    return wrapper


FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
"""The errors of a disk, quota or file size that is full: one line, not a traceback, since
every output is written whole beside its place first (:mod:`sim.inputs.files`)."""


LIMITS = {
    # option: (lowest, highest, why the highest)
    "customers": (1, 100_000_000, "a sample beyond 10^8 customers adds nothing but memory"),
    "months": (1, 600, "50 years; a run's memory grows with its months squared"),
    "draws": (1, 100_000, "intervals settle long before 10^5 draws"),
    "replications": (1, 10_000, "intervals settle long before 10^4 simulations a draw"),
    "seed": (0, 2**63 - 1, "seeds are stored as 64-bit integers"),
}
"""The plausible range of each numeric option, with the reason for its upper bound."""


def check_options(**values: int | None) -> None:
    """Refuse, in one line and before any work, an option outside its :data:`LIMITS`."""
    for name, value in values.items():
        low, high, why = LIMITS[name]
        if value is not None and not low <= value <= high:
            raise InputError(
                f"--{name}", [("", f"got {value:,}, expected {low:,} to {high:,} ({why})")]
            )


def check_memory(params, customers: int, months: int, workers: int = 1) -> None:
    """Refuse a run whose estimated peak memory (:func:`sim.engine.simulation.memory_needed`,
    times the simulations that run at once) passes 80% of this machine's memory."""
    from sim.engine.simulation import memory_needed

    need = memory_needed(params, customers, months) * workers
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > 0.8 * have:
        at_once = f" ({workers} at once)" if workers > 1 else ""
        raise InputError(
            "--customers",
            [("", f"{customers:,} customers x {months} months{at_once} need about "
                  f"{need / 2**30:,.1f} GiB, more than 80% of this machine's "
                  f"{have / 2**30:,.0f} GiB; ask for fewer customers or months")],
        )  # fmt: skip


def output_file(path: Path) -> None:
    """Make sure ``path`` can take an output file before any long work: its folder is created
    if missing; a path that is a folder, or whose parent is a file, is refused (InputError)."""
    if path.is_dir():
        raise InputError(str(path), [("", "is a folder, expected the name of a file to write")])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(str(path), [("", "its folder is a file, expected a folder")]) from None


def executor(scheduler: str | None, serial: bool) -> str:
    """The runner's executor: a dask scheduler if given, else one process or local ones."""
    return scheduler or ("serial" if serial else "processes")


def study_inputs(
    world: str,
    posterior: Path | None,
    draws: int,
    customers: int,
    months: int | None,
    seed: int,
    replications: int = 1,
    engine: Engine = Engine.compiled,
):
    """The world, its parameter sets and the run's settings: ``draws`` posterior draws with
    ``replications`` simulations each, or without a posterior the world's parameters
    simulated ``draws`` x ``replications`` times (other random numbers each time), so that
    every figure carries the simulation's noise. Never fewer simulations than asked.

    Raises
    ------
    InputError
        If the posterior holds fewer draws than asked.
    """
    from scenarios.study import samples
    from sim.inputs.load import load_world

    check_options(customers=customers, months=months, draws=draws, replications=replications,
                  seed=seed)  # fmt: skip
    loaded = load_world(world)
    check_engine(world, loaded, engine)
    try:
        sets, settings = samples(
            loaded,
            posterior,
            draws,
            customers=customers,
            months=months or loaded.economics.horizon_months,
            seed=seed,
            replications=replications,
            engine=Engine(engine).value,
        )
    except ValueError as error:
        raise InputError(str(posterior), [("", f"{error}; ask for at most that many")]) from None
    check_memory(sets[0], settings.customers, settings.months, workers=os.cpu_count() or 1)
    return loaded, sets, settings


@contextlib.contextmanager
def simulating(out: Path) -> Iterator[tuple[Path, Callable[[int, int], None]]]:
    """A folder for finished pieces (a rerun resumes there; removed once the block completes)
    and a progress callback drawing a bar."""
    from scenarios.runner import StoreBusy
    from sim.inputs.files import check_folder

    check_folder(out)  # before the work, not after it
    store = out.with_name(f".{out.name}.pieces")
    try:
        with progress_bar() as bar:
            task = bar.add_task("simulating scenarios x draws", total=None)
            yield store, lambda done, total: bar.update(task, completed=done, total=total)
    except StoreBusy as error:
        raise InputError(
            str(out), [("", f"{error}; wait for it, or choose another --out")]
        ) from None
    except KeyboardInterrupt:
        raise PiecesKept from None
    shutil.rmtree(store, ignore_errors=True)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )
