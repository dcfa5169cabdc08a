"""`GET /api/v1/calendar/{year}` (public): the days of a year that are not what their weekday says, with
the source of each, for channel apps that show an expected decision date."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from mtb.catalog.calendar import synced
from mtb.catalog.statutory import LAST_YEAR
from mtb.catalog.workdays import FIRST_SCHEDULE_YEAR, SOURCE_LABELS
from mtb.db.engine import DBSession

router = APIRouter(prefix="/api/v1/calendar", tags=["catalog"])


class CalendarDayOut(BaseModel):
    date: date
    name: str | None = Field(description="The festival, where the source names it (e.g. 春节)")
    source: str = Field(description="schedule | library | statutory | weekdays")


class CalendarYearOut(BaseModel):
    year: int
    source: str = Field(description="schedule: the State Council's schedule, entered; library: the schedule as "
                                    "chinesecalendar ships it; statutory: computed from the statutory holidays "
                                    "(provisional); weekdays: Monday to Friday only")
    source_label: str
    provisional: bool = Field(description="Not a published schedule: due dates counted on it are provisional")
    schedule_source: str | None = Field(description="The notice an entered schedule was taken from")
    non_working_weekdays: list[CalendarDayOut]
    working_weekend_days: list[CalendarDayOut]


@router.get("/{year}", response_model=CalendarYearOut)
async def calendar_year(year: Annotated[int, Path(ge=FIRST_SCHEDULE_YEAR, le=LAST_YEAR)], request: Request,
                        session: DBSession) -> CalendarYearOut:
    calendar = await synced(session, request.app.state.calendar)
    source = calendar.source(year)
    days = calendar.exceptions(year)
    schedule = calendar.schedule(year)
    return CalendarYearOut(
        year=year, source=source, source_label=SOURCE_LABELS[source], provisional=calendar.provisional(year),
        schedule_source=(schedule.source or None) if schedule is not None else None,
        non_working_weekdays=[CalendarDayOut(date=d.day, name=d.name, source=d.source) for d in days if not d.working],
        working_weekend_days=[CalendarDayOut(date=d.day, name=d.name, source=d.source) for d in days if d.working])
