"""Working days: statutory holidays and make-up working days as they really fall (domain.md, Review)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from pydantic import ValidationError

from mtb.catalog.statutory import statutory_holidays
from mtb.catalog.workdays import CalendarDay, DueDate, YearTable, load_calendar, schedule_problems

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


def test_year_no_source_covers_counts_weekdays_with_a_warning(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("years: {}\n")
    cal = load_calendar(empty)
    with caplog.at_level(logging.WARNING, logger="mtb.workdays"):
        assert cal.add_working_days(date(2099, 12, 30), 3) == date(2100, 1, 4)  # Thu, Fri, Mon
    assert "no holiday schedule" in caplog.text
    assert cal.source(2100) == "weekdays" and cal.provisional(2100)


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


# --- after the years chinesecalendar knows: the statutory fallback (mtb/catalog/statutory.py) ---------

def test_lunar_library_gives_the_published_dates_of_2027() -> None:
    """lunar-python's answers for 2027, against the dates published for that year: 除夕 5 February
    (春节 6 February), 清明 5 April, 端午 9 June, 中秋 15 September."""
    days = statutory_holidays(2027)
    assert {d for d, name in days.items() if name == "春节"} == {date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7),
                                                               date(2027, 2, 8)}
    assert days[date(2027, 4, 5)] == "清明节"
    assert days[date(2027, 6, 9)] == "端午节"
    assert days[date(2027, 9, 15)] == "中秋节"
    assert days[date(2027, 1, 1)] == "元旦"
    assert [days[date(2027, 10, d)] for d in (1, 2, 3)] == ["国庆节"] * 3


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_days_are_holidays_in_the_published_schedules(year: int) -> None:
    """Every statutory day the fallback computes (made-up days aside, which the notices place otherwise) is a
    day off in the State Council's schedules chinesecalendar ships: the lunar dates and the solar term agree."""
    for day, name in statutory_holidays(year).items():
        if "补假" not in name:
            assert chinese_calendar.is_holiday(day), (day, name)


def test_holiday_on_a_weekend_is_made_up_on_the_next_free_weekday() -> None:
    """Article 6: a holiday on a Saturday or Sunday is made up on a working day."""
    for year in range(2027, 2060):
        days = statutory_holidays(year)
        base = {d for d, n in days.items() if "补假" not in n}
        made_up = {d for d, n in days.items() if "补假" in n}
        assert len(made_up) == sum(1 for d in base if d.weekday() >= 5 and d.year == year), year
        assert all(d.weekday() < 5 for d in made_up), year


def test_a_year_after_the_library_is_counted_on_statutory_holidays_and_provisional() -> None:
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")
    assert cal.source(2026) == "library" and not cal.provisional(2026)
    assert cal.source(2027) == "statutory" and cal.provisional(2027)
    # Thursday 31 December 2026: Friday 1 January 2027 is 元旦, so 4, 5, 6 January.
    assert cal.due_date(date(2026, 12, 31), 3) == DueDate(date(2027, 1, 6), provisional=True)
    # Wednesday 30 December: 31 December (2026, published), then 4 and 5 January (2027, computed).
    assert cal.due_date(date(2026, 12, 30), 3) == DueDate(date(2027, 1, 5), provisional=True)
    # Within 2026 only: exact.
    assert cal.due_date(date(2026, 12, 1), 3) == DueDate(date(2026, 12, 4), provisional=False)
    # 春节 2027: 除夕 Friday 5 February to 初三 Monday 8, Saturday 6 and Sunday 7 made up on 9 and 10.
    assert cal.due_date(date(2027, 2, 4), 3) == DueDate(date(2027, 2, 15), provisional=True)


def test_fallback_due_dates_never_land_on_a_day_off() -> None:
    """Over every start day from December 2026 to March 2027 and 1-5 working days: the due date is a
    weekday that is not a statutory holiday, exactly `n` working days later, provisional iff 2027 counts."""
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")
    holidays = statutory_holidays(2027)
    start = date(2026, 12, 1)
    while start < date(2027, 3, 31):
        for n in range(1, 6):
            due = cal.due_date(start, n)
            assert cal.working_days_between(start, due.day) == n
            assert due.day.weekday() < 5 and due.day not in holidays
            assert due.provisional == (due.day.year == 2027), (start, n)
        start += timedelta(days=1)


def test_an_entered_schedule_outranks_the_library_and_the_fallback() -> None:
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")
    # A schedule made up for the test (not policy): 1 and 4 January off, Saturday 9 January working.
    cal.use_entered({2027: YearTable(holidays=[date(2027, 1, 1), date(2027, 1, 4)], workdays=[date(2027, 1, 9)])},
                    "test")
    assert cal.source(2027) == "schedule" and not cal.provisional(2027)
    assert cal.due_date(date(2026, 12, 31), 3) == DueDate(date(2027, 1, 7), provisional=False)
    assert cal.due_date(date(2027, 1, 7), 2) == DueDate(date(2027, 1, 9), provisional=False)


@pytest.mark.parametrize(("table", "problem"), [
    (YearTable(holidays=[date(2028, 1, 1)]), "不在 2027 年内"),
    (YearTable(holidays=[date(2027, 2, 6)], workdays=[date(2027, 2, 6)]), "既是放假日期又是调休上班日期"),
    (YearTable(holidays=[date(2027, 2, 5)], workdays=[date(2027, 2, 10)]), "是工作日"),
    (YearTable(holidays=[date(2027, 2, 5), date(2027, 2, 5)]), "重复"),
    (YearTable(), "没有填写任何放假日期"),
])
def test_a_schedule_is_validated(table: YearTable, problem: str) -> None:
    problems = schedule_problems(2027, table)
    assert any(problem in p for p in problems), problems
    assert not schedule_problems(2027, YearTable(holidays=[date(2027, 2, 5)], workdays=[date(2027, 2, 20)]))


def test_exceptions_name_their_source() -> None:
    cal = load_calendar(ROOT / "data/calendar/cn-workdays.yaml")
    y2026 = cal.exceptions(2026)
    assert {d.source for d in y2026} == {"library"}
    assert CalendarDay(date(2026, 1, 4), True, "library", None) in y2026  # Sunday made a working day
    assert any(d.day == date(2026, 10, 1) and d.name == "国庆节" for d in y2026)
    y2027 = cal.exceptions(2027)
    assert all(d.source == "statutory" and not d.working for d in y2027)
    assert {d.day for d in y2027} == {d for d in statutory_holidays(2027) if d.weekday() < 5}
