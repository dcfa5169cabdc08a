"""What the person is told about their filing: expired, revoked (by `service.set_status`) and expiring
soon (the reminder job). A change or renewal tells nothing here: its approval is announced as the
application's (applications/service.py)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.examples import review_period_basis
from mtb.catalog.service import catalog_by_version_id
from mtb.notifications.service import Message, notify
from mtb.qualifications.models import Qualification
from mtb.qualifications.states import Action


async def disease_name(session: AsyncSession, q: Qualification) -> str:
    doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
    disease = doc.disease(q.disease_code)
    return disease.name if disease else q.disease_code


async def example_note(session: AsyncSession, q: Qualification) -> str:
    """Said with a date that follows from an example re-review period (mtb/catalog/examples.py)."""
    doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
    if review_period_basis(doc.disease(q.disease_code)) == "example":
        return "（有效期按示例复审期限计算，示例值，以经办机构通知为准）"
    return ""


async def announce(session: AsyncSession, q: Qualification, action: Action, reason: str | None) -> None:
    """The notice of a status change just made (`q` as it is now), in the caller's transaction."""
    if action is Action.expire:
        await notify(session, Message(
            person_id=q.person_id, kind="qualification_expired", title="备案已到期",
            body=f"您的{await disease_name(session, q)}备案已于 {q.valid_until} 到期{await example_note(session, q)}。"
                 "如需继续享受待遇，请在续期期限内办理续期或重新申请。"))
    elif action is Action.revoke:
        assert q.ended_on is not None
        await notify(session, Message(
            person_id=q.person_id, kind="qualification_revoked", title="备案已撤销",
            body=f"您的{await disease_name(session, q)}备案已于 {q.ended_on.isoformat()} "
                 f"撤销。原因：{reason}。如有疑问请咨询医保经办机构。"))


async def remind(session: AsyncSession, q: Qualification, today: date) -> None:
    assert q.valid_until is not None
    left = (q.valid_until - today).days
    await notify(session, Message(
        person_id=q.person_id, kind="qualification_expiring", title=f"备案将在 {left} 天后到期",
        body=f"您的{await disease_name(session, q)}备案有效期至 {q.valid_until}{await example_note(session, q)}，"
             "请及时办理续期，以免影响待遇。"))
