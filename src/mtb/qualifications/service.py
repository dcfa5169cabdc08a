"""The life of a qualification: granted by an approval, changed (another hospital), renewed at the end
of its re-review period, expired, revoked.

Every status change goes through `set_status`: allowed by the transition table (states.py), made with a
conditional UPDATE on the status the writer read (the loser of a race gets a 409 `concurrent_change`),
recorded as a history row with its webhook outbox message and the person's notice, all in the caller's
transaction.

Cover is a matter of dates: a qualification covers day D when effective_from ≤ D, D ≤ valid_until (if
any) and D < ended_on (if any). A change ends the old filing on the day the new one starts; a renewal
starts the day after the old one's last day, so the benefit has no gap and no overlap.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.catalog.document import CatalogDocument
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import Conflict, NotFound
from mtb.identity.models import InsuredPerson
from mtb.qualifications.models import Qualification, QualificationEvent
from mtb.qualifications.notices import announce
from mtb.qualifications.schemas import STATUS_LABELS
from mtb.qualifications.states import EVENTS, INITIAL, Action, Status, may, permits
from mtb.timeutil import local_date, utcnow
from mtb.webhooks.events import filing_changed

ACTIVE = Status.active.value


class QualificationChanged(Conflict):
    """A writer lost a race: the filing's status is no longer the one it read."""

    def __init__(self) -> None:
        super().__init__("concurrent_change", "备案已被他人同时处理（已撤销、已到期或已变更），请刷新后查看")


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def valid_until(effective: date, period_years: int | None) -> date | None:
    """The last day of a qualification of `period_years` starting on `effective` (None: no end)."""
    if period_years is None:
        return None
    return add_years(effective, period_years) - timedelta(days=1)


class Period(Protocol):
    effective_from: date
    valid_until: date | None
    ended_on: date | None


def covers(q: Period, day: date) -> bool:
    return (q.effective_from <= day and (q.valid_until is None or day <= q.valid_until)
            and (q.ended_on is None or day < q.ended_on))


async def add_event(session: AsyncSession, q: Qualification | uuid.UUID, action: str, *, actor: Actor,
                    reason: str | None = None, detail: dict[str, Any] | None = None) -> None:
    qualification_id = q if isinstance(q, uuid.UUID) else q.id
    session.add(QualificationEvent(qualification_id=qualification_id, action=action,
                                   actor_kind=actor.kind, actor_id=actor.id, reason=reason, detail=detail,
                                   created_at=utcnow()))
    await filing_changed(session, qualification_id, action, detail)  # the webhooks' outbox, same transaction


async def get_owned(session: AsyncSession, person_id: uuid.UUID, qualification_id: uuid.UUID) -> Qualification:
    q = (await session.execute(select(Qualification).where(
        Qualification.id == qualification_id, Qualification.person_id == person_id))).scalar_one_or_none()
    if q is None:
        raise NotFound("qualification_not_found", "备案不存在")
    return q


def active_qualification_id(person_id: uuid.UUID, disease_code: str) -> Select[tuple[uuid.UUID]]:
    """The query for the person's active filing for the disease (one at most: a unique index)."""
    return select(Qualification.id).where(
        Qualification.person_id == person_id, Qualification.disease_code == disease_code,
        Qualification.status == ACTIVE)


async def active_qualification(session: AsyncSession, person_id: uuid.UUID, disease_code: str) -> uuid.UUID | None:
    return (await session.execute(active_qualification_id(person_id, disease_code))).scalar_one_or_none()


async def list_for_person(session: AsyncSession, person_id: uuid.UUID) -> list[Qualification]:
    return list((await session.execute(select(Qualification).where(Qualification.person_id == person_id)
                                       .order_by(Qualification.effective_at.desc()))).scalars())


def check_changeable(q: Qualification, doc: CatalogDocument, today: date) -> None:
    if doc.change is None:
        raise Conflict("change_not_offered", f"{doc.region.name}暂不支持在线变更备案")
    if not may(q.status, Action.change) or not covers(q, today):
        raise Conflict("qualification_not_active", "只有正在有效期内的备案可以变更")


def renewal_window(q: Qualification, doc: CatalogDocument) -> tuple[date, date] | None:
    if doc.renewal is None or q.valid_until is None:
        return None
    return (q.valid_until - timedelta(days=doc.renewal.opens_days_before),
            q.valid_until + timedelta(days=doc.renewal.grace_days))


def check_renewable(q: Qualification, doc: CatalogDocument, today: date) -> None:
    window = renewal_window(q, doc)
    if window is None:
        raise Conflict("renewal_not_offered", "此备案长期有效或本地区不支持在线续期，无需续期")
    if not may(q.status, Action.renew):
        raise Conflict("qualification_not_renewable", "此备案已被变更、续期或撤销，不能续期")
    opens, closes = window
    if today < opens:
        raise Conflict("renewal_not_open", f"续期将于 {opens.isoformat()} 开放办理", extra={"opens_on": opens.isoformat()})
    if today > closes:
        raise Conflict("renewal_closed", "已超过续期办理期限，请重新申请")


async def check_followup(session: AsyncSession, app: Application, doc: CatalogDocument, today: date) -> Qualification:
    """A change or renewal application still has a filing to change or renew."""
    assert app.qualification_id is not None
    q = await session.get(Qualification, app.qualification_id)
    assert q is not None
    await session.refresh(q)
    if app.kind == "change":
        check_changeable(q, doc, today)
    else:
        check_renewable(q, doc, today)
    return q


VERBS: dict[Action, str] = {Action.expire: "到期", Action.revoke: "撤销", Action.change: "变更",
                            Action.renew: "续期"}


def _refusal(action: Action, current: Status, to: Status) -> Conflict:
    """The answer to a transition the table does not allow. An act refused in this status answers
    `qualification_not_active` (what revocation and replacement answered before the table) and names the
    statuses it needs; an act asked to lead elsewhere than the table says is `invalid_transition`."""
    label = STATUS_LABELS[current.value]
    if not may(current, action):
        needed = "或".join(STATUS_LABELS[s.value] for s in Status if may(s, action))
        return Conflict("qualification_not_active",
                        f"只有{needed}的备案可以{VERBS[action]}（备案当前状态：{label}），请刷新后查看")
    return Conflict("invalid_transition", f"备案当前状态为“{label}”，{VERBS[action]}不能使其变为“{STATUS_LABELS[to.value]}”")


async def set_status(session: AsyncSession, q: Qualification, to: Status, *, action: Action, actor: Actor,
                     reason: str | None = None, detail: dict[str, Any] | None = None, **values: Any) -> None:
    """The one way a filing's status changes (see the module docstring); `values` are set with it."""
    current = Status(q.status)
    if not permits(current, to, action):
        raise _refusal(action, current, to)
    result = await session.execute(
        update(Qualification).where(Qualification.id == q.id, Qualification.status == current.value)
        .values(status=to.value, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise QualificationChanged()
    await session.refresh(q)
    await add_event(session, q, EVENTS[action], actor=actor, reason=reason, detail=detail)
    await announce(session, q, action, reason)
    await session.flush()


async def grant(session: AsyncSession, app: Application, *, at: datetime, actor: Actor) -> Qualification:
    """The filing takes effect at the moment of approval (domain.md: 审核通过的，备案立即生效)."""
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    assert disease is not None
    person = await session.get(InsuredPerson, app.beneficiary_id)
    assert person is not None
    today = local_date(at)
    effective, until, period = today, valid_until(today, disease.review_period_years), disease.review_period_years
    old: Qualification | None = None
    successor = uuid.uuid4()  # named in the old filing's "replaced" row, written before the successor exists
    if app.kind == "new":
        active = await active_qualification(session, person.id, app.disease_code)
        if active is not None:
            raise Conflict("qualification_exists", "该参保人已有此病种的有效备案",
                           extra={"qualification_id": str(active)})
    else:
        old = await session.get(Qualification, app.qualification_id)
        assert old is not None
        if app.kind == "change":  # same period, another hospital, from today on
            action, until, period = Action.change, old.valid_until, old.review_period_years
        else:  # renewal: the next period starts the day after the last one ends
            assert old.valid_until is not None
            action, effective = Action.renew, old.valid_until + timedelta(days=1)
            until = valid_until(effective, disease.review_period_years)
        # Replaced before its successor is inserted (one active filing per person and disease); a
        # concurrent revocation or expiry that got there first makes this approval lose (409).
        await set_status(session, old, Status.replaced, action=action, actor=actor,
                         detail={"by": str(successor), "kind": app.kind}, ended_on=effective)
    benefits = [b.model_dump(mode="json") for b in disease.benefits if b.insurance_type == person.insurance_type]
    q = Qualification(
        id=successor, person_id=person.id, application_id=app.id, region_code=app.region_code,
        catalog_version_id=app.catalog_version_id, disease_code=app.disease_code,
        hospital_code=app.hospital_code, insurance_type=person.insurance_type, status=INITIAL.value,
        effective_at=at, effective_from=effective, valid_until=until, review_period_years=period,
        benefits=benefits, created_at=utcnow())
    session.add(q)
    await session.flush()
    if old is not None:
        old.replaced_by_id = q.id
    await add_event(session, q, "granted", actor=actor,
                    detail={"application_id": str(app.id), "kind": app.kind,
                            "replaces": str(old.id) if old else None})
    await session.flush()
    return q


async def revoke(session: AsyncSession, q: Qualification, *, actor: Actor, reason: str) -> None:
    """An administrator ends an active filing today (the person is told why)."""
    await set_status(session, q, Status.revoked, action=Action.revoke, actor=actor, reason=reason,
                     ended_on=local_date(utcnow()))
