"""The working-day calendar kept in step with the database: schedules an administrator enters, the
one-time recomputation of provisional due dates they allow, and the warning while next year's schedule
is missing.

Each process keeps one `WorkdayCalendar` (app.state.calendar). `synced` compares the entered years'
fingerprint (count and latest entry) with the one the calendar holds and reloads them when another
process entered a schedule; submissions, the calendar route, the admin pages, `mtb doctor` and the
periodic jobs call it, so a schedule entered on one worker counts on every worker from its next
submission, and a due date a stale worker still computed provisionally is recomputed by the next job run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.states import Status
from mtb.catalog.models import CalendarYear
from mtb.catalog.service import catalog_by_version_id
from mtb.catalog.workdays import WorkdayCalendar, YearTable, schedule_problems
from mtb.db.sqlite_loop import off_loop
from mtb.errors import Unprocessable
from mtb.timeutil import local_date, utcnow

# From this day of a year on, next year's schedule is expected (the State Council usually publishes it
# in late October or November).
WARN_FROM = (11, 1)
PENDING = (Status.submitted.value, Status.in_review.value)


async def synced(session: AsyncSession, calendar: WorkdayCalendar) -> WorkdayCalendar:
    """`calendar` with the schedules entered in the database (reloaded only when they changed)."""
    count, latest = (await session.execute(
        select(func.count(), func.max(CalendarYear.entered_at)))).one()
    fingerprint = (count, latest)
    if fingerprint != calendar.entered_fingerprint:
        rows = (await session.execute(select(CalendarYear))).scalars().all()
        calendar.use_entered({r.year: YearTable(holidays=r.holidays, workdays=r.workdays, source=r.source)
                              for r in rows}, fingerprint)
    return calendar


def next_year_warning(calendar: WorkdayCalendar, today: date) -> str | None:
    """From 1 November, while next year is only computed (no published schedule), what to tell admins."""
    if (today.month, today.day) < WARN_FROM:
        return None
    year = today.year + 1
    if not calendar.provisional(year):
        return None
    return (f"{year}年节假日安排尚未录入：{year}年的审核期限目前按法定节假日推算（预计），"
            f"国务院办公厅公布安排后，请在“节假日安排”页录入或用 mtb calendar load 加载。")


@dataclass(frozen=True)
class Recomputed:
    application_id: Any
    old: date
    new: date
    provisional: bool


async def enter_schedule(session: AsyncSession, calendar: WorkdayCalendar, year: int, table: YearTable, *,
                         entered_by: str, actor: Actor) -> list[Recomputed]:
    """Store a year's schedule (replacing an earlier entry of that year), then recompute the provisional
    due dates of pending applications on it. Refused whole (422 `calendar_invalid`) when it is not valid."""
    problems = schedule_problems(year, table)
    if problems:
        raise Unprocessable("calendar_invalid", f"{year}年节假日安排有误：" + "；".join(problems),
                            extra={"problems": problems})
    row = await session.get(CalendarYear, year)
    values = {"holidays": sorted({d.isoformat() for d in table.holidays}),
              "workdays": sorted({d.isoformat() for d in table.workdays}),
              "source": (table.source or "").strip()[:500] or "（未注明）", "entered_by": entered_by[:200],
              "entered_at": utcnow()}
    if row is None:
        session.add(CalendarYear(year=year, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()
    await synced(session, calendar)
    return await recompute_provisional(session, calendar, actor=actor)


async def recompute_provisional(session: AsyncSession, calendar: WorkdayCalendar, *,
                                actor: Actor) -> list[Recomputed]:
    """Due dates of pending applications counted provisionally, counted again where the calendar now
    says otherwise (a schedule was entered): each change once, with a history entry. Idempotent."""
    apps = (await session.execute(off_loop(
        select(Application.id, Application.submitted_at, Application.due_date, Application.round,
               Application.catalog_version_id, Application.status)
        .where(Application.due_date_provisional.is_(True), Application.status.in_(PENDING))
        .order_by(Application.due_date)))).all()
    done: list[Recomputed] = []
    for app in apps:
        if app.submitted_at is None or app.due_date is None:
            continue
        days = (await catalog_by_version_id(session, app.catalog_version_id)).document.review_due_working_days
        due = calendar.due_date(local_date(app.submitted_at), days)
        if due.provisional and due.day == app.due_date:
            continue  # nothing known yet that changes it
        result = await session.execute(
            update(Application)
            .where(Application.id == app.id, Application.due_date_provisional.is_(True),
                   Application.due_date == app.due_date, Application.round == app.round)
            .values(due_date=due.day, due_date_provisional=due.provisional)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue  # changed meanwhile (another worker's run, a decision)
        session.add(ApplicationEvent(
            application_id=app.id, from_status=app.status, to_status=app.status, action="due_date_recomputed",
            detail={"from": app.due_date.isoformat(), "to": due.day.isoformat(), "provisional": due.provisional,
                    "years": sorted({app.due_date.year, due.day.year} | {
                        y for y in range(local_date(app.submitted_at).year, due.day.year + 1)})},
            actor_kind=actor.kind, actor_id=actor.id,
            reason=f"节假日安排已录入，审核期限由 {app.due_date.isoformat()} 重算为 {due.day.isoformat()}"
                   + ("（仍为预计）" if due.provisional else ""),
            round=app.round, created_at=utcnow()))
        done.append(Recomputed(app.id, app.due_date, due.day, due.provisional))
    await session.flush()
    return done


def parse_dates(text: str) -> list[date]:
    """Dates as an administrator types them: one date or a range per line or separated by commas,
    `2027-02-05`, `2027-02-05~2027-02-13`, `2027-02-05..2027-02-13` or `2027-02-05 至 2027-02-13`.
    A line that is none of these is refused naming the line."""
    out: list[date] = []
    for n, line in enumerate(text.replace("，", ",").replace("、", ",").splitlines(), start=1):
        for part in (p.strip() for p in line.split(",")):
            if not part:
                continue
            for sep in ("..", "~", "～", "至"):
                if sep in part:
                    first, _, last = part.partition(sep)
                    break
            else:
                first = last = part
            try:
                start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
            except ValueError as exc:
                raise Unprocessable("calendar_invalid",
                                    f"第 {n} 行“{part}”不是日期：请写成 2027-02-05 或 2027-02-05~2027-02-13") from exc
            if end < start or (end - start).days > 31:
                raise Unprocessable("calendar_invalid", f"第 {n} 行“{part}”的日期范围无效")
            out += [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return out
