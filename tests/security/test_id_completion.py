"""Issue 16 item 1: a masked ID number can never be completed from what the same reader is shown.

For every actor of the authorization world (agent, beneficiary, another person, reviewers of both regions,
window clerk, administrator, hospital key, nobody), everything they can read is collected: every GET route
(pages, API JSON, FHIR, the CSV exports, the form PDFs as text, staff and window pages), the login answer
and the hospital's eligibility answer. Over all of it, for each person of the world:
- the full number never appears, nor any run of eight of its characters that shows a hidden one, nor
  its place of birth (the first six digits) as a code;
- the birth date never appears, in any usual writing (1980-01-01, 19800101, 1980年1月1日, 1980/01/01);
- every masked form shown keeps the first 14 characters hidden.
People with birth dates other than 1 January are added, so a date is not confused with a year.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any

import httpx
from pypdf import PdfReader

from mtb.identity import idnumber
from mtb.identity.models import StaffRole
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import ACTORS as PEOPLE
from tests.factories import Seed
from tests.review.helpers import claim, decide
from tests.security.surfaces import surfaces
from tests.security.world import ACTORS, World, build

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FLOAT = re.compile(r"(?<![\d.])\d+\.\d+(?:[eE][-+]?\d+)?(?![\d.])|\b\d+(?:\.\d+)?[eE][-+]?\d+\b")
HEX = re.compile(r"(?<![0-9a-fA-F])(?=[0-9]*[a-fA-F])[0-9a-fA-F]{16,}")  # hashes, keys: not digit runs
MASKED = re.compile(r"[0-9*]{14}[0-9Xx*]{4}")


def text_of(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "")
    if "application/pdf" in kind:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(response.content)).pages)
    if kind.startswith("image/"):
        return ""  # a material's own pixels (an ID card scan shows the number by nature: item 6 audits views)
    if "json" in kind:
        return json.dumps(response.json(), ensure_ascii=False)
    return response.text


def date_patterns(born: date) -> list[re.Pattern[str]]:
    y, m, d = born.year, born.month, born.day
    sep = r"\s*[-/.年]\s*"
    return [re.compile(rf"{y}{m:02d}{d:02d}"),
            re.compile(rf"(?<!\d){y}{sep}0?{m}\s*[-/.月]\s*0?{d}(?!\d)")]


def leaks(text: str, number: str) -> list[str]:
    """What in `text` reveals a hidden character of `number` (or its birth date)."""
    found = []
    plain = HEX.sub(" ", UUID.sub(" ", text))
    # Digits written apart (spaces, dashes, slashes, dots) are read joined. Measured numbers (a duration or a
    # sum in /metrics, `1.98001019e-05`) are left out: their 16 digits hold any 8-digit run now and then.
    measured_out = FLOAT.sub(" ", plain)
    digits_only = re.sub(r"[\s\-/.]", "", measured_out)
    hidden = 14  # the characters a mask must hide: all but the last four
    for start in range(len(number) - 7):  # runs of 8 characters: each includes a hidden one
        run = number[start:start + 8]
        if run in measured_out or run in digits_only:
            found.append(f"run {run}")
    if re.search(rf"(?<![\d.]){number[:6]}(?!\d)", plain):  # the place of birth as a code of its own
        found.append(f"place {number[:6]}")
    for pattern in date_patterns(idnumber.birth_date(number)):
        if pattern.search(plain):
            found.append(f"birth date {pattern.pattern}")
    for shown in MASKED.findall(plain):
        agrees = all(a in "*" or a == b for a, b in zip(shown.upper(), number, strict=True))
        if "*" in shown and shown[:hidden] != "*" * hidden and agrees:
            found.append(f"mask {shown}")
    return found


async def richer_world(seed: Seed) -> tuple[World, list[str]]:
    """The authorization world, plus two people born on other days with an approved filing each."""
    world = await build(seed)
    numbers = [idnumber.with_check_digit(first17) for first17 in (PEOPLE["zhang"][1], PEOPLE["wang"][1],
                                                                 PEOPLE["li"][1])]
    admin2 = await seed.staff_login(await seed.staff("bj_admin3", StaffRole.admin))
    for first17 in ("11010819660723457", "11010219921130088"):
        person = await seed.person(name="陈测试", first17=first17)
        numbers.append(person.id_number)
        own = await seed.login(person)
        app = (await create(seed.client, own, **BEIJING_SELF | {"disease_code": "BJ-APLASTIC-ANEMIA"})).json()
        await upload_all(seed.client, own, app["id"], BEIJING_MATERIALS)
        await submit(seed.client, own, app["id"])
        await claim(seed.client, admin2, app["id"])
        await decide(seed.client, admin2, app["id"], "approve")
    return world, numbers


async def test_no_reader_can_complete_a_masked_id_number(app_and_client: tuple[Any, httpx.AsyncClient],
                                                         seed: Seed) -> None:
    """The walk over every answer is shared with item 11's property (one walk, two checks): every answer
    but the static assets is `Cache-Control: no-store` (tests/security/test_headers.py has the rest)."""
    app, client = app_and_client
    world, numbers = await richer_world(seed)
    problems: list[str] = []
    stored: list[str] = []
    seen = 0
    for actor in ACTORS:
        eligibility = {"/api/v1/eligibility": {"id_number": numbers[0], "disease_code": "BJ-APLASTIC-ANEMIA",
                                               "hospital_code": "BJ-EX-0001"}}
        async for s in surfaces(app, world, actor, extra=eligibility):
            text = text_of(s.response)
            seen += len(text)
            for number in numbers:
                problems += [f"{actor} {s.template}: {leak}" for leak in leaks(text, number)]
            if "no-store" not in s.response.headers.get("cache-control", ""):
                stored.append(f"{actor} {s.path} {s.response.status_code}")
    assert stored == [], "answers a browser or proxy may keep"
    zhang = {"name": PEOPLE["zhang"][0], "id_number": numbers[0], "card_number": f"C{numbers[0][-8:]}"}
    login = await client.post("/api/v1/auth/real-name", json=zhang)
    assert login.status_code == 200
    problems += [f"login: {leak}" for leak in leaks(text_of(login), numbers[0])]
    assert seen > 100_000
    assert problems == []


def test_the_leak_finder_finds_each_kind_of_leak() -> None:
    """The checker itself, on answers shaped like the ones the probe completed numbers from."""
    number = idnumber.with_check_digit("11010819660723457")
    assert leaks(f"身份证号 {number}", number)
    assert leaks("出生日期 1966-07-23", number) and leaks("出生日期：1966年7月23日", number)
    assert leaks('"birthDate": "1966-07-23"', number) and leaks("19660723", number)
    assert leaks(f"110108********{number[-4:]}", number)  # the old mask: the place of birth shown
    assert leaks(f"证件 1101 0819 6607 {number[-6:]}", number) and leaks("出生地 110108 东城", number)
    assert not leaks(f"**************{number[-4:]} 出生年份 1966年", number)
    # Measured numbers are not written numbers: a float's digits hold any run by chance (seen once in /metrics).
    assert not leaks(f"mtb_seconds_sum 0.{number[2:12]}5 mtb_x 1.{number[4:12]}e-05", number)
    assert leaks(f"1.1.0.1.0.8.{'.'.join(number[6:14])}", number)  # digits apart are still read joined
