"""SIGINT/SIGTERM handlers for the length of a block, shared by training and studies.

A long job (a run, a study) turns the first stop signal into "finish cleanly" and a
second into "stop at once"; what that means is the caller's handler. Python only
delivers signals to the main thread, so elsewhere the block runs with the
process's handlers unchanged.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def on_stop_signals(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM inside the block (main thread only), then the
    previous handlers again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
