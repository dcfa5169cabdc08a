"""The repeated-key refusal holds whatever the process's logging configuration is.

pypdf reports a repeated key only as a log record, and the shipped server configures logging (mtb/logs.py
turns `logging.logThreads` off, which once made the watch deaf after any test had started a server). Each
variant below is something an operator's or a library's logging setup does; none may let the file in.
"""

from __future__ import annotations

import logging
import logging.config
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mtb.errors import MTBError
from mtb.logs import configure_logging
from mtb.materials.inspect import inspect_file
from mtb.materials.pdfparse import SOURCE
from mtb.settings import Settings
from tests.files import REPEATED_KEYS, pdf_with_entries
from tests.materials.helpers import inspection_code


@pytest.fixture(autouse=True)
def _restored(logging_restored: None) -> None:
    """Every variant here changes the process's logging; tests/logstate.py puts it back."""


def _dict_config_disabling_existing() -> None:
    logging.getLogger(SOURCE)  # exists already, so dictConfig switches it off
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": True, "root": {"level": "ERROR"}})


def _pypdf_configured_away() -> None:
    pypdf = logging.getLogger("pypdf")
    pypdf.setLevel(logging.CRITICAL)
    pypdf.handlers[:] = [logging.NullHandler()]
    pypdf.propagate = False


def _source_level_error() -> None:
    logging.getLogger(SOURCE).setLevel(logging.ERROR)


def _source_handlers_cleared() -> None:
    logging.getLogger(SOURCE).handlers[:] = []


CONFIGURATIONS: dict[str, Callable[[], None]] = {
    "as-shipped": lambda: configure_logging("INFO"),
    "shipped-at-error": lambda: configure_logging("ERROR"),
    "no-thread-ids": lambda: setattr(logging, "logThreads", False),
    "root-critical": lambda: logging.getLogger().setLevel(logging.CRITICAL),
    "pypdf-silenced": _pypdf_configured_away,
    "source-at-error": _source_level_error,
    "source-handlers-cleared": _source_handlers_cleared,
    "dictconfig-disables-existing": _dict_config_disabling_existing,
}


@pytest.mark.parametrize("in_thread", [False, True], ids=["caller", "worker-thread"])
@pytest.mark.parametrize("configure", list(CONFIGURATIONS.values()), ids=list(CONFIGURATIONS))
def test_a_repeated_key_is_refused_under_any_logging_configuration(
        configure: Callable[[], None], in_thread: bool, tmp_path: Path, settings: Settings) -> None:
    configure()
    codes: dict[str, str | None] = {}

    def inspect_all() -> None:
        for name in ("catalog-openaction", "nested-in-action", "page-mediabox"):
            path = tmp_path / f"{name}.pdf"
            path.write_bytes(pdf_with_entries(**REPEATED_KEYS[name], compressed=True))
            codes[name] = inspection_code(path, settings)

    if in_thread:
        worker = threading.Thread(target=inspect_all)
        worker.start()
        worker.join()
    else:
        inspect_all()
    assert codes == dict.fromkeys(codes, "pdf_ambiguous")
    clean = tmp_path / "clean.pdf"
    clean.write_bytes(pdf_with_entries(compressed=True))
    assert inspection_code(clean, settings) is None


def test_a_repetition_in_one_thread_is_not_charged_to_another(tmp_path: Path, settings: Settings) -> None:
    """Uploads are inspected in parallel: a clean file beside ambiguous ones is still accepted."""
    configure_logging("INFO")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(pdf_with_entries(**REPEATED_KEYS["catalog-openaction"], compressed=False))
    clean = tmp_path / "clean.pdf"
    clean.write_bytes(pdf_with_entries(compressed=False))
    results: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def run(path: Path) -> None:
        for _ in range(20):
            code = inspection_code(path, settings)
            with lock:
                results.append((path.name, code))

    threads = [threading.Thread(target=run, args=(p,)) for p in (bad, clean, bad, clean)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {code for name, code in results if name == "bad.pdf"} == {"pdf_ambiguous"}
    assert {code for name, code in results if name == "clean.pdf"} == {None}


def test_logging_switched_off_refuses_the_upload_as_unavailable(tmp_path: Path, settings: Settings) -> None:
    """`logging.disable()` is the one switch the watch cannot undo: no file passes unchecked, and the
    sender is not told the file is bad: 503 with Retry-After."""
    logging.disable(logging.CRITICAL)
    for content in (pdf_with_entries(**REPEATED_KEYS["catalog-openaction"]), pdf_with_entries()):
        path = tmp_path / "upload.pdf"
        path.write_bytes(content)
        with pytest.raises(MTBError) as caught:
            inspect_file(path, settings)
        assert caught.value.status_code == 503 and caught.value.code == "inspection_unavailable"
        assert caught.value.headers.get("Retry-After")
