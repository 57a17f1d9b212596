"""Running many independent simulations: in this process, on local processes, or on dask.

Every piece of work is a call ``function(*args)`` whose result depends on its arguments
only, so the executor changes the speed and never the results. Executors:

- ``"serial"``: one after another in this process;
- ``"processes"``: a pool of local processes, spawned (not forked: forking a process that
  holds threads, such as BLAS's or dask's, can deadlock);
- any other text: a ``dask.distributed`` scheduler address, ``"local"`` starting a
  LocalCluster of one single-threaded process per core.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any


def execute(
    function: Callable[..., Any],
    jobs: Mapping[Hashable, tuple],
    executor: str = "processes",
    workers: int | None = None,
) -> Iterator[tuple[Hashable, Any]]:
    """Call ``function(*args)`` for each job; yield ``(key, result)`` as each finishes.

    Parameters
    ----------
    function
        A module-level function (processes receive it by name).
    jobs
        The arguments of each call, by a key of the caller's choosing.
    executor
        ``"serial"``, ``"processes"`` or a dask scheduler address (``"local"``: a
        LocalCluster).
    workers
        Processes of a local pool or cluster (default: one per core, at most one per job).

    Yields
    ------
    The key and result of each job, in the order they finish (serially: the jobs' order).
    Interrupting the loop (Ctrl-C included) cancels the jobs not yet started.
    """
    if not jobs:
        return
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    if executor == "serial":
        for key, args in jobs.items():
            yield key, function(*args)
    elif executor == "processes":
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_interrupts)
        futures: dict[Future, Hashable] = {
            pool.submit(function, *args): key for key, args in jobs.items()
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # Ctrl-C, or a failed job: stop every worker now
            _stop(pool)
            raise
        pool.shutdown()
    else:
        yield from _execute_dask(function, jobs, executor, workers)


def _ignore_interrupts() -> None:
    """In a worker: leave Ctrl-C to the main process, which stops the workers itself (a
    worker interrupted in the middle of a job would print its own traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _workers_ignore_interrupts() -> Iterator[None]:
    """Ctrl-C ignored while dask's worker processes start, so that they inherit it ignored:
    the terminal sends Ctrl-C to the whole process group, and each worker printed a
    traceback; the main process stops them itself (closing the cluster). Python and asyncio in
    a worker leave a signal they find ignored ignored. Blocking it instead would not do: a
    process spawned by multiprocessing starts with no signal blocked. The cost: a Ctrl-C in
    the second or two the cluster takes to start is lost (the next one stops the command)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started and end the workers at once, not after their jobs."""
    processes = list(getattr(pool, "_processes", {}).values())  # the workers, to end them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=2)


def _execute_dask(
    function: Callable[..., Any], jobs: Mapping[Hashable, tuple], address: str, workers: int
) -> Iterator[tuple[Hashable, Any]]:
    from dask.distributed import Client, LocalCluster  # here: dask is needed for dask alone
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if address == "local":
        with _workers_ignore_interrupts():
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR,  # a cancelled piece is not news after a Ctrl-C
            )  # fmt: skip
    try:
        with Client(cluster if cluster is not None else address) as client:
            futures = {
                client.submit(function, *args, pure=False): key for key, args in jobs.items()
            }
            try:
                for future in dask_completed(futures):
                    yield futures[future], future.result()
            finally:
                client.cancel(list(futures))
    finally:
        if cluster is not None:
            cluster.close()
