"""Ctrl-C for the command line: deferred to safe points, so it never lands inside XLA.

A KeyboardInterrupt raised while Python runs inside a native callback (an extension's import,
XLA's compiler calling back through nanobind) can abort the process or be swallowed. After
:func:`install`, the first SIGINT only records the request; :func:`check` raises
KeyboardInterrupt at the next safe point (after the imports, after compilation, after each
chunk of a run, before its checkpoint). A second SIGINT exits at once with code 130.
:func:`interruptible` runs long native work (compilation) in a worker thread while the main
thread waits in short steps, so a pending Ctrl-C is answered within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_REQUESTS: list[int] = []


def _on_sigint(signum, frame) -> None:
    del frame
    _REQUESTS.append(signum)
    if len(_REQUESTS) > 1:
        print("\njaxcurr: interrupted", file=sys.stderr, flush=True)
        os._exit(130)


def install() -> None:
    """Defer SIGINT (command line only; library use keeps Python's default)."""
    signal.signal(signal.SIGINT, _on_sigint)


@contextlib.contextmanager
def deferred():
    """Defer SIGINT inside the block (the command line's imports: JAX's native extensions abort
    the process if KeyboardInterrupt lands inside them), restore the previous handler after it,
    then raise KeyboardInterrupt in Python code if one came."""
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if _REQUESTS:
        _REQUESTS.clear()
        raise KeyboardInterrupt


def requested() -> bool:
    return bool(_REQUESTS)


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt is pending."""
    if _REQUESTS:
        raise KeyboardInterrupt


def interruptible(fn, *args, poll_s: float = 0.1):
    """``fn(*args)`` in a worker thread; the caller waits, checking for a pending interrupt
    every ``poll_s`` seconds (KeyboardInterrupt then, the worker left to finish alone: the
    command line exits without tearing it down). Returns ``fn``'s value or raises its error."""
    out: dict = {}

    def work():
        try:
            out["value"] = fn(*args)
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            out["error"] = err

    worker = threading.Thread(target=work, name="jaxcurr-compile", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(poll_s)
        check()
    if "error" in out:
        raise out["error"]
    return out["value"]
