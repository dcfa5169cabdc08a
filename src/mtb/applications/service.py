"""The rules of an application's life up to the decision: create, read, submit, withdraw.

Every status change goes through `set_status`: allowed by the transition table, made with a
conditional UPDATE (the loser of a race gets a 409), recorded as a history row and announced to the
people concerned, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor, readable_by
from mtb.applications.case_number import next_case_number
from mtb.applications.eligibility import Choice, check_choice, check_not_already_applied, check_person
from mtb.applications.models import Application, ApplicationEvent, IdempotentResponse
from mtb.applications.schemas import RELATION_LABELS, ApplicationCreate
from mtb.applications.states import ALLOWED, EDITABLE, LABELS, Status
from mtb.catalog.calendar import synced
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import (
    ActiveCatalog,
    active_catalog,
    catalog_by_version_id,
    remember_version,
    version_columns,
)
from mtb.catalog.workdays import WorkdayCalendar
from mtb.errors import Conflict, Forbidden, NotFound, Unprocessable
from mtb.identity.models import InsuredPerson
from mtb.identity.service import find_person
from mtb.identity.throttle import IdentityGuard, attempts_left
from mtb.materials.models import Material
from mtb.notifications.service import Message, notify
from mtb.qualifications.service import check_followup
from mtb.timeutil import local_today, utcnow
from mtb.wake import prereview as prereview_wake
from mtb.webhooks.events import application_changed


async def get_readable(session: AsyncSession, actor: Actor, application_id: uuid.UUID) -> Application:
    """An application the asker may read, with the catalog version it was made under (read in the same
    statement: nearly every caller asks for it next)."""
    row = (await session.execute(
        select(Application, *version_columns())
        .join(CatalogVersion, CatalogVersion.id == Application.catalog_version_id)
        .where(Application.id == application_id, readable_by(actor)))).first()
    if row is None:
        raise NotFound("application_not_found", "申请不存在")
    await remember_version(session, row)
    app: Application = row[0]
    return app


async def get_writable(session: AsyncSession, actor: Actor, application_id: uuid.UUID) -> Application:
    """An application the asker may change: their own (or the one they applied for as agent); for a
    window clerk, only applications entered at the window — the region's others they may only read."""
    app = await get_readable(session, actor, application_id)
    if actor.kind == "staff" and app.submitter_staff_id is None:
        raise Forbidden("not_window_entry", "窗口工作人员只能办理在窗口录入的申请")
    return app


async def list_readable(session: AsyncSession, actor: Actor, *, limit: int = 50,
                        offset: int = 0) -> list[Application]:
    return list((await session.execute(
        select(Application).where(readable_by(actor))
        .order_by(Application.created_at.desc(), Application.id).limit(limit).offset(offset))).scalars())


async def resolve_beneficiary(session: AsyncSession, *, actor_person: InsuredPerson | None,
                              payload: ApplicationCreate, guard: IdentityGuard | None) -> tuple[InsuredPerson, str]:
    """The person the application is for, and their relation to the one applying. Naming another
    person is throttled like a login: it, too, confirms that name, ID and card number belong together."""
    if payload.beneficiary is None:
        if actor_person is None:
            raise Unprocessable("beneficiary_required", "请填写申请人（参保人）的姓名、身份证号和医保卡号")
        return actor_person, "self"
    b = payload.beneficiary
    if guard is not None:
        await guard.before(b.id_number)
    person = await find_person(session, name=b.name, id_number=b.id_number, card_number=b.card_number)
    if person is None:
        detail = "未找到与所填姓名、身份证号、医保卡号一致的参保人，请核对后重试"
        if guard is None:
            raise Unprocessable("beneficiary_not_found", detail)
        remaining = await guard.failed(b.id_number)
        raise Unprocessable("beneficiary_not_found", attempts_left(detail, remaining),
                            extra={"remaining_attempts": remaining})
    if actor_person is not None and person.id == actor_person.id:
        return person, "self"
    return person, b.relation.value


class Created(NamedTuple):
    app: Application
    event: ApplicationEvent  # its first history row: the whole timeline of a new draft


async def create_application(session: AsyncSession, *, actor: Actor, actor_person: InsuredPerson | None,
                             payload: ApplicationCreate, kind: str = "new",
                             qualification_id: uuid.UUID | None = None,
                             guard: IdentityGuard | None = None) -> Created:
    """A new draft, for oneself, for another person (agent), or entered at the window by a clerk;
    `kind` change or renewal names the filing it changes or renews (qualifications/lifecycle.py)."""
    via_window = actor.kind == "staff"
    if via_window and payload.region_code != actor.region_code:
        raise Unprocessable("region_mismatch", "只能录入本地区的申请")
    beneficiary, relation = await resolve_beneficiary(session, actor_person=actor_person, payload=payload,
                                                      guard=guard)
    catalog = await active_catalog(session, payload.region_code)
    choice = Choice(payload.region_code, payload.disease_code, payload.hospital_code, payload.channel,
                    payload.laterality)
    check_choice(catalog.document, choice, via_window=via_window)
    await check_person(session, beneficiary, region_code=payload.region_code,
                       region_name=catalog.document.region.name)
    await check_not_already_applied(session, beneficiary, payload.disease_code, kind=kind)
    now = utcnow()
    app = Application(
        region_code=payload.region_code, catalog_version_id=catalog.version_id,
        disease_code=payload.disease_code, hospital_code=payload.hospital_code, channel=payload.channel,
        laterality=payload.laterality, kind=kind, qualification_id=qualification_id,
        beneficiary_id=beneficiary.id,
        submitter_person_id=actor.id if actor.kind == "person" else None,
        submitter_staff_id=actor.id if actor.kind == "staff" else None,
        relation=relation, status=Status.draft.value, version=1, round=0, created_at=now, updated_at=now)
    session.add(app)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request created the same open application first
        raise Conflict("application_exists", "该参保人已有此病种的申请正在办理中") from exc
    event = ApplicationEvent(application_id=app.id, from_status=None, to_status=Status.draft.value,
                             action="status", actor_kind=actor.kind, actor_id=actor.id, reason=None, round=0,
                             created_at=now)
    session.add(event)
    await session.flush()
    return Created(app, event)


async def set_status(session: AsyncSession, app: Application, to: Status, *, actor: Actor,
                     reason: str | None = None, **values: Any) -> None:
    """The one way a status changes (see the module docstring)."""
    current = Status(app.status)
    if to not in ALLOWED[current]:
        raise Conflict("invalid_transition", f"申请当前状态为“{LABELS[current]}”，不能变为“{LABELS[to]}”")
    now = utcnow()
    await _update_read_back(
        session, app,
        update(Application)
        .where(Application.id == app.id, Application.status == current.value, Application.version == app.version)
        .values(status=to.value, version=app.version + 1, updated_at=now, **values))
    session.add(ApplicationEvent(application_id=app.id, from_status=current.value, to_status=to.value,
                                 actor_kind=actor.kind, actor_id=actor.id, reason=reason, round=app.round,
                                 created_at=now))
    await _announce(session, app, to, reason)
    await application_changed(session, app)
    await session.flush()


async def record(session: AsyncSession, app: Application, action: str, *, actor: Actor,
                 detail: dict[str, Any] | None = None, reason: str | None = None) -> None:
    """Append an audited act that is not a status change (a claim, a staff member viewing a material)."""
    session.add(ApplicationEvent(application_id=app.id, from_status=app.status, to_status=app.status,
                                 action=action, detail=detail, actor_kind=actor.kind, actor_id=actor.id,
                                 reason=reason, round=app.round, created_at=utcnow()))
    await session.flush()


async def update_guarded(session: AsyncSession, app: Application, **values: Any) -> None:
    """Change fields other than the status, only if nobody changed the application meanwhile (409 if so)."""
    await _update_read_back(
        session, app,
        update(Application).where(Application.id == app.id, Application.version == app.version)
        .values(version=app.version + 1, updated_at=utcnow(), **values))


async def _update_read_back(session: AsyncSession, app: Application, statement: Update) -> None:
    """Run a guarded UPDATE of `app`'s row and read the row back in the same statement (RETURNING), as
    `session.refresh` would after it; no row means someone changed the application meanwhile (409)."""
    result = await session.execute(
        statement.returning(Application),
        execution_options={"synchronize_session": False, "populate_existing": True})
    if result.scalar_one_or_none() is None:
        raise Conflict("concurrent_change", "申请已被他人同时处理，请刷新后查看")


async def _announce(session: AsyncSession, app: Application, to: Status, reason: str | None) -> None:
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    disease = catalog.document.disease(app.disease_code)
    what = disease.name if disease else app.disease_code
    body = f"{what}{catalog.document.region.program}申请状态：{LABELS[to]}。"
    if app.case_number:
        body += f"受理编号：{app.case_number}。"
    if to == Status.submitted and app.due_date is not None:
        body += f"预计在 {app.due_date.isoformat()} 前完成审核"
        body += "（节假日安排尚未公布，按法定节假日推算）。" if app.due_date_provisional else "。"
    if reason:
        body += f"说明：{reason}"
    # Worded from each reader's side: the beneficiary's own application, or the one an agent files for them.
    people = {app.beneficiary_id: "您的"}
    if app.submitter_person_id is not None and app.submitter_person_id != app.beneficiary_id:
        people[app.submitter_person_id] = f"您为{RELATION_LABELS.get(app.relation, '他人')}代办的"
    for person_id, whose in people.items():
        await notify(session, Message(person_id=person_id, kind=f"application_{to.value}",
                                      title=f"申请{LABELS[to]}", body=whose + body, application_id=app.id))


def ensure_editable(app: Application) -> None:
    if Status(app.status) not in EDITABLE:
        raise Conflict("application_not_editable",
                       f"申请当前状态为“{LABELS[Status(app.status)]}”，不能修改材料")


async def materials_of(session: AsyncSession, app: Application) -> list[Material]:
    """The application's materials, in the order its answer lists them."""
    return list((await session.execute(
        select(Material).where(Material.application_id == app.id)
        .order_by(Material.created_at, Material.id))).scalars())


async def missing_materials(session: AsyncSession, app: Application, catalog: ActiveCatalog,
                            materials: Sequence[Material] | None = None) -> list[dict[str, str]]:
    """Required kinds with no upload (generated kinds are made by MTB and never missing); `materials`:
    the application's, when the caller has read them already."""
    doc = catalog.document
    disease = doc.disease(app.disease_code)
    assert disease is not None
    uploaded = ({m.kind for m in materials} if materials is not None else set((await session.execute(
        select(Material.kind).where(Material.application_id == app.id))).scalars()))
    missing = []
    for req in doc.materials_for(disease, app.kind):
        kind = doc.material_kind(req.kind)
        assert kind is not None
        if req.required and not kind.generated and req.kind not in uploaded:
            missing.append({"kind": kind.kind, "name": kind.name})
    return missing


async def require_complete(session: AsyncSession, app: Application, catalog: ActiveCatalog,
                           materials: Sequence[Material] | None = None) -> None:
    """Every required material is there (at submission, and again at approval)."""
    missing = await missing_materials(session, app, catalog, materials)
    if missing:
        raise Unprocessable("materials_incomplete", "材料不齐全，缺少：" + "、".join(m["name"] for m in missing),
                            extra={"missing": missing})


async def check_rules(session: AsyncSession, app: Application, catalog: ActiveCatalog,
                      materials: Sequence[Material] | None = None) -> None:
    """Disease rules on materials, e.g. multiple sclerosis: certificate by an associate chief or above;
    `materials`: the application's, when the caller has read them already."""
    doc = catalog.document
    disease = doc.disease(app.disease_code)
    assert disease is not None
    asked = {r.kind for r in doc.materials_for(disease, app.kind)}
    for rule in disease.rules:
        if rule.material not in asked:  # e.g. a change of hospital that asks for no certificate
            continue
        needed = doc.title_rank(rule.title)
        titles = ([m.fields for m in materials if m.kind == rule.material] if materials is not None else
                  list((await session.execute(
                      select(Material.fields).where(Material.application_id == app.id,
                                                    Material.kind == rule.material))).scalars()))
        material = doc.material_kind(rule.material)
        title_name = next(t.name for t in doc.physician_titles if t.code == rule.title)
        ranks = [doc.title_rank(str(f.get("physician_title", ""))) for f in titles]
        if not any(r is not None and needed is not None and r >= needed for r in ranks):
            name = material.name if material else rule.material
            raise Unprocessable(
                "physician_title_insufficient",
                f"{disease.name}的{name}需由{title_name}及以上人员出具，请上传符合要求的{name}并填写出具医师职称")


async def submit(session: AsyncSession, app: Application, *, actor: Actor, calendar: WorkdayCalendar,
                 beneficiary: InsuredPerson, declaration_version: str | None = None) -> list[Material]:
    """Re-check eligibility and the checklist, then submit with the due date set. Returns the materials
    the checklist was checked on (read once, for the checks and for the answer)."""
    if Status(app.status) not in (Status.draft, Status.returned):
        raise Conflict("already_submitted" if app.status in (Status.submitted, Status.in_review) else
                       "invalid_transition",
                       f"申请当前状态为“{LABELS[Status(app.status)]}”，不能提交")
    current = await active_catalog(session, app.region_code)
    check_choice(current.document, Choice(app.region_code, app.disease_code, app.hospital_code, app.channel,
                                          app.laterality),
                 via_window=app.submitter_staff_id is not None)
    await check_person(session, beneficiary, region_code=app.region_code,
                       region_name=current.document.region.name)
    await check_not_already_applied(session, beneficiary, app.disease_code, exclude=app.id, kind=app.kind)
    if app.kind != "new":
        await check_followup(session, app, current.document, local_today())
    made_under = await catalog_by_version_id(session, app.catalog_version_id)
    materials = await materials_of(session, app)
    await require_complete(session, app, made_under, materials)
    await check_rules(session, app, made_under, materials)
    declaration = made_under.document.declaration
    if declaration is not None:  # Hubei: "所有材料需真实、有效、完整", confirmed, its version in the history
        if declaration_version != declaration.version:
            raise Unprocessable("declaration_required", f"提交前请阅读并确认：{declaration.text}",
                                extra={"declaration": {"version": declaration.version, "text": declaration.text}})
        await record(session, app, "declaration_confirmed", actor=actor,
                     detail={"version": declaration.version, "text": declaration.text})
    today = local_today()
    calendar = await synced(session, calendar)  # a schedule entered on another worker counts here too
    due = calendar.due_date(today, made_under.document.review_due_working_days)
    numbered = {} if app.case_number else {
        "case_number": await next_case_number(session, region_code=app.region_code, day=today)}
    await set_status(session, app, Status.submitted, actor=actor, round=app.round + 1, due_date=due.day,
                     due_date_provisional=due.provisional, submitted_at=utcnow(), **numbered)
    prereview_wake.kick_after_commit(session)  # the pre-review worker offers it to the fast track
    return materials


async def withdraw(session: AsyncSession, app: Application, *, actor: Actor, reason: str | None) -> None:
    if Status(app.status) not in (Status.draft, Status.submitted):
        raise Conflict("not_withdrawable", f"申请当前状态为“{LABELS[Status(app.status)]}”，不能撤回")
    await set_status(session, app, Status.withdrawn, actor=actor, reason=reason)


async def replay(session: AsyncSession, application_id: uuid.UUID, action: str,
                 key: str) -> IdempotentResponse | None:
    return (await session.execute(select(IdempotentResponse).where(
        IdempotentResponse.application_id == application_id, IdempotentResponse.action == action,
        IdempotentResponse.key == key))).scalar_one_or_none()


async def remember(session: AsyncSession, app: Application, action: str, key: str, status_code: int,
                   body: dict[str, Any]) -> None:
    session.add(IdempotentResponse(application_id=app.id, action=action, key=key, status_code=status_code,
                                   body=body, created_at=utcnow()))
    await session.flush()
