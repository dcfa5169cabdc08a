"""Who may apply for what, where: checked when an application is made and again at submission.

Each refusal has its own code. The rules come from domain.md: the disease must be in the region's
catalog; the hospital designated in that region; the person insured and active; a person insured
elsewhere needs a cross-region filing (异地备案) first; one open application or active filing per person
and disease; the eye injection needs the eye(s) named.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application, CrossRegionFiling
from mtb.applications.states import OPEN
from mtb.catalog.allowed import allowed_extra, spelled
from mtb.catalog.document import CatalogDocument
from mtb.errors import Conflict, Unprocessable
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson, PersonStatus
from mtb.qualifications.service import active_qualification_id
from mtb.timeutil import local_today


@dataclass(frozen=True)
class Choice:
    region_code: str
    disease_code: str
    hospital_code: str
    channel: str
    laterality: str | None


def check_choice(doc: CatalogDocument, choice: Choice, *, via_window: bool) -> None:
    """Catalog rules: disease, hospital, channel, laterality."""
    region = doc.region.name
    disease = doc.disease(choice.disease_code)
    if disease is None:
        raise Unprocessable("disease_not_in_catalog", f"所选病种不在{region}门诊慢特病病种目录中")
    hospital = doc.hospital(choice.hospital_code)
    if hospital is None:
        raise Unprocessable("hospital_not_designated", f"所选医院不是{region}的定点医疗机构")
    channel = doc.channel(choice.channel)
    if channel is None:
        online = [(c.code, c.name) for c in doc.channels if (c.kind == "window") == via_window]
        raise Unprocessable("channel_unknown", f"{region}没有此办理渠道，channel 可为：{spelled(online)}",
                            extra=allowed_extra(online))
    if channel.kind == "window" and not via_window:
        raise Unprocessable("window_channel_staff_only", "线下窗口渠道的申请由经办窗口工作人员录入")
    if via_window and channel.kind != "window":
        raise Unprocessable("window_channel_required", "窗口工作人员录入的申请，渠道应为线下窗口")
    options = disease.laterality
    if options is None:
        if choice.laterality is not None:
            raise Unprocessable("laterality_not_applicable", f"{disease.name}无需选择眼别")
    elif choice.laterality is None:
        choices = [(o.code, o.name) for o in options]
        raise Unprocessable("laterality_required",
                            f"{disease.name}需选择{'或'.join(n for _, n in choices)}（laterality 可为：{spelled(choices)}）",
                            extra=allowed_extra(choices))
    elif choice.laterality not in {o.code for o in options}:
        choices = [(o.code, o.name) for o in options]
        raise Unprocessable("laterality_invalid", f"眼别（laterality）应为：{spelled(choices)}",
                            extra=allowed_extra(choices))


async def check_person(session: AsyncSession, person: InsuredPerson, *, region_code: str,
                       region_name: str) -> None:
    """The person is insured and active, and filed for cross-region treatment where needed."""
    if person.status != PersonStatus.active:
        raise Unprocessable("person_not_insured_active", "参保状态不是正常参保，暂不能申请，请咨询医保经办机构")
    if not idnumber.within(person.region_code, region_code):
        today = local_today()
        filing = (await session.execute(
            select(CrossRegionFiling.id).where(
                CrossRegionFiling.person_id == person.id,
                CrossRegionFiling.treatment_region_code == region_code,
                CrossRegionFiling.status == "active",
                CrossRegionFiling.valid_from <= today,
                (CrossRegionFiling.valid_until.is_(None)) | (CrossRegionFiling.valid_until >= today),
            ).limit(1))).scalar_one_or_none()
        if filing is None:
            insured_in = idnumber.region_name(person.region_code) or person.region_code
            raise Unprocessable(
                "cross_region_filing_required",
                f"您在{insured_in}参保，在{region_name}就医需先办理异地就医备案")


async def check_not_already_applied(session: AsyncSession, person: InsuredPerson, disease_code: str, *,
                                    exclude: uuid.UUID | None = None, kind: str = "new") -> None:
    """No other open application for this person and disease; and for a first application, no active
    qualification either (a change or renewal is made for one)."""
    query = select(Application.id).where(
        Application.beneficiary_id == person.id, Application.disease_code == disease_code,
        Application.status.in_([s.value for s in OPEN]))
    if exclude is not None:
        query = query.where(Application.id != exclude)
    # Both questions in one statement.
    asked = [query.limit(1).scalar_subquery()]
    if kind == "new":
        asked.append(active_qualification_id(person.id, disease_code).scalar_subquery())
    row = (await session.execute(select(*asked))).one()
    existing = row[0]
    if existing is not None:
        raise Conflict("application_exists", "该参保人已有此病种的申请正在办理中",
                       extra={"application_id": str(existing)})
    qualification = row[1] if kind == "new" else None
    if qualification is not None:
        raise Conflict("qualification_exists", "该参保人已有此病种的有效备案，如需更换医院请办理变更",
                       extra={"qualification_id": str(qualification)})
