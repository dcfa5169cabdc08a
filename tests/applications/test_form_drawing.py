"""The filled form is drawn with no database transaction open.

Drawing runs in a worker thread and the first drawing of a process subsets the CJK font (seconds). A staff
member's view is audited; that row is committed before drawing starts, so that (on SQLite) the one write
lock is not held across the drawing, where every other writer would wait and then be answered 503. Checked
inside the drawing itself, for every way to the form: the API (applicant and staff), the staff page, the
window page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from mtb.applications import form as form_module
from mtb.identity.models import StaffRole
from tests.factories import Seed
from tests.review.helpers import submitted
from tests.web.helpers import as_staff


def _watch_drawing(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> list[dict[str, Any]]:
    """Replace nothing: wrap the drawing to look, from outside MTB's session, at what the database holds."""
    seen: list[dict[str, Any]] = []
    draw: Callable[[Any], bytes] = form_module.render_form

    def looking(data: Any) -> bytes:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # fails at once if any writer holds the lock
                conn.exec_driver_sql("ROLLBACK")
            views = conn.execute(text("SELECT count(*) FROM application_events WHERE action = 'form_viewed' "
                                      "AND application_id = :a"), {"a": _stored_id(engine, data.application_id)})
            seen.append({"views": views.scalar_one()})
        return draw(data)

    monkeypatch.setattr(form_module, "render_form", looking)
    return seen


def _stored_id(engine: Engine, application_id: str) -> str:
    # UUIDs are stored as 32 hex digits on SQLite and as uuid on PostgreSQL.
    return application_id.replace("-", "") if engine.dialect.name == "sqlite" else application_id


async def test_the_form_is_drawn_outside_any_transaction_with_the_view_already_audited(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    app_id, applicant = await submitted(client, seed, await seed.person())
    seen = _watch_drawing(monkeypatch, sync_engine)

    own = await client.get(f"/api/v1/applications/{app_id}/form.pdf", headers=applicant)
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert seen[-1] == {"views": 0}  # an applicant's own view is not a staff access: not audited

    reviewer = await seed.staff("rev", StaffRole.reviewer)
    api = await client.get(f"/api/v1/applications/{app_id}/form.pdf", headers=await seed.staff_login(reviewer))
    assert api.status_code == 200 and api.headers["x-content-type-options"] == "nosniff"
    assert seen[-1] == {"views": 1}

    await as_staff(seed, reviewer)
    page = await client.get(f"/staff/applications/{app_id}/form.pdf")
    assert page.status_code == 200 and page.content.startswith(b"%PDF")
    assert seen[-1] == {"views": 2}

    await as_staff(seed, await seed.staff("clerk", StaffRole.window))
    window = await client.get(f"/staff/window/{app_id}/form.pdf")
    assert window.status_code == 200 and window.content.startswith(b"%PDF")
    assert seen[-1] == {"views": 3}
    assert len(seen) == 4
