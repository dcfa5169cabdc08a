"""Synthetic, clearly fake data for the benchmarks (issue 8): people, applications, their history,
materials and qualifications, across both reference regions, their diseases, channels and statuses.

Deterministic: person `i` always gets the same ID number, name and application, so a benchmark can
recompute the clear ID number of any loaded person (for logging in, or asking the eligibility API)
without storing it anywhere.

ID numbers: a real district code (Beijing 1101xx, or 429021 Shennongjia), a birth date in 1930–2005,
a sequence number 900–999 (the demo/test range) and the GB 11643 check digit
(`mtb.identity.idnumber.with_check_digit`). Nothing here is a real person.

Two forms of the same rows:

- `person_rows` / `application_rows`: dicts of Python values (UUID, datetime, date, lists), column name
  to value, for SQLAlchemy `insert` (bench/run.py) and as the reference the fast form is checked against.
- `person_values` / `application_values`: the bulk loader's form (bench/load.py): tuples in the column
  order of `COLUMNS`, every value already text as the database stores it (UUIDs as 32 hex digits, UTC
  timestamps `YYYY-MM-DD HH:MM:SS.ffffff` without a zone, dates ISO, integers in decimal, JSON text) and
  SQL NULL as the caller's `null` token (None for sqlite3, `\\N` for PostgreSQL's COPY text format).
  Everything about application i that does not depend on i alone repeats with i % `PERIOD` (timestamps)
  or i % 100 (status) and is formatted once; ID numbers use a table of birth dates and the GB 11643
  check digit computed inline. load.py checks this form against the dict form on samples every run.

Both are pure functions of an index range, so they can be spread over processes (load.py `--jobs`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
            "id_number_masked": idnumber.mask(number), "id_number_last4": idnumber.last4(number), "birth_date": idnumber.birth_date(number),
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


# --- the bulk loader's form: text values in column order ---------------------------------------------------

Row = tuple[str | None, ...]

# Column order of the tuples `person_values` and `application_values` return, per table.
COLUMNS: dict[str, tuple[str, ...]] = {
    "insured_persons": (
        "id", "name", "id_number_hash", "id_number_enc", "id_number_masked", "birth_date", "card_number",
        "insurance_type", "region_code", "status", "created_at", "updated_at", "id_number_last4"),
    "applications": (
        "id", "region_code", "catalog_version_id", "disease_code", "hospital_code", "channel", "kind",
        "qualification_id", "laterality", "beneficiary_id", "submitter_person_id", "submitter_staff_id",
        "relation", "status", "version", "round", "due_date", "claimed_by_id", "claimed_at",
        "pending_approval_by_id", "submitted_at", "created_at", "updated_at"),
    "application_events": (
        "application_id", "from_status", "to_status", "action", "detail", "actor_kind", "actor_id", "reason",
        "round", "created_at"),
    "materials": (
        "id", "application_id", "kind", "sha256", "size", "content_type", "file_name", "pages", "width",
        "height", "warnings", "fields", "verdict", "verdict_comment", "uploaded_by_kind", "uploaded_by_id",
        "created_at"),
    "qualifications": (
        "id", "person_id", "application_id", "region_code", "catalog_version_id", "disease_code",
        "hospital_code", "insurance_type", "status", "effective_at", "effective_from", "valid_until",
        "ended_on", "replaced_by_id", "review_period_years", "benefits", "created_at"),
}

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a (UTC) DateTime on SQLite
PERSON_CREATED = (NOW - timedelta(days=400)).strftime(TS_FORMAT)

# Columns with the same value (text, or None for NULL) in every row `person_values` / `application_values`
# make: a writer may put them in its statement as literals instead of sending them row by row
# (load.py checks them on its samples).
CONSTANT_COLUMNS: dict[str, dict[str, str | None]] = {
    "insured_persons": {"status": "active", "created_at": PERSON_CREATED, "updated_at": PERSON_CREATED},
    "applications": {"kind": "new", "qualification_id": None, "laterality": None, "submitter_staff_id": None,
                     "relation": "self", "claimed_by_id": None, "claimed_at": None,
                     "pending_approval_by_id": None},
    "application_events": {"action": "status", "detail": None, "round": "0"},
    "materials": {"content_type": "application/pdf", "pages": "1", "width": None, "height": None,
                  "warnings": "[]", "fields": "{}", "verdict": None, "verdict_comment": None,
                  "uploaded_by_kind": "person"},
    "qualifications": {"status": "active", "ended_on": None, "replaced_by_id": None, "benefits": "[]"},
}
# created_at of application i depends on i % 300 (days) and i % 1440 (minutes), its due date also on
# i % 5: all repeat with i % 7200 (the lcm).
PERIOD = 7200
_HEX = {kind: f"{prefix:08x}" for kind, prefix in _KIND.items()}
_GB11643_WEIGHTS = [pow(2, 17 - k, 11) for k in range(17)]
_PATHS = {"draft": ["draft"], "submitted": ["draft", "submitted"], "withdrawn": ["draft", "withdrawn"],
          "in_review": ["draft", "submitted", "in_review"]}


def _path(status: str) -> list[str]:
    """The statuses an application went through to `status` (as in application_rows)."""
    return _PATHS.get(status, ["draft", "submitted", "in_review", status])


def _ts(d: datetime) -> str:
    return d.astimezone(UTC).strftime(TS_FORMAT)


def _hex(kind: str, i: int) -> str:
    """`_uuid(kind, i).hex` without making the UUID."""
    return f"{_HEX[kind]}{i:024x}"


class _Tables:
    """What `id_number`, `name_of`, `status_of` and application_rows' timestamps compute per index,
    computed once per residue (built lazily, once per process)."""

    def __init__(self) -> None:
        days = [FIRST_DAY + timedelta(days=d) for d in range(N_DAYS)]
        self.day_digits = [f"{d:%Y%m%d}" for d in days]
        self.day_iso = [d.isoformat() for d in days]
        w = _GB11643_WEIGHTS
        self.division_sum = {code: sum(a * int(c) for a, c in zip(w[:6], code, strict=True))
                             for code in [*BEIJING_DISTRICTS, SHENNONGJIA]}
        self.day_sum = [sum(a * int(c) for a, c in zip(w[6:14], digits, strict=True))
                        for digits in self.day_digits]
        self.seq_sum = [sum(a * int(c) for a, c in zip(w[14:], f"{seq}", strict=True))
                        for seq in range(900, 1000)]
        self.names = [name_of(i) for i in range(len(SURNAMES) * len(GIVEN))]
        self.statuses = [status_of(i) for i in range(100)]
        # Per residue r = i % PERIOD: the timestamps of the history's steps (created + 5 h × step),
        # submitted_at, due_date, the materials' created_at and the effective date of an approval.
        self.steps: list[tuple[str, ...]] = []
        self.submitted: list[str] = []
        self.due: list[str] = []
        self.material_ts: list[tuple[str, ...]] = []
        self.effective: list[date] = []
        for r in range(PERIOD):
            created = NOW - timedelta(days=1 + r % 300, minutes=r % 1440)
            self.steps.append(tuple(_ts(created + timedelta(hours=step * 5)) for step in range(4)))
            submitted = created + timedelta(hours=1)
            self.submitted.append(_ts(submitted))
            self.due.append((submitted + timedelta(days=3 + r % 5)).date().isoformat())
            self.material_ts.append(tuple(_ts(created + timedelta(minutes=10 + k)) for k in range(4)))
            self.effective.append((created + timedelta(hours=15)).date())  # the approval is step 3


_tables: _Tables | None = None


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        _tables = _Tables()
    return _tables


def fast_id_number(i: int) -> tuple[str, int]:
    """`id_number(i)` and the index of its birth date in `_Tables.day_iso`, with the GB 11643 check
    digit computed here (load.py checks it against `idnumber.with_check_digit` on samples)."""
    t = _get_tables()
    if i % 10 >= 7:  # region_of(i) == SHENNONGJIA
        division, rest = SHENNONGJIA, i
    else:
        division, rest = BEIJING_DISTRICTS[i % len(BEIJING_DISTRICTS)], i // len(BEIJING_DISTRICTS)
    day = (rest * STRIDE) % N_DAYS
    seq = 900 + rest // N_DAYS
    if seq > 999:
        raise ValueError(f"person index {i} out of the generator's range")
    # The weighted digit sum of GB 11643, as the sums of its three parts (division, birth date, sequence).
    total = t.division_sum[division] + t.day_sum[day] + t.seq_sum[seq - 900]
    return f"{division}{t.day_digits[day]}{seq}{'10X98765432'[total % 11]}", day


def person_values(start: int, stop: int, data_key: str, null: str | None) -> list[Row]:
    """The rows of `person_rows(start, stop, data_key)` as text tuples in COLUMNS["insured_persons"] order
    (a fresh random nonce per ciphertext, as `idnumber.encrypt`)."""
    t = _get_tables()
    hash_key, enc_key = idnumber.derived_keys(data_key)  # the keys lookup_hash and encrypt derive
    assert len(hash_key) <= 64, "an HMAC key longer than SHA-256's block would be hashed first"
    aes = AESGCM(enc_key)
    # HMAC-SHA256 (RFC 2104) from the hash states after the padded key, copied per message: the same digest
    # as hmac.new(hash_key, number, sha256), a third of the cost.
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in hash_key.ljust(64, b"\0")))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in hash_key.ljust(64, b"\0")))
    nonces = os.urandom(12 * (stop - start))
    b64, names, day_iso = base64.b64encode, t.names, t.day_iso
    created, n_names, prefix = PERSON_CREATED, len(names), _HEX["person"]
    rows: list[Row] = []
    for k, i in enumerate(range(start, stop)):
        number, day = fast_id_number(i)
        raw = number.encode()
        nonce = nonces[12 * k:12 * k + 12]
        region = number[:6] if i % 10 < 7 else SHENNONGJIA
        h = inner.copy()
        h.update(raw)
        o = outer.copy()
        o.update(h.digest())
        rows.append((
            f"{prefix}{i:024x}", names[i % n_names], o.hexdigest(),
            b64(nonce + aes.encrypt(nonce, raw, b"id")).decode(), idnumber.mask(number),
            day_iso[day], "C" + number[-8:], "employee" if i % 3 else "resident", region, "active",
            created, created, number[-4:]))
    return rows


def application_values(start: int, stop: int, catalogs: dict[str, RegionCatalog],
                       catalog_version: dict[str, int], files: Sequence[tuple[str, int]],
                       null: str | None) -> dict[str, list[Row]]:
    """The rows of `application_rows(start, stop, ...)` as text tuples in COLUMNS order, per table."""
    t = _get_tables()
    n = null
    apps: list[Row] = []
    events: list[Row] = []
    materials: list[Row] = []
    quals: list[Row] = []
    versions = {region: str(v) for region, v in catalog_version.items()}
    files_text = [(sha, str(size)) for sha, size in files]
    # Per status: the history as (from, to, actor is staff, reason) steps.
    history = {status: [(n if step == 0 else path[step - 1], to, step >= 2,
                         "材料不清晰" if to == "returned" else n)
                        for step, to in enumerate(path)]
               for status, path in ((s, _path(s)) for s, _ in STATUS_MIX)}
    valid_until: dict[tuple[int, int], str] = {}
    app_prefix, person_prefix = _HEX["application"], _HEX["person"]
    mat_prefix, qual_prefix = _HEX["material"], _HEX["qualification"]
    for i in range(start, stop):
        region = SHENNONGJIA if i % 10 >= 7 else BEIJING
        cat = catalogs[region]
        status = t.statuses[i % 100]
        disease = cat.diseases[i % len(cat.diseases)]
        hospital = cat.hospitals[(i // 7) % len(cat.hospitals)]
        channel = cat.channels[(i // 3) % len(cat.channels)]
        r = i % PERIOD
        steps = t.steps[r]
        app_id, person_id = f"{app_prefix}{i:024x}", f"{person_prefix}{i:024x}"
        path = history[status]
        for step, (frm, to, staff, reason) in enumerate(path):
            events.append((app_id, frm, to, "status", n, "staff" if staff else "person",
                           n if staff else person_id, reason, "0", steps[step]))
        draft = status == "draft"
        updated = steps[len(path) - 1]
        version = versions[region]
        apps.append((
            app_id, region, version, disease, hospital, channel, "new", n, n, person_id, person_id, n, "self",
            status, str(len(path)), "1" if status == "returned" else "0", n if draft else t.due[r], n, n, n,
            n if draft else t.submitted[r], steps[0], updated))
        if not draft or i % 2 == 0:
            mat_ts = t.material_ts[r]
            for k, kind in enumerate(cat.material_kinds):
                sha, size = files_text[(i + k) % len(files_text)]
                materials.append((
                    f"{mat_prefix}{2 * i + k:024x}", app_id, kind, sha, size, "application/pdf",
                    f"{kind}.pdf", "1", n, n, "[]", "{}", n, n, "person", person_id, mat_ts[k]))
        if status == "approved":
            years = cat.review_years.get(disease)
            eff = t.effective[r]
            until: str | None = n
            if years:
                key = (r, years)
                until = valid_until.get(key)
                if until is None:
                    until = valid_until[key] = (eff + timedelta(days=365 * years - 1)).isoformat()
            quals.append((
                f"{qual_prefix}{i:024x}", person_id, app_id, region, version, disease, hospital,
                "employee" if i % 3 else "resident", "active", updated, eff.isoformat(), until, n, n,
                n if years is None else str(years), "[]", updated))
    return {"applications": apps, "application_events": events, "materials": materials, "qualifications": quals}
