"""Signals that unwind like Ctrl-C, so that worker pools end and temporary folders are removed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Stop:
    """The signal that arrived while unwinding was on, if one did. Its ``KeyboardInterrupt`` can be
    lost: one raised inside a ``__del__`` or a callback is only printed, and the work goes on."""

    signum: int | None = None


@contextmanager
def unwinding(*signums: int) -> Iterator[Stop]:
    """While inside, each of ``signums`` raises ``KeyboardInterrupt`` and is recorded in the ``Stop``
    yielded; the previous handlers come back after."""
    stop = Stop()

    def interrupt(signum, frame):
        stop.signum = signum
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {signum: signal.signal(signum, interrupt) for signum in signums}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
