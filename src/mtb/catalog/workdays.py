"""Chinese working days: statutory holidays and make-up working days as they really fall.

Sources, in order: the data table (`data/calendar/cn-workdays.yaml`, for years the library does not
know yet or corrections), the chinesecalendar package, and for a year known to neither, plain weekdays
with a logged warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict

log = logging.getLogger("mtb.workdays")


class YearTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = []
    workdays: list[date] = []


class CalendarTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: dict[int, YearTable] = {}


@dataclass
class WorkdayCalendar:
    table: CalendarTable
    _warned: set[int] = field(default_factory=set)
    # Per year, the number of working days from 1 January through each day (the table never changes).
    _prefix: dict[int, list[int]] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        year = self.table.years.get(day.year)
        if year is not None:
            if day in year.workdays:
                return True
            return day.weekday() < 5 and day not in year.holidays
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no holiday schedule for this year: counting weekdays only",
                            extra={"year": day.year})
            return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (the start day itself never counts)."""
        current, counted = start, 0
        while counted < days:
            current += timedelta(days=1)
            if self.is_workday(current):
                counted += 1
        return current

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


def load_calendar(path: Path) -> WorkdayCalendar:
    """Read the table; a missing file is an error (a forgotten table would silently change due dates)."""
    raw = yaml.safe_load(path.read_text("utf-8"))
    return WorkdayCalendar(CalendarTable.model_validate(raw or {}))

