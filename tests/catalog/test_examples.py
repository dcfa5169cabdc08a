"""No example value acting as policy (issue 17, part 2): every value the source documents do not state is
marked in the catalog, listed as the checklist to confirm, said to be an example wherever it decides what a
person or a hospital sees (`basis: "example"`, "示例"), and refused in production unless accepted."""

from __future__ import annotations

import httpx
import pytest

from mtb.catalog.examples import example_values
from mtb.catalog.loader import CatalogInvalid
from mtb.catalog.service import ExamplePolicyRefused, load_catalogs, refuse_example_catalogs
from mtb.identity.models import StaffRole
from mtb.jobs import run_jobs
from mtb.qualifications.keys import create_hospital_key
from mtb.settings import Settings, get_settings
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed, reference_catalogs
from tests.qualifications.helpers import approve, eligible
from tests.review.helpers import submitted
from tests.web.helpers import as_person, as_staff


def by_region(code: str):  # type: ignore[no-untyped-def]
    return next(p.document for p in reference_catalogs() if p.document.region.code == code)


def test_every_example_value_is_in_the_checklist() -> None:
    """Each kind of unstated value (review time, re-review periods, diagnosis terms, the M037xx note, the change
    and renewal policies, the hotline, hospitals) is listed, and nothing stated by a source is."""
    hubei, beijing = by_region("429021"), by_region("110000")
    hubei_paths = {e.path for e in example_values(hubei)}
    assert {"review_due_working_days", "change", "renewal", "contact.hotline"} <= hubei_paths
    assert {f"diseases[{i}].review_period_years" for i in range(len(hubei.diseases))} <= hubei_paths
    assert {f"diseases[{i}].diagnosis_terms" for i in range(len(hubei.diseases))} <= hubei_paths
    assert {f"hospitals[{i}]" for i in range(len(hubei.hospitals))} <= hubei_paths
    beijing_paths = {e.path for e in example_values(beijing)}
    assert "review_due_working_days" not in beijing_paths  # "1-3 个工作日" is the Beijing guide's own
    assert "change" not in beijing_paths  # the Beijing guide describes the online change
    assert {"renewal", "contact.hotline"} <= beijing_paths
    eye = next(i for i, d in enumerate(beijing.diseases) if d.code == "BJ-FUNDUS-INJECTION")
    assert f"diseases[{eye}].note" in beijing_paths  # M037xx
    assert not any(e.path.startswith("contact.window") for e in example_values(beijing))  # unstated: left empty


async def test_hubei_review_time_is_shown_as_an_example(client: httpx.AsyncClient, seed: Seed) -> None:
    """Hubei's due date rests on an example review time: basis "example" in every answer and "示例" on the page;
    Beijing's states its own ("1-3 个工作日"): basis "policy", no mark."""
    await seed.catalogs()
    zhao = await seed.person("zhao")
    hubei_id, zh = await submitted(client, seed, zhao, hubei=True)
    beijing_id, bj = await submitted(client, seed, await seed.person("zhang"))
    for app_id, headers, basis in ((hubei_id, zh, "example"), (beijing_id, bj, "policy")):
        for path in (f"/api/v1/applications/{app_id}", f"/api/v1/applications/{app_id}/status"):
            assert (await client.get(path, headers=headers)).json()["due_date_basis"] == basis, path
    assert {a["due_date_basis"] for a in (await client.get("/api/v1/applications", headers=zh)).json()} == {"example"}
    await as_person(seed, zhao)
    page = (await client.get(f"/applications/{hubei_id}")).text
    assert "示例</span>" in page


async def test_example_periods_are_said_wherever_they_decide(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                             settings: Settings) -> None:
    """HB-TUMOR's 2-year re-review period is an example: the filing's end and renewal window say so, the expiry
    reminder says so, and a hospital's `expired` answer carries basis "example"."""
    clock.set("2027-03-01")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    async with seed.sessionmaker() as s, s.begin():
        _row, key = await create_hospital_key(s, "SNJ-EX-0001")
    app_id, zh = await submitted(client, seed, zhao, hubei=True, disease_code="HB-TUMOR")
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert (q["valid_until"], q["valid_until_basis"], q["renewal_basis"]) == ("2029-02-28", "example", "example")
    params = {"id_number": zhao.id_number, "disease_code": "HB-TUMOR", "hospital_code": "SNJ-EX-0001"}
    now = (await eligible(client, key, **params)).json()
    assert now["eligible"] is True and now["basis"] == "example"
    later = (await eligible(client, key, **params, on="2029-03-01")).json()
    assert (later["reason"], later["basis"]) == ("expired", "example")
    clock.set("2028-12-30")
    await run_jobs(seed.sessionmaker, settings.model_copy(update={"prereview_enabled": False}))  # no OCR here
    zh = await seed.login(zhao)
    reminder = next(m for m in (await client.get("/api/v1/notifications", headers=zh)).json()
                    if m["kind"] == "qualification_expiring")
    assert "示例" in reminder["body"]


async def test_a_stated_end_is_policy(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    async with seed.sessionmaker() as s, s.begin():
        _row, key = await create_hospital_key(s, "BJ-EX-0001")
    app_id, headers = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=headers)).json()
    assert (q["valid_until"], q["valid_until_basis"]) == (None, "policy")
    answer = (await eligible(client, key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert answer["eligible"] is True and answer["basis"] == "policy"


async def test_admin_catalog_page_lists_the_example_values(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    await as_staff(seed, await seed.staff("snj_admin", StaffRole.admin, SHENNONGJIA))
    page = (await client.get("/staff/admin/catalog")).text
    hubei = by_region("429021")
    assert f"上线前须确认的示例值（{len(example_values(hubei))}）" in page
    for e in example_values(hubei):
        assert f"<code>{e.path}</code>" in page


@pytest.fixture
def production(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTB_ENV", "production")
    get_settings.cache_clear()


async def test_production_refuses_example_policy_unless_accepted(
        seed: Seed, production: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """MTB_ENV=production: loading refuses every example value by path (nothing loaded); serving refuses too;
    MTB_ALLOW_EXAMPLE_POLICY=true accepts them knowingly."""
    parsed = list(reference_catalogs())
    with pytest.raises(CatalogInvalid) as refused:
        async with seed.sessionmaker() as s, s.begin():
            await load_catalogs(s, parsed)
    listed = {(p.file.rsplit("/", 1)[-1], p.path) for p in refused.value.problems}
    assert ("429021-2025.1.yaml", "review_due_working_days") in listed
    assert ("110000-2025.1.yaml", "contact.hotline") in listed
    assert all("MTB_ALLOW_EXAMPLE_POLICY=true" in p.reason for p in refused.value.problems)
    assert len(listed) == sum(len(example_values(p.document)) for p in parsed)

    monkeypatch.setenv("MTB_ALLOW_EXAMPLE_POLICY", "true")
    get_settings.cache_clear()
    await seed.catalogs()
    async with seed.sessionmaker() as s:
        await refuse_example_catalogs(s)  # accepted: serves
    monkeypatch.setenv("MTB_ALLOW_EXAMPLE_POLICY", "false")
    get_settings.cache_clear()
    with pytest.raises(ExamplePolicyRefused) as serving:
        async with seed.sessionmaker() as s:
            await refuse_example_catalogs(s)
    assert "review_due_working_days" in str(serving.value) and "contact.hotline" in str(serving.value)
