"""Repeated dictionary keys, as pypdf meets them while it parses a PDF.

A dictionary that repeats a key is read differently by different programs: pypdf keeps the first value,
pdfium and Acrobat the last, so `/OpenAction <<GoTo>> /OpenAction <<JavaScript>>` passes our walk and
runs in a viewer. No honest writer repeats a key, so any repetition refuses the file
(`mtb/materials/inspect.py`).

pypdf reports a repetition only as a log record (strict=False), so the watch must hear it whatever the
process's logging configuration says. It therefore depends on nothing that configuration changes:
- the handler sits on the logger that emits the record (so no parent's level, handlers or `propagate`
  matter) and that logger's own level is set to WARNING (so no ancestor's level matters);
- a logger switched off by `dictConfig`/`fileConfig` (`disable_existing_loggers`) is switched back on;
- the record's thread is never read (`logging.logThreads = False`, as mtb/logs.py sets it, leaves it
  empty): `emit` runs in the thread that parsed, so a thread-local list collects what that thread met
  (uploads are inspected in parallel threads).
Only `logging.disable()` could still silence it: then the upload is answered 503 (the file is neither
accepted unchecked nor blamed on its sender), and the log says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mtb.errors import MTBError

# The module whose `read_from_stream` logs the repetition, and the message it logs.
SOURCE = "pypdf.generic._data_structures"
REPEATED_KEY = "Multiple definitions in dictionary"


class WatchSilenced(MTBError):
    """Logging is switched off process-wide (`logging.disable`): repeated keys cannot be heard."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("inspection_unavailable", "文件检查暂时不可用，请稍后再试",
                         headers={"Retry-After": "60"})


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        found: list[str] | None = getattr(self.local, "found", None)
        if found is not None and str(record.msg).startswith(REPEATED_KEY):
            found.append(record.getMessage())


_COLLECTOR = _Collector()


@contextmanager
def repeated_keys() -> Iterator[list[str]]:
    """The repeated keys pypdf meets in this thread while the block runs."""
    logger = logging.getLogger(SOURCE)
    logger.addHandler(_COLLECTOR)  # a no-op when it is there already
    logger.disabled = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    if not logger.isEnabledFor(logging.WARNING):
        logging.getLogger(__name__).critical(
            "logging.disable() silences pypdf's repeated-key warnings: PDF uploads are refused (503)")
        raise WatchSilenced
    found: list[str] = []
    _COLLECTOR.local.found = found
    try:
        yield found
    finally:
        _COLLECTOR.local.found = None
