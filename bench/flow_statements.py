"""SQL statements and CPU per submission flow, in-process (issue 18, item 8).

    PYTHONPATH=$PWD/src:$PWD .venv/bin/python bench/flow_statements.py [--url URL] [--flows 300] [--show]

A flow is the benchmark's (f) in bench/run.py: an insured person, already logged in, creates an
application, uploads two 200 KB PDFs and submits. Here the app is called in-process (httpx's ASGI
transport, multipart bodies encoded once), one flow at a time, against a database made for the run: a
fresh SQLite file (default) or the PostgreSQL database of `--url`, whose public schema is DROPPED and
migrated anew (never point it at data you keep).

1. Statements: every statement the app's engines send (the request's sessions and the counters' pool),
   counted by SQLAlchemy's `before_cursor_execute` on the sync engines, so those that sqlite_loop.py runs
   on the event loop's thread count alike; transactions by the `begin`, `commit` and `rollback` events
   (on SQLite BEGIN is the driver's implicit one, before a transaction's first write); on PostgreSQL the
   pool's pre-ping at each checkout. By request, averaged over `--count-flows` flows; `--show` prints the
   statements of the last one.
2. CPU: `time.process_time()` of this process (app and client together) per flow, and per request, over
   `--flows` flows after `--warmup` flows, with the counting listeners removed; on PostgreSQL also the CPU of the
   database's server processes serving this run's connections (read from /proc: the server must run on
   this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen
import rawhttp
from load import fake_pdf, load_reference_catalogs, reset

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("create", "upload 1", "upload 2", "submit")
KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "other", "BEGIN", "COMMIT", "ROLLBACK", "PING")
_VERB = re.compile(r"\s*(?:/\*.*?\*/\s*)*(\w+)", re.DOTALL)


class StatementLog:
    """What the app's engines send, filed under the step being run (`step`)."""

    def __init__(self) -> None:
        self.step = "setup"
        self.cpu: Counter[str] = Counter()  # process CPU seconds by step (timed flows only)
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.texts: dict[str, list[str]] = defaultdict(list)
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = []
        self._pings: list[tuple[Any, Callable[..., Any]]] = []

    def enter(self, step: str) -> None:
        """Start `step`, charging the CPU used since the last step began to that one."""
        now = time.process_time()
        self.cpu[self.step] += now - self._since
        self.step, self._since = step, now

    _since = 0.0

    def clear(self) -> None:
        self.counts.clear()
        self.texts.clear()

    def note(self, kind: str, statement: str) -> None:
        self.counts[self.step][kind] += 1
        self.texts[self.step].append(statement)

    def attach(self, engine: AsyncEngine, name: str) -> None:
        sync = engine.sync_engine

        def statement(_conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, many: bool) -> None:
            verb = (m.group(1).upper() if (m := _VERB.match(sql)) else "")
            kind = verb if verb in KINDS else ("SELECT" if verb == "WITH" else "other")
            self.note(kind, f"[{name}] {' '.join(sql.split())}{' (executemany)' if many else ''}")

        def transaction(kind: str) -> Callable[..., None]:
            return lambda *_args: self.note(kind, f"[{name}] {kind}")

        for ev, fn in (("before_cursor_execute", statement), ("begin", transaction("BEGIN")),
                       ("commit", transaction("COMMIT")), ("rollback", transaction("ROLLBACK"))):
            event.listen(sync, ev, fn)
            self._listeners.append((sync, ev, fn))
        dialect = sync.dialect
        ping = dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.note("PING", f"[{name}] pre-ping")
            return bool(ping(dbapi_connection))

        dialect.do_ping = counted_ping  # type: ignore[method-assign]
        self._pings.append((dialect, ping))

    def detach(self) -> None:
        for target, ev, fn in self._listeners:
            event.remove(target, ev, fn)
        for dialect, ping in self._pings:
            dialect.do_ping = ping  # type: ignore[method-assign]
        self._listeners.clear()
        self._pings.clear()


def statements(counts: Counter[str]) -> int:
    """Statements proper (reads and writes), without the transactions' BEGIN/COMMIT/ROLLBACK and pings."""
    return sum(counts[k] for k in ("SELECT", "INSERT", "UPDATE", "DELETE", "other"))


class Flows:
    """The app in-process, people to log in, and one flow (create, two uploads, submit) at a time."""

    def __init__(self, app: Any, log: StatementLog, catalog: gen.RegionCatalog) -> None:
        self.app, self.log, self.cat = app, log, catalog
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://mtb.bench", timeout=60)
        self.uploads = []
        for n, kind in enumerate(catalog.material_kinds[:2]):
            fields = {"kind": kind, **({"physician_title": "chief"} if kind == "diagnosis_certificate" else {})}
            self.uploads.append(rawhttp.multipart(fields, "file", f"{kind}.pdf", "application/pdf",
                                                  fake_pdf(200 * 1024, f"flow-{n}".encode())))

    async def login(self, i: int) -> dict[str, str]:
        number = gen.id_number(i)
        r = await self.client.post("/api/v1/auth/real-name", json={
            "name": gen.name_of(i), "id_number": number, "card_number": gen.card_of(number)})
        if r.status_code != 200:
            raise RuntimeError(f"login of person {i}: {r.status_code} {r.text[:300]}")
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def flow(self, i: int, headers: dict[str, str]) -> None:
        cat = self.cat
        self.log.enter("create")
        r = await self.client.post("/api/v1/applications", headers=headers, json={
            "region_code": gen.BEIJING, "disease_code": cat.diseases[i % len(cat.diseases)],
            "hospital_code": cat.hospitals[i % len(cat.hospitals)], "channel": cat.channels[0]})
        if r.status_code != 201:
            raise RuntimeError(f"create: {r.status_code} {r.text[:300]}")
        app_id = r.json()["id"]
        for n, (content_type, body) in enumerate(self.uploads, start=1):
            self.log.enter(f"upload {n}")
            r = await self.client.post(f"/api/v1/applications/{app_id}/materials", content=body,
                                       headers={**headers, "Content-Type": content_type})
            if r.status_code != 201:
                raise RuntimeError(f"upload {n}: {r.status_code} {r.text[:300]}")
        self.log.enter("submit")
        r = await self.client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"submit: {r.status_code} {r.text[:300]}")
        self.log.enter("after")


def beijing_people(count: int) -> list[int]:
    out, i = [], 0
    while len(out) < count:
        if gen.region_of(i) == gen.BEIJING:
            out.append(i)
        i += 1
    return out


async def prepare(url: str, people: list[int]) -> None:
    """The reference catalogs and the people (the database is migrated already)."""
    from sqlalchemy import insert

    from mtb.db.engine import create_engine, create_sessionmaker
    from mtb.identity.models import InsuredPerson
    from mtb.settings import get_settings

    await load_reference_catalogs(url)
    engine = create_engine(url)
    rows = [r for i in people for r in gen.person_rows(i, i + 1, get_settings().data_key)]
    async with create_sessionmaker(engine)() as s, s.begin():
        await s.execute(insert(InsuredPerson), rows)
    await engine.dispose()


def _pid_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(url: str) -> float:
    """CPU of the PostgreSQL server processes of this database's other connections (this run's pools)."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return sum(_pid_cpu_seconds(p) for p in pids)


def table(log: StatementLog, flows: int) -> str:
    lines = ["| request | statements | " + " | ".join(KINDS) + " |",
             "|---|---:|" + "---:|" * len(KINDS)]
    total: Counter[str] = Counter()
    for step in STEPS:
        c = log.counts[step]
        total.update(c)
        lines.append(f"| {step} | {statements(c) / flows:g} | "
                     + " | ".join(f"{c[k] / flows:g}" for k in KINDS) + " |")
    lines.append(f"| **flow** | **{statements(total) / flows:g}** | "
                 + " | ".join(f"{total[k] / flows:g}" for k in KINDS) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace, url: str) -> None:
    from mtb.app import create_app
    from mtb.settings import get_settings

    needed = args.warmup + args.count_flows + args.flows
    people = beijing_people(needed)
    await prepare(url, people)
    get_settings.cache_clear()
    app = create_app(get_settings())
    log = StatementLog()
    catalog = gen.reference_catalogs(ROOT / "data" / "catalog")[gen.BEIJING]
    flows = Flows(app, log, catalog)
    try:
        tokens = [await flows.login(i) for i in people]
        pairs = list(zip(people, tokens, strict=True))
        warm, counted, timed = (pairs[:args.warmup], pairs[args.warmup:args.warmup + args.count_flows],
                                pairs[args.warmup + args.count_flows:])
        for i, h in warm:
            await flows.flow(i, h)
        log.attach(app.state.engine, "request")
        log.attach(app.state.counters.kw["bind"], "counters")
        for i, h in counted:
            log.texts.clear()  # the last flow's are kept for --show
            await flows.flow(i, h)
        log.detach()
        gc.collect()
        gc.freeze()  # as the server does after start-up (app.py)
        pg = make_url(url).get_backend_name() == "postgresql"
        backend0 = backend_cpu_seconds(url) if pg else 0.0
        log.cpu.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i, h in timed:
            await flows.flow(i, h)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        backend = backend_cpu_seconds(url) - backend0 if pg else None
    finally:
        await flows.client.aclose()
        await app.state.direct.close()
        await app.state.engine.dispose()
        await app.state.counters.kw["bind"].dispose()
    db = make_url(url).get_backend_name()
    print(f"database={db}, flows counted={args.count_flows}, timed={args.flows} (after {args.warmup} warm-up), "
          f"log level={os.environ.get('MTB_LOG_LEVEL')}")
    print(table(log, args.count_flows))
    print(f"\nCPU per flow (this process: app + in-process client): {cpu / args.flows * 1000:.1f} ms; "
          f"wall {wall / args.flows * 1000:.1f} ms"
          + (f"; PostgreSQL server processes: {backend / args.flows * 1000:.1f} ms" if backend is not None else ""))
    print("CPU per request (ms): " + ", ".join(f"{step} {log.cpu[step] / args.flows * 1000:.1f}" for step in STEPS))
    if args.show:
        for step in STEPS:
            print(f"\n## {step} (last flow)")
            for n, sql in enumerate(log.texts[step], start=1):
                print(f"{n:3}. {sql[:args.width]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=None, help="database URL (default: a new SQLite file in a temporary "
                   "directory); PostgreSQL: its public schema is dropped and migrated anew")
    p.add_argument("--flows", type=int, default=300, help="flows timed for CPU")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--count-flows", type=int, default=5, help="flows whose statements are counted")
    p.add_argument("--log-level", default="WARNING", help="MTB_LOG_LEVEL (INFO adds the access log)")
    p.add_argument("--show", action="store_true", help="print the statements of one flow")
    p.add_argument("--width", type=int, default=220, help="characters of each statement --show prints")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mtb-flows-") as tmp:
        url = args.url or f"sqlite+aiosqlite:///{tmp}/flows.sqlite3"
        os.chdir(ROOT)
        os.environ.update({
            "MTB_DATABASE_URL": url, "MTB_STORAGE_PATH": f"{tmp}/files", "MTB_SCHEDULER_ENABLED": "false",
            "MTB_UPLOADS_PER_MINUTE": "100000", "MTB_LOGIN_MAX_FAILURES_PER_CLIENT": "100000",
            "MTB_LOG_LEVEL": args.log_level, "MTB_QUALITY_SAMPLE_RATE": "0"})
        from mtb.db.migrate import upgrade

        reset(url)
        upgrade(url)  # runs its own event loop
        asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
