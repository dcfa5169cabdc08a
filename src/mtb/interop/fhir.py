"""FHIR R4 resources built from MTB's rows, as plain dicts (JSON-ready). docs/fhir.md describes the mapping.

| MTB | FHIR | id |
|---|---|---|
| insured person (the beneficiary) | Patient | the person's id |
| their insurance (employee / resident) | Coverage | the person's id |
| the disease of an application | Condition | the application's id |
| the application (what it asks for) | CoverageEligibilityRequest | the application's id |
| the review of an application | Task | the application's id |
| a material | DocumentReference | the material's id |
| the filing an approval granted | CoverageEligibilityResponse | the qualification's id |

Privacy: the ID number only ever appears masked; the medical insurance card number (a login credential)
and agents' names never appear; staff appear by username and id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from mtb.applications.schemas import AGENT_IS, RELATION_LABELS
from mtb.applications.states import LABELS, Status
from mtb.catalog.document import CatalogDocument
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.interop.privacy import sex_of
from mtb.interop.records import ApplicationRecord
from mtb.materials.models import Material
from mtb.qualifications.models import Qualification
from mtb.qualifications.schemas import STATUS_LABELS
from mtb.qualifications.service import covers

Resource = dict[str, Any]

APPLICATION_SYSTEM = "urn:mtb:application"
APPLICATION_STATUS_SYSTEM = "urn:mtb:application-status"
APPLICATION_KIND_SYSTEM = "urn:mtb:application-kind"
QUALIFICATION_SYSTEM = "urn:mtb:qualification"
QUALIFICATION_STATUS_SYSTEM = "urn:mtb:qualification-status"
STAFF_SYSTEM = "urn:mtb:staff"
REASON_SYSTEM = "urn:mtb:review-reason"
MASKED_ID_SYSTEM = "urn:mtb:id-number-masked"
# Administrative divisions (GB/T 2260); the insurance agency of a region is named by its division code.
DIVISION_SYSTEM = "urn:mtb:division"
AGENCY_SYSTEM = "urn:mtb:agency"
INSURANCE_TYPE_SYSTEM = "urn:mtb:insurance-type"
# The national 门诊慢特病 disease codes (M + 5 digits), emitted only where the catalog marks them verified.
NATIONAL_DISEASE_SYSTEM = "urn:mtb:national-disease"
EXT_INSURED_REGION = "urn:mtb:extension:insured-region"
EXT_SHA256 = "urn:mtb:extension:sha256"
EXT_QUALIFICATION_STATUS = "urn:mtb:extension:qualification-status"
HL7 = "http://terminology.hl7.org/CodeSystem"

TASK_STATUS: dict[Status, str] = {
    Status.draft: "draft", Status.submitted: "requested", Status.in_review: "in-progress",
    Status.returned: "on-hold", Status.approved: "completed", Status.rejected: "rejected",
    Status.withdrawn: "cancelled",
}
# A CoverageEligibilityRequest is a draft until submitted, cancelled once withdrawn, active otherwise.
REQUEST_STATUS: dict[Status, str] = {Status.draft: "draft", Status.withdrawn: "cancelled"}
KIND_LABELS = {"new": "新申请", "change": "变更定点医院", "renewal": "续期"}
INSURANCE_LABELS = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险"}
DECIDED = (Status.approved, Status.rejected, Status.returned)
ENDED = (Status.approved, Status.rejected, Status.withdrawn)


def catalog_system(region_code: str, version: str, part: str) -> str:
    """The code system of one part of one catalog version: `urn:mtb:catalog:110000:2025.1:disease`.
    Codes and names are defined per version, so the version is part of the system."""
    return f"urn:mtb:catalog:{region_code}:{version}:{part}"


def hospital_system(region_code: str) -> str:
    """Hospital codes identify the same hospital across catalog versions of a region."""
    return f"urn:mtb:catalog:{region_code}:hospital"


def instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ref(resource_type: str, resource_id: object, display: str | None = None) -> Resource:
    out: Resource = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def agency(region_code: str, region_name: str | None) -> Resource:
    return {"type": "Organization", "identifier": {"system": AGENCY_SYSTEM, "value": region_code},
            "display": f"{region_name or region_code}医疗保障经办机构"}


def hospital(doc: CatalogDocument, code: str) -> Resource:
    entry = doc.hospital(code)
    return {"type": "Organization", "identifier": {"system": hospital_system(doc.region.code), "value": code},
            "display": entry.name if entry else code}


def _concept(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def patient(person: InsuredPerson) -> Resource:
    region_name = idnumber.region_name(person.region_code)
    return {
        "resourceType": "Patient", "id": str(person.id),
        "meta": {"lastUpdated": instant(person.updated_at)},
        "extension": [{"url": EXT_INSURED_REGION, "valueCoding": {
            "system": DIVISION_SYSTEM, "code": person.region_code,
            "display": region_name or person.region_code}}],
        "identifier": [{"use": "official", "type": {"text": "居民身份证号（脱敏）"}, "system": MASKED_ID_SYSTEM,
                        "value": person.id_number_masked}],
        "active": person.status == "active",
        "name": [{"use": "official", "text": person.name}],
        "gender": sex_of(person.id_number_masked) or "unknown",
        # The year only (a FHIR partial date): with the day, the masked number could be completed.
        "birthDate": f"{person.birth_date.year:04d}",
        "managingOrganization": agency(person.region_code, region_name),
    }


def coverage(person: InsuredPerson) -> Resource:
    """The person's basic medical insurance as the registry has it now (one per person)."""
    label = INSURANCE_LABELS.get(person.insurance_type, person.insurance_type)
    return {
        "resourceType": "Coverage", "id": str(person.id),
        "status": "active" if person.status == "active" else "cancelled",
        "type": _concept(INSURANCE_TYPE_SYSTEM, person.insurance_type, label),
        "beneficiary": ref("Patient", person.id),
        "relationship": {"coding": [{"system": f"{HL7}/subscriber-relationship", "code": "self"}]},
        "payor": [agency(person.region_code, idnumber.region_name(person.region_code))],
    }


def disease_concept(doc: CatalogDocument, version: str, code: str) -> Resource:
    entry = doc.disease(code)
    name = entry.name if entry else code
    coding = [{"system": catalog_system(doc.region.code, version, "disease"), "code": code, "display": name}]
    if entry is not None and entry.national_code_status == "verified":
        coding += [{"system": NATIONAL_DISEASE_SYSTEM, "code": c} for c in entry.national_codes]
    return {"coding": coding, "text": name}


def condition(rec: ApplicationRecord) -> Resource:
    """The disease as claimed by one application, coded in the catalog version it was made under;
    confirmed once the application is approved (the agency accepted the diagnosis certificate)."""
    app, doc = rec.app, rec.catalog.document
    entry = doc.disease(app.disease_code)
    category = doc.category(entry.category) if entry else None
    verified = "confirmed" if app.status == Status.approved else "unconfirmed"
    out: Resource = {
        "resourceType": "Condition", "id": str(app.id),
        "clinicalStatus": {"coding": [{"system": f"{HL7}/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": f"{HL7}/condition-ver-status", "code": verified}]},
        "category": [{"coding": [{"system": f"{HL7}/condition-category", "code": "problem-list-item"}],
                      "text": category.name if category else doc.region.program}],
        "code": disease_concept(doc, rec.catalog.version, app.disease_code),
        "subject": ref("Patient", app.beneficiary_id),
        "recordedDate": instant(app.created_at),
    }
    if app.laterality and entry is not None and entry.laterality:
        option = next((o for o in entry.laterality if o.code == app.laterality), None)
        out["bodySite"] = [{"text": option.name if option else app.laterality}]
    return out


def eligibility_request(rec: ApplicationRecord) -> Resource:
    """What an application asks the agency for: recognition of the benefit for one disease at one
    hospital. The Task (the review) has it as its focus; the filing's CoverageEligibilityResponse answers it."""
    app, doc = rec.app, rec.catalog.document
    status = Status(app.status)
    return {
        "resourceType": "CoverageEligibilityRequest", "id": str(app.id),
        "meta": {"lastUpdated": instant(app.updated_at)},
        "identifier": [{"system": APPLICATION_SYSTEM, "value": str(app.id)}],
        "status": REQUEST_STATUS.get(status, "active"),
        "purpose": ["validation"],
        "patient": ref("Patient", app.beneficiary_id),
        "created": instant(app.created_at),
        "insurer": agency(doc.region.code, doc.region.name),
        "insurance": [{"focal": True, "coverage": ref("Coverage", app.beneficiary_id)}],
        "item": [{"category": disease_concept(doc, rec.catalog.version, app.disease_code),
                  "diagnosis": [{"diagnosisReference": ref("Condition", app.id)}]}],
    }


def _first_event_at(rec: ApplicationRecord, status: Status) -> datetime | None:
    return next((e.created_at for e in rec.events if e.to_status == status), None)


def _requester(rec: ApplicationRecord) -> Resource:
    app = rec.app
    if app.submitter_staff_id is not None:
        return {"type": "Organization", "display": "经办窗口代录"}
    if app.submitter_person_id is not None and app.submitter_person_id != app.beneficiary_id:
        agent_is = RELATION_LABELS[AGENT_IS.get(app.relation, "other")]
        return {"type": "RelatedPerson", "display": f"代办人（参保人的{agent_is}）"}
    return ref("Patient", app.beneficiary_id)


def _owner(rec: ApplicationRecord) -> Resource | None:
    """The reviewer holding the claim, or, once decided, the reviewer who decided."""
    app = rec.app
    staff_id = app.claimed_by_id
    if staff_id is None and Status(app.status) in DECIDED and rec.decisions:
        staff_id = rec.decisions[-1].reviewer_id
    if staff_id is None:
        return None
    return {"type": "Practitioner", "identifier": {"system": STAFF_SYSTEM, "value": str(staff_id)},
            "display": rec.staff_names.get(staff_id, str(staff_id))}


def task(rec: ApplicationRecord, *, with_output: bool) -> Resource:
    """The review of an application, focused on its CoverageEligibilityRequest. Its period runs from the
    first claim to the decision (or the withdrawal) that ended it. `output` (the filing granted) only
    `with_output`: for those who may read the filing, so that no reference points at what they cannot read."""
    app, doc = rec.app, rec.catalog.document
    status = Status(app.status)
    label = LABELS[status] + ("（初审通过，待复核）" if app.pending_approval_by_id is not None else "")
    channel = doc.channel(app.channel)
    out: Resource = {
        "resourceType": "Task", "id": str(app.id),
        "meta": {"lastUpdated": instant(app.updated_at)},
        "identifier": [{"system": APPLICATION_SYSTEM, "value": str(app.id)}],
        "status": TASK_STATUS[status],
        "businessStatus": {"coding": [{"system": APPLICATION_STATUS_SYSTEM, "code": status.value,
                                       "display": LABELS[status]}], "text": label},
        "intent": "order",
        "code": _concept(APPLICATION_KIND_SYSTEM, app.kind,
                         f"{doc.region.program}{KIND_LABELS.get(app.kind, app.kind)}"),
        "focus": ref("CoverageEligibilityRequest", app.id, f"{doc.region.program}申请"),
        "for": ref("Patient", app.beneficiary_id),
        "authoredOn": instant(app.created_at),
        "lastModified": instant(app.updated_at),
        "requester": _requester(rec),
        "reasonReference": ref("Condition", app.id),
        "insurance": [ref("Coverage", app.beneficiary_id)],
        "input": [
            {"type": {"text": "申请渠道"}, "valueCoding": {
                "system": catalog_system(doc.region.code, rec.catalog.version, "channel"),
                "code": app.channel, "display": channel.name if channel else app.channel}},
            {"type": {"text": "定点医疗机构"}, "valueReference": hospital(doc, app.hospital_code)},
        ],
    }
    if (owner := _owner(rec)) is not None:
        out["owner"] = owner
    started = _first_event_at(rec, Status.in_review)
    if started is not None:
        period = {"start": instant(started)}
        if status in ENDED:
            period["end"] = instant(next(e.created_at for e in reversed(rec.events) if e.to_status == status))
        out["executionPeriod"] = period
    if app.due_date is not None:
        out["restriction"] = {"period": {"end": app.due_date.isoformat()}}
    if status in (Status.returned, Status.rejected) and rec.decisions and rec.decisions[-1].reasons:
        reasons = rec.decisions[-1].reasons
        out["statusReason"] = {
            "coding": [{"system": REASON_SYSTEM, "code": r["code"], "display": r["name"]} for r in reasons],
            "text": "；".join(r["name"] + (f"（{r['detail']}）" if r.get("detail") else "") for r in reasons)}
    if rec.qualification is not None and with_output:
        out["output"] = [{"type": {"text": "备案"},
                          "valueReference": ref("CoverageEligibilityResponse", rec.qualification.id)}]
    return out


def document_reference(rec: ApplicationRecord, m: Material, *, base_url: str) -> Resource:
    """One material. `attachment.hash` (base64 SHA-1 in FHIR) is left out: MTB keeps the SHA-256 of the
    bytes, carried in an extension, and computing SHA-1 would mean reading every file from storage.
    `base_url` ("" for relative) prefixes the API download URL, which applies the API's access rules."""
    doc = rec.catalog.document
    kind = doc.material_kind(m.kind)
    name = kind.name if kind else m.kind
    return {
        "resourceType": "DocumentReference", "id": str(m.id),
        "status": "current",
        "type": _concept(catalog_system(doc.region.code, rec.catalog.version, "material-kind"), m.kind, name),
        "category": [{"text": "申请材料"}],
        "subject": ref("Patient", rec.app.beneficiary_id),
        "date": instant(m.created_at),
        "content": [{"attachment": {
            "extension": [{"url": EXT_SHA256, "valueString": m.sha256}],
            "contentType": m.content_type,
            "url": f"{base_url}/api/v1/applications/{m.application_id}/materials/{m.id}/file",
            "size": m.size,
            "title": m.file_name,
            "creation": instant(m.created_at),
        }}],
        "context": {"related": [ref("Task", rec.app.id)]},
    }


def last_covered_day(q: Qualification) -> date | None:
    """The last day the filing covers (None: no end); earlier than `effective_from` when it never covered."""
    ends = [q.valid_until] if q.valid_until is not None else []
    if q.ended_on is not None:  # cover ends before `ended_on`
        ends.append(q.ended_on - timedelta(days=1))
    return min(ends) if ends else None


def _benefit_items(q: Qualification, disease: Resource) -> list[Resource]:
    """The benefit data the filing was granted with; values the catalog marks as examples are left out."""
    items = []
    for b in q.benefits:
        benefits: list[Resource] = []
        if not b.get("is_example"):
            if b.get("reimbursement_ratio") is not None:
                benefits.append({"type": {"text": "报销比例"},
                                 "allowedString": f"{b['reimbursement_ratio']:.0%}"})
            if b.get("annual_limit_yuan") is not None:
                benefits.append({"type": {"text": "年度支付限额"},
                                 "allowedMoney": {"value": b["annual_limit_yuan"], "currency": "CNY"}})
        if benefits or b.get("note"):
            item: Resource = {"category": disease}
            if b.get("note"):
                item["description"] = b["note"]
            if benefits:
                item["benefit"] = benefits
            items.append(item)
    return items


def eligibility_response(rec: ApplicationRecord, *, today: date) -> Resource:
    """The filing: in force on `today` by the same dates the hospitals' eligibility check uses."""
    q = rec.qualification
    assert q is not None
    doc = rec.catalog.document
    label = STATUS_LABELS.get(q.status, q.status)
    disease = disease_concept(doc, rec.catalog.version, q.disease_code)
    insurance: Resource = {"coverage": ref("Coverage", q.person_id), "inforce": covers(q, today)}
    last = last_covered_day(q)
    if last is None or last >= q.effective_from:
        insurance["benefitPeriod"] = {"start": q.effective_from.isoformat()} | (
            {"end": last.isoformat()} if last is not None else {})
    if items := _benefit_items(q, disease):
        insurance["item"] = items
    return {
        "resourceType": "CoverageEligibilityResponse", "id": str(q.id),
        "extension": [{"url": EXT_QUALIFICATION_STATUS, "valueCoding": {
            "system": QUALIFICATION_STATUS_SYSTEM, "code": q.status, "display": label}}],
        "identifier": [{"system": QUALIFICATION_SYSTEM, "value": str(q.id)}],
        "status": "cancelled" if q.status == "revoked" else "active",
        "purpose": ["validation", "benefits"] if "item" in insurance else ["validation"],
        "patient": ref("Patient", q.person_id),
        "created": instant(q.created_at),
        "requestor": hospital(doc, q.hospital_code),
        "request": ref("CoverageEligibilityRequest", q.application_id, f"{doc.region.program}申请"),
        "outcome": "complete",
        "disposition": f"{disease['text']}：{label}",
        "insurer": agency(doc.region.code, doc.region.name),
        "insurance": [insurance],
    }


def application_resources(rec: ApplicationRecord, *, base_url: str, today: date,
                          with_eligibility: bool) -> list[Resource]:
    """Task first, then Patient, Coverage, Condition, CoverageEligibilityRequest, the DocumentReferences,
    and the filing if granted (and `with_eligibility`: the asker may read it; else the Task does not
    point at it either)."""
    out = [task(rec, with_output=with_eligibility), patient(rec.person), coverage(rec.person), condition(rec),
           eligibility_request(rec)]
    out += [document_reference(rec, m, base_url=base_url) for m in rec.materials]
    if rec.qualification is not None and with_eligibility:
        out.append(eligibility_response(rec, today=today))
    return out


def everything(rec: ApplicationRecord, *, fhir_base: str, base_url: str, today: date, now: datetime,
               with_eligibility: bool) -> Resource:
    """`Task/{id}/$everything`: a searchset Bundle, the Task as its match and the rest as includes."""
    resources = application_resources(rec, base_url=base_url, today=today, with_eligibility=with_eligibility)
    return {
        "resourceType": "Bundle", "type": "searchset", "timestamp": instant(now), "total": 1,
        "link": [{"relation": "self", "url": f"{fhir_base}/Task/{rec.app.id}/$everything"}],
        "entry": [{"fullUrl": f"{fhir_base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match" if i == 0 else "include"}} for i, r in enumerate(resources)],
    }
