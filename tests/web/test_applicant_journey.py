"""The applicant's pages over HTTP, for what needs no browser (the journeys are in tests/e2e/test_applicant.py):
session renewal and lapse, the return to the same step, login typing problems, the relation worded from each
side, limits said in a page, 关怀版, the 异地备案 link and confirmation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtb import timeutil
from mtb.applications.schemas import AGENT_IS, RELATION_LABELS, ApplicationOut
from mtb.identity import idnumber
from mtb.identity.tokens import Principal, issue_token, lifetime_seconds
from mtb.settings import Settings
from mtb.web.casework import applicant_line
from mtb.web.core import CSRF_COOKIE, SESSION_COOKIE
from tests.factories import Person, Seed
from tests.files import document_photo
from tests.web.helpers import csrf, post_form

BEIJING_FORM = {"region_code": "110000", "disease_code": "BJ-TUMOR-CHEMO", "hospital_code": "BJ-EX-0001",
                "for_whom": "self"}


def session_of(person: Person, *, spent_seconds: int) -> str:
    """A page session token issued `spent_seconds` ago."""
    timeutil.freeze(timeutil.utcnow() - timedelta(seconds=spent_seconds))
    try:
        return issue_token(Principal(kind="person", id=person.row.id, region_code=person.row.region_code))[0]
    finally:
        timeutil.freeze(None)


def use(client: httpx.AsyncClient, token: str) -> None:
    client.cookies.set(SESSION_COOKIE, token, domain="mtb.test")


async def test_a_session_in_use_is_renewed_and_a_fresh_one_is_left_alone(client: httpx.AsyncClient,
                                                                         seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    lifetime = lifetime_seconds("person")
    for spent, renewed in ((0, False), (lifetime // 2 - 60, False), (lifetime // 2 + 60, True),
                           (lifetime - 30, True)):
        use(client, session_of(zhang, spent_seconds=spent))
        page = await client.get("/")
        assert page.status_code == 200 and "您好，张三" in page.text
        cookies = [c for c in page.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
        assert bool(cookies) is renewed, spent
        if renewed:
            token = cookies[0].split(";")[0].split("=", 1)[1]
            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["sub"] == str(zhang.row.id) and claims["exp"] > timeutil.utcnow().timestamp() + lifetime - 60


async def test_a_lapsed_login_is_said_and_returns_to_the_same_address(client: httpx.AsyncClient,
                                                                      seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    lapsed = session_of(zhang, spent_seconds=lifetime_seconds("person") + 5)
    for path in ("/apply?region=110000&disease=BJ-TUMOR-CHEMO", "/filings", "/apply?region=429021"):
        use(client, lapsed)
        answer = await client.get(path)
        assert answer.status_code == 303
        location = urlsplit(answer.headers["location"])
        query = parse_qs(location.query)
        assert location.path == "/login" and query["next"] == [path] and query["expired"] == ["1"]
        login = await client.get(answer.headers["location"])
        assert "登录已超时，请重新登录" in login.text
    client.cookies.delete(SESSION_COOKIE, domain="mtb.test")
    first = await client.get("/filings")
    assert "expired" not in first.headers["location"]  # never logged in: not told it lapsed
    # Logging in again goes back there, query string and all.
    back = await post_form(client, "/login", zhang.credentials() | {"next": "/apply?region=110000&disease=BJ-TUMOR-CHEMO"})
    assert back.headers["location"] == "/apply?region=110000&disease=BJ-TUMOR-CHEMO"


async def test_a_form_sent_after_a_lapse_comes_back_with_its_choices_but_no_id_numbers(
        client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    qian, zhao = await seed.person("qian"), await seed.person("zhao")
    use(client, session_of(qian, spent_seconds=lifetime_seconds("person") + 5))
    sent = await post_form(client, "/apply", {
        "region_code": "429021", "disease_code": "HB-SMI", "hospital_code": "SNJ-EX-0002", "for_whom": "other",
        "relation": "parent", "b_name": zhao.name, "b_id_number": zhao.id_number, "b_card_number": zhao.card_number})
    assert sent.status_code == 303
    target = parse_qs(urlsplit(sent.headers["location"]).query)["next"][0]
    chosen = parse_qs(urlsplit(target).query)
    assert chosen == {"region": ["429021"], "disease": ["HB-SMI"], "hospital_code": ["SNJ-EX-0002"],
                      "for_whom": ["other"], "relation": ["parent"]}
    assert zhao.id_number not in sent.headers["location"] and zhao.card_number not in sent.headers["location"]
    use(client, session_of(qian, spent_seconds=0))
    step = await client.get(target)
    assert 'value="SNJ-EX-0002" selected' in step.text and 'value="parent" selected' in step.text
    assert 'id="for-other" name="for_whom" value="other" checked' in step.text


async def test_an_upload_during_a_lapse_is_answered_for_the_page_script(client: httpx.AsyncClient,
                                                                         seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    use(client, session_of(zhang, spent_seconds=0))
    created = await post_form(client, "/apply", BEIJING_FORM)
    app_path = created.headers["location"]
    token = await csrf(client)
    use(client, session_of(zhang, spent_seconds=lifetime_seconds("person") + 5))
    answer = await client.post(f"{app_path}/materials", data={"kind": "diagnosis_certificate"},
                               files={"file": ("c.jpg", document_photo(), "image/jpeg")},
                               headers={"X-CSRF-Token": token, "X-Requested-With": "XMLHttpRequest",
                                        "Referer": f"http://mtb.test{app_path}"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "session_expired" and answer.json()["detail"] == "登录已超时，请重新登录"
    assert answer.json()["login"].startswith("/login?next=" + app_path)
    # The page script logs in on the page: JSON, and the session cookie.
    again = await client.post("/login", data=zhang.credentials() | {"csrf_token": token, "next": app_path},
                              headers={"X-Requested-With": "XMLHttpRequest"})
    assert again.status_code == 200 and again.json() == {"redirect": app_path}
    assert any(c.startswith(SESSION_COOKIE) for c in again.headers.get_list("set-cookie"))


FIRST17 = r"^[1-6][0-9]{5}(19[5-9][0-9]|200[0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}$"


@given(first17=st.from_regex(FIRST17, fullmatch=True),
       wrong=st.sampled_from("0123456789X"), spaces=st.lists(st.integers(0, 17), max_size=4))
def test_typing_problems_are_said_before_any_lookup(first17: str, wrong: str, spaces: list[int]) -> None:
    number = idnumber.with_check_digit(first17)
    spaced = "".join(("　" if i % 2 else " ") * (i in spaces) + ch for i, ch in enumerate(number))
    assert idnumber.normalize(spaced) == number
    assert idnumber.typing_problem(number) is None
    assert idnumber.normalize(number.replace("1", "１")) == number  # full-width digits
    if wrong != number[-1]:
        assert "不是有效号码" in (idnumber.typing_problem(number[:17] + wrong) or "")
    assert "18 位" in (idnumber.typing_problem(number[:16]) or "")


async def test_login_page_says_the_number_is_invalid_and_accepts_spaces(client: httpx.AsyncClient,
                                                                         seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    page = await client.get("/login")
    assert 'maxlength="18"' not in page.text
    wrong = zhang.id_number[:17] + ("1" if zhang.id_number[17] != "1" else "2")
    refused = await post_form(client, "/login", zhang.credentials() | {"id_number": wrong})
    assert refused.status_code == 422 and "不是有效号码" in refused.text
    spaced = f"{zhang.id_number[:6]} {zhang.id_number[6:14]} {zhang.id_number[14:]}"
    ok = await post_form(client, "/login", zhang.credentials() | {"id_number": spaced})
    assert ok.status_code == 303


@pytest.mark.parametrize("relation", sorted(set(RELATION_LABELS) - {"self"}))
def test_the_relation_is_worded_from_each_side(relation: str) -> None:
    """Stored one way (the beneficiary is the agent's `relation`); the agent is the beneficiary's AGENT_IS."""
    assert AGENT_IS[AGENT_IS[relation]] == relation
    app = ApplicationOut.model_construct(submitted_by="代办人 钱七", relation=relation,
                                         relation_label=RELATION_LABELS[relation],
                                         agent_relation_label=RELATION_LABELS[AGENT_IS[relation]])
    assert applicant_line(app, "agent") == f"您（为您的{RELATION_LABELS[relation]}代办）"
    assert applicant_line(app, "beneficiary") == f"代办人 钱七（您的{RELATION_LABELS[AGENT_IS[relation]]}）"
    assert applicant_line(app, "staff") == f"代办人 钱七（参保人的{RELATION_LABELS[AGENT_IS[relation]]}）"
    if relation == "parent":
        assert applicant_line(app, "staff") == "代办人 钱七（参保人的子女）"


async def test_the_api_says_what_the_agent_is(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    qian, zhao = await seed.person("qian"), await seed.person("zhao")
    headers = await seed.login(qian)
    created = await client.post("/api/v1/applications", headers=headers, json={
        "region_code": "429021", "disease_code": "HB-SMI", "hospital_code": "SNJ-EX-0001", "channel": "hb_mp",
        "beneficiary": zhao.credentials() | {"relation": "parent"}})
    body = created.json()
    assert (body["relation"], body["relation_label"], body["agent_relation_label"]) == ("parent", "父母", "子女")


async def test_a_file_over_the_limit_from_a_plain_form_gets_a_page(client: httpx.AsyncClient, seed: Seed,
                                                                    settings: Settings) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    use(client, session_of(zhang, spent_seconds=0))
    app_path = (await post_form(client, "/apply", BEIJING_FORM)).headers["location"]
    token = client.cookies.get(CSRF_COOKIE) or await csrf(client)
    big = b"%PDF-1.4\n" + b"0" * (settings.max_upload_bytes + 2 * 1024 * 1024)
    answer = await client.post(f"{app_path}/materials", data={"kind": "filing_form", "csrf_token": token},
                               files={"file": ("scan.pdf", big, "application/pdf")},
                               headers={"Accept": "text/html,application/xhtml+xml",
                                        "Referer": f"http://mtb.test{app_path}"})
    assert answer.status_code == 413 and answer.headers["content-type"].startswith("text/html")
    assert "文件超过 10 MB，请重新拍摄或压缩后上传" in answer.text and f'href="{app_path}"' in answer.text


async def test_care_mode_is_switched_and_remembered(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    assert 'class=" care"' not in (await client.get("/")).text
    switched = await post_form(client, "/care", {"on": "1", "next": "/login"})
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert "max-age=31536000" in switched.headers["set-cookie"].lower()
    assert 'class=" care"' in (await client.get("/")).text and "切换到标准版" in (await client.get("/")).text
    await post_form(client, "/care", {"on": "0"})
    assert 'class=" care"' not in (await client.get("/")).text


async def test_hospital_is_asked_and_the_channel_known(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    use(client, session_of(zhang, spent_seconds=0))
    step = await client.get("/apply?region=110000&disease=BJ-TUMOR-CHEMO&channel=jingtong")
    assert 'value="" selected disabled>请选择定点医疗机构' in step.text and 'name="channel" value="jingtong"' in step.text
    assert 'id="channel"' not in step.text  # not asked
    missing = await post_form(client, "/apply", BEIJING_FORM | {"hospital_code": ""})
    assert missing.status_code == 422 and "请选择定点医疗机构" in missing.text
    assert (await post_form(client, "/apply", BEIJING_FORM)).status_code == 303


async def test_cross_region_refusal_links_to_filing_and_filing_confirms(client: httpx.AsyncClient,
                                                                        seed: Seed) -> None:
    await seed.catalogs()
    sun = await seed.person("sun")  # insured in Wuhan
    use(client, session_of(sun, spent_seconds=0))
    refused = await post_form(client, "/apply", {"region_code": "429021", "disease_code": "HB-SMI",
                                                 "hospital_code": "SNJ-EX-0001", "for_whom": "self"})
    assert "需先办理异地就医备案" in refused.text and 'href="/cross-region?region=429021"' in refused.text
    filed = await post_form(client, "/cross-region", {"treatment_region_code": "429021"})
    assert filed.status_code == 303 and filed.headers["location"] == "/cross-region?done=429021"
    done = await client.get(filed.headers["location"])
    assert "异地就医备案已办理" in done.text and 'href="/apply?region=429021"' in done.text


async def test_the_relation_is_asked_not_assumed(client: httpx.AsyncClient, seed: Seed) -> None:
    """A son who does not touch the relation picker is not recorded as his father's spouse: the picker starts
    on 请选择, and leaving it there is answered on the page, the rest of the form kept."""
    await seed.catalogs()
    qian, zhao = await seed.person("qian"), await seed.person("zhao")
    use(client, session_of(qian, spent_seconds=0))
    step = await client.get("/apply?region=429021&disease=HB-SMI")
    assert '<option value="" selected disabled>请选择</option>' in step.text
    agent = {"region_code": "429021", "disease_code": "HB-SMI", "hospital_code": "SNJ-EX-0002", "for_whom": "other",
             "b_name": zhao.name, "b_id_number": zhao.id_number, "b_card_number": zhao.card_number}
    unanswered = await post_form(client, "/apply", agent)
    assert unanswered.status_code == 422 and "请选择参保人是您的什么人" in unanswered.text
    assert 'value="SNJ-EX-0002" selected' in unanswered.text and f'value="{zhao.name}"' in unanswered.text
    for_self = await post_form(client, "/apply", agent | {"for_whom": "self"})
    assert for_self.status_code == 303  # only 为他人 asks it
    answered = await post_form(client, "/apply", agent | {"disease_code": "HB-HEMOPHILIA", "relation": "parent"})
    assert answered.status_code == 303
    page = await client.get(answered.headers["location"])
    assert "您（为您的父母代办）" in page.text
