"""Signals that unwind like Ctrl-C, so that worker pools end and temporary folders are removed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def unwinding(*signums: int) -> Iterator[None]:
    """While inside, each of ``signums`` raises ``KeyboardInterrupt``; the previous handlers come back after."""
    previous = {signum: signal.signal(signum, _raise_keyboard_interrupt) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
