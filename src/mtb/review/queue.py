"""The review queue: the region's submitted and in-review applications, soonest due first.

Paging is by keyset on (due date, submission time, id), so a page never repeats or skips an item
when others are decided meanwhile.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application
from mtb.applications.states import LABELS, Status
from mtb.catalog.service import catalog_by_version_id
from mtb.catalog.workdays import WorkdayCalendar
from mtb.errors import Unprocessable
from mtb.identity.models import InsuredPerson, StaffUser
from mtb.review.schemas import QueueItem, QueuePage
from mtb.review.service import claim_state
from mtb.timeutil import local_today

# In this order: ix_applications_review_queue (applications/models.py) is spelled the same way.
QUEUE_STATUSES = (Status.submitted, Status.in_review)


@dataclass(frozen=True)
class QueueFilter:
    status: Status | None = None
    disease_code: str | None = None
    channel: str | None = None
    overdue: bool | None = None


def encode_cursor(app: Application) -> str:
    assert app.due_date is not None and app.submitted_at is not None
    raw = json.dumps([app.due_date.isoformat(), app.submitted_at.isoformat(), str(app.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, datetime, uuid.UUID]:
    try:
        due, submitted, app_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return date.fromisoformat(due), datetime.fromisoformat(submitted), uuid.UUID(app_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unprocessable("invalid_cursor", "分页参数无效，请从第一页重新查看") from exc


async def review_queue(session: AsyncSession, *, region_code: str, filters: QueueFilter, limit: int,
                       cursor: str | None, calendar: WorkdayCalendar, idle_minutes: int) -> QueuePage:
    if filters.status is not None and filters.status not in QUEUE_STATUSES:
        raise Unprocessable("invalid_status_filter", "待审队列只包含“已提交”和“审核中”的申请")
    statuses = [filters.status.value] if filters.status else [s.value for s in QUEUE_STATUSES]
    today = local_today()
    query = (select(Application, InsuredPerson.name, InsuredPerson.id_number_masked)
             .join(InsuredPerson, InsuredPerson.id == Application.beneficiary_id)
             .where(Application.region_code == region_code, Application.status.in_(statuses)))
    if filters.disease_code:
        query = query.where(Application.disease_code == filters.disease_code)
    if filters.channel:
        query = query.where(Application.channel == filters.channel)
    if filters.overdue is True:
        query = query.where(Application.due_date < today)
    elif filters.overdue is False:
        query = query.where(Application.due_date >= today)
    if cursor:
        query = query.where(tuple_(Application.due_date, Application.submitted_at, Application.id)
                            > tuple_(*decode_cursor(cursor)))
    query = query.order_by(Application.due_date, Application.submitted_at, Application.id).limit(limit + 1)
    rows = (await session.execute(query)).all()
    holders: dict[uuid.UUID, str] = {}
    items = []
    for app, name, masked in rows[:limit]:
        doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
        disease, hospital, channel = doc.disease(app.disease_code), doc.hospital(app.hospital_code), doc.channel(app.channel)
        state = claim_state(app, idle_minutes=idle_minutes)
        holder = None
        if state.active and state.holder_id is not None:
            if state.holder_id not in holders:
                staff = await session.get(StaffUser, state.holder_id)
                holders[state.holder_id] = staff.username if staff else ""
            holder = holders[state.holder_id]
        items.append(QueueItem(
            id=app.id, disease_code=app.disease_code, disease_name=disease.name if disease else app.disease_code,
            hospital_name=hospital.name if hospital else app.hospital_code, channel=app.channel,
            channel_name=channel.name if channel else app.channel, beneficiary_name=name,
            beneficiary_id_number_masked=masked, status=app.status, status_label=LABELS[Status(app.status)],
            round=app.round, submitted_at=app.submitted_at, due_date=app.due_date,
            working_days_left=calendar.working_days_between(today, app.due_date) if app.due_date else None,
            overdue=bool(app.due_date and app.due_date < today), claimed_by=holder,
            awaiting_confirmation=app.pending_approval_by_id is not None))
    next_cursor = encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return QueuePage(items=items, next_cursor=next_cursor)
