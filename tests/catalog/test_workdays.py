"""Working days: statutory holidays and make-up working days as they really fall (domain.md, Review)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from mtb.catalog.workdays import load_calendar

ROOT = Path(__file__).resolve().parents[2]


def test_missing_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_calendar(tmp_path / "none.yaml")


def test_national_day_and_make_up_saturday() -> None:
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")
    # 1–8 October 2025 are holidays; Saturday 11 October 2025 is a make-up working day.
    assert cal.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    assert cal.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Sunday, made a working day
    assert cal.working_days_between(date(2025, 9, 30), date(2025, 10, 11)) == 3


def test_table_extends_unknown_years(tmp_path: Path) -> None:
    table = tmp_path / "days.yaml"
    table.write_text("years:\n  2099:\n    holidays: [2099-01-01, 2099-01-02]\n    workdays: [2099-01-03]\n")
    cal = load_calendar(table)
    # 2098-12-31 is a Wednesday; 1 and 2 January 2099 are off; Saturday 3 January works.
    assert cal.add_working_days(date(2098, 12, 31), 1) == date(2099, 1, 3)


def test_unknown_year_counts_weekdays_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("years: {}\n")
    cal = load_calendar(empty)
    with caplog.at_level(logging.WARNING, logger="mtb.workdays"):
        assert cal.add_working_days(date(2098, 12, 31), 3) == date(2099, 1, 5)  # Thu, Fri, Mon
    assert "no holiday schedule" in caplog.text


def test_bad_table_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "bad.yaml"
    table.write_text("years:\n  2099:\n    holidays: [not-a-date]\n")
    with pytest.raises(ValidationError):
        load_calendar(table)


def test_counting_between_two_days_agrees_with_counting_day_by_day() -> None:
    """The queue counts with per-year running totals; they must agree with checking every day."""
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")

    def one_by_one(start: date, end: date) -> int:
        if end < start:
            return -one_by_one(end, start)
        return sum(cal.is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))

    pairs = [(date(2024, 12, 31), date(2025, 1, 1)), (date(2025, 9, 30), date(2025, 10, 11)),
             (date(2023, 2, 28), date(2026, 3, 1)), (date(2026, 11, 25), date(2025, 6, 1)),
             (date(2025, 1, 1), date(2025, 1, 1)), (date(2024, 2, 29), date(2024, 12, 31))]
    for start, end in pairs:
        assert cal.working_days_between(start, end) == one_by_one(start, end), (start, end)
