"""The administrator's pages over HTTP: access, CSRF, the catalog upload, staff accounts, hospital keys and
the statistics with their SVG charts — each confined to the administrator's own region."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from mtb.applications.models import ApplicationEvent
from mtb.catalog.models import CatalogVersion
from mtb.catalog.workdays import load_calendar
from mtb.identity.models import StaffRole, StaffUser
from mtb.qualifications.keys import create_hospital_key
from mtb.review.models import ReviewDecision
from mtb.settings import Settings
from mtb.timeutil import local_date
from mtb.web.charts import Series, columns, horizontal_bars, nice_step, stacked_columns
from tests.applications.helpers import create, submit
from tests.factories import CATALOG_DIR, SHENNONGJIA, STAFF_PASSWORD, Seed
from tests.qualifications.helpers import approve, eligible
from tests.review.helpers import claim, decide, submitted
from tests.web.helpers import as_staff, csrf, post_form

ADMIN_PAGES = ["/staff/admin", "/staff/admin/catalog", "/staff/admin/staff", "/staff/admin/hospital-keys",
               "/staff/admin/stats"]


def catalog_versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CatalogVersion)).scalar_one())


def catalog_file(region: str = "110000", **changes: object) -> bytes:
    data = yaml.safe_load((CATALOG_DIR / f"{region}-2025.1.yaml").read_bytes())
    data.update(changes)
    return str(yaml.safe_dump(data, allow_unicode=True)).encode()


async def upload_catalog(client: httpx.AsyncClient, raw: bytes, name: str = "110000-2026.1.yaml") -> httpx.Response:
    return await post_form(client, "/staff/admin/catalog", files={"file": (name, raw, "application/x-yaml")})


async def as_admin(seed: Seed, region_code: str = "110000", username: str = "bj-admin") -> StaffUser:
    admin = await seed.staff(username, StaffRole.admin, region_code)
    await as_staff(seed, admin)
    return admin


async def test_anonymous_is_sent_to_the_staff_login(client: httpx.AsyncClient, seed: Seed) -> None:
    for path in ADMIN_PAGES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/staff/login?next=/staff/admin"), path


async def test_other_roles_are_refused(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    for role in (StaffRole.reviewer, StaffRole.window):
        await as_staff(seed, await seed.staff(f"bj-{role.value}", role))
        for path in ADMIN_PAGES:
            response = await client.get(path)
            assert response.status_code == 403 and "无权使用此功能" in response.text, path
        refused = await post_form(client, "/staff/admin/staff",
                                  {"username": "sneaky", "password": "long enough pw", "role": "admin"})
        assert refused.status_code == 403


async def test_index_links_every_admin_page(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    await as_admin(seed)
    page = await client.get("/staff/admin")
    assert page.status_code == 200 and "系统管理 · 北京市" in page.text
    for path in ADMIN_PAGES[1:]:
        assert f'href="{path}"' in page.text


async def test_a_post_without_the_csrf_token_is_refused(client: httpx.AsyncClient, seed: Seed,
                                                        sync_engine: Engine) -> None:
    await seed.catalogs()
    await as_admin(seed)
    await csrf(client, "/staff/admin/staff")
    for path, data in [("/staff/admin/staff", {"username": "x-new", "password": "long enough pw", "role": "admin"}),
                       ("/staff/admin/hospital-keys", {"hospital_code": "BJ-EX-0001"})]:
        response = await client.post(path, data=data)
        assert response.status_code == 403 and "页面已过期" in response.text
        wrong = await client.post(path, data=data | {"csrf_token": "not-the-token"})
        assert wrong.status_code == 403
    upload = await client.post("/staff/admin/catalog", files={"file": ("a.yaml", catalog_file(version="2026.1"))})
    assert upload.status_code == 403
    with sync_engine.connect() as conn:
        assert conn.execute(select(StaffUser.username).where(StaffUser.username == "x-new")).first() is None
    assert catalog_versions(sync_engine) == 2


async def test_catalog_page_shows_the_version_in_force(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    await as_admin(seed)
    page = await client.get("/staff/admin/catalog")
    assert page.status_code == 200
    text = page.text
    assert "2025.1" in text and "2025-01-01" in text and "110000-2025.1.yaml" in text and "现行" in text
    assert "恶性肿瘤化学治疗（化疗）" in text and "M00503" in text and "待核对" in text
    assert "诊断证明须由副主任医师及以上职称医师出具" in text  # BJ-MS's title rule
    assert "北京协和医院" in text and "示例" in text and "特殊门诊" in text
    assert "神农架" not in text and "HB-CRF-DIALYSIS" not in text


async def test_an_invalid_catalog_is_refused_with_every_problem(client: httpx.AsyncClient, seed: Seed,
                                                                sync_engine: Engine) -> None:
    await seed.catalogs()
    await as_admin(seed)
    data = yaml.safe_load(catalog_file(version="2026.1", effective_from="2026-07-01"))
    del data["source"]
    data["diseases"][0]["category"] = "no_such_category"
    data["review_due_working_days"] = 0
    response = await upload_catalog(client, yaml.safe_dump(data, allow_unicode=True).encode(), "bad.yaml")
    assert response.status_code == 422
    assert "目录文件有误，未加载任何内容" in response.text
    assert "bad.yaml" in response.text and "source" in response.text and "review_due_working_days" in response.text
    assert catalog_versions(sync_engine) == 2

    broken = await upload_catalog(client, b"version: [unclosed\n", "broken.yaml")
    assert broken.status_code == 422 and "not valid YAML" in broken.text and "line 2" in broken.text

    cross = await upload_catalog(client, catalog_file(version="2026.1", effective_from="2026-07-01",
                                                      default_materials=[{"kind": "nope"}]), "cross.yaml")
    assert cross.status_code == 422 and "default_materials[0].kind" in cross.text
    assert catalog_versions(sync_engine) == 2

    missing = await post_form(client, "/staff/admin/catalog")
    assert missing.status_code == 422 and "请选择要加载的目录文件" in missing.text

    too_big = await upload_catalog(client, b"#" * (2 * 1024 * 1024 + 1))
    assert too_big.status_code == 413 and "不能超过 2 MB" in too_big.text
    assert catalog_versions(sync_engine) == 2


async def test_a_new_catalog_version_is_loaded(client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    await as_admin(seed)
    raw = catalog_file(version="2026.1", effective_from="2026-07-01")
    response = await upload_catalog(client, raw)
    assert response.status_code == 303 and response.headers["location"] == "/staff/admin/catalog?loaded=2026.1"
    assert catalog_versions(sync_engine) == 3
    page = await client.get(response.headers["location"])
    assert "目录版本 2026.1 已加载" in page.text and "现行目录：版本 2026.1" in page.text
    assert "已被取代" in page.text

    again = await upload_catalog(client, raw)
    assert again.headers["location"] == "/staff/admin/catalog?unchanged=2026.1"
    assert "内容相同" in (await client.get(again.headers["location"])).text
    changed = await upload_catalog(client, catalog_file(version="2026.1", effective_from="2026-07-01", notes="x"))
    assert changed.status_code == 422 and "already loaded with other content" in changed.text
    assert catalog_versions(sync_engine) == 3

    forged = await client.get("/staff/admin/catalog?loaded=<b>9999</b>")
    assert "9999" not in forged.text


async def test_another_regions_catalog_is_refused(client: httpx.AsyncClient, seed: Seed,
                                                  sync_engine: Engine) -> None:
    await seed.catalogs()
    await as_admin(seed)
    response = await upload_catalog(client, catalog_file("429021", version="2026.1", effective_from="2026-07-01"),
                                    "429021-2026.1.yaml")
    assert response.status_code == 422
    assert "该文件属于地区 429021" in response.text and "您只能加载本地区（110000）的目录" in response.text
    assert catalog_versions(sync_engine) == 2


async def test_staff_accounts_of_the_region(client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    await seed.staff("bj-reviewer", StaffRole.reviewer)
    await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA)
    await as_admin(seed)
    page = await client.get("/staff/admin/staff")
    assert page.status_code == 200
    assert "bj-reviewer" in page.text and "bj-admin" in page.text and "snj-reviewer" not in page.text

    created = await post_form(client, "/staff/admin/staff",
                              {"username": "bj-clerk", "password": "a long password", "role": "window"})
    assert created.status_code == 303 and created.headers["location"] == "/staff/admin/staff?created=bj-clerk"
    listed = await client.get(created.headers["location"])
    assert "已创建账号 bj-clerk" in listed.text and "窗口经办人员" in listed.text
    login = await client.post("/api/v1/auth/staff", json={"username": "bj-clerk", "password": "a long password"})
    assert login.status_code == 200 and login.json()["staff"]["region_code"] == "110000"

    for username in ("bj-clerk", "snj-reviewer"):
        duplicate = await post_form(client, "/staff/admin/staff",
                                    {"username": username, "password": "a long password", "role": "reviewer"})
        assert duplicate.status_code == 409 and f"用户名 {username} 已存在" in duplicate.text
        assert f'value="{username}"' in duplicate.text  # what was typed is kept
    weak = await post_form(client, "/staff/admin/staff", {"username": "bj-x", "password": "short", "role": "reviewer"})
    assert weak.status_code == 422 and "密码至少 8 个字符" in weak.text
    bad_role = await post_form(client, "/staff/admin/staff",
                               {"username": "bj-y", "password": "a long password", "role": "root"})
    assert bad_role.status_code == 422 and "请选择岗位" in bad_role.text
    with sync_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StaffUser)).scalar_one() == 4


async def test_deactivating_staff(client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    reviewer = await seed.staff("bj-reviewer", StaffRole.reviewer)
    other = await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA)
    admin = await as_admin(seed)
    response = await post_form(client, f"/staff/admin/staff/{reviewer.id}/deactivate")
    assert response.status_code == 303
    assert "已停用账号 bj-reviewer" in (await client.get(response.headers["location"])).text
    with sync_engine.connect() as conn:
        assert conn.execute(select(StaffUser.active).where(StaffUser.id == reviewer.id)).scalar_one() is False
    refused = await client.post("/api/v1/auth/staff", json={"username": "bj-reviewer", "password": STAFF_PASSWORD})
    assert refused.status_code == 401

    assert (await post_form(client, f"/staff/admin/staff/{other.id}/deactivate")).status_code == 404
    self_off = await post_form(client, f"/staff/admin/staff/{admin.id}/deactivate")
    assert self_off.status_code == 409 and "不能停用自己的账号" in self_off.text
    with sync_engine.connect() as conn:
        assert conn.execute(select(StaffUser.active).where(StaffUser.id == other.id)).scalar_one() is True


async def test_hospital_key_is_shown_once_and_works(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    app_id, _ = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    async with seed.sessionmaker() as s, s.begin():
        snj_key, _ = await create_hospital_key(s, "SNJ-EX-0001")
    await as_admin(seed)

    page = await client.get("/staff/admin/hospital-keys")
    assert '<option value="BJ-EX-0001">' in page.text and "SNJ-EX-0001" not in page.text
    response = await post_form(client, "/staff/admin/hospital-keys", {"hospital_code": "BJ-EX-0001"})
    assert response.status_code == 201 and "此密钥只显示这一次" in response.text
    assert response.headers["cache-control"] == "no-store"
    match = re.search(r'value="(mtbh_[^"]+)"', response.text)
    assert match
    key = match.group(1)
    answer = await eligible(client, key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")
    assert answer.status_code == 200 and answer.json()["eligible"] is True

    listed = await client.get("/staff/admin/hospital-keys")
    assert key not in listed.text and key[:12] in listed.text and "北京协和医院" in listed.text
    key_id = re.search(r'/staff/admin/hospital-keys/([0-9a-f-]{36})/revoke', listed.text)
    assert key_id
    revoked = await post_form(client, f"/staff/admin/hospital-keys/{key_id.group(1)}/revoke")
    assert revoked.status_code == 303
    assert "已停用" in (await client.get(revoked.headers["location"])).text
    after = await eligible(client, key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")
    assert after.status_code == 401

    elsewhere = await post_form(client, "/staff/admin/hospital-keys", {"hospital_code": "SNJ-EX-0001"})
    assert elsewhere.status_code == 422 and "请选择本地区目录中的定点医疗机构" in elsewhere.text
    assert (await post_form(client, f"/staff/admin/hospital-keys/{snj_key.id}/revoke")).status_code == 404


async def test_stats_page_charts_the_regions_numbers(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    snj_reviewer = await seed.staff_login(await seed.staff("snj-reviewer", StaffRole.reviewer, SHENNONGJIA))
    zhang, li, wang = await seed.person("zhang"), await seed.person("li"), await seed.person("wang")
    approved_id, _ = await submitted(client, seed, zhang)
    await approve(client, reviewer, approved_id)
    returned_id, _ = await submitted(client, seed, li)
    assert (await claim(client, reviewer, returned_id)).status_code == 200
    returned = await decide(client, reviewer, returned_id, "return",
                            [{"code": "material_unclear", "detail": "诊断证明模糊"}])
    assert returned.status_code == 200, returned.text
    draft = await create(client, await seed.login(wang), region_code="110000", disease_code="BJ-MS",
                         hospital_code="BJ-EX-0002", channel="jingtong")
    assert draft.status_code == 201, draft.text
    snj_id, _ = await submitted(client, seed, await seed.person("zhao"), hubei=True)
    await approve(client, snj_reviewer, snj_id)
    await as_admin(seed)

    page = await client.get("/staff/admin/stats")
    assert page.status_code == 200
    text = page.text
    assert text.count('<svg class="chart"') == 5 and 'viewBox="0 0 960' in text
    assert "北京医保公共服务平台：2</title>" in text and "京通”小程序（微信/支付宝）：1</title>" in text
    assert "<title>恶性肿瘤化学治疗（化疗）：2</title>" in text and "<title>多发性硬化：1</title>" in text
    assert "<title>审核通过：1</title>" in text and "<title>退回补正：1</title>" in text
    assert "<title>不予通过：0</title>" in text
    assert "<title>按期：2</title>" in text and "按期办结率 100.0%（2 / 2）" in text
    assert "<title>当日：2</title>" in text
    assert "<td>100.0%</td>" in text and "新建申请 3 件；终审决定 2 件" in text
    assert "HB-CRF-DIALYSIS" not in text and "透析" not in text  # Shennongjia's application is not counted

    week = await client.get("/staff/admin/stats?days=7")
    assert week.status_code == 200 and "共 7 天" in week.text
    wrong = await client.get("/staff/admin/stats?days=1000")
    assert wrong.status_code == 422 and "统计天数请填写 7 到 366 之间的整数" in wrong.text


async def test_stats_judge_each_round_by_its_own_due_date(client: httpx.AsyncClient, seed: Seed, settings: Settings,
                                                          sync_engine: Engine) -> None:
    """A returned application resubmitted: round 1 (submitted ten days ago, decided two days ago) is judged
    against round 1's due date, not the later one of round 2, and counts its own working days."""
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("bj-reviewer", StaffRole.reviewer))
    app_id, li = await submitted(client, seed, await seed.person("li"))
    assert (await claim(client, reviewer, app_id)).status_code == 200
    assert (await decide(client, reviewer, app_id, "return", [{"code": "material_unclear"}])).status_code == 200
    assert (await submit(client, li, app_id)).status_code == 200
    await approve(client, reviewer, app_id)
    now = datetime.now(UTC)
    submitted_at, decided_at = now - timedelta(days=10), now - timedelta(days=2)
    with sync_engine.begin() as conn:
        conn.execute(update(ApplicationEvent).where(ApplicationEvent.round == 1,
                                                    ApplicationEvent.to_status == "submitted")
                     .values(created_at=submitted_at))
        conn.execute(update(ReviewDecision).where(ReviewDecision.round == 1).values(decided_at=decided_at))
    calendar = load_calendar(settings.calendar_path)
    due = calendar.add_working_days(local_date(submitted_at), 3)
    assert local_date(decided_at) > due
    took = calendar.working_days_between(local_date(submitted_at), local_date(decided_at))
    await as_admin(seed)

    text = (await client.get("/staff/admin/stats")).text
    assert "<title>按期：1</title>" in text and "<title>逾期：1</title>" in text
    assert "按期办结率 50.0%（1 / 2）" in text
    assert "<title>审核通过：1</title>" in text and "<title>退回补正：1</title>" in text
    assert "<title>当日：1</title>" in text
    label = f"{took} 天" if took <= 5 else ("6–10 天" if took <= 10 else "11 天以上")
    assert f"<title>{label}：1</title>" in text


def test_charts_escape_text_and_scale() -> None:
    hostile = '<script>alert("x")</script>'
    svg = str(horizontal_bars("c1", hostile, [(hostile, 3)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'viewBox="0 0 960 ' in svg
    stacked = str(stacked_columns("c2", "每日", ["01", "02"], [Series("甲", [1, 0]), Series("乙", [2, 5])]))
    assert "<title>02 乙：5</title>" in stacked and stacked.count("<rect") == 3 + 2  # bars and the legend
    assert "所选期间暂无数据" in str(columns("c3", "空", [("a", 0)]))
    assert [nice_step(n) for n in (1, 4, 9, 40, 130)] == [1, 1, 5, 10, 50]
