"""The process's logging, put back after a test that changes it (configure_logging, dictConfig...), so that
later tests of the session log, and are watched, as before."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Put every logger back as it was (dictConfig switches off every logger that exists; configure_logging
    replaces the root's handlers, among them the suite's ID-number watch)."""
    def state(lg: logging.Logger) -> tuple[int, list[logging.Handler], bool, bool]:
        return lg.level, list(lg.handlers), lg.propagate, lg.disabled

    loggers = [logging.getLogger()] + [lg for lg in logging.root.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    saved = [(lg, state(lg)) for lg in loggers]
    flags = (logging.logThreads, logging.logProcesses, logging._srcfile, logging.root.manager.disable)
    yield
    logging.logThreads, logging.logProcesses, logging._srcfile = flags[:3]
    logging.disable(flags[3])
    for lg, (level, handlers, propagate, disabled) in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled
    for lg in logging.root.manager.loggerDict.values():  # made during the test: as a new logger starts
        if isinstance(lg, logging.Logger) and lg not in loggers:
            lg.disabled = False
