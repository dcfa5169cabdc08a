"""Shared steps for application tests: start an application, upload, submit."""

from __future__ import annotations

from typing import Any

import httpx

from tests.files import document_photo, pdf

BEIJING_SELF = {"region_code": "110000", "disease_code": "BJ-TUMOR-CHEMO", "hospital_code": "BJ-EX-0001",
                "channel": "bj_app"}
HUBEI = {"region_code": "429021", "disease_code": "HB-CRF-DIALYSIS", "hospital_code": "SNJ-EX-0001",
         "channel": "hb_mp"}
BEIJING_MATERIALS = ["diagnosis_certificate", "filing_form"]
HUBEI_MATERIALS = ["identity_front", "identity_back", "medical_records", "exam_reports", "diagnosis_certificate"]


async def create(client: httpx.AsyncClient, headers: dict[str, str], **payload: Any) -> httpx.Response:
    return await client.post("/api/v1/applications", json=payload, headers=headers)


async def upload(client: httpx.AsyncClient, headers: dict[str, str], app_id: str, kind: str,
                 content: bytes | None = None, name: str = "photo.jpg", **fields: str) -> httpx.Response:
    return await client.post(f"/api/v1/applications/{app_id}/materials", headers=headers,
                             data={"kind": kind, **fields},
                             files={"file": (name, content if content is not None else document_photo(), "image/jpeg")})


async def upload_all(client: httpx.AsyncClient, headers: dict[str, str], app_id: str, kinds: list[str]) -> None:
    for i, kind in enumerate(kinds):
        content = pdf(2) if i % 2 else document_photo(seed=i)
        response = await upload(client, headers, app_id, kind, content, name=f"{kind}.{'pdf' if i % 2 else 'jpg'}")
        assert response.status_code == 201, response.text


async def draft_with_materials(client: httpx.AsyncClient, headers: dict[str, str], kinds: list[str],
                               **payload: Any) -> str:
    """A new application (`payload` as `create` takes it) with a file uploaded for each of `kinds`;
    its id."""
    app_id: str = (await create(client, headers, **payload)).json()["id"]
    await upload_all(client, headers, app_id, kinds)
    return app_id


# Hubei's declaration ("所有材料需真实、有效、完整"), confirmed as a client confirms it; ignored where a region has none.
HUBEI_DECLARATION = {"declaration_version": "1"}


async def submit(client: httpx.AsyncClient, headers: dict[str, str], app_id: str,
                 key: str | None = None, *, confirm: bool = True) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(f"/api/v1/applications/{app_id}/submit", headers=headers | extra,
                             json=HUBEI_DECLARATION if confirm else None)
