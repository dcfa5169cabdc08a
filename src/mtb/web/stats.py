"""The numbers on the administrator's statistics page, for one region over the last N days.

Rows of the period are fetched with portable SQL (no dialect-specific date functions) and grouped by
the agency's calendar day in Python, so the same code serves SQLite and PostgreSQL.

Definitions (shown on the page too):
- created: applications whose row was created in the period (drafts included), by local creation day;
- decisions: final review decisions (approve, return, reject) made in the period; a first approval
  awaiting a second reviewer's confirmation is not final and not counted;
- within the due date: the decision's local day is on or before the due date of its round (the
  application's due date for its current round; for an earlier round, recomputed the way submission
  computes it: that many working days after the round's submission day);
- working days to decision: working days after the round's submission day up to and including the
  decision day (0 = decided on the day of submission); the submission is the first `submitted` event
  of that round, or the application's `submitted_at` where no event is found.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.states import Status
from mtb.catalog.document import CatalogDocument
from mtb.catalog.service import catalog_by_version_id
from mtb.catalog.workdays import WorkdayCalendar
from mtb.db.sqlite_loop import off_loop
from mtb.review.models import ReviewDecision
from mtb.settings import get_settings
from mtb.timeutil import local_date

OUTCOMES = {"approve": "审核通过", "return": "退回补正", "reject": "不予通过"}
# Histogram buckets of working days to decision: (lowest, highest or None for open-ended, label).
BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "当日"), (1, 1, "1 天"), (2, 2, "2 天"), (3, 3, "3 天"), (4, 4, "4 天"), (5, 5, "5 天"),
    (6, 10, "6–10 天"), (11, None, "11 天以上"),
)
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 7, 366, 30


@dataclass(frozen=True)
class RegionStats:
    start: date
    end: date
    days: list[date]
    channels: list[tuple[str, str]]              # (code, name) of the channels that appear
    per_day: dict[date, Counter[str]]           # day -> channel code -> applications created
    by_disease: list[tuple[str, int]]           # (disease name, applications created), most first
    outcomes: list[tuple[str, str, int]]        # (outcome, label, final decisions)
    on_time: int
    late: int
    workdays: list[int]                         # working days to decision, one per final decision
    histogram: list[tuple[str, int]]

    @property
    def created_total(self) -> int:
        return sum(sum(c.values()) for c in self.per_day.values())

    def created_on(self, day: date, channel: str) -> int:
        counts = self.per_day.get(day)
        return counts[channel] if counts else 0

    def channel_total(self, code: str) -> int:
        return sum(c[code] for c in self.per_day.values())

    @property
    def decided(self) -> int:
        return self.on_time + self.late

    @property
    def on_time_percent(self) -> float | None:
        return 100 * self.on_time / self.decided if self.decided else None

    @property
    def median_workdays(self) -> float | None:
        return median(self.workdays) if self.workdays else None

    @property
    def mean_workdays(self) -> float | None:
        return sum(self.workdays) / len(self.workdays) if self.workdays else None


def period_start(today: date, days: int) -> tuple[date, datetime]:
    """The first local day of the last `days` days (today included) and the UTC instant it begins."""
    start = today - timedelta(days=days - 1)
    begins = datetime.combine(start, time(0), tzinfo=ZoneInfo(get_settings().timezone)).astimezone(UTC)
    return start, begins


def histogram(values: list[int]) -> list[tuple[str, int]]:
    return [(label, sum(1 for v in values if v >= low and (high is None or v <= high)))
            for low, high, label in BUCKETS]


async def region_stats(session: AsyncSession, *, region_code: str, today: date, days: int,
                       calendar: WorkdayCalendar, document: CatalogDocument | None) -> RegionStats:
    """Gather the page's numbers.

    Steps: applications created in the period (by day and channel, by disease); final decisions made in
    the period joined to their application and to the first `submitted` event of their round; then the
    due-date check and the working days, in Python.
    """
    start, since = period_start(today, days)
    created = (await session.execute(off_loop(
        select(Application.created_at, Application.channel, Application.disease_code)
        .where(Application.region_code == region_code, Application.created_at >= since)))).all()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    diseases: Counter[str] = Counter()
    for row in created:
        per_day[local_date(row.created_at)][row.channel] += 1
        diseases[row.disease_code] += 1

    channel_names = {c.code: c.name for c in document.channels} if document else {}
    disease_names = {d.code: d.name for d in document.diseases} if document else {}
    seen = {code for c in per_day.values() for code in c}
    channels = [(code, name) for code, name in channel_names.items() if code in seen]
    channels += [(code, code) for code in sorted(seen - channel_names.keys())]

    submitted = (
        select(ApplicationEvent.application_id, ApplicationEvent.round,
               func.min(ApplicationEvent.created_at).label("at"))
        .join(Application, Application.id == ApplicationEvent.application_id)
        .where(Application.region_code == region_code, ApplicationEvent.action == "status",
               ApplicationEvent.to_status == Status.submitted.value)
        .group_by(ApplicationEvent.application_id, ApplicationEvent.round)
        .subquery())
    decisions = (await session.execute(off_loop(
        select(ReviewDecision.outcome, ReviewDecision.decided_at, ReviewDecision.round,
               Application.round.label("current_round"),
               Application.due_date, Application.submitted_at, Application.catalog_version_id,
               submitted.c.at.label("round_submitted_at"))
        .join(Application, Application.id == ReviewDecision.application_id)
        .outerjoin(submitted, (submitted.c.application_id == ReviewDecision.application_id)
                   & (submitted.c.round == ReviewDecision.round))
        .where(Application.region_code == region_code, ReviewDecision.final.is_(True),
               ReviewDecision.decided_at >= since)))).all()

    outcomes: Counter[str] = Counter()
    on_time = late = 0
    workdays: list[int] = []
    due_days: dict[int, int] = {}
    for row in decisions:
        outcomes[row.outcome] += 1
        decided_on = local_date(row.decided_at)
        submitted_at: datetime | None = row.round_submitted_at or row.submitted_at
        submitted_on = local_date(submitted_at) if submitted_at is not None else None
        due: date | None = row.due_date
        if row.round != row.current_round and submitted_on is not None:
            due = calendar.add_working_days(submitted_on, await _due_days(session, row.catalog_version_id, due_days))
        if due is not None and decided_on <= due:
            on_time += 1
        elif due is not None:
            late += 1
        if submitted_on is not None:
            workdays.append(calendar.working_days_between(submitted_on, decided_on))

    return RegionStats(
        start=start, end=today, days=[start + timedelta(days=i) for i in range(days)],
        channels=channels, per_day=dict(per_day),
        by_disease=[(disease_names.get(code, code), n) for code, n in diseases.most_common()],
        outcomes=[(code, label, outcomes[code]) for code, label in OUTCOMES.items()],
        on_time=on_time, late=late, workdays=workdays, histogram=histogram(workdays))


async def _due_days(session: AsyncSession, version_id: int, cache: dict[int, int]) -> int:
    if version_id not in cache:
        cache[version_id] = (await catalog_by_version_id(session, version_id)).document.review_due_working_days
    return cache[version_id]
