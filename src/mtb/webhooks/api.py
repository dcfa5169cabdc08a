"""Administrators' webhook routes: endpoints of their region's channels, the delivery log, redelivery."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mtb.channels.service import get_channel
from mtb.db.engine import MAX_OFFSET, DBSession
from mtb.identity.auth import require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.webhooks.models import MessageStatus
from mtb.webhooks.schemas import EndpointCreated, EndpointIn, EndpointOut, MessageOut
from mtb.webhooks.service import (
    create_endpoint,
    delivery_log,
    endpoints_of,
    get_endpoint,
    get_message,
    redeliver,
)

log = logging.getLogger("mtb.webhooks")
router = APIRouter(prefix="/api/v1/admin", tags=["administration"])
Admin = Annotated[StaffUser, Depends(require_staff(StaffRole.admin))]


@router.post("/channels/{channel_id}/webhooks", status_code=201, response_model=EndpointCreated)
async def add_endpoint(channel_id: uuid.UUID, body: EndpointIn, staff: Admin, session: DBSession) -> EndpointCreated:
    """Register an endpoint and the events it wants. The answer carries the signing secret, shown only now."""
    channel = await get_channel(session, channel_id, staff.region_code)
    endpoint = await create_endpoint(session, channel, url=body.url, events=[e.value for e in body.events])
    log.info("webhook endpoint registered", extra={"channel": channel.code, "endpoint_id": str(endpoint.id),
                                                   "staff_id": str(staff.id)})
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/channels/{channel_id}/webhooks", response_model=list[EndpointOut])
async def list_endpoints(channel_id: uuid.UUID, staff: Admin, session: DBSession) -> list[EndpointOut]:
    channel = await get_channel(session, channel_id, staff.region_code)
    return [EndpointOut.of(e) for e in await endpoints_of(session, channel)]


async def _switch(endpoint_id: uuid.UUID, staff: StaffUser, session: DBSession, active: bool) -> EndpointOut:
    endpoint = await get_endpoint(session, endpoint_id, staff.region_code)
    endpoint.active = active
    await session.flush()
    log.info("webhook endpoint " + ("enabled" if active else "disabled"),
             extra={"endpoint_id": str(endpoint.id), "staff_id": str(staff.id)})
    return EndpointOut.of(endpoint)


@router.post("/webhooks/{endpoint_id}/disable", response_model=EndpointOut)
async def disable_endpoint(endpoint_id: uuid.UUID, staff: Admin, session: DBSession) -> EndpointOut:
    """Messages keep being written for it (nothing is lost); they wait until it is enabled again."""
    return await _switch(endpoint_id, staff, session, False)


@router.post("/webhooks/{endpoint_id}/enable", response_model=EndpointOut)
async def enable_endpoint(endpoint_id: uuid.UUID, staff: Admin, session: DBSession) -> EndpointOut:
    return await _switch(endpoint_id, staff, session, True)


@router.get("/webhook-messages", response_model=list[MessageOut])
async def messages(staff: Admin, session: DBSession, endpoint_id: uuid.UUID | None = None,
                   status: MessageStatus | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[MessageOut]:
    """The delivery log, newest first: each message with every attempt's answer."""
    return [MessageOut.of(m) for m in await delivery_log(session, staff.region_code, endpoint_id=endpoint_id,
                                                         status=status, limit=limit, offset=offset)]


@router.post("/webhook-messages/{message_id}/redeliver", response_model=MessageOut)
async def redeliver_message(message_id: str, staff: Admin, session: DBSession) -> MessageOut:
    """Deliver a message again (same webhook-id and body) by the worker, from now on."""
    message = await get_message(session, message_id, staff.region_code)
    await redeliver(session, message, staff_id=staff.id)
    log.info("webhook redelivery requested", extra={"message_id": message.id, "staff_id": str(staff.id)})
    return MessageOut.of((await delivery_log(session, staff.region_code, message_id=message.id))[0])
