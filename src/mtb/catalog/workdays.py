"""Chinese working days: statutory holidays and make-up working days as they really fall.

Sources of a year, in order:
1. `schedule`: the State Council's schedule for the year, entered by an administrator (the admin page or
   `mtb calendar load`, stored in `calendar_years`) or shipped in the table file
   (`MTB_CALENDAR_PATH`, data/calendar/cn-workdays.yaml);
2. `library`: the chinesecalendar package, for the years whose notice it has (2004 up to its release);
3. `statutory`: for a later year, the statutory holidays of the 全国年节及纪念日放假办法
   (mtb/catalog/statutory.py) on plain weekdays, without the make-up working days only the notice sets.
   Such a year is provisional, and so is every due date counted on it;
4. `weekdays`: a year none of these covers (before 2004, after 2099): Monday to Friday, with a warning.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict

from mtb.catalog.statutory import FIRST_YEAR, LAST_YEAR, statutory_holidays
from mtb.catalog.yamlstrict import load_strict

# The years a schedule may be entered for (chinesecalendar's first year to the fallback's last): the years
# the calendar route answers.
FIRST_SCHEDULE_YEAR = 2004

log = logging.getLogger("mtb.workdays")

Source = Literal["schedule", "library", "statutory", "weekdays"]
PROVISIONAL: frozenset[str] = frozenset({"statutory", "weekdays"})
SOURCE_LABELS: dict[str, str] = {
    "schedule": "国务院办公厅公布的节假日安排（已录入）",
    "library": "国务院办公厅公布的节假日安排（chinesecalendar 内置）",
    "statutory": "按《全国年节及纪念日放假办法》推算（预计，以公布的安排为准）",
    "weekdays": "仅按周一至周五计算（无节假日数据）",
}
# chinesecalendar's holiday names, in Chinese.
LIBRARY_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                 "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
                 "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "中国人民抗日战争胜利70周年纪念日"}


class YearTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = []
    workdays: list[date] = []
    source: str = ""


class CalendarTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: dict[int, YearTable] = {}


def schedule_problems(year: int, table: YearTable) -> list[str]:
    """Why a year's schedule cannot be taken (in Chinese: administrators read them): a date outside the
    year, a date both off and working, a working day that is not a weekend day (only weekend days are
    made working days), a date listed twice, no holidays at all."""
    if not FIRST_SCHEDULE_YEAR <= year <= LAST_YEAR:
        return [f"年份 {year} 无效：只能录入 {FIRST_SCHEDULE_YEAR}-{LAST_YEAR} 年的节假日安排"]
    problems: list[str] = []
    for label, days in (("放假日期", table.holidays), ("调休上班日期", table.workdays)):
        problems += [f"{label} {d.isoformat()} 不在 {year} 年内" for d in days if d.year != year]
        problems += [f"{label} {d.isoformat()} 重复填写" for d, n in sorted(Counter(days).items()) if n > 1]
    problems += [f"{d.isoformat()} 既是放假日期又是调休上班日期"
                 for d in sorted(set(table.holidays) & set(table.workdays))]
    problems += [f"调休上班日期 {d.isoformat()} 是工作日（周一至周五），只需填写调为上班的周六、周日"
                 for d in table.workdays if d.weekday() < 5]
    if not table.holidays:
        problems.append("没有填写任何放假日期")
    return problems


@cache
def library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        chinese_calendar.is_workday(date(year, 12, 31))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class CalendarDay:
    """A day that is not what its weekday says: a weekday off, or a weekend day made a working day."""

    day: date
    working: bool
    source: Source
    name: str | None


@dataclass(frozen=True)
class DueDate:
    day: date
    provisional: bool  # counted over a year no published schedule covers


@dataclass
class WorkdayCalendar:
    table: CalendarTable
    # Years entered by an administrator (catalog/calendar.py keeps these in step with the database).
    entered: dict[int, YearTable] = field(default_factory=dict)
    entered_fingerprint: object = None
    _warned: set[int] = field(default_factory=set)
    # Per year, the number of working days from 1 January through each day (remade when `entered` changes).
    _prefix: dict[int, list[int]] = field(default_factory=dict)

    def use_entered(self, years: dict[int, YearTable], fingerprint: object) -> None:
        """Take the administrators' schedules (in place: every holder of this calendar sees them)."""
        self.entered = years
        self.entered_fingerprint = fingerprint
        self._prefix = {}

    def schedule(self, year: int) -> YearTable | None:
        return self.entered.get(year) or self.table.years.get(year)

    def source(self, year: int) -> Source:
        if self.schedule(year) is not None:
            return "schedule"
        if library_knows(year):
            return "library"
        if FIRST_YEAR <= year <= LAST_YEAR:
            return "statutory"
        return "weekdays"

    def provisional(self, year: int) -> bool:
        return self.source(year) in PROVISIONAL

    def is_workday(self, day: date) -> bool:
        year = self.schedule(day.year)
        if year is not None:
            if day in year.workdays:
                return True
            return day.weekday() < 5 and day not in year.holidays
        source = self.source(day.year)
        if source == "library":
            return bool(chinese_calendar.is_workday(day))
        if source == "statutory":
            return day.weekday() < 5 and day not in statutory_holidays(day.year)
        if day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("no holiday schedule for this year: counting weekdays only", extra={"year": day.year})
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (the start day itself never counts)."""
        current, counted = start, 0
        while counted < days:
            current += timedelta(days=1)
            if self.is_workday(current):
                counted += 1
        return current

    def due_date(self, start: date, days: int) -> DueDate:
        """`add_working_days`, and whether any day it counted over lies in a provisional year."""
        due = self.add_working_days(start, days)
        first = (start + timedelta(days=1)).year
        return DueDate(due, any(self.provisional(y) for y in range(first, due.year + 1)))

    def exceptions(self, year: int) -> list[CalendarDay]:
        """The weekdays off and the working weekend days of `year`, with where each comes from."""
        source = self.source(year)
        names: dict[date, str] = statutory_holidays(year) if source == "statutory" else {}
        out: list[CalendarDay] = []
        day = date(year, 1, 1)
        while day.year == year:
            working = self.is_workday(day)
            if working != (day.weekday() < 5):
                name = names.get(day)
                if source == "library" and not working:
                    detail = chinese_calendar.get_holiday_detail(day)[1]
                    name = LIBRARY_NAMES.get(detail, detail) if detail else None
                out.append(CalendarDay(day, working, source, name))
            day += timedelta(days=1)
        return out

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        if start.year == end.year:
            return self._through(end) - self._through(start)
        between = sum(self._year(y)[-1] for y in range(start.year + 1, end.year))
        return self._year(start.year)[-1] - self._through(start) + between + self._through(end)

    def _through(self, day: date) -> int:
        return self._year(day.year)[day.timetuple().tm_yday - 1]

    def _year(self, year: int) -> list[int]:
        prefix = self._prefix.get(year)
        if prefix is None:
            prefix, count, day = [], 0, date(year, 1, 1)
            while day.year == year:
                count += self.is_workday(day)
                prefix.append(count)
                day += timedelta(days=1)
            self._prefix[year] = prefix
        return prefix


def read_table(path: Path) -> CalendarTable:
    """A table file (the shipped one, or one given to `mtb calendar load`); a missing file is an error.
    YAML that cannot be read (or writes a key twice) raises `ValueError` naming where."""
    try:
        raw = load_strict(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    return CalendarTable.model_validate(raw or {})


def load_calendar(path: Path) -> WorkdayCalendar:
    """Read the table; a missing file is an error (a forgotten table would silently change due dates),
    and so is a year in it that is not a valid schedule."""
    table = read_table(path)
    for year, entry in table.years.items():
        if problems := schedule_problems(year, entry):
            raise ValueError(f"{path}: {year}: " + "; ".join(problems))
    return WorkdayCalendar(table)
