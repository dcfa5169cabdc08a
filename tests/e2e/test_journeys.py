"""The two journeys of the source documents, in a real browser.

Beijing: apply on a phone-sized window, get returned, replace a material, resubmit, get approved, see the
filing effective. Shennongjia: an agent applies for a family member; the window clerk records a second
application for the same person, who then sees both under their own login.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from mtb.catalog.service import load_catalogs
from mtb.db.engine import create_engine, create_sessionmaker
from mtb.identity import idnumber
from mtb.identity.models import PersonStatus, StaffRole
from mtb.identity.registry import InsuredRecord, import_insured
from mtb.identity.service import create_staff
from mtb.settings import Settings
from tests.factories import ACTORS, STAFF_PASSWORD, reference_catalogs
from tests.files import document_photo, pdf

PHONE = {"width": 375, "height": 667}
DESK = {"width": 1366, "height": 900}


def seed(settings: Settings, people: list[str], staff: list[tuple[str, StaffRole, str]]) -> dict[str, dict[str, str]]:
    """Catalogs, people and staff, written straight to the server's database."""
    out: dict[str, dict[str, str]] = {}

    async def work() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as s, s.begin():
                await load_catalogs(s, list(reference_catalogs()))
                records = []
                for actor in people:
                    name, first17, region, kind = ACTORS[actor]
                    number = idnumber.with_check_digit(first17)
                    card = f"C{number[-8:]}"
                    records.append(InsuredRecord(1, name, number, card, kind, region, PersonStatus.active))
                    out[actor] = {"name": name, "id_number": number, "card_number": card}
                await import_insured(s, records)
                for username, role, region in staff:
                    await create_staff(s, username=username, password=STAFF_PASSWORD, role=role, region_code=region)
        finally:
            await engine.dispose()

    # Playwright's sync API owns this thread's event loop: seed from another thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, work).result()
    return out


def files(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for i, name in enumerate(("photo1.jpg", "photo2.jpg", "photo3.jpg", "photo4.jpg", "photo5.jpg")):
        made[name] = tmp_path / name
        made[name].write_bytes(document_photo(seed=i))
    made["form.pdf"] = tmp_path / "form.pdf"
    made["form.pdf"].write_bytes(pdf(2, "filing form"))
    return made


class Step:
    def __init__(self, folder: Path) -> None:
        self.folder, self.n = folder, 0

    def __call__(self, page: Any, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}.png"), full_page=True)


def person_login(page: Any, url: str, who: dict[str, str]) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("姓名").fill(who["name"])
    page.get_by_label("身份证号").fill(who["id_number"])
    page.get_by_label("医保卡号").fill(who["card_number"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{url}/")


def staff_login(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()


def upload(page: Any, kind: str, path: Path) -> None:
    """Choose a file: it goes up at once (no page load) and the material says ✓ 已上传."""
    page.locator(f"#kind-{kind} form.upload-form:not(.more) input[type=file]").last.set_input_files(str(path))
    page.locator(f"#kind-{kind} .uploaded").wait_for()


def test_beijing_journey(browser: Any, server: str, settings: Settings, shots: Path, tmp_path: Path) -> None:
    people = seed(settings, ["zhang"], [("bj_reviewer", StaffRole.reviewer, "110000")])
    made = files(tmp_path)
    step = Step(shots)
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    person_login(page, server, people["zhang"])
    step(page, "home")
    page.get_by_role("link", name="门诊特殊病备案").first.click()
    page.get_by_text("恶性肿瘤化学治疗（化疗）").click()
    step(page, "choose-disease")
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("定点医疗机构").select_option(label="北京协和医院（示例）")
    step(page, "hospital")
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    application_url = page.url
    upload(page, "diagnosis_certificate", made["photo1.jpg"])
    upload(page, "filing_form", made["form.pdf"])
    step(page, "materials")
    page.get_by_role("button", name="确认无误，提交申请").click()
    page.locator("#status", has_text="已提交，待审核").wait_for()
    step(page, "submitted")

    desk = browser.new_context(viewport=DESK)
    staff = desk.new_page()
    staff_login(staff, server, "bj_reviewer")
    with staff.expect_navigation():  # 开始审核: claimed and opened in one page load
        staff.get_by_role("button", name="开始审核 张三").click()
    step(staff, "review-claimed")
    staff.locator("#decision").wait_for()
    staff.locator(".material-card").first.get_by_label("不清晰").check()
    staff.get_by_role("checkbox", name="材料不清晰").check()
    staff.locator("input[name=detail_material_unclear]").fill("诊断证明拍摄反光，请重新拍摄")
    staff.locator("#then-next").uncheck()  # stay on the decided application (决定并下一件 is tested elsewhere)
    step(staff, "review-return")
    with staff.expect_navigation():
        staff.get_by_role("button", name="退回补正").click()
    staff.locator(".badge.returned").first.wait_for()

    page.goto(application_url)
    page.locator("#returned").get_by_text("诊断证明拍摄反光，请重新拍摄").wait_for()
    step(page, "returned")
    with page.expect_navigation():
        page.locator("#kind-diagnosis_certificate form[data-confirm] button").first.click()
    upload(page, "diagnosis_certificate", made["photo2.jpg"])
    page.get_by_role("button", name="补正后重新提交").click()
    page.locator("#status", has_text="已提交，待审核").wait_for()
    step(page, "resubmitted")

    staff.goto(f"{server}/staff")
    with staff.expect_navigation():
        staff.get_by_role("button", name="开始审核 张三").click()
    staff.locator("#all-acceptable").click()
    staff.locator("#then-next").uncheck()
    with staff.expect_navigation():
        staff.get_by_role("button", name="审核通过").click()
    staff.locator(".badge.approved").first.wait_for()
    step(staff, "approved")

    page.goto(f"{server}/filings")
    page.get_by_text("恶性肿瘤化学治疗（化疗）").wait_for()
    assert page.locator(".badge.active").count() == 1
    assert "长期有效" in page.content()
    step(page, "filing-effective")
    messages = page.goto(f"{server}/messages")
    assert messages is not None and "审核通过" in page.content()
    step(page, "messages")
    phone.close()
    desk.close()


def test_shennongjia_agent_and_window(browser: Any, server: str, settings: Settings, shots: Path,
                                      tmp_path: Path) -> None:
    people = seed(settings, ["zhao", "qian"], [("snj_window", StaffRole.window, "429021")])
    made = files(tmp_path)
    step = Step(shots)
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = phone.new_page()
    person_login(page, server, people["qian"])
    page.get_by_role("link", name="门诊慢特病病种待遇认定").first.click()
    page.get_by_text("重性精神病").click()
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("为他人办理（如家属）").check()
    page.get_by_label("参保人姓名").fill(people["zhao"]["name"])
    page.get_by_label("参保人身份证号").fill(people["zhao"]["id_number"])
    page.get_by_label("参保人医保卡号").fill(people["zhao"]["card_number"])
    page.get_by_label("参保人是您的").select_option(label="父母")
    page.get_by_label("定点医疗机构").select_option(index=1)  # none is chosen for them
    step(page, "agent-details")
    page.get_by_role("button", name="保存并下一步：上传材料").click()
    page.wait_for_url("**/applications/**")
    for kind, name in (("identity_front", "photo1.jpg"), ("identity_back", "photo2.jpg"),
                       ("medical_records", "form.pdf"), ("exam_reports", "photo3.jpg"),
                       ("diagnosis_certificate", "photo4.jpg")):
        upload(page, kind, made[name])
    step(page, "agent-materials")
    page.get_by_label("本人确认：所提交的信息和材料真实、有效、完整。").check()  # Hubei's declaration (catalog)
    page.get_by_role("button", name="确认无误，提交申请").click()
    page.locator("#status", has_text="已提交，待审核").wait_for()
    step(page, "agent-submitted")

    desk = browser.new_context(viewport=DESK)
    clerk = desk.new_page()
    staff_login(clerk, server, "snj_window")
    clerk.wait_for_url("**/staff/window")
    clerk.get_by_label("参保人姓名").fill(people["zhao"]["name"])
    clerk.get_by_label("身份证号").fill(people["zhao"]["id_number"])
    clerk.get_by_label("医保卡号").fill(people["zhao"]["card_number"])
    clerk.get_by_label("病种").select_option(label="血友病")
    step(clerk, "window-entry")
    clerk.get_by_role("button", name="录入申请").click()
    clerk.wait_for_url("**/staff/window/**")
    for kind, name in (("identity_front", "photo1.jpg"), ("identity_back", "photo2.jpg"),
                       ("medical_records", "form.pdf"), ("exam_reports", "photo3.jpg"),
                       ("diagnosis_certificate", "photo5.jpg")):
        upload(clerk, kind, made[name])
    clerk.get_by_label("本人确认：所提交的信息和材料真实、有效、完整。").check()
    clerk.get_by_role("button", name="确认无误，提交申请").click()
    clerk.locator("#status", has_text="已提交，待审核").wait_for()
    step(clerk, "window-submitted")

    zhao = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True).new_page()
    person_login(zhao, server, people["zhao"])
    zhao.get_by_text("重性精神病").wait_for()
    zhao.get_by_text("血友病").wait_for()
    step(zhao, "beneficiary-home")
    assert zhao.locator(".badge.submitted").count() == 2
    phone.close()
    desk.close()


pytestmark = pytest.mark.e2e
