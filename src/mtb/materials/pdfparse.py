"""Where pypdf's reading of a PDF may differ from a viewer's: a refusal, never a guess.

pypdf (strict=False) reads a damaged file by recovering, and reports each recovery only as a log record.
A viewer (pdfium, Acrobat) recovers differently, so the document our checks walk is not the one the
reviewer's viewer shows. Every upload is refused as ambiguous when pypdf, while reading its dictionaries,
- meets a key twice (pypdf keeps the first value, pdfium and Acrobat the last: `/OpenAction <<GoTo>>
  /OpenAction <<JavaScript>>` passes our walk and runs in a viewer);
- cannot read a value and keeps the dictionary only up to it (a stray token, `/Foo bogus`, hides every
  entry after it from pypdf, while pdfium skips the token and reads them: a whole-page link, a bigger
  page box, an open action);
- meets a key that is not a name, or a stream without a length;
and (`check_object_streams`, read from the file's own numbers) when an object stream lists one object
number twice, or the cross-reference data points into it at an entry of another number: pypdf takes the
first copy, a viewer the one the cross-reference data names.
No honest writer produces any of these. Recoveries that do not change what the dictionaries say (a
Chinese font name in GBK bytes, a text string that is not UTF-16) are not refusals.

The watch must hear pypdf whatever the process's logging configuration says. It therefore depends on
nothing that configuration changes:
- the handler sits on the loggers that emit the records (so no parent's level, handlers or `propagate`
  matter) and their own level is set to WARNING (so no ancestor's level matters);
- a logger switched off by `dictConfig`/`fileConfig` (`disable_existing_loggers`) is switched back on;
- the record's thread is never read (`logging.logThreads = False`, as mtb/logs.py sets it, leaves it
  empty): `emit` runs in the thread that parsed, so a thread-local list collects what that thread met
  (uploads are inspected in parallel threads).
Only `logging.disable()` could still silence it: then the upload is answered 503 (the file is neither
accepted unchecked nor blamed on its sender), and the log says why.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pypdf import PdfReader

from mtb.errors import MTBError

# The module whose `DictionaryObject.read_from_stream` logs the recoveries, and how each message starts
# (the record's template, before its values are filled in).
SOURCE = "pypdf.generic._data_structures"
REPEATED_KEY = "Multiple definitions in dictionary"
PARTIAL_DICTIONARY = ("%(exception)s", "%(exception)r")  # a value or key that could not be read
NO_STREAM_LENGTH = "Stream length not defined"
_RECOVERIES = (REPEATED_KEY, *PARTIAL_DICTIONARY, NO_STREAM_LENGTH)
# pypdf's own recoveries inside an object stream's index (it skips or truncates entries).
READER = "pypdf._reader"
_OBJECT_STREAM_RECOVERIES = ("Invalid /N", "Value /N", "Invalid object number", "Invalid stream (index")
# An object stream's index: at most this many entries are read (pypdf's own bound is the stream's size).
MAX_INDEX_ENTRIES = 100_000
_INTEGER = re.compile(rb"\s*(\d{1,10})")


class WatchSilenced(MTBError):
    """Logging is switched off process-wide (`logging.disable`): pypdf's recoveries cannot be heard."""

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
        if found is None:
            return
        template = str(record.msg)
        watched = _RECOVERIES if record.name == SOURCE else _OBJECT_STREAM_RECOVERIES
        if template.startswith(watched):
            found.append(record.getMessage()[:200])


_COLLECTOR = _Collector()


@contextmanager
def parse_recoveries() -> Iterator[list[str]]:
    """What pypdf recovered from (see the module) in this thread while the block runs."""
    for name in (SOURCE, READER):
        logger = logging.getLogger(name)
        logger.addHandler(_COLLECTOR)  # a no-op when it is there already
        logger.disabled = False
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
        if not logger.isEnabledFor(logging.WARNING):
            logging.getLogger(__name__).critical(
                "logging.disable() silences pypdf's recovery warnings: PDF uploads are refused (503)")
            raise WatchSilenced
    found: list[str] = []
    _COLLECTOR.local.found = found
    try:
        yield found
    finally:
        _COLLECTOR.local.found = None


def check_object_streams(reader: PdfReader) -> str | None:
    """Why the file's object streams are ambiguous (see the module), or None."""
    streams: dict[int, list[tuple[int, int]]] = {}
    for number, (stream_number, index) in reader.xref_objStm.items():
        streams.setdefault(int(stream_number), []).append((int(number), int(index)))
    for stream_number, listed in streams.items():
        numbers = _index_numbers(reader, stream_number)
        if numbers is None:
            return f"object stream {stream_number}: unreadable index"
        if len(set(numbers)) != len(numbers):
            return f"object stream {stream_number} lists an object number twice"
        for number, index in listed:
            if not 0 <= index < len(numbers) or numbers[index] != number:
                return f"object {number}: entry {index} of object stream {stream_number} is another object"
    return None


def _index_numbers(reader: PdfReader, stream_number: int) -> list[int] | None:
    """The object numbers an object stream's index lists, in order, read strictly; None if unreadable."""
    stream = reader.get_object(stream_number)
    if stream is None or not hasattr(stream, "get_data"):
        return None
    count, first = stream.get("/N"), stream.get("/First")
    if not isinstance(count, int) or not isinstance(first, int) or not 0 <= count <= MAX_INDEX_ENTRIES:
        return None
    header = stream.get_data()[:first]
    numbers: list[int] = []
    at = 0
    for _ in range(count):
        number = _INTEGER.match(header, at)
        offset = _INTEGER.match(header, number.end()) if number else None
        if number is None or offset is None:
            return None
        numbers.append(int(number.group(1)))
        at = offset.end()
    return numbers
