"""The applicant's journey on a 375×667 phone, in the normal and the large-text mode (关怀版), in chromium:
page loads counted (a count, not a timing), a login that lapses mid-step and mid-upload, files uploaded as
soon as they are chosen (checked and shrunk on the phone), the case number, the relation worded from each
side, and the pages without JavaScript. Screenshots under var/e2e/<test>/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from mtb import timeutil
from mtb.catalog.service import load_catalogs
from mtb.db.engine import create_engine, create_sessionmaker
from mtb.identity import idnumber
from mtb.identity.models import InsuranceType, PersonStatus, StaffRole
from mtb.identity.registry import InsuredRecord, import_insured
from mtb.identity.service import create_staff
from mtb.identity.tokens import Principal, issue_token, lifetime_seconds
from mtb.materials.models import Material
from mtb.settings import Settings, get_settings
from mtb.web.core import SESSION_COOKIE
from tests.conftest import ROOT, empty_database
from tests.e2e.conftest import serving
from tests.e2e.test_journeys import PHONE, Step, staff_login
from tests.factories import ACTORS, STAFF_PASSWORD, reference_catalogs
from tests.files import camera_photo, document_photo, pdf

# People of these tests, each test its own (they share one server and database): the named actors and more.
PEOPLE = dict(ACTORS) | {
    "zhou": ("周九", "42902119500101907", "429021", InsuranceType.resident),
    "wu": ("吴十", "42902119800101908", "429021", InsuranceType.employee),
    "chen": ("陈一", "42902119620101909", "429021", InsuranceType.resident),
    "feng": ("冯二", "42902119880101910", "429021", InsuranceType.employee),
    "jiang": ("蒋三", "11010519550101911", "110000", InsuranceType.resident),
}
STAFF = [("bj_reviewer", StaffRole.reviewer, "110000")]
SCREENS_TALL_MAX = 3


def _run(work: Any) -> Any:
    """Playwright's sync API owns this thread's event loop: database work runs in another thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, work).result()


def who(*actors: str) -> dict[str, dict[str, str]]:
    out = {}
    for actor in actors:
        name, first17, _region, _kind = PEOPLE[actor]
        number = idnumber.with_check_digit(first17)
        out[actor] = {"name": name, "id_number": number, "card_number": f"C{number[-8:]}"}
    return out


def seed_everyone(settings: Settings) -> None:
    async def work() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as s, s.begin():
                await load_catalogs(s, list(reference_catalogs()))
                await import_insured(s, [
                    InsuredRecord(1, c["name"], c["id_number"], c["card_number"], PEOPLE[a][3], PEOPLE[a][2],
                                  PersonStatus.active) for a, c in who(*PEOPLE).items()])
                for username, role, region in STAFF:
                    await create_staff(s, username=username, password=STAFF_PASSWORD, role=role, region_code=region)
        finally:
            await engine.dispose()

    _run(work)


@pytest.fixture(scope="module")
def site(database_url: str, sync_engine: Engine, tmp_path_factory: pytest.TempPathFactory,
         browser: Any) -> Iterator[tuple[str, Settings]]:
    """One server and database for this module's journeys (a server start is ~15 s on a busy machine);
    each test has its own people, so none sees another's applications."""
    folder = tmp_path_factory.mktemp("site")
    values = {"MTB_ENV": "test", "MTB_DATABASE_URL": database_url, "MTB_STORAGE_PATH": str(folder / "files"),
              "MTB_CATALOG_PATH": str(ROOT / "data" / "catalog"), "MTB_CACHE_PATH": str(ROOT / "var" / "cache"),
              "MTB_QUALITY_SAMPLE_RATE": "0", "MTB_SCHEDULER_ENABLED": "false",
              "MTB_SECRET_KEY": "test-secret-key-for-signing-access-tokens",
              "MTB_DATA_KEY": "test-data-key-for-resident-id-numbers-0001"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        empty_database(sync_engine)
        settings = get_settings()
        seed_everyone(settings)
        with serving(folder) as url:
            yield url, settings
    get_settings.cache_clear()


@pytest.fixture
def server(site: tuple[str, Settings]) -> str:
    return site[0]


@pytest.fixture
def settings(site: tuple[str, Settings]) -> Settings:
    return site[1]


def material_sizes(settings: Settings, application_url: str) -> list[tuple[str, int, str]]:
    app_id = uuid.UUID(application_url.rstrip("/").rsplit("/", 1)[-1])

    async def work() -> list[tuple[str, int, str]]:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as s:
                rows = await s.execute(select(Material.kind, Material.size, Material.content_type)
                                       .where(Material.application_id == app_id))
                return [(k, n, t) for k, n, t in rows.all()]
        finally:
            await engine.dispose()

    return _run(work)  # type: ignore[no-any-return]


class Loads:
    """Page loads of the main frame (every document the browser loads, redirects counted once)."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        page.on("framenavigated", lambda frame: self.urls.append(frame.url) if frame == page.main_frame else None)

    def __len__(self) -> int:
        return len(self.urls)


def phone(browser: Any, server: str, *, care: bool = False, javascript: bool = True) -> tuple[Any, Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="zh-CN", java_script_enabled=javascript)
    if care:
        context.add_cookies([{"name": "mtb_care", "value": "1", "url": server}])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return context, page


def log_in(page: Any, who: dict[str, str], *, spaced: bool = False) -> None:
    number = who["id_number"]
    page.get_by_label("姓名").fill(who["name"])
    page.get_by_label("身份证号", exact=True).fill(f"{number[:6]} {number[6:14]} {number[14:]}" if spaced else number)
    page.get_by_label("医保卡号").fill(who["card_number"])
    page.get_by_role("button", name="登录").click()


def choose_file(page: Any, kind: str, path: Path, *, javascript: bool = True) -> None:
    """Choose a file for a material: with the script it goes up at once (no page load) and the tile says
    ✓ 已上传; without it, the 上传 button posts the form."""
    tile = page.locator(f"#kind-{kind}")
    if javascript:
        tile.locator("form.upload-form:not(.more) input[type=file]").set_input_files(str(path))
        page.locator(f"#kind-{kind} .uploaded").wait_for()
    else:
        tile.locator("form.upload-form input[type=file]").last.set_input_files(str(path))
        with page.expect_navigation():
            tile.get_by_role("button", name="上传", exact=True).click()


def expire_login(context: Any, server: str) -> None:
    """The session cookie as it is after the login lapsed: the same person's token, signed, but expired."""
    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    claims = jwt.decode(cookie["value"], options={"verify_signature": False})
    timeutil.freeze(timeutil.utcnow() - timedelta(seconds=lifetime_seconds("person") + 60))
    try:
        token, _ = issue_token(Principal(kind="person", id=uuid.UUID(claims["sub"])))
    finally:
        timeutil.freeze(None)
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": server, "httpOnly": True}])


def files(tmp_path: Path) -> dict[str, Path]:
    made = {f"photo{i}.jpg": tmp_path / f"photo{i}.jpg" for i in range(1, 6)}
    for i, path in enumerate(made.values()):
        path.write_bytes(document_photo(seed=i))
    made["form.pdf"] = tmp_path / "form.pdf"
    made["form.pdf"].write_bytes(pdf(2, "filing form"))
    return made


def assert_targets(page: Any, *, care: bool) -> None:
    """关怀版: body text >= 18 px, the main tap targets >= 60 px and links >= 44 px; normal mode: targets >= 44 px."""
    least = 60 if care else 44
    sizes = page.evaluate("""(least) => {
      const body = parseFloat(getComputedStyle(document.body).fontSize);
      const small = [];
      for (const el of document.querySelectorAll('main button, main .button, main .uploader, main select, main input[type=text], header .logout')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.height && getComputedStyle(el).visibility !== 'hidden' && !el.closest('.nojs-only')) {
          if (r.height < least - 0.5) small.push(el.textContent.trim().slice(0, 20) + ':' + r.height);
        }
      }
      // 关怀版: every link (a card's link, 查看消息, the hotline, a file's name) is a target of 44 px or more.
      if (least >= 60) {
        for (const el of document.querySelectorAll('main a:not(.button), footer a')) {
          const r = el.getBoundingClientRect();
          if (r.width && r.height && !el.closest('.nojs-only, [hidden]') && r.height < 43.5)
            small.push('link ' + el.textContent.trim().slice(0, 20) + ':' + r.height);
        }
      }
      // 关怀版: every text on the page's main part at 18 px or more (secondary text, badges and buttons too).
      const tiny = [];
      const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const el = walker.currentNode.parentElement, text = walker.currentNode.textContent.trim();
        if (!text || !el.getClientRects().length || el.closest('.nojs-only, [hidden], option')) continue;
        const px = parseFloat(getComputedStyle(el).fontSize);
        if (px < 17.5) tiny.push(text.slice(0, 12) + ':' + px);
      }
      return {body, small, tiny};
    }""", least)
    assert sizes["small"] == [], sizes
    if care:
        assert sizes["body"] >= 18 and sizes["tiny"] == [], sizes


def contrast_of(page: Any, selector: str) -> float:
    return float(page.evaluate("""(sel) => {
      const el = document.querySelector(sel);
      const rgb = (s) => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
      const lum = (c) => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                           return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      let bg = null, node = el;
      while (node && !bg) { const c = getComputedStyle(node).backgroundColor; if (!/rgba\\(0, 0, 0, 0\\)|transparent/.test(c)) bg = c; node = node.parentElement; }
      const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(bg || 'rgb(255,255,255)'));
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""", selector))


@pytest.mark.parametrize("care", [False, True], ids=["normal", "care"])
def test_beijing_for_oneself(browser: Any, server: str, settings: Settings, shots: Path, tmp_path: Path,
                             care: bool) -> None:
    """A 70-year-old in Beijing files for herself, from the home page to 提交成功, in at most 6 page loads:
    the entry asks her to log in and brings her back; no hospital is chosen for her; the physician title she
    chose is shown back; each file goes up when chosen; the case number and what happens next are shown.
    The large-text run is also the run without JavaScript (the same pages, forms posted the plain way)."""
    javascript = not care
    person = "wang" if care else "zhang"
    people = who(person)
    made = files(tmp_path)
    step = Step(shots)
    context, page = phone(browser, server, care=care, javascript=javascript)
    loads = Loads(page)
    page.goto(f"{server}/")
    step(page, "home")
    page.get_by_role("link", name="门诊特殊病备案").click()
    page.wait_for_url("**/login?next=**")
    assert page.locator("#expired").count() == 0  # a first visit is not told the login lapsed
    log_in(page, people[person], spaced=True)  # "110105 19800101 9010": spaces typed are accepted
    page.wait_for_url("**/apply?region=110000")
    assert_targets(page, care=care)
    step(page, "choose-disease")
    page.get_by_text("恶性肿瘤化学治疗（化疗）").click()
    page.get_by_role("button", name="下一步").click()
    hospital = page.get_by_label("定点医疗机构")
    assert hospital.input_value() == ""  # no hospital chosen for her
    assert page.get_by_label("办理渠道").count() == 0  # the pages know their channel
    assert not page.get_by_label("参保人姓名").is_visible()  # 代办 fields only for 为他人
    step(page, "hospital")
    page.get_by_label("定点医疗机构").select_option(label="北京协和医院（示例）")
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url
    step(page, "materials-empty")
    assert_targets(page, care=care)
    page.get_by_label("先选择出具医师职称").select_option(label="主任医师")
    choose_file(page, "diagnosis_certificate", made["photo1.jpg"], javascript=javascript)
    choose_file(page, "filing_form", made["form.pdf"], javascript=javascript)
    for kind in ("diagnosis_certificate", "filing_form"):
        tile = page.locator(f"#kind-{kind}")
        assert "✓ 已上传" in tile.inner_text() and tile.get_by_text("替换", exact=True).count() == 1
    assert "出具医师职称：主任医师" in page.locator("#kind-diagnosis_certificate").inner_text()
    step(page, "materials-done")
    page.get_by_role("button", name="确认无误，提交申请").click()
    page.wait_for_url("**/submitted")
    case_number = page.locator("#case-number").inner_text().strip()
    assert re.fullmatch(r"BJ\d{8}-\d{6}", case_number)
    assert "预计" in page.locator("#due").inner_text() and page.get_by_role("link", name="消息中心").count() == 1
    step(page, "submitted")
    if javascript:  # the target is for the journey as most people make it (with the script)
        assert len(loads) <= 6, loads.urls
    (shots / "page-loads.txt").write_text(f"{len(loads)}\n" + "\n".join(loads.urls) + "\n")
    assert_targets(page, care=care)
    page.goto(f"{server}/")  # her application listed on the home page: its link is a target too
    assert page.locator("main a", has_text="恶性肿瘤").count() >= 1
    assert_targets(page, care=care)
    step(page, "home-after")
    # The same number in the staff queue (the reviewer reads it out on the phone to find the case).
    if not care:
        desk = browser.new_context(viewport={"width": 1366, "height": 768})
        staff = desk.new_page()
        staff_login(staff, server, "bj_reviewer")
        staff.wait_for_url("**/staff")
        assert staff.locator("td.case-number", has_text=case_number).count() == 1
        desk.close()
    page.goto(application_url)
    assert page.locator("#case-number").inner_text().strip() == case_number
    context.close()


@pytest.mark.parametrize("care", [False, True], ids=["normal", "care"])
def test_shennongjia_for_a_parent(browser: Any, server: str, settings: Settings, shots: Path, tmp_path: Path,
                                  care: bool) -> None:
    """A son files for his father in Shennongjia: his own region's entry first; the relation said right
    from his side and his father's; five files on a page at most 3 screens tall; at most 8 page loads."""
    agent, parent = ("wu", "zhou") if care else ("qian", "zhao")
    people = who(parent, agent)
    made = files(tmp_path)
    step = Step(shots)
    context, page = phone(browser, server, care=care)
    loads = Loads(page)
    page.goto(f"{server}/")
    page.get_by_role("link", name="实名登录", exact=True).click()
    log_in(page, people[agent])
    page.wait_for_url(f"{server}/")
    entries = page.locator("a.entry")
    assert "神农架" in entries.first.inner_text() and "您的参保地" in entries.first.inner_text()
    step(page, "home")
    entries.first.click()
    page.get_by_text("重性精神病").click()
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("为他人办理（如家属）").check()
    assert page.get_by_label("参保人姓名").is_visible()
    page.get_by_label("参保人姓名").fill(people[parent]["name"])
    page.get_by_label("参保人身份证号").fill(people[parent]["id_number"])
    page.get_by_label("参保人医保卡号").fill(people[parent]["card_number"])
    page.get_by_label("参保人是您的什么人").select_option(label="父母")
    page.get_by_label("定点医疗机构").select_option(index=1)
    step(page, "agent-details")
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url
    assert page.locator("#applicant-line").inner_text() == "您（为您的父母代办）"
    step(page, "agent-materials-empty")
    for kind, name in (("identity_front", "photo1.jpg"), ("identity_back", "photo2.jpg"),
                       ("medical_records", "form.pdf"), ("exam_reports", "photo3.jpg"),
                       ("diagnosis_certificate", "photo4.jpg")):
        choose_file(page, kind, made[name])
    height = page.evaluate("document.documentElement.scrollHeight")
    screens = height / PHONE["height"]
    (shots / "measures.txt").write_text(f"materials page {height}px = {screens:.2f} screens\n")
    step(page, "agent-materials-done")
    if not care:
        assert screens <= SCREENS_TALL_MAX, height
    page.get_by_label("本人确认：所提交的信息和材料真实、有效、完整。").check()  # Hubei's declaration (catalog)
    page.get_by_role("button", name="确认无误，提交申请").click()
    page.wait_for_url("**/submitted")
    assert re.fullmatch(r"HB\d{8}-\d{6}", page.locator("#case-number").inner_text().strip())
    step(page, "agent-submitted")
    assert len(loads) <= 8, loads.urls
    with (shots / "measures.txt").open("a") as out:
        out.write(f"page loads {len(loads)}: {loads.urls}\n")
    context.close()
    # The father, on his own login, reads who applied from his side.
    context, page = phone(browser, server, care=care)
    page.goto(f"{server}/login?next={application_url.replace(server, '')}")
    log_in(page, people[parent])
    page.wait_for_url(application_url)
    assert page.locator("#applicant-line").inner_text() == f"代办人 {people[agent]['name']}（您的子女）"
    step(page, "parent-sees")
    context.close()


def test_login_lapse_mid_step_and_mid_upload(browser: Any, server: str, settings: Settings, shots: Path,
                                             tmp_path: Path) -> None:
    """The login lapses on the hospital step: the next tap says 登录已超时 and, after logging in, comes back
    to the same step with what was chosen and typed. It lapses again before a file is chosen: the file is
    kept, the person logs in on the page, and it goes up without being chosen again."""
    people = who("feng", "chen")
    agent, parent = people["feng"], people["chen"]
    step = Step(shots)
    context, page = phone(browser, server)
    page.goto(f"{server}/login")
    log_in(page, agent)
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/apply?region=429021&disease=HB-SMI")
    page.get_by_label("定点医疗机构").select_option(index=2)
    chosen_hospital = page.get_by_label("定点医疗机构").input_value()
    page.get_by_label("为他人办理（如家属）").check()
    page.get_by_label("参保人姓名").fill(parent["name"])
    page.get_by_label("参保人身份证号").fill(parent["id_number"])
    page.get_by_label("参保人医保卡号").fill(parent["card_number"])
    page.get_by_label("参保人是您的什么人").select_option(label="父母")
    expire_login(context, server)
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/login?**")
    assert "登录已超时，请重新登录" in page.locator("#expired").inner_text()
    assert parent["id_number"] not in page.url  # typed ID numbers never travel in an address
    step(page, "lapsed-login")
    log_in(page, agent)
    page.wait_for_url("**/apply?**")
    assert page.get_by_label("定点医疗机构").input_value() == chosen_hospital
    assert page.get_by_label("为他人办理（如家属）").is_checked()
    assert page.get_by_label("参保人身份证号").input_value() == parent["id_number"]
    assert page.get_by_label("参保人是您的什么人").input_value() == "parent"
    step(page, "back-at-the-step")
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url

    # A lapse while a file is chosen: nothing lost, nothing silent.
    expire_login(context, server)
    photo = tmp_path / "id-front.jpg"
    photo.write_bytes(document_photo(seed=3))
    page.locator("#kind-identity_front input[type=file]").first.set_input_files(str(photo))
    panel = page.locator("#relogin")
    panel.wait_for()
    assert "登录已超时，请重新登录" in panel.inner_text() and "id-front.jpg" in panel.inner_text()
    step(page, "lapsed-upload")
    panel.get_by_label("姓名").fill(agent["name"])
    panel.get_by_label("身份证号").fill(agent["id_number"])
    panel.get_by_label("医保卡号").fill(agent["card_number"])
    panel.get_by_role("button", name="登录并继续上传").click()
    page.locator("#kind-identity_front .uploaded").wait_for()
    assert page.url == application_url and "id-front.jpg" in page.locator("#kind-identity_front").inner_text()
    step(page, "upload-resumed")

    # A lapse on a page with a query string: back to the same address after logging in.
    expire_login(context, server)
    page.goto(f"{server}/apply?region=429021&disease=HB-HEMOPHILIA")
    page.wait_for_url("**/login?**expired=1")
    log_in(page, agent)
    page.wait_for_url(f"{server}/apply?region=429021&disease=HB-HEMOPHILIA")
    context.close()


def test_upload_checks_on_the_phone(browser: Any, server: str, settings: Settings, shots: Path,
                                    tmp_path: Path) -> None:
    """A 11 MB camera photo goes up shrunk to a clear JPEG under 2 MB; a text file named .jpg and a PDF over
    the limit are refused on the phone with what to do; 替换 replaces in one step; without the script, a
    file over the limit gets a page in Chinese, not JSON."""
    people = who("jiang")
    step = Step(shots)
    context, page = phone(browser, server)
    page.goto(f"{server}/login?next=/apply%3Fregion%3D110000%26disease%3DBJ-TUMOR-CHEMO")
    log_in(page, people["jiang"])
    page.get_by_label("定点医疗机构").select_option(index=1)
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url
    tile = page.locator("#kind-diagnosis_certificate")
    text = tmp_path / "notes.jpg"
    text.write_text("这不是图片")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    tile.locator("input[type=file]").set_input_files(str(text))
    tile.locator(".upload-status", has_text="内容不是图片或 PDF").wait_for()
    big_pdf = tmp_path / "scan.pdf"
    big_pdf.write_bytes(pdf(1) + b"%" + b"0" * (settings.max_upload_bytes + 1024))
    page.locator("#kind-filing_form input[type=file]").set_input_files(str(big_pdf))
    page.locator("#kind-filing_form .upload-status", has_text="文件超过 10 MB，请重新拍摄或压缩后上传").wait_for()
    assert sent == []  # refused on the phone: nothing was sent
    step(page, "refused-on-the-phone")
    camera = tmp_path / "IMG_0001.jpg"
    camera.write_bytes(camera_photo())
    assert camera.stat().st_size > settings.max_upload_bytes
    tile.locator("input[type=file]").set_input_files(str(camera))
    page.locator("#kind-diagnosis_certificate .uploaded").wait_for(timeout=60_000)
    ((kind, size, content_type),) = material_sizes(settings, application_url)
    assert kind == "diagnosis_certificate" and content_type == "image/jpeg" and 300_000 < size < 2_000_000, size
    assert "需重新拍摄" not in tile.inner_text() and "模糊" not in tile.inner_text()  # still sharp enough
    step(page, "shrunk-and-uploaded")
    # 替换: one choice, the old file goes.
    replacement = tmp_path / "clearer.jpg"
    replacement.write_bytes(document_photo(seed=5))
    tile.locator("input[name=file][id^=replace-]").set_input_files(str(replacement))
    tile.get_by_text("clearer.jpg").wait_for()
    assert tile.locator(".file").count() == 1 and len(material_sizes(settings, application_url)) == 1
    step(page, "replaced")
    context.close()

    # Without the script: a file over the limit, posted by the form, gets the limit said on a page.
    plain, page = phone(browser, server, javascript=False)
    page.goto(f"{server}/login")
    log_in(page, people["jiang"])
    page.goto(application_url)
    assert page.locator("#kind-filing_form").get_by_role("button", name="上传", exact=True).is_visible()
    page.locator("#kind-filing_form input[type=file]").last.set_input_files(str(big_pdf))
    page.locator("#kind-filing_form").get_by_role("button", name="上传", exact=True).click()
    page.get_by_text("文件超过 10 MB，请重新拍摄或压缩后上传").wait_for()
    assert "{" not in page.locator("main").inner_text()
    step(page, "too-large-without-script")
    plain.close()


def test_returned_then_messages_care_mode_and_login_page(browser: Any, server: str, settings: Settings,
                                                         shots: Path, tmp_path: Path) -> None:
    """关怀版 switched on the home page and remembered; a returned application's reasons come first with
    去补正, reached from the message; 重新上传 is one step; 标为已读 is readable; 退出 asks first; the
    login page says a wrong check digit makes the ID number invalid."""
    people = who("li")
    step = Step(shots)
    context, page = phone(browser, server)
    page.goto(f"{server}/login")
    wrong = people["li"]["id_number"][:17] + ("0" if people["li"]["id_number"][17] != "0" else "1")
    log_in(page, people["li"] | {"id_number": wrong})
    assert "不是有效号码" in page.locator(".field-error").first.inner_text()
    step(page, "wrong-check-digit")
    log_in(page, people["li"])
    page.wait_for_url(f"{server}/")
    page.get_by_role("button", name="长辈版（大字）").click()
    page.wait_for_url(f"{server}/")
    assert "care" in (page.locator("body").get_attribute("class") or "")
    assert_targets(page, care=True)
    step(page, "home-care")
    page.goto(f"{server}/apply?region=110000&disease=BJ-TUMOR-CHEMO")
    assert "care" in (page.locator("body").get_attribute("class") or "")  # remembered
    steps_box = page.locator(".steps").bounding_box()
    assert steps_box is not None and steps_box["height"] < 80
    page.get_by_label("定点医疗机构").select_option(index=1)
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url
    photo, form = tmp_path / "cert.jpg", tmp_path / "form.pdf"
    photo.write_bytes(document_photo(seed=1))
    form.write_bytes(pdf(1))
    choose_file(page, "diagnosis_certificate", photo)
    choose_file(page, "filing_form", form)
    page.get_by_role("button", name="确认无误，提交申请").click()
    page.wait_for_url("**/submitted")

    desk = browser.new_context(viewport={"width": 1366, "height": 768})
    staff = desk.new_page()
    staff_login(staff, server, "bj_reviewer")
    with staff.expect_navigation():  # 开始审核: claimed and opened in one page load (issue 20)
        staff.get_by_role("button", name=f"开始审核 {people['li']['name']}").click()
    staff.locator("#decision").wait_for()
    staff.locator(".material-card").first.get_by_label("不清晰").check()
    staff.get_by_role("checkbox", name="材料不清晰").check()
    staff.locator("input[name=detail_material_unclear]").fill("诊断证明拍摄反光，请重新拍摄")
    staff.locator("#then-next").uncheck()  # stay on the decided application
    with staff.expect_navigation():
        staff.get_by_role("button", name="退回补正").click()
    staff.locator(".badge.returned").first.wait_for()
    desk.close()

    page.goto(f"{server}/messages")
    assert contrast_of(page, ".message-actions button") >= 4.5
    step(page, "messages")
    page.get_by_role("link", name="去补正").click()
    page.wait_for_url(f"{application_url}#returned")
    returned = page.locator("#returned").bounding_box()
    assert returned is not None and returned["y"] < PHONE["height"] / 2  # the reasons come first
    assert "诊断证明拍摄反光" in page.locator("#returned").inner_text()
    step(page, "returned-first")
    page.get_by_role("link", name="去补正").click()
    tile = page.locator("#kind-diagnosis_certificate")
    assert "需重新上传" in tile.inner_text()
    clearer = tmp_path / "clearer.jpg"
    clearer.write_bytes(document_photo(seed=4))
    tile.locator("input[id^=replace-]").set_input_files(str(clearer))
    tile.locator(".uploaded").wait_for()
    assert "cert.jpg" not in tile.inner_text()
    step(page, "replaced-in-one-step")
    page.get_by_role("button", name="补正后重新提交").click()
    page.wait_for_url("**/submitted")

    logout = page.locator("header a.logout")
    box = logout.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44
    logout.click()
    page.get_by_role("heading", name="确定退出登录吗？").wait_for()
    step(page, "logout-asks")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{server}/")
    context.close()


pytestmark = pytest.mark.e2e
