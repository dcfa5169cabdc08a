"""Faults around MTB under a steady mixed load (issue 22), on the deployment topology started with
`TOPO_FAULTS=1 deploy/topology.sh start` (nginx, two MTB processes, PgBouncer, a private PostgreSQL, S3
through a gate; see deploy/topology.sh). One run injects, one after the other, while the load goes on:

1. PostgreSQL restarted (`pg_ctl restart -m fast`, what `pg_ctlcluster … restart` does);
2. PostgreSQL stopped, held 20 s, started;
3. object storage away for 30 s (the gate in front of moto refuses and cuts connections);
4. the disk of the upload spool full for 15 s (a tmpfs mounted over the spool, then filled; root only);
5. slow and broken clients for 20 s: 200 connections sending a body at 1 byte/s (150 through nginx, 50
   straight to an MTB process) and uploads cut halfway (through nginx and straight to MTB);
6. one MTB process frozen (SIGSTOP) for 30 s, while three review claims lapse.

The load (`Load`): two people at a time log in, start an application, upload two files and submit it (each
step once; what failed is left, and submissions cut are sent again at the end with their Idempotency-Key);
two readers poll status and full reads of known applications and download their files; a hospital checks
eligibility; a reviewer claims and decides what the queue shows. Every answer is kept with its time.

Asserted, over the whole run: no answer is a 500; every submission answered 200 is submitted (or further)
afterwards and every upload answered 201 is served with its hash; a submission cut by a fault and sent
again with its key is answered 200; no spooled file is left; `mtb doctor` is clean; both processes are
ready again; readiness said not-ready while PostgreSQL was stopped; every 503 and 507 carried Retry-After;
the lapsed claims were released once each, while their process was frozen, by the other one. Recovery
times (from the fault's end to the last failed answer, and to both processes ready) are printed and
written to var/faults/report.md, not asserted: no timing assertion in a test.

Runs only when MTB_TOPOLOGY_URL is set and the topology was started with TOPO_FAULTS=1 (`.ci/run` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from mtb.identity import idnumber
from tests.applications.helpers import BEIJING_SELF
from tests.disk import fill, tmpfs
from tests.topology.test_topology import MTB, ROOT, RUN, Topology, materials, staff_login, topology_env

pytestmark = pytest.mark.skipif(
    not os.environ.get("MTB_TOPOLOGY_URL") or not (RUN / "topology.env").exists()
    or topology_env().get("MTB_TOPOLOGY_FAULTS") != "1",
    reason="no fault topology: TOPO_FAULTS=1 deploy/topology.sh start, then set MTB_TOPOLOGY_URL")

CLIENT_TIMEOUT = 15.0  # what a client waits before it gives up ("no answer")
SCRIPT = ROOT / "deploy" / "topology.sh"
REPORT = ROOT / "var" / "faults" / "report.md"
NO_ANSWER, CUT = "no answer", "cut"


# --- the load ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    at: float  # monotonic time the answer (or the failure) arrived
    kind: str  # login, create, upload, submit, status, read, download, eligibility, queue, claim, decide
    status: int | str  # HTTP status, NO_ANSWER or CUT
    code: str = ""  # the error code of a JSON refusal
    retry_after: bool = False


@dataclass
class Journey:
    credentials: dict[str, str]
    index: int
    headers: dict[str, str] = field(default_factory=dict)
    app_id: str | None = None
    uploads: dict[str, str] = field(default_factory=dict)  # material id -> sha256, answered 201
    submit_sent: bool = False
    submitted: bool = False  # answered 200
    upload_unanswered: bool = False  # an upload got no answer: it may or may not have been stored


@dataclass
class Load:
    url: str
    people: list[dict[str, str]]
    hospital_key: str
    answers: list[Answer] = field(default_factory=list)
    journeys: list[Journey] = field(default_factory=list)
    decided: set[str] = field(default_factory=set)
    skip_review: set[str] = field(default_factory=set)  # claims the freeze test leaves to lapse

    async def send(self, client: httpx.AsyncClient, kind: str, method: str, url: str,
                   **kwargs: object) -> httpx.Response | None:
        try:
            r = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            self.answers.append(Answer(time.monotonic(), kind, NO_ANSWER))
            return None
        except httpx.TransportError:
            self.answers.append(Answer(time.monotonic(), kind, CUT))
            return None
        code = ""
        if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
            code = str(r.json().get("error", ""))
        self.answers.append(Answer(time.monotonic(), kind, r.status_code, code, "retry-after" in r.headers))
        return r

    async def submitter(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                if len(self.journeys) >= len(self.people):  # each journey needs a person of its own
                    await asyncio.sleep(0.5)
                    continue
                j = Journey(self.people[len(self.journeys)], len(self.journeys))
                self.journeys.append(j)
                if not await self.journey(client, j):
                    await asyncio.sleep(0.5)  # a client backs off after a failure

    async def journey(self, client: httpx.AsyncClient, j: Journey) -> bool:
        r = await self.send(client, "login", "POST", "/api/v1/auth/real-name", json=j.credentials)
        if r is None or r.status_code != 200:
            return False
        j.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await self.send(client, "create", "POST", "/api/v1/applications", json=BEIJING_SELF, headers=j.headers)
        if r is None or r.status_code != 201:
            return False
        j.app_id = r.json()["id"]
        for kind, name, content, mime in materials(1000 + j.index):
            r = await self.send(client, "upload", "POST", f"/api/v1/applications/{j.app_id}/materials",
                                headers=j.headers, data={"kind": kind}, files={"file": (name, content, mime)})
            if r is None or r.status_code != 201:
                j.upload_unanswered = r is None
                return False
            j.uploads[r.json()["id"]] = hashlib.sha256(content).hexdigest()
        j.submit_sent = True
        r = await self.send(client, "submit", "POST", f"/api/v1/applications/{j.app_id}/submit",
                            headers=j.headers | {"Idempotency-Key": j.app_id})
        j.submitted = r is not None and r.status_code == 200
        return j.submitted

    async def reader(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=CLIENT_TIMEOUT) as client:
            n = 0
            while not stop.is_set():
                known = [j for j in self.journeys[-60:] if j.app_id]
                if not known:
                    await asyncio.sleep(0.2)
                    continue
                j, n = random.choice(known), n + 1
                if n % 9 == 0 and j.uploads:
                    mid = random.choice(list(j.uploads))
                    await self.send(client, "download", "GET",
                                    f"/api/v1/applications/{j.app_id}/materials/{mid}/file", headers=j.headers)
                elif n % 2:
                    await self.send(client, "status", "GET", f"/api/v1/applications/{j.app_id}/status",
                                    headers=j.headers)
                else:
                    await self.send(client, "read", "GET", f"/api/v1/applications/{j.app_id}", headers=j.headers)
                await asyncio.sleep(0.03)

    async def hospital(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                person = random.choice(self.people)
                await self.send(client, "eligibility", "GET", "/api/v1/eligibility",
                                headers={"X-Api-Key": self.hospital_key},
                                params={"id_number": person["id_number"], "disease_code": "BJ-TUMOR-CHEMO",
                                        "hospital_code": "BJ-EX-0001"})
                await asyncio.sleep(0.1)

    async def reviewer(self, stop: asyncio.Event, staff: list[dict[str, str]]) -> None:
        """Claim and approve what the queue shows as submitted (a second reviewer for the second stage)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                await asyncio.sleep(0.3)
                r = await self.send(client, "queue", "GET", "/api/v1/review/queue", headers=staff[0],
                                    params={"limit": 50})
                if r is None or r.status_code != 200:
                    continue
                todo = [i["id"] for i in r.json()["items"] if i["status"] == "submitted"
                        and i["id"] not in self.decided and i["id"] not in self.skip_review]
                if not todo:
                    continue
                app_id = todo[0]
                self.decided.add(app_id)
                for headers in staff:
                    r = await self.send(client, "claim", "POST", f"/api/v1/review/applications/{app_id}/claim",
                                        headers=headers)
                    if r is None or r.status_code != 200:
                        break
                    r = await self.send(client, "decide", "POST",
                                        f"/api/v1/review/applications/{app_id}/decision", headers=headers,
                                        json={"outcome": "approve", "reasons": [], "note": "faults"})
                    if r is None or r.status_code != 200 or r.json()["status"] == "approved":
                        break


@dataclass
class Readiness:
    """Each MTB process's readiness, polled directly (as a load balancer that checks it would)."""

    urls: list[str]
    seen: list[tuple[float, int, bool]] = field(default_factory=list)  # time, process, ready

    async def watch(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while not stop.is_set():
                for i, url in enumerate(self.urls):
                    try:
                        ok = (await client.get(f"{url}/api/v1/health/ready")).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.seen.append((time.monotonic(), i, ok))
                await asyncio.sleep(0.25)

    def not_ready_between(self, start: float, end: float) -> bool:
        return any(not ok for t, _i, ok in self.seen if start <= t <= end)

    def all_ready_after(self, start: float, end: float) -> float | None:
        """Seconds from `start` until every process answered ready and stayed so until `end`; None if not."""
        seen = [(t, ok) for t, _i, ok in self.seen if start <= t <= end]
        last_bad = max((t for t, ok in seen if not ok), default=None)
        good = [t for t, ok in seen if ok and (last_bad is None or t > last_bad)]
        return (min(good) - start) if good else None


# --- faults -----------------------------------------------------------------------------------------

@dataclass
class Fault:
    name: str
    started: float = 0.0
    restored: float = 0.0
    ended: float = 0.0
    started_wall: datetime | None = None
    restored_wall: datetime | None = None
    notes: dict[str, object] = field(default_factory=dict)


async def sh(*args: str) -> None:
    done = await asyncio.to_thread(subprocess.run, list(args), capture_output=True, text=True, check=False)
    assert done.returncode == 0, (args, done.stdout[-500:], done.stderr[-1000:])


async def inject(fault: Fault, begin: Callable[[], Awaitable[None]], hold: float,
                 end: Callable[[], Awaitable[None]], observe: float) -> Fault:
    fault.started, fault.started_wall = time.monotonic(), datetime.now(UTC)
    await begin()
    await asyncio.sleep(hold)
    await end()
    fault.restored, fault.restored_wall = time.monotonic(), datetime.now(UTC)
    await asyncio.sleep(observe)
    fault.ended = time.monotonic()
    return fault


def pid_of(part: str) -> int:
    return int((RUN / f"{part}.pid").read_text().split()[0])


@contextlib.contextmanager
def spool_tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A small filesystem mounted over `path` (root only); yields whether it is mounted."""
    with tmpfs(path, size) as not_mounted:
        yield not_mounted is None


async def slow_clients(nginx: str, mtb: str, seconds: float, counts: Counter[str]) -> None:
    """150 connections to nginx and 50 to an MTB process sending a body at 1 byte/s, and 20 uploads cut
    halfway (half through nginx), for `seconds`."""
    def host_port(url: str) -> tuple[str, int]:
        host, port = url.removeprefix("http://").split(":")
        return host, int(port)

    async def slowloris(url: str) -> None:
        try:
            _reader, writer = await asyncio.open_connection(*host_port(url))
        except OSError:
            counts["slow refused"] += 1
            return
        try:
            writer.write(b"POST /api/v1/auth/real-name HTTP/1.1\r\nHost: faults\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n")
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(1)
            counts["slow held"] += 1
        except OSError:
            counts["slow cut by server"] += 1
        finally:
            writer.transport.abort()

    async def cut_upload(url: str, i: int) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ndiagnosis_certificate\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"\r\n"
                "Content-Type: application/pdf\r\n\r\n").encode() + os.urandom(400_000)
        try:
            _reader, writer = await asyncio.open_connection(*host_port(url))
            writer.write(f"POST /api/v1/applications/{uuid.uuid4()}/materials HTTP/1.1\r\nHost: faults\r\n"
                         f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                         f"Content-Length: {len(body) + 100}\r\n\r\n".encode())
            writer.write(body[:len(body) // 2 + i])
            await writer.drain()
            await asyncio.sleep(1 + i % 3)
            writer.transport.abort()
            counts["uploads cut"] += 1
        except OSError:
            counts["cut upload refused"] += 1

    await asyncio.gather(*(slowloris(nginx) for _ in range(150)), *(slowloris(mtb) for _ in range(50)),
                         *(cut_upload(nginx if i % 2 else mtb, i) for i in range(20)))


async def claimed_application(client: httpx.AsyncClient, load: Load, person: dict[str, str], i: int,
                              reviewer: dict[str, str]) -> str:
    """Submitted and claimed by `reviewer`; the load's reviewer leaves it alone."""
    r = await client.post("/api/v1/auth/real-name", json=person)
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post("/api/v1/applications", json=BEIJING_SELF, headers=headers)
    assert r.status_code == 201, r.text
    app_id = str(r.json()["id"])
    load.skip_review.add(app_id)
    for kind, name, content, mime in materials(i):
        r = await client.post(f"/api/v1/applications/{app_id}/materials", headers=headers, data={"kind": kind},
                              files={"file": (name, content, mime)})
        assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/applications/{app_id}/submit", headers=headers | {"Idempotency-Key": app_id})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/review/applications/{app_id}/claim", headers=reviewer)
    assert r.status_code == 200, r.text
    return app_id


def release_lapse(db: Engine, app_ids: list[str]) -> None:
    with db.begin() as conn:
        conn.execute(text("UPDATE applications SET claimed_at = claimed_at - interval '2 hours' WHERE id = ANY(:ids)"),
                     {"ids": [uuid.UUID(a) for a in app_ids]})


# --- the run ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def topology() -> Topology:
    values = topology_env()
    return Topology(os.environ["MTB_TOPOLOGY_URL"], values["MTB_TOPOLOGY_DATABASE_URL"],
                    values["MTB_TOPOLOGY_MTB_URLS"].split(), values)


@pytest.fixture(scope="module")
def db(topology: Topology) -> Iterator[Engine]:
    engine = create_engine(topology.database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


def import_people(topology: Topology, tmp: Path, n: int) -> list[dict[str, str]]:
    # An ID number has 3 digits of sequence per birth date: 1000 people per day, on consecutive days (never
    # 1 January).
    first = date(1940, 1, 2) + timedelta(days=random.randrange(20000))
    days: list[date] = []
    day = first
    while len(days) * 1000 < n:
        if not (day.month == 1 and day.day == 1):
            days.append(day)
        day += timedelta(days=1)
    run = random.randrange(10**6)
    rows = [{"name": "故障测试",
             "id_number": idnumber.with_check_digit(f"110105{days[i // 1000]:%Y%m%d}{i % 1000:03d}"),
             "card_number": f"FT{run:06d}{i:04d}"} for i in range(n)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "id_number", "card_number", "insurance_type", "region_code"])
    writer.writerows([r["name"], r["id_number"], r["card_number"], "employee", "110000"] for r in rows)
    path = tmp / "people.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    topology.cli("insured", "import", str(path))
    return rows


def window(answers: list[Answer], fault: Fault) -> list[Answer]:
    return [a for a in answers if fault.started <= a.at <= fault.ended]


def failed(a: Answer) -> bool:
    return isinstance(a.status, str) or a.status >= 500


def row(fault: Fault, answers: list[Answer], readiness: Readiness) -> dict[str, object]:
    seen = window(answers, fault)
    statuses = Counter("2xx" if isinstance(a.status, int) and a.status < 300 else
                       "4xx" if isinstance(a.status, int) and a.status < 500 else str(a.status) for a in seen)
    codes = Counter(f"{a.status} {a.code}".strip() for a in seen if failed(a) or a.code)
    by_kind = Counter(f"{a.kind} {a.status}" for a in seen if failed(a))
    last_failure = max((a.at for a in seen if failed(a)), default=None)
    ready = readiness.all_ready_after(fault.restored, fault.ended)
    return {"fault": fault.name, "answers": len(seen), "2xx": statuses["2xx"], "4xx": statuses["4xx"],
            "500": statuses["500"], "502": statuses["502"], "503": statuses["503"], "504": statuses["504"],
            "507": statuses["507"], NO_ANSWER: statuses[NO_ANSWER], CUT: statuses[CUT],
            "recovery_s": round(max(0.0, last_failure - fault.restored), 1) if last_failure else 0.0,
            "ready_s": None if ready is None else round(ready, 1),
            "not_ready_seen": readiness.not_ready_between(fault.started, fault.restored + 1),
            "codes": dict(codes), "failed_by_kind": dict(by_kind), **fault.notes}


def write_report(rows: list[dict[str, object]], totals: dict[str, object]) -> str:
    columns = ["fault", "answers", "2xx", "4xx", "500", "502", "503", "504", "507", NO_ANSWER, CUT,
               "recovery_s", "ready_s", "not_ready_seen"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    lines += ["", "Error codes per fault:", ""]
    lines += [f"- {r['fault']}: {r['codes']}; failed by kind: {r['failed_by_kind']}" for r in rows]
    lines += ["", "Totals: " + ", ".join(f"{k}={v}" for k, v in totals.items())]
    report = "\n".join(lines) + "\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report, encoding="utf-8")
    return report


async def test_faults_under_load(topology: Topology, db: Engine, tmp_path: Path) -> None:
    people = import_people(topology, tmp_path, 3000)
    key = topology.cli("hospital-key", "create", "BJ-EX-0001").strip().split()[-1]
    spool = RUN / "files" / "tmp"
    with spool_tmpfs(spool, "64m") as spool_mounted:
        # The last three are kept out of the load: their applications are claimed and left to lapse below
        # (a fast run's load once reached them, and one already had an application).
        load = Load(topology.url, people[:-3], key)
        readiness = Readiness(topology.mtb_urls)
        faults: list[Fault] = []
        slow_counts: Counter[str] = Counter()
        lapsing: list[str] = []
        async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
            staff = [await staff_login(client, "bj_admin"), await staff_login(client, "bj_reviewer")]
        stop = asyncio.Event()
        workers = [asyncio.create_task(w) for w in (
            load.submitter(stop), load.submitter(stop), load.reader(stop), load.reader(stop),
            load.hospital(stop), load.reviewer(stop, staff), readiness.watch(stop))]
        started = time.monotonic()
        try:
            await asyncio.sleep(8)  # steady state first

            async def nothing() -> None:
                return None

            faults.append(await inject(Fault("PostgreSQL restart"), lambda: sh(str(SCRIPT), "postgres", "restart"),
                                       0, nothing, 15))
            faults.append(await inject(Fault("PostgreSQL stopped 20 s"), lambda: sh(str(SCRIPT), "postgres", "stop"),
                                       20, lambda: sh(str(SCRIPT), "postgres", "start"), 15))

            async def gate(sig: signal.Signals) -> None:
                os.kill(pid_of("s3gate"), sig)

            faults.append(await inject(Fault("object storage away 30 s"), lambda: gate(signal.SIGUSR1), 30,
                                       lambda: gate(signal.SIGUSR2), 10))
            if spool_mounted:
                fillers: list[Path] = []

                async def fill_spool() -> None:
                    fillers.append(await asyncio.to_thread(fill, spool))

                async def free_spool() -> None:
                    fillers.pop().unlink()

                faults.append(await inject(Fault("upload spool disk full 15 s"), fill_spool, 15, free_spool, 10))

            slow = asyncio.Event()

            async def start_slow() -> None:
                slow.set()

            async def slow_task() -> None:
                await slow.wait()
                await slow_clients(topology.url, topology.mtb_urls[1], 20, slow_counts)

            slow_clients_done = asyncio.create_task(slow_task())

            async def until_slow_done() -> None:
                await slow_clients_done

            faults.append(await inject(Fault("slow and cut clients 20 s"), start_slow, 0, until_slow_done, 5))
            faults[-1].notes["slow_clients"] = dict(slow_counts)

            # Three applications claimed by bj_reviewer, left to lapse while the first process is frozen.
            async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
                for i, person in enumerate(people[-3:]):
                    app_id = await claimed_application(client, load, person, 9000 + i, staff[1])
                    lapsing.append(app_id)
            victim = pid_of("mtb-1")

            async def freeze() -> None:
                os.kill(victim, signal.SIGSTOP)
                await asyncio.to_thread(release_lapse, db, lapsing)  # lapsed now: the jobs release them

            async def thaw() -> None:
                os.kill(victim, signal.SIGCONT)

            faults.append(await inject(Fault("one MTB process frozen 30 s"), freeze, 30, thaw, 10))
        finally:
            stop.set()
            os.kill(pid_of("mtb-1"), signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                os.kill(pid_of("s3gate"), signal.SIGUSR2)
            await asyncio.gather(*workers, return_exceptions=True)
        seconds = time.monotonic() - started
        leftovers = sorted(p.name for p in spool.glob("up-*"))

    # Submissions cut by a fault, sent again with their Idempotency-Key.
    resent: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as client:
        for j in load.journeys:
            if j.submit_sent and not j.submitted and j.app_id and len(j.uploads) == 2:
                r = await client.post(f"/api/v1/applications/{j.app_id}/submit",
                                      headers=j.headers | {"Idempotency-Key": j.app_id})
                resent[r.status_code] += 1

        # Every acknowledged upload served with its hash, through nginx.
        uploads = [(j, mid, digest) for j in load.journeys for mid, digest in j.uploads.items()]
        limiter = asyncio.Semaphore(8)

        async def served(j: Journey, mid: str, digest: str) -> bool:
            async with limiter:
                r = await client.get(f"/api/v1/applications/{j.app_id}/materials/{mid}/file", headers=j.headers)
            return r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest

        served_ok = sum(await asyncio.gather(*(served(*u) for u in uploads)))
        ready_at_end = [(await client.get(f"{u}/api/v1/health/ready")).status_code for u in topology.mtb_urls]

    acknowledged = [j for j in load.journeys if j.submitted]
    with db.connect() as conn:
        statuses = dict(conn.execute(text("SELECT id::text, status FROM applications WHERE id = ANY(:ids)"),
                                     {"ids": [uuid.UUID(j.app_id) for j in load.journeys if j.app_id]}).all())
        material_rows = dict(conn.execute(text("SELECT application_id::text, count(*) FROM materials "
                                      "WHERE application_id = ANY(:ids) GROUP BY application_id"),
                                          {"ids": [uuid.UUID(j.app_id) for j in load.journeys if j.app_id]}).all())
        lapsed = conn.execute(text(
            "SELECT a.id::text, count(e.created_at), min(e.created_at) FROM applications a "
            "LEFT JOIN application_events e ON e.application_id = a.id AND e.action = 'claim_lapsed' "
            "WHERE a.id = ANY(:ids) GROUP BY a.id"), {"ids": [uuid.UUID(a) for a in lapsing]}).all()
    doctor = await asyncio.to_thread(subprocess.run, [str(MTB), "doctor"], capture_output=True, text=True,
                                     cwd=ROOT, env=topology.command_env(), check=False)

    table = [row(f, load.answers, readiness) for f in faults]
    all_statuses = Counter(a.status for a in load.answers)
    lost_submissions = sum(statuses.get(str(j.app_id)) in (None, "draft") for j in acknowledged)
    totals = {"seconds": round(seconds), "answers": len(load.answers), "500": all_statuses[500],
              "journeys": len(load.journeys), "submissions_200": len(acknowledged),
              "submissions_lost": lost_submissions, "uploads_201": len(uploads), "uploads_served": served_ok,
              "resent_submissions": dict(resent), "spool_leftovers": len(leftovers),
              "doctor_exit": doctor.returncode, "slow_clients": dict(slow_counts)}
    print("\n" + write_report(table, totals))
    by_name = {r["fault"]: r for r in table}

    assert all_statuses[500] == 0, [r["codes"] for r in table]
    assert lost_submissions == 0, totals
    assert served_ok == len(uploads), totals
    # An upload refused (503, 507) left no row: each application has the materials answered 201, no more.
    extra_rows = [j.app_id for j in load.journeys if j.app_id and not j.upload_unanswered
                  and material_rows.get(j.app_id, 0) != len(j.uploads)]
    assert extra_rows == [], extra_rows
    assert set(resent) <= {200}, totals
    assert leftovers == [], leftovers
    assert doctor.returncode == 0, doctor.stdout[-2000:] + doctor.stderr[-2000:]
    assert ready_at_end == [200, 200]
    assert by_name["PostgreSQL stopped 20 s"]["not_ready_seen"], by_name["PostgreSQL stopped 20 s"]
    unanswerable = [a for a in load.answers if a.status in (503, 507) and not a.retry_after]
    assert unanswerable == [], Counter((a.kind, a.status, a.code) for a in unanswerable)
    storage = by_name["object storage away 30 s"]["codes"]
    assert all(c.endswith("storage_unavailable") for c in storage if c.startswith("503")), storage
    if spool_mounted:
        assert "507 disk_full" in by_name["upload spool disk full 15 s"]["codes"], by_name
    assert len(lapsing) == 3
    frozen = next(f for f in faults if f.name.startswith("one MTB process frozen"))
    assert frozen.restored_wall is not None
    for app_id, count, first in lapsed:
        assert count == 1, (app_id, count)
        assert first <= frozen.restored_wall, (app_id, first, frozen.restored_wall)  # by the other process
    assert len(acknowledged) > 20, totals
