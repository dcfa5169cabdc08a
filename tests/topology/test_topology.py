"""MTB behind real parts: the topology `deploy/topology.sh start` builds (nginx, two `mtb serve` processes,
pgbouncer in transaction pooling, PostgreSQL, shared material storage), driven over HTTP through nginx.

Runs only when MTB_TOPOLOGY_URL is set (`.ci/run` starts the topology and sets it); reads the rest of the
topology (database URL, process URLs, keys) from var/topology/topology.env. Every test makes its own
people (`mtb insured import`), so the tests can run again on the same topology.

Run with `-s` to see the figures of the kill test.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from mtb.identity import idnumber
from mtb.timeutil import local_today
from tests.applications.helpers import BEIJING_SELF
from tests.files import document_photo, pdf

ROOT = Path(__file__).resolve().parents[2]
RUN = Path(os.environ.get("MTB_TOPOLOGY_DIR", ROOT / "var" / "topology"))
MTB = Path(sys.executable).parent / "mtb"

pytestmark = pytest.mark.skipif(not os.environ.get("MTB_TOPOLOGY_URL"),
                                reason="no topology: deploy/topology.sh start, then set MTB_TOPOLOGY_URL")


@dataclass(frozen=True)
class Topology:
    url: str  # nginx
    database_url: str  # PostgreSQL itself (the test's own reads and the CLI)
    mtb_urls: list[str]  # each MTB process, for its metrics
    env: dict[str, str]  # the MTB_ settings every process of the topology shares

    def command_env(self) -> dict[str, str]:
        """What an `mtb` command of the topology runs with: its settings, on PostgreSQL directly."""
        return {**os.environ, **self.env, "MTB_DATABASE_URL": self.database_url}

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(MTB), *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                              env=self.command_env(), check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout


def topology_env() -> dict[str, str]:
    lines = (RUN / "topology.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture(scope="module")
def topology() -> Topology:
    values = topology_env()
    return Topology(os.environ["MTB_TOPOLOGY_URL"], values["MTB_TOPOLOGY_DATABASE_URL"],
                    values["MTB_TOPOLOGY_MTB_URLS"].split(), values)


@pytest.fixture(scope="module")
def db(topology: Topology) -> Iterator[Engine]:
    engine = create_engine(topology.database_url)
    yield engine
    engine.dispose()


@dataclass
class People:
    """Fresh insured people of Beijing, made for this run (random birth date, so reruns do not collide)."""

    credentials: list[dict[str, str]]
    taken: int = 0

    def take(self, n: int) -> list[dict[str, str]]:
        self.taken += n
        assert self.taken <= len(self.credentials)
        return self.credentials[self.taken - n:self.taken]


@pytest.fixture(scope="module")
def people(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> People:
    born = date(1950, 1, 2) + timedelta(days=random.randrange(18000))
    if born.month == 1 and born.day == 1:  # 1 January with sequence 9xx is the demo people's
        born += timedelta(days=1)
    run = random.randrange(10**6)
    rows = [{"name": "测试人", "id_number": idnumber.with_check_digit(f"110105{born:%Y%m%d}{900 + i:03d}"),
             "card_number": f"TP{run:06d}{i:03d}"} for i in range(99)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "id_number", "card_number", "insurance_type", "region_code"])
    writer.writerows([r["name"], r["id_number"], r["card_number"], "employee", "110000"] for r in rows)
    path = tmp_path_factory.mktemp("people") / "people.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    topology.cli("insured", "import", str(path))
    return People(rows)


# --- the HTTP journeys ------------------------------------------------------------------------------

async def login(client: httpx.AsyncClient, credentials: dict[str, str]) -> dict[str, str]:
    r = await client.post("/api/v1/auth/real-name", json=credentials)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def staff_login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    password = topology_env()["MTB_TOPOLOGY_STAFF_PASSWORD"]
    r = await client.post("/api/v1/auth/staff", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def materials(i: int) -> list[tuple[str, str, bytes, str]]:
    return [("diagnosis_certificate", "diagnosis.jpg", document_photo(1000, 800, seed=i), "image/jpeg"),
            ("filing_form", "filing-form.pdf", pdf(1, text=f"topology filing form {i} {uuid.uuid4()}"),
             "application/pdf")]


async def submitted_application(client: httpx.AsyncClient, credentials: dict[str, str], i: int) -> str:
    headers = await login(client, credentials)
    r = await client.post("/api/v1/applications", json=BEIJING_SELF, headers=headers)
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    for kind, name, content, mime in materials(i):
        r = await client.post(f"/api/v1/applications/{app_id}/materials", headers=headers,
                              data={"kind": kind}, files={"file": (name, content, mime)})
        assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/applications/{app_id}/submit",
                          headers=headers | {"Idempotency-Key": app_id})
    assert (r.status_code, r.json()["status"]) == (200, "submitted"), r.text
    return app_id


async def approve(client: httpx.AsyncClient, app_id: str,
                  reviewers: list[dict[str, str]]) -> dict[str, object]:
    """Claim and approve; a disease with two-stage review needs a second reviewer's approval."""
    for staff in reviewers:
        r = await client.post(f"/api/v1/review/applications/{app_id}/claim", headers=staff)
        assert r.status_code == 200, r.text
        r = await client.post(f"/api/v1/review/applications/{app_id}/decision", headers=staff,
                              json={"outcome": "approve", "all_acceptable": True, "note": "topology"})
        assert r.status_code == 200, r.text
        if r.json()["status"] == "approved":
            return r.json()
    raise AssertionError(f"not approved: {r.text}")


async def test_applicant_to_reviewer_loop_through_nginx(topology: Topology, people: People) -> None:
    applicant = people.take(1)[0]
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
        assert (await client.get("/api/v1/health/ready")).json() == {"status": "ready"}
        app_id = await submitted_application(client, applicant, 0)
        reviewers = [await staff_login(client, "bj_reviewer"), await staff_login(client, "bj_admin")]
        queue = await client.get("/api/v1/review/queue", headers=reviewers[0], params={"limit": 100})
        assert queue.status_code == 200
        decided = await approve(client, app_id, reviewers)
        assert decided["qualification_id"] or decided["status"] == "approved"
        headers = await login(client, applicant)
        filings = (await client.get("/api/v1/qualifications", headers=headers)).json()
        mine = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
        assert mine["status"] == "approved"
        assert [f["status"] for f in filings] == ["active"], filings
        for material in mine["materials"]:  # stored by one process, served by whichever answers
            for _ in range(2):
                r = await client.get(f"/api/v1/applications/{app_id}/materials/{material['id']}/file",
                                     headers=headers)
                assert r.status_code == 200 and len(r.content) > 1000
        assert (await client.get("/metrics")).status_code == 404  # scraped per process, never through nginx


async def test_concurrent_claims_land_once(topology: Topology, people: People, db: Engine) -> None:
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
        app_id = await submitted_application(client, people.take(1)[0], 1)
        staff = {"bj_reviewer": await staff_login(client, "bj_reviewer"),
                 "bj_admin": await staff_login(client, "bj_admin")}
        attempts = [name for _ in range(10) for name in staff]
        claim = f"/api/v1/review/applications/{app_id}/claim"
        answers = await asyncio.gather(*(client.post(claim, headers=staff[name]) for name in attempts))
    won = {name for name, r in zip(attempts, answers, strict=True) if r.status_code == 200}
    assert len(won) == 1, [(n, r.status_code) for n, r in zip(attempts, answers, strict=True)]
    loser = (set(staff) - won).pop()
    refusals = {r.json()["error"] for n, r in zip(attempts, answers, strict=True) if n == loser}
    assert refusals == {"claimed_by_other"}
    assert all(r.status_code in (200, 409) for r in answers)
    with db.connect() as conn:
        started = conn.execute(text("SELECT count(*) FROM application_events WHERE application_id = :id "
                                    "AND to_status = 'in_review' AND from_status = 'submitted'"),
                               {"id": uuid.UUID(app_id)}).scalar_one()
        holder = conn.execute(text("SELECT s.username FROM applications a JOIN staff_users s "
                                   "ON s.id = a.claimed_by_id WHERE a.id = :id"),
                              {"id": uuid.UUID(app_id)}).scalar_one()
    assert (started, holder) == (1, won.pop())


async def test_jobs_on_both_processes_act_once(topology: Topology, people: People, db: Engine) -> None:
    """Six approved filings: three end in 5 days (three reminder thresholds, one message), three ended
    yesterday (expire, one message); three claims idle for two hours (released once). Both processes run
    the jobs every 5 s, and three `mtb jobs run` at once on top; afterwards every effect exists once."""
    applicants = people.take(9)
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
        reviewers = [await staff_login(client, "bj_reviewer"), await staff_login(client, "bj_admin")]
        approved = [await submitted_application(client, a, 10 + i) for i, a in enumerate(applicants[:6])]
        for app_id in approved:
            await approve(client, app_id, reviewers)
        claimed = [await submitted_application(client, a, 20 + i) for i, a in enumerate(applicants[6:])]
        for app_id in claimed:
            assert (await client.post(f"/api/v1/review/applications/{app_id}/claim",
                                      headers=reviewers[0])).status_code == 200
    today = local_today()
    ids = {name: [uuid.UUID(a) for a in group] for name, group in
           (("reminded", approved[:3]), ("expired", approved[3:]), ("lapsed", claimed))}
    set_up_at = time.time()
    with db.begin() as conn:
        conn.execute(text("UPDATE qualifications SET valid_until = :day WHERE application_id = ANY(:ids)"),
                     {"day": today + timedelta(days=5), "ids": ids["reminded"]})
        conn.execute(text("UPDATE qualifications SET valid_until = :day WHERE application_id = ANY(:ids)"),
                     {"day": today - timedelta(days=1), "ids": ids["expired"]})
        conn.execute(text("UPDATE applications SET claimed_at = claimed_at - interval '2 hours' "
                          "WHERE id = ANY(:ids)"), {"ids": ids["lapsed"]})
    with anyio.fail_after(300):
        runs = await asyncio.gather(*(anyio.run_process(
            [str(MTB), "jobs", "run"], cwd=ROOT, check=False, env=topology.command_env()) for _ in range(3)))
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr.decode()[-500:] for r in runs]

    async def jobs_ran_since(url: str) -> bool:
        async with httpx.AsyncClient(timeout=10) as c:
            metrics = (await c.get(f"{url}/metrics")).text
        line = next(x for x in metrics.splitlines() if x.startswith("mtb_jobs_last_run_timestamp_seconds"))
        return float(line.split()[1]) > set_up_at

    deadline = time.monotonic() + 60
    while not all([await jobs_ran_since(u) for u in topology.mtb_urls]):  # each process ran them since
        assert time.monotonic() < deadline, "the schedulers did not run"
        await asyncio.sleep(1)

    def per_filing(table: str, column: str, condition: str, key: str) -> list[int]:
        """For each filing of `key`: how many rows of `table` belong to it (`x` is the table)."""
        sql = (f"SELECT count(x.{column}) FROM qualifications q LEFT JOIN {table} x ON {condition} "
               "WHERE q.application_id = ANY(:ids) GROUP BY q.application_id")
        with db.connect() as conn:
            return sorted(conn.execute(text(sql), {"ids": ids[key]}).scalars())

    messages = ("x.person_id = q.person_id AND "
                "x.kind IN ('qualification_expiring', 'qualification_expired')")
    reminders = per_filing("reminders_sent", "sent_at", "x.qualification_id = q.id", "reminded")
    reminded = per_filing("qualification_events", "created_at",
                          "x.qualification_id = q.id AND x.action = 'reminded'", "reminded")
    expired = per_filing("qualification_events", "created_at",
                         "x.qualification_id = q.id AND x.action = 'expired'", "expired")
    told = (per_filing("notifications", "created_at", messages, "reminded")
            + per_filing("notifications", "created_at", messages, "expired"))
    with db.connect() as conn:
        lapsed = sorted(conn.execute(text(
            "SELECT count(e.created_at) FROM applications a LEFT JOIN application_events e "
            "ON e.application_id = a.id AND e.action = 'claim_lapsed' WHERE a.id = ANY(:ids) GROUP BY a.id"),
            {"ids": ids["lapsed"]}).scalars())
    assert reminders == [3, 3, 3]  # the thresholds of 60, 30 and 7 days, each once
    assert (reminded, expired, told, lapsed) == ([1, 1, 1], [1, 1, 1], [1] * 6, [1, 1, 1])


# --- one process killed in a burst ------------------------------------------------------------------

@dataclass
class Journey:
    credentials: dict[str, str]
    index: int
    app_id: str | None = None
    uploads: dict[str, str] = field(default_factory=dict)  # material id -> sha256, answered 201
    submitted: bool = False  # answered 200
    submit_sent: bool = False
    failures: list[str] = field(default_factory=list)  # non-2xx answers and broken connections


async def journey(client: httpx.AsyncClient, j: Journey) -> None:
    """Login, create, two uploads, submit; stop at the first failure."""
    try:
        r = await client.post("/api/v1/auth/real-name", json=j.credentials)
        if r.status_code != 200:
            j.failures.append(f"login {r.status_code}")
            return
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post("/api/v1/applications", json=BEIJING_SELF, headers=headers)
        if r.status_code != 201:
            j.failures.append(f"create {r.status_code}")
            return
        j.app_id = r.json()["id"]
        for kind, name, content, mime in materials(100 + j.index):
            r = await client.post(f"/api/v1/applications/{j.app_id}/materials", headers=headers,
                                  data={"kind": kind}, files={"file": (name, content, mime)})
            if r.status_code != 201:
                j.failures.append(f"upload {r.status_code}")
                return
            j.uploads[r.json()["id"]] = hashlib.sha256(content).hexdigest()
        j.submit_sent = True
        r = await client.post(f"/api/v1/applications/{j.app_id}/submit",
                              headers=headers | {"Idempotency-Key": j.app_id})
        if r.status_code != 200:
            j.failures.append(f"submit {r.status_code}")
            return
        j.submitted = True
    except httpx.TransportError as exc:
        j.failures.append(type(exc).__name__)


async def test_a_killed_process_loses_nothing_acknowledged(topology: Topology, people: People,
                                                          db: Engine) -> None:
    """80 journeys, 12 at a time, through nginx; once 15 submissions are acknowledged, SIGKILL the first
    MTB process. Nginx sends the rest to the other one. Afterwards (the killed process revived): every
    acknowledged upload and submission is in the database and served byte-identical, and a submission
    cut by the kill, sent again with its Idempotency-Key, is answered 200 once."""
    journeys = [Journey(c, i) for i, c in enumerate(people.take(80))]
    victim = int((RUN / "mtb-1.pid").read_text())
    limiter = asyncio.Semaphore(12)
    enough = asyncio.Event()
    killed_at: list[float] = []

    async def one(j: Journey) -> None:
        async with limiter:
            await journey(client, j)
        if sum(x.submitted for x in journeys) >= 15:
            enough.set()

    async def killer() -> None:
        await enough.wait()
        os.kill(victim, signal.SIGKILL)
        killed_at.append(time.monotonic())

    start = time.monotonic()
    async with httpx.AsyncClient(base_url=topology.url, timeout=60,
                                 limits=httpx.Limits(max_connections=24)) as client:
        kill = asyncio.create_task(killer())
        await asyncio.gather(*(one(j) for j in journeys))
        enough.set()
        await kill
    seconds = time.monotonic() - start
    await anyio.run_process(["bash", str(ROOT / "deploy" / "topology.sh"), "revive"], cwd=ROOT)

    acknowledged = [j for j in journeys if j.submitted]
    uploads = {mid: digest for j in journeys for mid, digest in j.uploads.items()}
    with db.connect() as conn:
        statuses = dict(conn.execute(text("SELECT id::text, status FROM applications WHERE id = ANY(:ids)"),
                                     {"ids": [uuid.UUID(j.app_id) for j in journeys if j.app_id]}).all())
        stored = dict(conn.execute(text("SELECT id::text, sha256 FROM materials WHERE id = ANY(:ids)"),
                                   {"ids": [uuid.UUID(m) for m in uploads]}).all())
    retried: Counter[int] = Counter()
    served = 0
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
        for j in journeys:
            if not (j.uploads or j.app_id):
                continue
            headers = await login(client, j.credentials)
            for mid, digest in j.uploads.items():
                r = await client.get(f"/api/v1/applications/{j.app_id}/materials/{mid}/file", headers=headers)
                served += r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest
            if j.submit_sent and not j.submitted and len(j.uploads) == 2:
                r = await client.post(f"/api/v1/applications/{j.app_id}/submit",
                                      headers=headers | {"Idempotency-Key": j.app_id})
                retried[r.status_code] += 1
    failures = Counter(f for j in journeys for f in j.failures)
    figures = {"journeys": len(journeys), "seconds": round(seconds, 1),
               "submissions_200": len(acknowledged), "uploads_201": len(uploads),
               "failures": dict(failures), "submissions_retried": dict(retried),
               "submissions_found": sum(statuses.get(str(j.app_id)) == "submitted" for j in acknowledged),
               "uploads_found": sum(stored.get(m) == d for m, d in uploads.items()), "uploads_served": served}
    print("\ntopology kill test:", ", ".join(f"{k}={v}" for k, v in figures.items()))

    assert killed_at, figures
    assert figures["submissions_found"] == len(acknowledged), figures
    assert figures["uploads_found"] == len(uploads) == served, figures
    assert len(acknowledged) > 15 and len(acknowledged) + sum(failures.values()) == len(journeys), figures
    assert set(retried) <= {200}, figures
    cut = ("502", "RemoteProtocolError", "ReadError", "ConnectError")
    assert all(f.split()[-1] in cut for f in failures), figures
