"""The message centre: a person's messages, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from mtb.db import DBSession
from mtb.identity.auth import CurrentPerson
from mtb.notifications.service import list_for, mark_read

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    application_id: uuid.UUID | None
    created_at: datetime
    read: bool


@router.get("", response_model=list[NotificationOut])
async def my_notifications(person: CurrentPerson, session: DBSession, unread: bool = False,
                           limit: int = 50, offset: int = 0) -> list[NotificationOut]:
    rows = await list_for(session, person.id, unread_only=unread, limit=max(1, min(limit, 100)),
                          offset=max(0, offset))
    return [NotificationOut(id=n.id, kind=n.kind, title=n.title, body=n.body, application_id=n.application_id,
                            created_at=n.created_at, read=n.read_at is not None) for n in rows]


@router.post("/{notification_id}/read", status_code=204)
async def read_notification(notification_id: uuid.UUID, person: CurrentPerson, session: DBSession) -> None:
    await mark_read(session, person.id, notification_id)
