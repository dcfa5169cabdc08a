"""One submission, whichever channel submits: the API, the applicant's page, the page's batch upload with
`then=submit` (applications/submission.py). A key answered through one channel is answered the same way
through another, and racing channels with one key submit once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mtb.identity.models import StaffRole
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import Person, Seed
from tests.files import document_photo, pdf
from tests.web.helpers import as_person, as_staff, post_form


async def _ready(client: httpx.AsyncClient, seed: Seed, name: str) -> tuple[str, dict[str, str], Person]:
    person = await seed.person(name)
    headers = await seed.login(person)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    await upload_all(client, headers, app_id, BEIJING_MATERIALS)
    await as_person(seed, person)
    return app_id, headers, person


async def _timeline(client: httpx.AsyncClient, headers: dict[str, str], app_id: str) -> list[str]:
    read = await client.get(f"/api/v1/applications/{app_id}", headers=headers)
    return [t["to_status"] for t in read.json()["timeline"]]


async def _page_submit(client: httpx.AsyncClient, app_id: str, key: str) -> httpx.Response:
    return await post_form(client, f"/applications/{app_id}/submit", {"idempotency_key": key})


@pytest.mark.parametrize("first", ["page", "api"])
async def test_a_key_is_answered_alike_through_every_channel(first: str, client: httpx.AsyncClient,
                                                            seed: Seed) -> None:
    await seed.catalogs()
    reference_id, ref_headers, _ = await _ready(client, seed, "li")
    reference = (await submit(client, ref_headers, reference_id, key="ref")).json()
    app_id, headers, _ = await _ready(client, seed, "zhang")
    if first == "page":
        done = await _page_submit(client, app_id, "k")
        assert done.status_code == 303 and done.headers["location"] == f"/applications/{app_id}/submitted"
    else:
        assert (await submit(client, headers, app_id, key="k")).status_code == 200
    # The API replays the full application, whoever answered first.
    again = await submit(client, headers, app_id, key="k")
    assert again.status_code == 200 and again.json()["id"] == app_id and again.json()["status"] == "submitted"
    assert set(again.json()) == set(reference)
    # The pages replay as the page answers: to the submitted page, no error.
    page = await _page_submit(client, app_id, "k")
    assert page.status_code == 303 and page.headers["location"] == f"/applications/{app_id}/submitted"
    assert await _timeline(client, headers, app_id) == ["draft", "submitted"]
    # A new key, through any channel, is a second submission and is refused.
    assert (await submit(client, headers, app_id, key="other")).json()["error"] == "already_submitted"
    refused = await _page_submit(client, app_id, "other-page")
    assert refused.status_code == 409 and "不能提交" in refused.text


async def test_page_and_api_racing_with_one_key_submit_once(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, headers, _ = await _ready(client, seed, "zhang")
    answers = await asyncio.gather(_page_submit(client, app_id, "same"), submit(client, headers, app_id, key="same"),
                                   _page_submit(client, app_id, "same"), submit(client, headers, app_id, key="same"))
    assert [a.status_code for a in answers] == [303, 200, 303, 200], [a.text[:300] for a in answers]
    assert await _timeline(client, headers, app_id) == ["draft", "submitted"]


async def test_the_windows_batch_with_submit_is_the_same_submission(client: httpx.AsyncClient, seed: Seed) -> None:
    """A clerk's batch of scans with `then=submit` and a key, then the window's 提交 with the same key: one
    submission; the scans of the retried batch are not added twice."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    await as_staff(seed, await seed.staff("clerk", StaffRole.window))
    made = await post_form(client, "/staff/window", {"b_name": zhang.name, "b_id_number": zhang.id_number,
                                                     "b_card_number": zhang.card_number,
                                                     "disease_code": BEIJING_SELF["disease_code"],
                                                     "hospital_code": BEIJING_SELF["hospital_code"]})
    assert made.status_code == 303, made.text[:300]
    app_id = made.headers["location"].rsplit("/", 1)[1]
    scans = {"files_diagnosis_certificate": ("d.jpg", document_photo(seed=7), "image/jpeg"),
             "files_filing_form": ("f.pdf", pdf(), "application/pdf")}
    done = await post_form(client, f"/staff/window/{app_id}/scans", {"then": "submit", "idempotency_key": "w1"},
                           files=scans)
    assert done.status_code == 303 and done.headers["location"] == f"/staff/window/{app_id}", done.text[:300]
    again = await post_form(client, f"/staff/window/{app_id}/submit", {"idempotency_key": "w1"})
    assert again.status_code == 303 and again.headers["location"] == f"/staff/window/{app_id}"
    other = await post_form(client, f"/staff/window/{app_id}/submit", {"idempotency_key": "w2"})
    assert other.status_code == 409 and "不能提交" in other.text
    headers = await seed.login(zhang)
    read = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
    assert [t["to_status"] for t in read["timeline"]] == ["draft", "submitted"]
    assert len(read["materials"]) == 2
