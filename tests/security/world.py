"""A small world for the authorization matrix: people, staff of both regions, an agent's application,
a window entry, a filing, a message, a quality sample, a hospital key.

The world is built once per test module through the API (`build`), then copied (`take`: every row of
every table, and the material files) and put back before each route (`put_back`, into the database the
test's own fixtures have just emptied), so a route that changes the world does not change it for the
next one. Tokens are issued afresh for each route.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from mtb.identity.models import StaffRole
from mtb.identity.tokens import Principal, issue_token
from mtb.models import Base
from mtb.qualifications.keys import create_hospital_key
from mtb.review.models import QualitySample, ReviewDecision
from mtb.settings import Settings
from mtb.timeutil import utcnow
from mtb.web.core import SESSION_COOKIE
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload, upload_all
from tests.factories import SHENNONGJIA, Seed
from tests.review.helpers import claim, decide

PERSONS = ("applicant", "beneficiary", "other")
ACTORS = ("anonymous", "applicant", "beneficiary", "other", "reviewer", "reviewer_other_region", "window",
          "admin", "hospital")


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)

    def issue_tokens(self) -> None:
        """Tokens from the function the logins issue them with (the logins themselves, argon2 and
        throttling included, are tested in tests/identity): the matrix is about what each token may reach."""
        self.tokens = {actor: issue_token(principal)[0] for actor, principal in self.principals.items()}

    def headers(self, actor: str, *, page: bool) -> dict[str, str]:
        if actor == "hospital":
            return {"X-Api-Key": self.api_key}
        if actor == "anonymous" or page:
            return {}
        return {"Authorization": f"Bearer {self.tokens[actor]}"}

    def cookies(self, actor: str) -> dict[str, str]:
        return {SESSION_COOKIE: self.tokens[actor]} if actor in self.tokens else {}


async def build(seed: Seed) -> World:
    """Application A: agent wang ("applicant") for zhang ("beneficiary"), online, one material, a draft.
    Application W: entered at the window for zhang. Filing Q: zhang's, approved. Sample S of Q's approval."""
    await seed.catalogs()
    zhang, wang, li = await seed.person("zhang"), await seed.person("wang"), await seed.person("li")
    staff = {"reviewer": await seed.staff("bj_reviewer", StaffRole.reviewer),
             "reviewer_other_region": await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA),
             "window": await seed.staff("bj_window", StaffRole.window),
             "admin": await seed.staff("bj_admin", StaffRole.admin),
             "admin2": await seed.staff("bj_admin2", StaffRole.admin)}
    world = World()
    for actor, person in (("applicant", wang), ("beneficiary", zhang), ("other", li)):
        world.principals[actor] = Principal(kind="person", id=person.row.id, region_code=person.row.region_code)
    for actor, member in staff.items():
        world.principals[actor] = Principal(kind="staff", id=member.id, role=member.role,
                                            region_code=member.region_code)
    world.issue_tokens()
    client = seed.client
    agent = {"Authorization": f"Bearer {world.tokens['applicant']}"}
    app = (await create(client, agent, **BEIJING_SELF, beneficiary=zhang.credentials() | {"relation": "parent"})).json()
    material = (await upload(client, agent, app["id"], "diagnosis_certificate")).json()
    world.ids.update(application=app["id"], material=material["id"])
    clerk = {"Authorization": f"Bearer {world.tokens['window']}"}
    window = (await create(client, clerk, **BEIJING_SELF | {"channel": "window", "disease_code": "BJ-HEMOPHILIA"},
                           beneficiary=zhang.credentials() | {"relation": "other"})).json()
    window_material = (await upload(client, clerk, window["id"], "diagnosis_certificate")).json()
    world.ids.update(window=window["id"], window_material=window_material["id"])
    own = {"Authorization": f"Bearer {world.tokens['beneficiary']}"}
    approved = (await create(client, own, **BEIJING_SELF | {"disease_code": "BJ-APLASTIC-ANEMIA"})).json()
    await upload_all(client, own, approved["id"], BEIJING_MATERIALS)
    await submit(client, own, approved["id"])
    admin2 = {"Authorization": f"Bearer {world.tokens['admin2']}"}
    await claim(client, admin2, approved["id"])
    await decide(client, admin2, approved["id"], "approve")
    world.ids["qualification"] = (await client.get("/api/v1/qualifications", headers=own)).json()[0]["id"]
    world.ids["notification"] = (await client.get("/api/v1/notifications", headers=own)).json()[0]["id"]
    async with seed.sessionmaker() as s, s.begin():
        decision = (await s.execute(select(ReviewDecision.id))).scalar_one()
        sample = QualitySample(application_id=uuid.UUID(approved["id"]), region_code="110000",
                               decision_id=decision, drawn_at=utcnow())
        s.add(sample)
        row, world.api_key = await create_hospital_key(s, "BJ-EX-0001")
        await s.flush()
        world.ids.update(sample=str(sample.id), key=str(row.id))
    world.ids["member"] = str(staff["window"].id)
    world.ids["person"] = str(zhang.row.id)
    del world.tokens["admin2"], world.principals["admin2"]
    return world


@dataclass(frozen=True)
class Copy:
    """A built world: its rows (table by table, in dependency order) and a copy of its material files."""

    world: World
    rows: dict[str, list[dict[str, Any]]]
    files: Path


def take(world: World, engine: Engine, settings: Settings, into: Path) -> Copy:
    with engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(t.select())] for t in Base.metadata.sorted_tables}
    shutil.copytree(settings.storage_path, into / "files", dirs_exist_ok=True)
    return Copy(world, rows, into / "files")


def put_back(copy: Copy, engine: Engine, settings: Settings) -> World:
    """The copied world, in an emptied database and storage, with fresh tokens."""
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if rows := copy.rows[table.name]:
                conn.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":  # the emptying restarted the sequences the rows used
            for table in Base.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and
                                                        column.type.python_type is int and
                                                        len(table.primary_key.columns) == 1):
                        highest = conn.execute(select(func.max(column))).scalar()
                        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                                {"t": table.name, "c": column.name}).scalar()
                        if sequence and highest is not None:
                            conn.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": highest})
    shutil.copytree(copy.files, settings.storage_path, dirs_exist_ok=True)
    world = World(api_key=copy.world.api_key, ids=dict(copy.world.ids), principals=dict(copy.world.principals))
    world.issue_tokens()
    return world


def fill(path: str, world: World) -> str:
    """Put the world's ids into a route's path template (window routes use the window entry)."""
    window = path.startswith("/staff/window/")
    values = {
        "application_id": world.ids["application"], "app_id": world.ids["window" if window else "application"],
        "material_id": world.ids["window_material" if window else "material"],
        "qualification_id": world.ids["qualification"], "notification_id": world.ids["notification"],
        "message_id": world.ids["notification"], "sample_id": world.ids["sample"], "member_id": world.ids["member"],
        "key_id": world.ids["key"], "region_code": "110000", "number": "1", "action": "change",
        "person_id": world.ids["person"], "channel_id": "00000000-0000-4000-8000-000000000001",
        "year": "2027",
        "endpoint_id": "00000000-0000-4000-8000-000000000002",
    }
    return path.format(**values)


def client_for(app: object, world: World, actor: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mtb.test",  # type: ignore[arg-type]
                             cookies=world.cookies(actor))
