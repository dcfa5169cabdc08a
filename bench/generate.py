"""Synthetic, clearly fake data for the benchmarks (issue 8): people, applications, their history,
materials and qualifications, across both reference regions, their diseases, channels and statuses.

Deterministic: person `i` always gets the same ID number, name and application, so a benchmark can
recompute the clear ID number of any loaded person (for logging in, or asking the eligibility API)
without storing it anywhere.

ID numbers: a real district code (Beijing 1101xx, or 429021 Shennongjia), a birth date in 1930–2005,
a sequence number 900–999 (the demo/test range) and the GB 11643 check digit
(`mtb.identity.idnumber.with_check_digit`). Nothing here is a real person.

The expensive part is per-person crypto (HMAC lookup hash + AES-GCM ciphertext): `person_rows` is a
pure function of an index range so it can be spread over processes (see load.py, `--jobs`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mtb.catalog.loader import read_catalog_files
from mtb.identity import idnumber

BEIJING, SHENNONGJIA = "110000", "429021"
# Only districts whose code was in force for every birth year 1930–2005: python-stdnum (and so
# idnumber.is_valid) refuses e.g. 110117 for people born before 2001, when Pinggu became a district.
BEIJING_DISTRICTS = ["110101", "110102", "110105", "110106", "110107", "110108", "110109"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "建国", "志强", "海燕", "红梅", "玉兰", "国庆"]
FIRST_DAY = date(1930, 1, 1)
N_DAYS = (date(2005, 12, 31) - FIRST_DAY).days + 1  # 27 759, coprime with the stride below
STRIDE = 7919
# Status mix of the loaded applications (cumulative thresholds over 100).
STATUS_MIX = [("draft", 10), ("submitted", 25), ("in_review", 33), ("approved", 78), ("returned", 83),
              ("rejected", 88), ("withdrawn", 100)]
NOW = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)  # a fixed "now" so runs are reproducible


def _uuid(kind: str, i: int) -> uuid.UUID:
    # uuid5 is deterministic but costs a SHA-1; a per-kind prefix + counter is enough and cheap.
    return uuid.UUID(int=(_KIND[kind] << 96) | i)


_KIND = {"person": 0x6D7462_01, "application": 0x6D7462_02, "material": 0x6D7462_03,
         "qualification": 0x6D7462_04}


def person_uuid(i: int) -> uuid.UUID:
    return _uuid("person", i)


def application_uuid(i: int) -> uuid.UUID:
    return _uuid("application", i)


def region_of(i: int) -> str:
    """70 % of people in Beijing, 30 % in Shennongjia."""
    return SHENNONGJIA if i % 10 >= 7 else BEIJING


def id_number(i: int) -> str:
    """The clear, valid, fake ID number of person `i` (unique for i < 7 × 27 759 × 100)."""
    if region_of(i) == SHENNONGJIA:
        division, rest = "429021", i
    else:
        division, rest = BEIJING_DISTRICTS[i % len(BEIJING_DISTRICTS)], i // len(BEIJING_DISTRICTS)
    day = FIRST_DAY + timedelta(days=(rest * STRIDE) % N_DAYS)
    seq = 900 + rest // N_DAYS
    if seq > 999:
        raise ValueError(f"person index {i} out of the generator's range")
    return idnumber.with_check_digit(f"{division}{day:%Y%m%d}{seq:03d}")


def name_of(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


def card_of(number: str) -> str:
    return f"C{number[-8:]}"


def status_of(i: int) -> str:
    bucket = (i * 37) % 100
    for status, upto in STATUS_MIX:
        if bucket < upto:
            return status
    raise AssertionError


@dataclass(frozen=True)
class RegionCatalog:
    region_code: str
    diseases: list[str]
    hospitals: list[str]
    channels: list[str]
    material_kinds: list[str]
    review_years: dict[str, int | None]


def reference_catalogs(catalog_dir: Path) -> dict[str, RegionCatalog]:
    out = {}
    for parsed in read_catalog_files(sorted(catalog_dir.glob("*.yaml"))):
        doc = parsed.document
        out[doc.region.code] = RegionCatalog(
            region_code=doc.region.code,
            diseases=[d.code for d in doc.diseases if not d.laterality],
            hospitals=[h.code for h in doc.hospitals],
            channels=[c.code for c in doc.channels],
            material_kinds=[m.kind for m in doc.default_materials if m.required][:2],
            review_years={d.code: d.review_period_years for d in doc.diseases})
    return out


def person_rows(start: int, stop: int, data_key: str) -> list[dict[str, Any]]:
    """insured_persons rows for people start..stop-1: the crypto-heavy part, safe to run in a pool."""
    rows = []
    for i in range(start, stop):
        number = id_number(i)
        region = region_of(i)
        rows.append({
            "id": person_uuid(i), "name": name_of(i),
            "id_number_hash": idnumber.lookup_hash(number, data_key=data_key),
            "id_number_enc": idnumber.encrypt(number, data_key=data_key),
            "id_number_masked": idnumber.mask(number), "birth_date": idnumber.birth_date(number),
            "card_number": card_of(number), "insurance_type": "employee" if i % 3 else "resident",
            "region_code": number[:6] if region == BEIJING else SHENNONGJIA, "status": "active",
            "created_at": NOW - timedelta(days=400), "updated_at": NOW - timedelta(days=400)})
    return rows


def application_rows(start: int, stop: int, catalogs: dict[str, RegionCatalog], catalog_version: dict[str, int],
                     files: list[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """applications, application_events, materials and qualifications for applications start..stop-1
    (application i belongs to person i, so the partial unique indexes hold)."""
    apps, events, materials, quals = [], [], [], []
    for i in range(start, stop):
        region = region_of(i)
        cat = catalogs[region]
        status = status_of(i)
        disease = cat.diseases[i % len(cat.diseases)]
        hospital = cat.hospitals[(i // 7) % len(cat.hospitals)]
        channel = cat.channels[(i // 3) % len(cat.channels)]
        created = NOW - timedelta(days=1 + i % 300, minutes=i % 1440)
        submitted = None if status == "draft" else created + timedelta(hours=1)
        app_id, person_id = application_uuid(i), person_uuid(i)
        rnd = 1 if status == "returned" else 0
        due = (submitted + timedelta(days=3 + i % 5)).date() if submitted else None
        # The history: draft, then submitted, in_review, and the outcome, as far as `status` goes.
        path = {"draft": ["draft"], "submitted": ["draft", "submitted"], "withdrawn": ["draft", "withdrawn"],
                "in_review": ["draft", "submitted", "in_review"]}.get(
            status, ["draft", "submitted", "in_review", status])
        updated = created
        prev = None
        for step, to in enumerate(path):
            updated = created + timedelta(hours=step * 5)
            staff = step >= 2
            events.append({"application_id": app_id, "from_status": prev, "to_status": to, "action": "status",
                           "detail": None, "actor_kind": "staff" if staff else "person",
                           "actor_id": None if staff else person_id,
                           "reason": "材料不清晰" if to == "returned" else None,
                           "round": 0, "created_at": updated})
            prev = to
        apps.append({
            "id": app_id, "region_code": region, "catalog_version_id": catalog_version[region],
            "disease_code": disease, "hospital_code": hospital, "channel": channel, "kind": "new",
            "qualification_id": None, "laterality": None, "beneficiary_id": person_id,
            "submitter_person_id": person_id, "submitter_staff_id": None, "relation": "self", "status": status,
            "version": len(path), "round": rnd, "due_date": due, "claimed_by_id": None, "claimed_at": None,
            "pending_approval_by_id": None, "submitted_at": submitted, "created_at": created,
            "updated_at": updated})
        if status != "draft" or i % 2 == 0:
            for k, kind in enumerate(cat.material_kinds):
                sha, size = files[(i + k) % len(files)]
                materials.append({
                    "id": _uuid("material", 2 * i + k), "application_id": app_id, "kind": kind, "sha256": sha,
                    "size": size, "content_type": "application/pdf", "file_name": f"{kind}.pdf", "pages": 1,
                    "width": None, "height": None, "warnings": [], "fields": {}, "verdict": None,
                    "verdict_comment": None, "uploaded_by_kind": "person", "uploaded_by_id": person_id,
                    "created_at": created + timedelta(minutes=10 + k)})
        if status == "approved":
            years = cat.review_years.get(disease)
            eff = updated.date()
            quals.append({
                "id": _uuid("qualification", i), "person_id": person_id, "application_id": app_id,
                "region_code": region, "catalog_version_id": catalog_version[region], "disease_code": disease,
                "hospital_code": hospital, "insurance_type": "employee" if i % 3 else "resident",
                "status": "active", "effective_at": updated, "effective_from": eff,
                "valid_until": eff + timedelta(days=365 * years - 1) if years else None,
                "ended_on": None, "replaced_by_id": None, "review_period_years": years, "benefits": [],
                "created_at": updated})
    return {"applications": apps, "application_events": events, "materials": materials, "qualifications": quals}
