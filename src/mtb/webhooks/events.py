"""The events a channel can subscribe to, and writing them to the outbox in the caller's transaction.

Two single points call in: `applications.service.set_status` (every status change of an application) and
`qualifications.service.add_event` (every event of a filing, the jobs' expiry and reminders included).
Payloads carry ids, the case number, statuses, dates and links; never an ID number, a name, a disease or
a reason text (the channel reads those through the API, as the person, when it needs them).
"""

from __future__ import annotations

import json
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application
from mtb.channels.models import Channel
from mtb.qualifications.models import Qualification
from mtb.timeutil import utcnow
from mtb.wake import webhooks as webhooks_wake
from mtb.webhooks.models import MessageStatus, WebhookEndpoint, WebhookMessage


class EventType(StrEnum):
    application_submitted = "application.submitted"
    application_returned = "application.returned"
    application_approved = "application.approved"
    application_rejected = "application.rejected"
    application_withdrawn = "application.withdrawn"
    filing_changed = "filing.changed"
    filing_expiring = "filing.expiring"
    filing_expired = "filing.expired"
    filing_revoked = "filing.revoked"


# Application status -> event (statuses not listed, draft and in_review, are not announced).
APPLICATION_EVENTS: dict[str, EventType] = {
    "submitted": EventType.application_submitted, "returned": EventType.application_returned,
    "approved": EventType.application_approved, "rejected": EventType.application_rejected,
    "withdrawn": EventType.application_withdrawn,
}
# Qualification event action -> webhook event.
FILING_EVENTS: dict[str, EventType] = {
    "replaced": EventType.filing_changed, "reminded": EventType.filing_expiring,
    "expired": EventType.filing_expired, "revoked": EventType.filing_revoked,
}


async def _endpoints(session: AsyncSession, app: Application, event: EventType) -> list[WebhookEndpoint]:
    """Endpoints of active channels of the application's region that want `event` and hear of this
    application (a channel bound to a catalog channel hears only of applications made through it). A paused
    endpoint gets its messages too: they wait for it to be enabled again."""
    rows = (await session.execute(
        select(WebhookEndpoint, Channel.catalog_channel).join(Channel, Channel.id == WebhookEndpoint.channel_id)
        .where(Channel.region_code == app.region_code, Channel.active.is_(True)))).all()
    return [e for e, bound in rows if event.value in e.events and bound in (None, app.channel)]


def _links(app: Application) -> dict[str, str]:
    return {"application": f"/api/v1/applications/{app.id}", "status": f"/api/v1/applications/{app.id}/status"}


async def _write(session: AsyncSession, app: Application, event: EventType, data: dict[str, Any]) -> None:
    endpoints = await _endpoints(session, app, event)
    if not endpoints:
        return
    now = utcnow()
    body = json.dumps({"type": event.value, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
                      ensure_ascii=False, separators=(",", ":"))
    for endpoint in endpoints:
        session.add(WebhookMessage(id=f"msg_{uuid.uuid4().hex}", endpoint_id=endpoint.id, event_type=event.value,
                                   body=body, status=MessageStatus.pending.value, attempts=0, next_attempt_at=now,
                                   created_at=now))
    webhooks_wake.kick_after_commit(session)


async def application_changed(session: AsyncSession, app: Application) -> None:
    """Announce the application's new status (called by set_status, after the change, same transaction)."""
    event = APPLICATION_EVENTS.get(app.status)
    if event is None:
        return
    await _write(session, app, event, {
        "application_id": str(app.id), "case_number": app.case_number, "status": app.status, "kind": app.kind,
        "round": app.round, "person_id": str(app.beneficiary_id), "region_code": app.region_code,
        "channel": app.channel, "qualification_id": str(app.qualification_id) if app.qualification_id else None,
        "links": _links(app)})


async def filing_changed(session: AsyncSession, qualification_id: uuid.UUID, action: str,
                         detail: dict[str, Any] | None) -> None:
    """Announce a filing's event (called by add_event, same transaction)."""
    event = FILING_EVENTS.get(action)
    if event is None:
        return
    await session.flush()  # what the caller changed on the row is written before it is read again
    q = await session.get(Qualification, qualification_id, populate_existing=True)  # the jobs update in SQL
    app = await session.get(Application, q.application_id) if q is not None else None
    if q is None or app is None:
        return
    data: dict[str, Any] = {
        "qualification_id": str(q.id), "status": q.status, "application_id": str(app.id),
        "case_number": app.case_number, "person_id": str(q.person_id), "region_code": q.region_code,
        "hospital_code": q.hospital_code, "effective_from": q.effective_from.isoformat(),
        "valid_until": q.valid_until.isoformat() if q.valid_until else None,
        "ended_on": q.ended_on.isoformat() if q.ended_on else None,
        "links": {"qualification": f"/api/v1/qualifications/{q.id}"} | _links(app)}
    if event == EventType.filing_changed and detail:
        data |= {"replaced_by": detail.get("by"), "change_kind": detail.get("kind")}
    if event == EventType.filing_expiring and detail:
        data["days_before"] = detail.get("days_before")
    await _write(session, app, event, data)
