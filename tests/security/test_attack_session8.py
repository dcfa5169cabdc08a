"""Attacks from outside on this session's changes (review of session 8): material replacement on the API,
the page and the window; the administrator's staff and hospital-key pages confined to their region; the
hot reads through the direct reader with hostile text. Every answer is a clear refusal or the right
data: never a 500, never another person's or region's data, never a row left behind by a refusal."""

from __future__ import annotations

import asyncio
import base64
import uuid

import httpx
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mtb.identity.models import StaffRole, StaffUser
from mtb.materials.models import Material
from mtb.qualifications.keys import create_hospital_key
from mtb.qualifications.models import HospitalKey
from tests.applications.helpers import BEIJING_SELF, create, submit, upload
from tests.factories import SHENNONGJIA, Seed
from tests.files import document_photo
from tests.qualifications.helpers import approve
from tests.review.helpers import submitted
from tests.web.helpers import as_person, as_staff, post_form

# Text a client may send where a code, a name or a cursor is expected.
HOSTILE = ["a\x00b", "\x00", "%", "_", "%%", "张%", "张_", "'", '"', "' OR '1'='1", "'; DROP TABLE applications; --",
           "\\", "１２３４", "１１０１", "Ｘ", "😀", "张😀", "a\u202eb", "\u200b", "\U0010ffff", "x" * 5000, " ", ""]


def material_rows(engine: Engine, app_id: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(str(r.id), r.kind) for r in conn.execute(
            select(Material.id, Material.kind).where(Material.application_id == uuid.UUID(app_id)))]


def photo(seed: int) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (f"{seed}.jpg", document_photo(seed=seed), "image/jpeg")}


# --- material replacement ------------------------------------------------------------------------


async def test_a_replacement_names_a_material_of_that_application_or_is_refused_leaving_nothing(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    mine, theirs = await seed.login(zhang), await seed.login(li)
    app_id = (await create(client, mine, **BEIJING_SELF)).json()["id"]
    other_app = (await create(client, mine, **BEIJING_SELF | {"disease_code": "BJ-TUMOR-RADIO"})).json()["id"]
    li_app = (await create(client, theirs, **BEIJING_SELF)).json()["id"]
    kept = (await upload(client, mine, app_id, "diagnosis_certificate", document_photo(seed=1))).json()["id"]
    elsewhere = (await upload(client, mine, other_app, "diagnosis_certificate", document_photo(seed=2))).json()["id"]
    lis = (await upload(client, theirs, li_app, "diagnosis_certificate", document_photo(seed=3))).json()["id"]
    gone = (await upload(client, mine, app_id, "supplementary", document_photo(seed=4))).json()["id"]
    assert (await client.delete(f"/api/v1/applications/{app_id}/materials/{gone}", headers=mine)).status_code == 204
    before = {a: material_rows(sync_engine, a) for a in (app_id, other_app, li_app)}

    # The API: a material of another application of mine, of another person's, a deleted one, a made-up one.
    for target_app, material_id, error in ((app_id, elsewhere, "material_not_found"),
                                           (app_id, lis, "material_not_found"),
                                           (li_app, lis, "application_not_found"),
                                           (app_id, gone, "material_not_found"),
                                           (app_id, str(uuid.uuid4()), "material_not_found")):
        refused = await client.put(f"/api/v1/applications/{target_app}/materials/{material_id}", headers=mine,
                                   files=photo(10))
        assert (refused.status_code, refused.json()["error"]) == (404, error), (material_id, refused.text)
    bad_id = await client.put(f"/api/v1/applications/{app_id}/materials/not-a-uuid", headers=mine, files=photo(11))
    assert bad_id.status_code == 422

    # The page: the same, and `replace` values that are no id at all.
    await as_person(seed, zhang)
    for replace, status in ((elsewhere, 404), (lis, 404), (gone, 404), (str(uuid.uuid4()), 404),
                            ("not-a-uuid", 422), (" ", 422), ("\x00", 422), ("'; --", 422), ("x" * 5000, 422),
                            (f"{{{kept}}}x", 422)):
        refused = await post_form(client, f"/applications/{app_id}/materials",
                                  {"kind": "diagnosis_certificate", "replace": replace}, files=photo(12))
        assert refused.status_code == status, (replace[:40], refused.status_code, refused.text[:300])
        assert "material_not_found" in refused.text or "要替换的文件不存在" in refused.text or "材料不存在" in refused.text
    refused = await post_form(client, f"/applications/{li_app}/materials", {"kind": "diagnosis_certificate",
                                                                            "replace": lis}, files=photo(13))
    assert refused.status_code == 404
    assert {a: material_rows(sync_engine, a) for a in (app_id, other_app, li_app)} == before

    # The kind the form names is not taken, whatever it is (another kind, one the catalog does not know).
    for kind in ("supplementary", "no-such-kind", ""):
        current = material_rows(sync_engine, app_id)
        replaced = await post_form(client, f"/applications/{app_id}/materials",
                                   {"kind": kind, "replace": current[0][0]}, files=photo(20 + len(kind)))
        assert replaced.status_code == 303, replaced.text
        after = material_rows(sync_engine, app_id)
        assert len(after) == 1 and after[0][1] == "diagnosis_certificate" and after[0][0] != current[0][0]


async def test_no_replacement_once_submitted_nor_by_a_window_clerk_of_another_case(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    app_id, headers = await submitted(client, seed, zhang)
    before = material_rows(sync_engine, app_id)
    put = await client.put(f"/api/v1/applications/{app_id}/materials/{before[0][0]}", headers=headers, files=photo(1))
    assert (put.status_code, put.json()["error"]) == (409, "application_not_editable")
    await as_person(seed, zhang)
    page = await post_form(client, f"/applications/{app_id}/materials",
                           {"kind": before[0][1], "replace": before[0][0]}, files=photo(2))
    assert page.status_code == 409 and "不能修改材料" in page.text
    # Window clerks: of the region, on a person's own application (not entered at the window); of another region.
    for clerk in (await seed.staff("bj-window", StaffRole.window),
                  await seed.staff("snj-window", StaffRole.window, SHENNONGJIA)):
        await as_staff(seed, clerk)
        refused = await post_form(client, f"/staff/window/{app_id}/materials",
                                  {"kind": before[0][1], "replace": before[0][0]}, files=photo(3))
        assert refused.status_code in (403, 404), refused.text[:300]
    assert material_rows(sync_engine, app_id) == before


async def test_replacements_of_one_material_at_once_leave_one_row_and_no_500(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    headers = await seed.login(zhang)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    for round_ in range(2):
        old = (await upload(client, headers, app_id, "diagnosis_certificate", document_photo(seed=50 + round_))
               ).json()["id"]
        answers = await asyncio.gather(*(
            client.put(f"/api/v1/applications/{app_id}/materials/{old}", headers=headers, files=photo(100 + 10 * round_ + i))
            for i in range(4)))
        codes = sorted(a.status_code for a in answers)
        assert codes.count(200) >= 1 and set(codes) <= {200, 404, 409}, [a.text for a in answers]
        rows = [r for r in material_rows(sync_engine, app_id) if r[1] == "diagnosis_certificate"]
        # Each accepted replacement replaced a row that was there: as many rows as before the race.
        assert len(rows) == 1 + round_ and old not in {r[0] for r in rows}
        winners = {a.json()["id"] for a in answers if a.status_code == 200}
        assert winners <= {r[0] for r in rows} and len(winners) == 1


async def test_a_replacement_racing_the_submission_is_in_it_or_refused(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    headers = await seed.login(zhang)
    for attempt in range(3):
        app_id = (await create(client, headers, **BEIJING_SELF | {"disease_code": ["BJ-TUMOR-CHEMO", "BJ-TUMOR-RADIO",
                                                                                   "BJ-UREMIA-HD"][attempt]})).json()["id"]
        ids = [(await upload(client, headers, app_id, kind, document_photo(seed=200 + 2 * attempt + i))).json()["id"]
               for i, kind in enumerate(("diagnosis_certificate", "filing_form"))]
        put, done = await asyncio.gather(
            client.put(f"/api/v1/applications/{app_id}/materials/{ids[0]}", headers=headers, files=photo(300 + attempt)),
            submit(client, headers, app_id))
        assert put.status_code in (200, 409) and done.status_code in (200, 409), (put.text, done.text)
        assert put.status_code == 200 or done.status_code == 200  # one of them goes through
        rows = material_rows(sync_engine, app_id)
        assert sorted(k for _, k in rows) == ["diagnosis_certificate", "filing_form"]
        status = (await client.get(f"/api/v1/applications/{app_id}/status", headers=headers)).json()["status"]
        assert status == ("submitted" if done.status_code == 200 else "draft")
        if put.status_code == 200:
            assert put.json()["id"] in {r[0] for r in rows}


# --- administrators of one region ----------------------------------------------------------------

async def test_staff_usernames_with_invisible_characters_are_refused_and_the_flash_survives_any_name(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    """A name with a NUL, a line break, a zero-width space or a direction mark would look like another
    account's (and PostgreSQL refuses the NUL where SQLite stored it); a name with & # + % reached the
    page after `?created=` cut or decoded (the account made, then a 422 page or no flash)."""
    await seed.catalogs()
    await as_staff(seed, await seed.staff("bj-admin", StaffRole.admin))
    for name in ("bj-admin\x00", "a\x00b", "bj-\nadmin", "bj-admin\u200b", "\u200b", "bj-\u202enimda", "a\tb",
                 "\ufeffbj", "a\x7fb"):
        refused = await post_form(client, "/staff/admin/staff",
                                  {"username": name, "password": "a long password", "role": "reviewer"})
        assert refused.status_code == 422 and "用户名不能包含控制字符或不可见字符" in refused.text, repr(name)
    with sync_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StaffUser)).scalar_one() == 1
    for name in ("a&deactivated=x", "a#b", "a%41", "a+b", "a b", "张三", "<i>x</i>"):
        created = await post_form(client, "/staff/admin/staff",
                                  {"username": name, "password": "a long password", "role": "reviewer"})
        assert created.status_code == 303, (name, created.text[:300])
        page = await client.get(created.headers["location"])
        assert page.status_code == 200 and f"已创建账号 {escape(name)}" in page.text, name


async def test_an_administrator_sees_and_changes_nothing_of_another_region(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    snj_reviewer = await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA)
    snj_admin = await seed.staff("snj-admin", StaffRole.admin, SHENNONGJIA)
    async with seed.sessionmaker() as s, s.begin():
        snj_key, _ = await create_hospital_key(s, "SNJ-EX-0001")
    admin = await seed.staff("bj-admin", StaffRole.admin)
    await as_staff(seed, admin)
    # Another region's account: no flash of its creation, no page for its id, nothing listed.
    for created in ("snj-reviewer", "snj-admin", "SNJ-REVIEWER", "snj-reviewer ", "snj-reviewer\x00", "%", "_",
                    "snj%", "' OR '1'='1", "x" * 5000, "ｓｎｊ-reviewer"):
        page = await client.get("/staff/admin/staff", params={"created": created})
        assert page.status_code in (200, 422), (created, page.status_code)
        assert "snj-" not in page.text and "已创建账号" not in page.text, created
    for deactivated in (str(snj_reviewer.id), str(snj_admin.id), str(uuid.uuid4())):
        page = await client.get("/staff/admin/staff", params={"deactivated": deactivated})
        assert page.status_code == 404 and "snj-" not in page.text
    for bad in ("not-a-uuid", "\x00", ""):
        page = await client.get("/staff/admin/staff", params={"deactivated": bad})
        assert page.status_code in (200, 422) and "snj-" not in page.text, bad
    for target in (snj_reviewer.id, snj_admin.id, admin.id):
        refused = await post_form(client, f"/staff/admin/staff/{target}/deactivate")
        assert refused.status_code == (409 if target == admin.id else 404)
    assert (await post_form(client, "/staff/admin/staff/not-a-uuid/deactivate")).status_code == 422
    with sync_engine.connect() as conn:
        assert all(conn.execute(select(StaffUser.active)).scalars())

    # Another region's key: no flash (its prefix), no revocation; the key still works.
    seen = await client.get("/staff/admin/hospital-keys", params={"revoked": str(snj_key.id)})
    assert seen.status_code == 404 and snj_key.prefix not in seen.text
    assert (await post_form(client, f"/staff/admin/hospital-keys/{snj_key.id}/revoke")).status_code == 404
    assert snj_key.prefix not in (await client.get("/staff/admin/hospital-keys")).text
    # Keys only for the region's designated hospitals, the code as the catalog spells it.
    for code in ("SNJ-EX-0001", "", "   ", "BJ-EX-0001\x00", "ＢＪ-EX-0001", "bj-ex-0001", "BJ-EX-0001\u200b",
                 "BJ-EX-9999", "x" * 5000, "' OR '1'='1", "%", "\U0010ffff"):
        refused = await post_form(client, "/staff/admin/hospital-keys", {"hospital_code": code})
        assert refused.status_code == 422 and "mtbh_" not in refused.text, repr(code[:20])
    with sync_engine.connect() as conn:
        keys = conn.execute(select(HospitalKey.region_code, HospitalKey.revoked_at)).all()
    assert keys == [(SHENNONGJIA, None)]


async def test_no_one_but_an_administrator_reaches_the_admin_forms(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    target = await seed.staff("bj-reviewer", StaffRole.reviewer)
    for who in ("person", StaffRole.reviewer, StaffRole.window):
        if who == "person":
            await as_person(seed, zhang)
        else:
            await as_staff(seed, await seed.staff(f"bj-{who.value}-2", who))
        for path, data in (("/staff/admin/staff", {"username": "sneaky", "password": "long enough pw",
                                                    "role": "admin"}),
                           (f"/staff/admin/staff/{target.id}/deactivate", {}),
                           ("/staff/admin/hospital-keys", {"hospital_code": "BJ-EX-0001"}),
                           (f"/staff/admin/hospital-keys/{uuid.uuid4()}/revoke", {})):
            refused = await post_form(client, path, data)
            assert refused.status_code in (303, 401, 403), (who, path, refused.status_code)
            assert "mtbh_" not in refused.text
        for path in ("/staff/admin/staff?created=bj-reviewer", f"/staff/admin/hospital-keys?revoked={uuid.uuid4()}"):
            assert (await client.get(path)).status_code in (303, 401, 403), (who, path)
    client.cookies.clear()
    assert (await client.get("/staff/admin/staff")).status_code == 303


# --- the hot reads through the direct reader ---------------------------------------------------


async def test_the_queue_answers_hostile_filters_plainly_and_only_with_the_region(
        client: httpx.AsyncClient, seed: Seed) -> None:
    """disease_code and channel went to PostgreSQL as they came: a NUL byte was a 500 (asyncpg's
    CharacterNotInRepertoireError), where the session path answers 422 invalid_text."""
    await seed.catalogs()
    zhao = await seed.person("zhao")
    snj_app, _ = await submitted(client, seed, zhao, hubei=True)
    zhang = await seed.person("zhang")
    bj_app, _ = await submitted(client, seed, zhang)
    reviewer = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    for field in ("q", "disease_code", "channel", "cursor", "status", "sort", "overdue"):
        for value in HOSTILE:
            answer = await client.get("/api/v1/review/queue", params={field: value}, headers=reviewer)
            assert answer.status_code in (200, 422), (field, value[:20], answer.status_code)
            if answer.status_code == 422:
                assert answer.json()["error"] in ("invalid_request", "invalid_text", "invalid_search",
                                                  "invalid_cursor", "invalid_status_filter"), answer.text
            else:
                assert {i["id"] for i in answer.json()["items"]} <= {bj_app}, (field, value[:20])
    # Search words that would be patterns elsewhere match only as text; the other region's name finds nothing.
    for q in ("%", "_", "张%", "赵", "赵六", "9904", "'", "\\"):
        found = await client.get("/api/v1/review/queue", params={"q": q}, headers=reviewer)
        assert found.status_code in (200, 422) and snj_app not in found.text, q
    assert [i["id"] for i in (await client.get("/api/v1/review/queue", params={"q": "张"}, headers=reviewer)
                              ).json()["items"]] == [bj_app]
    # A cursor pointing anywhere (another region's application, odd dates) still shows only the region.
    for raw in (f'["2000-01-01", "2000-01-01T00:00:00+00:00", "{snj_app}"]', '["0001-01-01", "0001-01-01T00:00:00", "'
                + str(uuid.UUID(int=0)) + '"]', '["9999-12-31", "9999-12-31T23:59:59", "' + str(uuid.UUID(int=0)) + '"]',
                '["2026-01-01", "0001-01-01T00:00:00+08:00", "' + str(uuid.UUID(int=0)) + '"]',
                '["2026-01-01", "9999-12-31T23:59:59-14:00", "' + str(uuid.UUID(int=0)) + '"]',
                '[1, 2, 3]', '{"a": 1}', '["2026-13-40", "x", "y"]', '"\\u0000"', '[]'):
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
        for sort in ("due", "-due"):
            paged = await client.get("/api/v1/review/queue", params={"cursor": cursor, "sort": sort}, headers=reviewer)
            assert paged.status_code in (200, 422), (raw, paged.status_code)
            if paged.status_code == 200:
                assert {i["id"] for i in paged.json()["items"]} <= {bj_app}
            else:
                assert paged.json()["error"] in ("invalid_cursor", "invalid_request"), paged.text
    # Staff of the other region see their own only.
    snj = await seed.staff_login(await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA))
    assert [i["id"] for i in (await client.get("/api/v1/review/queue", headers=snj)).json()["items"]] == [snj_app]


async def test_eligibility_answers_hostile_text_plainly(client: httpx.AsyncClient, seed: Seed) -> None:
    """The disease code went to PostgreSQL as it came: a NUL byte was a 500."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    app_id, _ = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    async with seed.sessionmaker() as s, s.begin():
        _, key = await create_hospital_key(s, "BJ-EX-0001")
    base = {"id_number": zhang.id_number, "disease_code": "BJ-TUMOR-CHEMO"}
    for field in ("id_number", "disease_code", "hospital_code", "on"):
        for value in HOSTILE:
            asked = base | {field: value}
            for answer in (await client.get("/api/v1/eligibility", params=asked, headers={"X-Api-Key": key}),
                           await client.post("/api/v1/eligibility", json=asked, headers={"X-Api-Key": key})):
                assert answer.status_code in (200, 403, 422), (field, value[:20], answer.status_code, answer.text)
                if answer.status_code == 200:
                    assert answer.json()["eligible"] is (field in ("hospital_code", "on") and value in ("", " ")
                                                         or field == "id_number" and value == "x"), (field, value[:20])
    for value in HOSTILE:
        raw = value.encode().replace(b"\x00", b"0")
        assert (await client.post("/api/v1/eligibility", json=base, headers={"X-Api-Key": raw})).status_code == 401
    assert (await client.post("/api/v1/eligibility", json=base, headers={"X-Api-Key": key})).json()["eligible"] is True


async def test_the_direct_read_of_an_application_is_the_session_paths_and_only_for_its_people(
        client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang, li, wang = await seed.person("zhang"), await seed.person("li"), await seed.person("wang")
    agent = await seed.login(wang)
    made = await create(client, agent, **BEIJING_SELF | {"beneficiary": {**zhang.credentials(), "relation": "spouse"}})
    assert made.status_code == 201, made.text
    app_id = made.json()["id"]
    await upload(client, agent, app_id, "diagnosis_certificate", document_photo(seed=7))
    beneficiary, stranger = await seed.login(zhang), await seed.login(li)
    reads = {}
    for who, headers in (("agent", agent), ("beneficiary", beneficiary)):
        for path in (f"/api/v1/applications/{app_id}", f"/api/v1/applications/{app_id}/status"):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 200, (who, path, answer.text)
            reads[who, path] = answer.json()
    for path in (f"/api/v1/applications/{app_id}", f"/api/v1/applications/{app_id}/status"):
        assert reads["agent", path] == reads["beneficiary", path]
        refused = await client.get(path, headers=stranger)
        assert (refused.status_code, refused.json()["error"]) == (404, "application_not_found")
        for other in (str(uuid.uuid4()), app_id.upper(), app_id.replace("-", "")):
            answer = await client.get(path.replace(app_id, other), headers=stranger)
            assert answer.status_code == 404
        for bad in ("not-a-uuid", "%00", "1%27%20OR%201%3D1"):
            assert (await client.get(path.replace(app_id, bad), headers=beneficiary)).status_code == 422
    # The session path (staff) answers the same application with the same materials.
    staff = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    by_session = (await client.get(f"/api/v1/applications/{app_id}", headers=staff)).json()
    direct = reads["agent", f"/api/v1/applications/{app_id}"]
    assert [m["id"] for m in by_session["materials"]] == [m["id"] for m in direct["materials"]]
    assert {k: by_session[k] for k in ("status", "kind", "beneficiary", "submitted_by")} == \
        {k: direct[k] for k in ("status", "kind", "beneficiary", "submitted_by")}
    snj = await seed.staff_login(await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA))
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=snj)).status_code == 404
