"""The message centre: a person's messages, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mtb.db.engine import MAX_OFFSET, DBSession
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
                           limit: Annotated[int, Query(ge=1, le=100)] = 50,
                           offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[NotificationOut]:
    rows = await list_for(session, person.id, unread_only=unread, limit=limit, offset=offset)
    return [NotificationOut(id=n.id, kind=n.kind, title=n.title, body=n.body, application_id=n.application_id,
                            created_at=n.created_at, read=n.read_at is not None) for n in rows]


@router.post("/{notification_id}/read", status_code=204)
async def read_notification(notification_id: uuid.UUID, person: CurrentPerson, session: DBSession) -> None:
    await mark_read(session, person.id, notification_id)
