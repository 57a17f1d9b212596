"""Ctrl-C that never lands inside compiled code.

Picture a clerk told to stop while handing over a form: the stop should wait until the form
has left their hand. A numba function hands its result to Python by running a little Python
(a ``NamedTuple``'s ``__new__``, numba's ``_numba_unpickle`` for an array's type). Python's own
Ctrl-C handler raises ``KeyboardInterrupt`` at the next line of Python it runs, and if that line
is one of those, numba is left holding a half-made result: the process dies of a segmentation
fault (2 of 6 tries of a loop returning a NamedTuple, numba 0.68) or stops with a
``SystemError`` traceback. Both were seen in ``ctm quickwins --serial``.

:func:`deferred_interrupts` installs a handler that raises ``KeyboardInterrupt`` as Python
does, except when the line running is one of those: then it sends Ctrl-C
again a moment later, when the result has been handed over. So too where the exception
would be swallowed: a garbage-collector callback, a ``__del__`` or a function C calls back
(llvmlite's object cache) prints "Exception ignored" and carries on (dask's did, and the
sweep then ran to its end; llvmlite's did, and the fit sampled to its end).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

UNPICKLE = str(Path(importlib.util.find_spec("numba").origin).parent / "core" / "serialize.py")
"""numba's module of ``_numba_unpickle``, found without importing numba (a command that needs
no numba loads none)."""
RETRY = 0.01
"""Seconds after which a deferred Ctrl-C is sent again."""
C_CALLBACKS = {"_raw_object_cache_notify", "_raw_object_cache_getbuffer"}
"""Python functions that C calls through ctypes, where an exception is printed as "Exception
ignored" and dropped: llvmlite's object cache, told of each function numba compiles (a
``ctm fit`` interrupted while compiling so ran its sampling to the end)."""


def inside_compiled_handover(frame: FrameType | None) -> bool:
    """Whether ``frame`` is Python run by compiled code handing over a result: numba's
    ``_numba_unpickle`` (an array's type, a constant) or a NamedTuple's ``__new__`` (made by
    ``collections.namedtuple`` in a namespace it names ``namedtuple_<type>``). Not numba's
    compiler, which is plain Python and stops as any: deferring there held a Ctrl-C for as
    long as a first compilation takes (over 30 s on a fresh machine)."""
    if frame is None:
        return False
    return frame.f_code.co_filename == UNPICKLE or str(
        frame.f_globals.get("__name__", "")
    ).startswith("namedtuple_")


def swallowing(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` would be printed as "Exception ignored" and
    dropped: ``frame`` or a caller of it is a garbage collector callback (dask's
    ``GCDiagnosis`` took a Ctrl-C so, and the sweep ran to its end), a ``__del__`` method or
    a function C calls back (:data:`C_CALLBACKS`)."""
    callbacks = {getattr(getattr(c, "__func__", c), "__code__", None) for c in gc.callbacks}
    while frame is not None:
        name = frame.f_code.co_name
        if name == "__del__" or name in C_CALLBACKS or frame.f_code in callbacks:
            return True
        frame = frame.f_back
    return False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if inside_compiled_handover(frame) or swallowing(frame):
        threading.Timer(RETRY, os.kill, (os.getpid(), signal.SIGINT)).start()
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C raises ``KeyboardInterrupt`` only where it stops the command:
    not in compiled code's handover, not where it would be swallowed (the previous handler
    is restored after). Only in the main thread, where Python runs signal handlers;
    elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
