"""Issue 16 item 6 (and issue 18's one audited material view): every view of a material's content, in
any form, is audited once per view, by whoever views it.

Every way MTB shows a material's content (API download, the applicant's and the window clerk's inline
view, the staff viewer's file and its page images) is tried by each kind of reader; each served view
adds exactly one `material_viewed` record naming the reader, the material, the form and the page, and a
refused or failed view adds none. The source is checked too: only mtb/materials/viewing.py opens a
material for a person (the pre-review's own OCR reads through download.local_copy).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from mtb.applications.models import ApplicationEvent
from mtb.identity.models import StaffRole
from mtb.materials.models import Material
from mtb.web.core import SESSION_COOKIE
from tests.applications.helpers import BEIJING_SELF, create, upload
from tests.factories import SHENNONGJIA, Seed
from tests.files import pdf

SRC = Path(__file__).resolve().parents[2] / "src" / "mtb"


async def views(seed: Seed) -> list[tuple[str, str | None, dict[str, Any]]]:
    async with seed.sessionmaker() as s:
        rows = (await s.execute(select(ApplicationEvent).where(ApplicationEvent.action == "material_viewed")
                                .order_by(ApplicationEvent.id))).scalars()
        return [(r.actor_kind, str(r.actor_id) if r.actor_id else None, r.detail or {}) for r in rows]


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


async def test_every_view_of_a_material_is_audited_once(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    own = await seed.login(zhang)
    app_id = (await create(client, own, **BEIJING_SELF)).json()["id"]
    material = (await upload(client, own, app_id, "diagnosis_certificate", pdf(2), name="d.pdf")).json()
    photo = (await upload(client, own, app_id, "filing_form")).json()
    staff = {role: await seed.staff(f"bj_{role.value}", role) for role in StaffRole}
    logins = {role: await seed.staff_login(member) for role, member in staff.items()}
    clerk = logins[StaffRole.window]
    window_id = (await create(client, clerk, **BEIJING_SELF | {"channel": "window", "disease_code": "BJ-HEMOPHILIA"},
                              beneficiary=zhang.credentials() | {"relation": "other"})).json()["id"]
    window_material = (await upload(client, clerk, window_id, "diagnosis_certificate")).json()
    m, w, p = material["id"], window_material["id"], photo["id"]

    def api(app: str, mat: str) -> str:
        return f"/api/v1/applications/{app}/materials/{mat}/file"

    # (how, as whom: bearer headers or a page session token, path, expected form, page, actor id)
    reviewer, admin = logins[StaffRole.reviewer], logins[StaffRole.admin]
    tries = [
        ("api", reviewer, api(app_id, m), "download", None, staff[StaffRole.reviewer].id),
        ("api", admin, api(app_id, p), "download", None, staff[StaffRole.admin].id),
        ("api", own, api(app_id, m), "download", None, zhang.row.id),
        ("api", clerk, api(window_id, w), "download", None, staff[StaffRole.window].id),
        ("page", own, f"/applications/{app_id}/materials/{p}/file", "inline", None, zhang.row.id),
        ("page", reviewer, f"/staff/applications/{app_id}/materials/{m}/file", "inline", None,
         staff[StaffRole.reviewer].id),
        ("page", reviewer, f"/staff/applications/{app_id}/materials/{m}/page/1.png", "page", 1,
         staff[StaffRole.reviewer].id),
        ("page", reviewer, f"/staff/applications/{app_id}/materials/{m}/page/2.png", "page", 2,
         staff[StaffRole.reviewer].id),
        ("page", reviewer, f"/staff/applications/{app_id}/materials/{m}/page/2.png", "page", 2,
         staff[StaffRole.reviewer].id),  # each view counts, the same page again too
        ("page", clerk, f"/staff/window/{window_id}/materials/{w}/file", "inline", None, staff[StaffRole.window].id),
    ]
    for how, who, path, form, page, actor_id in tries:
        before = await views(seed)
        if how == "api":
            response = await client.get(path, headers=who)
        else:
            client.cookies.set(SESSION_COOKIE, token(who), domain="mtb.test")
            response = await client.get(path)
            client.cookies.delete(SESSION_COOKIE, domain="mtb.test")
        assert response.status_code == 200, (path, response.status_code)
        assert response.content
        after = await views(seed)
        assert len(after) == len(before) + 1, path
        _kind, actor, detail = after[-1]
        expected_material = path.split("/materials/")[1].split("/")[0]
        assert (actor, detail["material_id"], detail["form"], detail.get("page")) == (
            str(actor_id), expected_material, form, page), path

    # Refused or failed views leave no record.
    before = await views(seed)
    other_region = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    assert (await client.get(api(app_id, m), headers=other_region)).status_code == 404
    client.cookies.set(SESSION_COOKIE, token(reviewer), domain="mtb.test")
    assert (await client.get(f"/staff/applications/{app_id}/materials/{m}/page/3.png")).status_code == 404
    assert (await client.get(f"/staff/applications/{app_id}/materials/{uuid.uuid4()}/file")).status_code == 404
    async with seed.sessionmaker() as s:  # the stored file is gone: 404, and the record rolled back
        sha = (await s.get(Material, uuid.UUID(p))).sha256  # type: ignore[union-attr]
    storage = client._transport.app.state.storage  # type: ignore[attr-defined]
    storage.delete(sha)
    missing = await client.get(f"/staff/applications/{app_id}/materials/{p}/file")
    assert missing.status_code == 404
    client.cookies.delete(SESSION_COOKIE, domain="mtb.test")
    assert (await client.get(api(app_id, p), headers=reviewer)).status_code == 404
    assert await views(seed) == before


def test_only_the_audited_function_opens_a_material_for_a_person() -> None:
    """A route that opened a file any other way would show content without a record."""
    allowed = {"materials/download.py", "materials/viewing.py",  # the opener and the audited view
               "prereview/service.py",  # the machine's own reading (OCR), not a person's view
               "materials/doctor.py"}  # mtb doctor: an operator's check of every file's hash
    opener = re.compile(r"\b(open_file|local_copy|spooled)\(|storage\.open\(|\.state\.storage\.open")
    offenders = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                 if str(path.relative_to(SRC)) not in allowed and opener.search(path.read_text("utf-8"))]
    assert offenders == []
    routes = [p for p in SRC.rglob("*.py") if p.parent.name == "web" or p.name == "api.py"]
    assert all("storage.open" not in p.read_text("utf-8") for p in routes)
