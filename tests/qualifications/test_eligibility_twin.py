"""The eligibility facts as the direct reader reads them in one statement (mtb/direct/eligibility.py)
against the same facts read through the ORM session, on the same data: the key (unknown and revoked
keys read as nothing), the catalog in force in the key's region on the day asked, and the person's
filings for the disease in that region (issue 18: a change to a column or to a join changes both)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.document import CatalogDocument
from mtb.catalog.models import CatalogVersion
from mtb.direct.eligibility import EligibilityFacts, Filing, eligibility_facts
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson, StaffRole
from mtb.qualifications.keys import create_hospital_key, hash_key
from mtb.qualifications.models import HospitalKey, Qualification
from mtb.timeutil import utcnow
from tests.conftest import Clock
from tests.factories import Seed
from tests.qualifications.helpers import approve
from tests.review.helpers import submitted

DAYS = (date(2020, 1, 1), date(2027, 3, 5), date(2031, 6, 1))


async def session_facts(session: AsyncSession, *, key_hash: str, lookup_hash: str, disease_code: str,
                        day: date) -> EligibilityFacts | None:
    key = (await session.execute(select(HospitalKey).where(
        HospitalKey.key_hash == key_hash, HospitalKey.revoked_at.is_(None)))).scalar_one_or_none()
    if key is None:
        return None
    catalog = (await session.execute(select(CatalogVersion).where(
        CatalogVersion.region_code == key.region_code, CatalogVersion.effective_from <= day)
        .order_by(CatalogVersion.effective_from.desc()).limit(1))).scalar_one_or_none()
    person = (await session.execute(select(InsuredPerson).where(
        InsuredPerson.id_number_hash == lookup_hash))).scalar_one_or_none()
    filings: list[Filing] = []
    if person is not None:
        for q in (await session.execute(select(Qualification).where(
                Qualification.person_id == person.id, Qualification.disease_code == disease_code,
                Qualification.region_code == key.region_code))).scalars():
            granted = await session.get(CatalogVersion, q.catalog_version_id)
            assert granted is not None
            filings.append(Filing(q.id, q.disease_code, q.hospital_code, q.insurance_type, q.status,
                                  q.effective_from, q.valid_until, q.ended_on, q.benefits or [],
                                  q.catalog_version_id, granted.sha256))
    document = CatalogDocument.model_validate(catalog.document) if catalog else None
    return EligibilityFacts(key.hospital_code, key.region_code, document, filings)


def comparable(facts: EligibilityFacts | None) -> Any:
    if facts is None:
        return None
    catalog = facts.catalog
    in_force = (catalog.region.code, catalog.version, catalog.effective_from) if catalog else None
    return (facts.hospital_code, facts.region_code, in_force, sorted(facts.filings, key=lambda f: str(f.id)))


async def test_direct_and_session_read_the_same_eligibility_facts(
        client: httpx.AsyncClient, seed: Seed, clock: Clock, app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    app = app_and_client[0]
    zhang, li, zhao = await seed.person("zhang"), await seed.person("li"), await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    snj = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, "429021"))
    for disease, hospital in (("BJ-TUMOR-CHEMO", "BJ-EX-0001"), ("BJ-HEMOPHILIA", "BJ-EX-0002")):
        app_id, _ = await submitted(client, seed, zhang, disease_code=disease, hospital_code=hospital)
        await approve(client, reviewer, app_id)
    app_id, _ = await submitted(client, seed, zhao, hubei=True)
    await approve(client, snj, app_id)
    async with seed.sessionmaker() as s, s.begin():
        keys = {code: (await create_hospital_key(s, code))[1] for code in ("BJ-EX-0001", "BJ-EX-0002", "SNJ-EX-0001")}
        revoked_row, revoked = await create_hospital_key(s, "BJ-EX-0001")
        revoked_row.revoked_at = utcnow()
    questions = 0
    async with seed.sessionmaker() as s:
        for key in [*keys.values(), revoked, "no-such-key"]:
            for person in (zhang, li, zhao):
                for disease in ("BJ-TUMOR-CHEMO", "BJ-HEMOPHILIA", "HB-CRF-DIALYSIS", "NO-SUCH"):
                    for day in DAYS:
                        question = {"key_hash": hash_key(key), "lookup_hash": idnumber.lookup_hash(person.id_number),
                                    "disease_code": disease, "day": day}
                        direct = await eligibility_facts(app.state.direct, **question)
                        session = await session_facts(s, **question)
                        assert comparable(direct) == comparable(session), question
                        questions += 1
    assert questions == 5 * 3 * 4 * 3
    # The world is not empty: some questions find filings, some keys find nothing.
    found = await eligibility_facts(app.state.direct, key_hash=hash_key(keys["BJ-EX-0002"]),
                                    lookup_hash=idnumber.lookup_hash(zhang.id_number),
                                    disease_code="BJ-HEMOPHILIA", day=DAYS[1])
    assert found is not None and len(found.filings) == 1 and found.filings[0].hospital_code == "BJ-EX-0002"
    assert await eligibility_facts(app.state.direct, key_hash=hash_key(revoked), lookup_hash="",
                                   disease_code="BJ-HEMOPHILIA", day=DAYS[1]) is None
