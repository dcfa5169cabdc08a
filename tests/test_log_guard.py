"""The session-wide log watch (conftest.py) really catches a full ID number."""

from __future__ import annotations

import logging

from tests.conftest import _IdNumberWatch


def test_the_watch_catches_a_full_id_number_and_ignores_masked_ones() -> None:
    watch = _IdNumberWatch()
    logger = logging.getLogger("mtb.test.watch")
    logger.propagate = False  # the deliberate leak below must not reach the session-wide watch
    logger.addHandler(watch)
    try:
        logger.warning("masked %s", "110105********9010")
        logger.warning("not an ID: %s", "123456789012345678")  # fails the check digit
        assert watch.offenders == []
        logger.warning("leak", extra={"who": "110105198001019010"})
        assert len(watch.offenders) == 1 and "**************9010" in watch.offenders[0]
        assert "198001019010" not in watch.offenders[0]
        # However it is written: separated, URL-encoded, a 15-digit legacy number.
        for written in ("1101 0519 8001 0190 10", "110105-19800101-9010", "id=110105%2019800101%209010",
                        "110105800101901"):
            logger.warning("leak %s", written)
        assert len(watch.offenders) == 5
    finally:
        logger.removeHandler(watch)
