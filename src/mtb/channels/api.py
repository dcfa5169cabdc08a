"""Channel login (`POST /api/v1/auth/channel`) and the administrators' channel registry."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.channels.assertion import ASSERTION_ERRORS, person_of, verify_assertion
from mtb.channels.schemas import ChannelIn, ChannelLogin, ChannelOut, KeysIn
from mtb.channels.service import create_channel, get_channel, list_channels, replace_keys, set_active
from mtb.db.engine import DBSession
from mtb.errors import ErrorOut
from mtb.identity.auth import require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.identity.schemas import PersonOut, PersonToken
from mtb.identity.tokens import Principal, issue_token

log = logging.getLogger("mtb.channels")

router = APIRouter(prefix="/api/v1", tags=["auth"])
admin_router = APIRouter(prefix="/api/v1/admin/channels", tags=["administration"])

Admin = Annotated[StaffUser, Depends(require_staff(StaffRole.admin))]

_LOGIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut,
          "description": "the assertion was refused; `error` is one of: " + ", ".join(ASSERTION_ERRORS)}}


@router.post("/auth/channel", response_model=PersonToken, responses=_LOGIN_REFUSALS)
async def channel_login(body: ChannelLogin, request: Request, session: DBSession) -> PersonToken:
    """Log in a person whom a registered channel has already verified, by the channel's signed assertion
    (docs/channels.md). Answers the same session as the real-name login."""
    settings = request.app.state.settings
    assertion = await verify_assertion(session, body.assertion, audience=settings.channel_audience,
                                       max_lifetime_seconds=settings.channel_assertion_max_seconds)
    person = await person_of(session, assertion)
    log.info("channel login", extra={"channel": assertion.channel.code, "person_id": str(person.id)})
    token, lifetime = issue_token(Principal(kind="person", id=person.id, region_code=person.region_code))
    return PersonToken(access_token=token, expires_in=lifetime, person=PersonOut.of(person))


@admin_router.get("", response_model=list[ChannelOut])
async def channels(staff: Admin, session: DBSession) -> list[ChannelOut]:
    return [ChannelOut.of(c) for c in await list_channels(session, staff.region_code)]


@admin_router.post("", status_code=201, response_model=ChannelOut)
async def register(body: ChannelIn, staff: Admin, session: DBSession) -> ChannelOut:
    """Register a channel of the administrator's region with its public key(s)."""
    channel = await create_channel(session, code=body.code, name=body.name, region_code=staff.region_code,
                                   keys=body.keys, kid=body.kid, catalog_channel=body.catalog_channel)
    log.info("channel registered", extra={"channel": channel.code, "staff_id": str(staff.id)})
    return ChannelOut.of(channel)


@admin_router.put("/{channel_id}/keys", response_model=ChannelOut)
async def rotate_keys(channel_id: uuid.UUID, body: KeysIn, staff: Admin, session: DBSession) -> ChannelOut:
    channel = await get_channel(session, channel_id, staff.region_code)
    await replace_keys(session, channel, body.keys, body.kid)
    log.info("channel keys replaced", extra={"channel": channel.code, "staff_id": str(staff.id)})
    return ChannelOut.of(channel)


async def _set_active(channel_id: uuid.UUID, active: bool, staff: StaffUser,
                      session: AsyncSession) -> ChannelOut:
    """Enable or disable a channel of the administrator's region (mtb/channels/service.py `set_active`)."""
    channel = await get_channel(session, channel_id, staff.region_code)
    await set_active(session, channel, active)
    log.info("channel enabled" if active else "channel disabled",
             extra={"channel": channel.code, "staff_id": str(staff.id)})
    return ChannelOut.of(channel)


@admin_router.post("/{channel_id}/disable", response_model=ChannelOut)
async def disable(channel_id: uuid.UUID, staff: Admin, session: DBSession) -> ChannelOut:
    return await _set_active(channel_id, False, staff, session)


@admin_router.post("/{channel_id}/enable", response_model=ChannelOut)
async def enable(channel_id: uuid.UUID, staff: Admin, session: DBSession) -> ChannelOut:
    return await _set_active(channel_id, True, staff, session)
