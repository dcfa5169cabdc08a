"""Sending messages to people. The message centre is the one channel now; an SMS or WeChat sender
implements `Notifier` and is added to the list the app holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import NotFound
from mtb.notifications.models import Notification
from mtb.timeutil import utcnow


@dataclass(frozen=True)
class Message:
    person_id: uuid.UUID
    kind: str
    title: str
    body: str
    application_id: uuid.UUID | None = None


class Notifier(Protocol):
    async def send(self, session: AsyncSession, message: Message) -> None: ...


class MessageCentre:
    """Writes the message in the same transaction as the change it reports."""

    async def send(self, session: AsyncSession, message: Message) -> None:
        session.add(Notification(person_id=message.person_id, application_id=message.application_id,
                                 kind=message.kind, title=message.title, body=message.body,
                                 created_at=utcnow()))


NOTIFIERS: list[Notifier] = [MessageCentre()]


async def notify(session: AsyncSession, message: Message) -> None:
    for notifier in NOTIFIERS:
        await notifier.send(session, message)


async def list_for(session: AsyncSession, person_id: uuid.UUID, *, unread_only: bool = False,
                   limit: int = 50, offset: int = 0) -> list[Notification]:
    query = select(Notification).where(Notification.person_id == person_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


async def mark_read(session: AsyncSession, person_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.person_id == person_id,
               Notification.read_at.is_(None))
        .values(read_at=utcnow()))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        exists = (await session.execute(select(Notification.id).where(
            Notification.id == notification_id, Notification.person_id == person_id))).scalar_one_or_none()
        if exists is None:
            raise NotFound("notification_not_found", "消息不存在")
