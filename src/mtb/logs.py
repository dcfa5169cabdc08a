"""Structured (JSON lines) logging that never prints a resident ID number, however it is written.

Every record passes through the formatter's masking, whatever the caller put in it: the message (with
its arguments), every extra field (strings, numbers, and what lists and dictionaries hold), the
exception and stack text. An ID number is found by what it is, not by how it is spelled (`find_ids`):
any run of 15 to 18 digits (an 18-character number may end in X) with optional separators between them
— spaces, `+`, `-`, `.`, `/`, `,`, `:`, `|`, their URL encodings (`%20`, `%2B`, ...), URL-encoded or
full-width digits — that reads as a number: an 18-character one with a real birth date and a known birth
place (with its GB 11643 check digit or not: a wrong one is most often a typo of a real number), or a 15-digit one (the first generation's, before 1999) that
converts into one. Runs that are not valid numbers (order numbers, timestamps) stay as they are.

Cheap enough for one access line per request (docs/benchmarks.md): values shorter than 15 characters
and numbers outside 15-18 digits are not looked at, plain ASCII text gets a quick look in C first, the
JSON encoder is made once, the time text is remade once a second, and the records carry no caller,
thread or process fields, which MTB's lines never print.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from mtb.identity import idnumber

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# One character of a number: a digit (ASCII or full-width), the check character X, or any of them URL-
# encoded (%31, %58; full-width as UTF-8: %EF%BC%91), once or twice (%2531).
_TOKEN = (r"(?:[0-9\uff10-\uff19Xx\uff38\uff58]"
          r"|%(?:25)?(?:3[0-9]|58|78)|%(?:25)?[eE][fF]%(?:25)?[bB][cC]%(?:25)?(?:9[0-9]|[bB]8)"
          r"|%(?:25)?[eE][fF]%(?:25)?[bB][dD]%(?:25)?98)")
# Between two characters: up to three separators (space, tab, newline, + - . / , : | \ ·, the ideographic
# and the no-break space), plain or URL-encoded.
_SEPARATOR = (r"(?:[\s+\-._/,:|\\·]"
              r"|%(?:25)?(?:20|09|0[aAdD]|2[bBcCdDeEfF]|3[aA]|7[cC]|5[cC])"
              r"|%(?:25)?[cC]2%(?:25)?[aA]0|%(?:25)?[cC]2%(?:25)?[bB]7|%(?:25)?[eE]3%(?:25)?80%(?:25)?80)")
_RUN = re.compile(rf"{_TOKEN}(?:{_SEPARATOR}{{0,3}}+{_TOKEN}){{14,}}+")
# The same for plain ASCII text without URL encoding: character classes only, several times faster.
_RUN_PLAIN = re.compile(r"[0-9Xx](?:[\s\x1c-\x1f+\-._/,:|\\]{0,3}+[0-9Xx]){14,}+", re.ASCII)
_PIECE = re.compile(rf"({_TOKEN})|{_SEPARATOR}")  # a run read piece by piece: a separator is skipped whole
_SHORTEST = 15  # characters: no shorter text holds a number


# The quick look for plain ASCII text without URL encoding (most of what is logged), done in C: the
# separators deleted, digits kept, X as X, anything else "#" (bytes.translate); then the shape of a number
# searched in that: a province, a month and a day where a number has them. A path holding a UUID, even
# one of zeros, passes without the character-by-character reading below.
_QUICK = bytes(b if chr(b) in "0123456789X" else 88 if chr(b) == "x" else 35 for b in range(256))
_QUICK_DELETE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f+-._/,:|\\"  # ASCII of _SEPARATOR (\s included)
_MONTH_DAY = rb"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_QUICK_SHAPE = re.compile(rb"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])[0-9]{4}"
                          rb"(?:[0-9]{4}" + _MONTH_DAY + rb"[0-9]{3}[0-9X]|[0-9]{2}" + _MONTH_DAY + rb"[0-9]{3})")
_STRIP = str.maketrans("", "", _QUICK_DELETE.decode("ascii"))


def _may_hold_id(text: str) -> bool:
    if len(text) < _SHORTEST:
        return False
    if text.isascii() and "%" not in text:
        return _QUICK_SHAPE.search(text.encode("ascii").translate(_QUICK, _QUICK_DELETE)) is not None
    return _RUN.search(text) is not None


def _character(token: str) -> str:
    if token[0] == "%":
        token = bytes.fromhex(token.replace("%25", "%").replace("%", "")).decode()
    if "\uff10" <= token <= "\uff19":
        return chr(ord(token) - 0xFF10 + 0x30)
    return "X" if token in "Xx\uff38\uff58" else token


# First two digits of a division code (GB/T 2260 provinces; 71, 81, 82 Taiwan, Hong Kong, Macao).
_PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                        "65", "71", "81", "82"})
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _valid(chars: str) -> str | None:
    """The 18-character number `chars` stands for, if it is a valid ID number (18, or legacy 15).

    Quick refusals first (a province, a month and a day that can be, the check digit), so a long run of
    digits in a log line (a test's UUIDs made of zeros) costs microseconds; then the full check.
    """
    month = chars[10:12] if len(chars) == 18 else chars[8:10]
    day = chars[12:14] if len(chars) == 18 else chars[10:12]
    if (chars[:2] not in _PROVINCES or not ("01" <= month <= "12") or not ("01" <= day <= "31")
            or not chars[:17].isdigit()):
        return None
    if len(chars) == 18:
        check = _CHECK[sum(int(c) * w for c, w in zip(chars, _WEIGHTS, strict=False)) % 11]
        # A wrong check digit is most often a typo of a real number (17 of its 18 characters): masked too
        # when the rest reads as a number (a birth place and a birth date that exist).
        return chars if idnumber.is_valid(chars if check == chars[17] else chars[:17] + check) else None
    full = idnumber.with_check_digit(chars[:6] + "19" + chars[6:])  # 15: place, YYMMDD of the 1900s, sequence
    return full if idnumber.is_valid(full) else None


def find_ids(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, number) of every valid ID number written in `text`, in order, not overlapping."""
    if len(text) < _SHORTEST:
        return
    for run in (_RUN_PLAIN if text.isascii() and "%" not in text else _RUN).finditer(text):
        piece = run.group()
        plain = piece.isascii() and "%" not in piece
        # Plain ASCII (the usual case): the characters in C, their places only once a number is found.
        chars = piece.translate(_STRIP).upper() if plain else ""
        places: list[tuple[int, int]] | None = None
        if not plain:
            tokens = [(m.start(), m.end(), _character(m.group())) for m in _PIECE.finditer(piece) if m.group(1)]
            chars, places = "".join(t[2] for t in tokens), [(t[0], t[1]) for t in tokens]
        i = 0
        while i + _SHORTEST <= len(chars):
            if chars[i:i + 2] not in _PROVINCES:  # no number starts here: the quickest refusal
                i += 1
                continue
            for size in (18, 15):
                number = _valid(chars[i:i + size]) if i + size <= len(chars) else None
                if number is not None:
                    if places is None:
                        places = [(k, k + 1) for k, ch in enumerate(piece) if ch in "0123456789Xx"]
                    yield run.start() + places[i][0], run.start() + places[i + size - 1][1], number
                    i += size
                    break
            else:
                i += 1


def mask_ids(text: str) -> str:
    """`text` with every valid ID number in it (however written) replaced by its masked form."""
    if not _may_hold_id(text):
        return text
    out, last = [], 0
    for start, end, number in find_ids(text):
        out += [text[last:start], idnumber.mask(number)]
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _read_hidden(text: str) -> str | None:
    """`text` as MTB reads a number typed (`idnumber.unify`, the reading `normalize` makes), masked, if that
    reading holds an ID number; else None. What the server accepts as a number is masked however it was
    spelled: 𝟏 ¹ ① (NFKC digits), an em space or four spaces between digits."""
    read = idnumber.unify(text)
    if not _may_hold_id(read) or next(find_ids(read), None) is None:
        return None
    return mask_ids(read)


def mask_path(path: str) -> str:
    """A request's (decoded) path with every ID number in it masked, `find_ids`'s spellings and also any
    the server would read as one (`_read_hidden`)."""
    if not path.isascii() or any(c.isspace() for c in path):
        hidden = _read_hidden(path)
        if hidden is not None:
            return hidden
    return mask_ids(path)


def mask_query(raw: bytes) -> str:
    """A request's query string for the access line, every ID number in it masked: `mask_ids` over each
    parameter as sent, and over its decoded value as the server reads it (`_read_hidden`), so neither a
    URL-encoded 𝟏 nor `1101++++05...` nor raw UTF-8 digits get through."""
    out = []
    for part in raw.decode("utf-8", "backslashreplace").split("&"):
        hidden = None
        if not part.isascii() or "%" in part or "+" in part:
            hidden = _read_hidden(unquote_plus(part))
        out.append(hidden if hidden is not None else mask_ids(part))
    return "&".join(out)


def masked(value: Any) -> Any:
    """A log field's value with ID numbers masked, kept as a number where it is not one."""
    if isinstance(value, str):
        return mask_ids(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if 10**14 <= abs(value) < 10**18:
            text = str(value)
            hidden = mask_ids(text)
            return hidden if hidden != text else value
        return value
    if isinstance(value, dict):
        return {masked(k) if isinstance(k, str) else k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(v) for v in value]
    return mask_ids(str(value))


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=lambda o: mask_ids(str(o)))
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error",
           logging.CRITICAL: "critical"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": _LEVELS.get(record.levelno) or record.levelname.lower(),
            "logger": record.name,
            "event": mask_ids(record.getMessage()),
        }
        for key in fields:
            if key not in _STANDARD_ATTRS and key[0] != "_":
                entry[key] = masked(fields[key])
        if record.exc_info:
            entry["exception"] = mask_ids(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask_ids(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask_ids(record.stack_info)
        return _ENCODER.encode(entry)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The lines never print the caller, thread or process: not looking them up makes every record
    # cheaper (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # One access line per request, the Edge's (mtb/http/edge.py). uvicorn writes its own whenever its logger
    # has a handler up the tree (it asks `hasHandlers()`, whatever `access_log=False` said): a second line
    # per request, with the raw query string. Cut off here, uvicorn does not even make it.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
