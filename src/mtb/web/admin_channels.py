"""Administrator page of the region's channels: their webhook endpoints and the delivery log, where a
message can be delivered again. Registering channels and endpoints is done through the admin API or
`mtb channel` (docs/channels.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mtb.channels.service import list_channels
from mtb.db.engine import DBSession
from mtb.web.admin import _admin, _page
from mtb.web.core import redirect, verify_csrf
from mtb.webhooks.events import EventType
from mtb.webhooks.models import MessageStatus, WebhookEndpoint
from mtb.webhooks.service import delivery_log, endpoints_of, get_message, redeliver

router = APIRouter(prefix="/staff/admin")

STATUS_LABELS = {MessageStatus.pending.value: "待投递", MessageStatus.delivered.value: "已送达",
                 MessageStatus.failed.value: "投递失败"}
EVENT_LABELS = {
    EventType.application_submitted: "申请已提交", EventType.application_returned: "申请被退回",
    EventType.application_approved: "申请已通过", EventType.application_rejected: "申请不予通过",
    EventType.application_withdrawn: "申请已撤回", EventType.filing_changed: "备案已变更",
    EventType.filing_expiring: "备案即将到期", EventType.filing_expired: "备案已到期",
    EventType.filing_revoked: "备案已撤销",
}


@router.get("/channels")
async def channels_page(request: Request, session: DBSession, redelivered: str | None = None,
                        status: str | None = None) -> Response:
    staff = await _admin(request, session)
    channels = await list_channels(session, staff.region_code)
    endpoints: dict[str, list[WebhookEndpoint]] = {str(c.id): await endpoints_of(session, c) for c in channels}
    wanted = MessageStatus(status) if status in STATUS_LABELS else None
    log = await delivery_log(session, staff.region_code, status=wanted, limit=100)
    flashes = [f"消息 {redelivered} 将重新投递"] if redelivered else []
    return await _page(request, session, staff, "channels.html", channels=channels, endpoints=endpoints, log=log,
                       status=wanted.value if wanted else "", status_labels=STATUS_LABELS,
                       event_labels={e.value: label for e, label in EVENT_LABELS.items()}, flashes=flashes)


@router.post("/webhook-messages/{message_id}/redeliver")
async def redeliver_page(message_id: str, request: Request, session: DBSession) -> RedirectResponse:
    await verify_csrf(request)
    staff = await _admin(request, session)
    message = await get_message(session, message_id, staff.region_code)
    await redeliver(session, message, staff_id=staff.id)
    return redirect(f"/staff/admin/channels?redelivered={message.id}")
