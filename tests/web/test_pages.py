"""The pages over HTTP (the browser journeys are in tests/e2e): sessions, CSRF, headers, access rules,
and the applicant → reviewer loop done through forms."""

from __future__ import annotations

import re

import httpx

from mtb.identity.models import StaffRole
from mtb.web.core import CSRF_COOKIE, SESSION_COOKIE
from tests.factories import SHENNONGJIA, STAFF_PASSWORD, Seed
from tests.files import document_photo, pdf
from tests.web.helpers import as_person, as_staff, csrf, post_form


def app_id_of(response: httpx.Response) -> str:
    match = re.search(r"/applications/([0-9a-f-]{36})", response.headers["location"])
    assert match, response.headers.get("location")
    return match.group(1)


async def test_login_sets_a_protected_session_cookie(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    page = await client.get("/login")
    assert page.status_code == 200 and "实名登录" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "httponly" in page.headers["set-cookie"].lower() and "samesite=strict" in page.headers["set-cookie"].lower()
    no_token = await client.post("/login", data=zhang.credentials())
    assert no_token.status_code == 403 and "页面已过期" in no_token.text
    wrong = await post_form(client, "/login", zhang.credentials() | {"card_number": "X1234"})
    assert wrong.status_code == 401 and "姓名、身份证号或医保卡号不正确" in wrong.text
    ok = await post_form(client, "/login", zhang.credentials() | {"next": "https://evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie and "samesite=lax" in cookie
    home = await client.get("/")
    assert "您好，张三" in home.text and "门诊特殊病备案" in home.text and "**************9010" in home.text
    assert zhang.id_number not in home.text


async def test_pages_need_login_and_hide_other_peoples_applications(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    assert (await client.get("/filings")).headers["location"] == "/login?next=/filings"
    await as_person(seed, zhang)
    created = await post_form(client, "/apply", {"region_code": "110000", "disease_code": "BJ-TUMOR-CHEMO",
                                                 "hospital_code": "BJ-EX-0001", "channel": "bj_app", "for_whom": "self"})
    app_id = app_id_of(created)
    await as_person(seed, li)
    other = await client.get(f"/applications/{app_id}")
    assert other.status_code == 404 and "申请不存在" in other.text
    assert (await client.get(f"/staff/applications/{app_id}")).headers["location"].startswith("/staff/login")
    snj = await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA)
    await as_staff(seed, snj)
    assert (await client.get(f"/staff/applications/{app_id}")).status_code == 404


async def test_apply_upload_submit_review_loop_through_forms(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    await as_person(seed, zhang)
    step1 = await client.get("/apply?region=110000")
    assert "多发性硬化" in step1.text and "副主任医师" in step1.text
    step2 = await client.get("/apply?region=110000&disease=BJ-FUNDUS-INJECTION")
    assert "双眼" in step2.text
    missing_eye = await post_form(client, "/apply", {"region_code": "110000", "disease_code": "BJ-FUNDUS-INJECTION",
                                                     "hospital_code": "BJ-EX-0004", "channel": "bj_app",
                                                     "for_whom": "self"})
    assert missing_eye.status_code == 422 and "需选择单眼或双眼" in missing_eye.text
    created = await post_form(client, "/apply", {"region_code": "110000", "disease_code": "BJ-FUNDUS-INJECTION",
                                                 "hospital_code": "BJ-EX-0004", "channel": "bj_app",
                                                 "for_whom": "self", "laterality": "both_eyes"})
    app_id = app_id_of(created)
    page = await client.get(f"/applications/{app_id}")
    assert "特殊病种诊断证明" in page.text and "确认无误，提交申请" in page.text
    token = client.cookies.get(CSRF_COOKIE)
    uploaded = await client.post(f"/applications/{app_id}/materials", data={"kind": "diagnosis_certificate"},
                                 files={"file": ("c.jpg", document_photo(), "image/jpeg")},
                                 headers={"X-CSRF-Token": token or "", "X-Requested-With": "XMLHttpRequest"})
    assert uploaded.status_code == 200, uploaded.text
    # The page script gets the material's part of the page back, drawn with the file in it.
    assert uploaded.text.lstrip().startswith('<div class="material-item done" id="kind-diagnosis_certificate">')
    assert "✓ 已上传" in uploaded.text and "c.jpg" in uploaded.text and "替换" in uploaded.text
    refused = await post_form(client, f"/applications/{app_id}/submit", {"idempotency_key": "k1"})
    assert refused.status_code == 422 and "缺少" in refused.text and "备案申报表" in refused.text
    await client.post(f"/applications/{app_id}/materials", data={"kind": "filing_form", "csrf_token": token or ""},
                      files={"file": ("f.pdf", pdf(), "application/pdf")})
    submitted = await post_form(client, f"/applications/{app_id}/submit", {"idempotency_key": "k2"})
    assert submitted.status_code == 303 and submitted.headers["location"] == f"/applications/{app_id}/submitted"
    assert "已提交，待审核" in (await client.get(f"/applications/{app_id}")).text

    reviewer = await seed.staff("bj_reviewer", StaffRole.reviewer)
    client.cookies.clear()
    login = await post_form(client, "/staff/login", {"username": "bj_reviewer", "password": STAFF_PASSWORD})
    assert login.status_code == 303 and login.headers["location"] == "/staff"
    queue = await client.get("/staff")
    assert "张三" in queue.text and "**************9010" in queue.text
    detail = await client.get(f"/staff/applications/{app_id}")
    assert "领取审核" in detail.text
    assert (await post_form(client, f"/staff/applications/{app_id}/claim")).status_code == 303
    detail = await client.get(f"/staff/applications/{app_id}")
    material_id = re.search(r'name="verdict_([0-9a-f-]{36})"', detail.text)
    assert material_id
    no_reason = await post_form(client, f"/staff/applications/{app_id}/decision", {"outcome": "return"})
    assert no_reason.status_code == 422 and "至少选择一条原因" in no_reason.text
    returned = await post_form(client, f"/staff/applications/{app_id}/decision", {
        "outcome": "return", "reason": "material_unclear", "detail_material_unclear": "诊断证明反光看不清",
        f"verdict_{material_id.group(1)}": "unclear"})
    assert returned.status_code == 303
    assert reviewer.username in (await client.get(f"/staff/applications/{app_id}")).text

    await as_person(seed, zhang)
    seen = await client.get(f"/applications/{app_id}")
    assert "需要补正后重新提交" in seen.text and "诊断证明反光看不清" in seen.text
    assert "补正后重新提交" in seen.text and "不清晰" in seen.text
    messages = await client.get("/messages")
    assert "申请退回补正" in messages.text


async def test_window_clerk_pages(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    clerk = await seed.staff("snj_window", StaffRole.window, SHENNONGJIA)
    await as_staff(seed, clerk)
    assert (await client.get("/staff")).headers["location"] == "/staff/window"
    wrong = await post_form(client, "/staff/window", {"b_name": "赵六", "b_id_number": zhao.id_number,
                                                      "b_card_number": "NOPE1", "disease_code": "HB-SMI",
                                                      "hospital_code": "SNJ-EX-0001"})
    assert wrong.status_code == 422 and "未找到" in wrong.text
    made = await post_form(client, "/staff/window", {"b_name": "赵六", "b_id_number": zhao.id_number,
                                                     "b_card_number": zhao.card_number, "disease_code": "HB-SMI",
                                                     "hospital_code": "SNJ-EX-0001"})
    assert made.status_code == 303 and made.headers["location"].startswith("/staff/window/")
    page = await client.get(made.headers["location"])
    assert "经办窗口代录" in page.text and "身份证明（正面）" in page.text
    assert (await client.get(f"/staff/applications/{made.headers['location'].rsplit('/', 1)[1]}")).status_code == 403
    await csrf(client, "/staff/login")


async def test_pdf_pages_render_safely_in_parallel(client: httpx.AsyncClient, seed: Seed) -> None:
    """The viewer loads a PDF's pages at once; pdfium must not be entered by two threads (it crashed)."""
    import asyncio

    await seed.catalogs()
    zhang = await seed.person("zhang")
    headers = await seed.login(zhang)
    app = (await client.post("/api/v1/applications", headers=headers, json={
        "region_code": "110000", "disease_code": "BJ-TUMOR-CHEMO", "hospital_code": "BJ-EX-0001",
        "channel": "bj_app"})).json()
    material = (await client.post(f"/api/v1/applications/{app['id']}/materials", headers=headers,
                                  data={"kind": "filing_form"},
                                  files={"file": ("f.pdf", pdf(4), "application/pdf")})).json()
    await as_staff(seed, await seed.staff("bj_reviewer", StaffRole.reviewer))
    base = f"/staff/applications/{app['id']}/materials/{material['id']}/page"
    pages = await asyncio.gather(*(client.get(f"{base}/{n % 4 + 1}.png") for n in range(12)))
    assert all(p.status_code == 200 and p.content.startswith(b"\x89PNG") for p in pages)
    assert (await client.get(f"{base}/5.png")).status_code == 404
