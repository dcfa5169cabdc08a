"""The queue's `cursor` parameter: blank means the first page, anything malformed is 422 invalid_cursor,
on the API and on the staff page alike (both read through review/queue.py)."""

from __future__ import annotations

import base64

import httpx

from mtb.identity.models import StaffRole
from tests.factories import Seed
from tests.review.helpers import submitted
from tests.web.helpers import as_staff

BLANK = ("", " ", "   ", "\t")
MALFORMED = ("a", "AAAA", "!!!", "null", base64.urlsafe_b64encode(b'["x","y","z"]').decode(),
             base64.urlsafe_b64encode(b'[1,2]').decode(), base64.urlsafe_b64encode(b'{}').decode(),
             "WyIyMDI1LTAxLTAxIiwiMjAyNS0wMS0wMVQwMDowMDowMCIsNV0=")


async def test_blank_cursor_is_the_first_page_on_the_api(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    first = await client.get("/api/v1/review/queue", headers=reviewer)
    assert first.status_code == 200 and [i["id"] for i in first.json()["items"]] == [app_id]
    for cursor in BLANK:
        page = await client.get("/api/v1/review/queue", params={"cursor": cursor}, headers=reviewer)
        assert page.status_code == 200, (cursor, page.text)
        assert page.json() == first.json()
    raw = await client.get("/api/v1/review/queue?cursor=", headers=reviewer)
    assert raw.status_code == 200 and raw.json() == first.json()


async def test_malformed_cursor_is_422_on_the_api(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    for cursor in MALFORMED:
        bad = await client.get("/api/v1/review/queue", params={"cursor": cursor}, headers=reviewer)
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor", (cursor, bad.text)


async def test_blank_and_malformed_cursor_on_the_staff_page(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    for cursor in BLANK:
        page = await client.get("/staff", params={"cursor": cursor})
        assert page.status_code == 200, (cursor, page.text[:300])
    assert (await client.get("/staff?cursor=")).status_code == 200
    for cursor in MALFORMED:
        bad = await client.get("/staff", params={"cursor": cursor})
        assert bad.status_code == 422, (cursor, bad.status_code)
        assert "分页参数无效" in bad.text
