"""Keep transformers' progress bars and log lines off the user's terminal while loading.

transformers draws a "Loading weights" bar on stderr for every model it loads, and
its loggers write to stderr through a handler of their own, whatever the
application configured. A library does not print: while glam_policy loads a
model, :func:`quiet_transformers` turns the bars off (transformers' and the
hub's) and hands transformers' log records to this package's logger at their own
level, so they reach the application's logging setup like any glam_policy record
(a warning still shows where logging is not configured, as Python's warnings do).
Everything is put back as it was on exit, even when loading fails.

The settings are process-wide: a load in one thread quiets transformers in the
others for its duration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)
from transformers.utils import logging as hf_logging

logger = logging.getLogger(__name__)


class _ForwardToLogging(logging.Handler):
    """Re-emit a transformers record through ``glam_policy.quiet`` at the same level."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            logger.log(record.levelno, "%s: %s", record.name, record.getMessage())
        except Exception:  # a broken record must not break the load
            self.handleError(record)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No transformers or hub progress bar, and transformers' records through ``logging``."""
    library = hf_logging.get_logger()  # the "transformers" logger, its handler installed
    handlers, propagate = list(library.handlers), library.propagate
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars = not are_progress_bars_disabled()
    if bars:
        hf_logging.disable_progress_bar()  # the hub's bars too
    elif hub_bars:
        disable_progress_bars()
    library.handlers = [_ForwardToLogging()]
    library.propagate = False
    try:
        yield
    finally:
        library.handlers = handlers
        library.propagate = propagate
        if bars:
            hf_logging.enable_progress_bar()  # the hub's bars too
            if not hub_bars:
                disable_progress_bars()
        elif hub_bars:
            enable_progress_bars()
