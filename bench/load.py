"""Bulk-load N synthetic applications into an MTB database through the project's own schema.

    .venv/bin/python bench/load.py --size 100000 --url sqlite+aiosqlite:///var/bench/mtb.sqlite3
    .venv/bin/python bench/load.py --size 100000 \\
        --url postgresql+psycopg://postgres@127.0.0.1/mtb_bench

Steps: drop the old database (SQLite file / PostgreSQL `public` schema), `mtb.db.migrate.upgrade`, note the
freshly migrated schema, load the reference catalogs (`read_catalog_files` + `load_catalogs`), write three
small shared PDF files through `LocalStorage`, check the fast row generator against the reference one on
samples, then load people, applications, events, materials and qualifications:

- `--jobs` worker processes make the rows, chunk by chunk (`--batch` applications each), ready for the
  database: COPY text per table for PostgreSQL, a serialized in-memory SQLite database for SQLite. The
  writer process only writes.
- SQLite: the loaded tables' secondary indexes are dropped, each chunk is attached and copied in with
  INSERT ... SELECT (one transaction; `journal_mode=OFF`, `synchronous=OFF` and a 1 GiB cache for the load
  only), then the indexes are recreated from their own CREATE INDEX text and the file goes back to WAL.
- PostgreSQL: the loaded tables' primary keys, unique constraints, indexes and every foreign key touching
  them are dropped; each table is filled by `COPY ... FROM STDIN (FREEZE)` on its own connection
  (`synchronous_commit=off`); then keys and indexes are rebuilt (indexes from the migrations' own CREATE
  INDEX statements, Alembic offline mode), foreign keys added back (validated).
- ANALYZE; then (unless `--no-verify-schema`) the schema is compared with the freshly migrated one:
  sqlite_master and the journal mode on SQLite; index definitions, constraints (validated or not), index
  flags, columns and table persistence on PostgreSQL. Any difference fails the load.

`load_s` is from the first row to the end of ANALYZE (indexes and foreign keys included).

Prints the time of each phase and rows/s, and writes them as JSON (`--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen

from mtb.catalog.loader import read_catalog_files
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import load_catalogs
from mtb.db.engine import create_engine, is_sqlite
from mtb.db.migrate import upgrade
from mtb.materials.storage import LocalStorage, Received
from mtb.models import Application  # noqa: F401  (registers every table on Base.metadata)
from mtb.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["insured_persons", "applications", "application_events", "materials", "qualifications"]
def fake_pdf(size: int, tag: bytes = b"") -> bytes:
    """A real one-page PDF (reportlab, uncompressed) of about `size` bytes: tiny text drawn until big
    enough, so it passes MTB's PDF inspection (pypdf must parse it)."""
    import io
    import random

    from reportlab.pdfgen import canvas

    rng = random.Random(tag or b"bench")
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0, invariant=1)
    c.setFont("Helvetica", 1)
    line = 0
    while True:
        for _ in range(200):
            c.drawString(10, 10 + (line % 800), "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                                                        for _ in range(90)))
            line += 1
        if line * 135 >= size:
            break
    c.drawString(10, 830, f"MTB benchmark material {tag.decode(errors='ignore')} - synthetic, not a real document")
    c.showPage()
    c.save()
    return buf.getvalue()


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def reset(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(u.database) + suffix).unlink(missing_ok=True)
        Path(str(u.database)).parent.mkdir(parents=True, exist_ok=True)
        return
    engine = create_sync_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


async def load_reference_catalogs(url: str) -> dict[str, int]:
    engine = create_engine(url)
    from mtb.db.engine import create_sessionmaker
    async with create_sessionmaker(engine)() as s, s.begin():
        await load_catalogs(s, read_catalog_files(sorted((ROOT / "data" / "catalog").glob("*.yaml"))))
    async with create_sessionmaker(engine)() as s:
        rows = (await s.execute(select(CatalogVersion.region_code, CatalogVersion.id))).all()
    await engine.dispose()
    return {region: vid for region, vid in rows}


def write_shared_files(storage_root: Path) -> list[tuple[str, int]]:
    """Three small PDFs written once through LocalStorage; every material row points at one of them."""
    storage = LocalStorage(storage_root)
    storage.tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for n, size in enumerate((20_000, 45_000, 80_000)):
        data = fake_pdf(size, f"bench-{n}".encode())
        fd, name = tempfile.mkstemp(dir=storage.tmp, prefix="up-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        sha = hashlib.sha256(data).hexdigest()
        storage.put(Received(Path(name), sha, len(data)))
        out.append((sha, len(data)))
    return out


# --- rows, made in worker processes ------------------------------------------------------------------------
# A worker makes every row of a range of applications (and their people) in the form the writer can hand to
# the database with the least work of its own, so that the writer process only writes:
# - PostgreSQL: each table's rows as COPY text (tab-separated, \\N for NULL, UTF-8), one bytes object per
#   table, nearly free to pickle; the writer passes them to COPY as they are.
# - SQLite: an in-memory database holding the chunk's rows (tables with the target's column types, so values
#   are already converted), serialized (`Connection.serialize`); the writer attaches it and copies each
#   table with one INSERT ... SELECT, SQLite's own loop, nothing per row in Python.

NULL = "\\N"
SQLITE_CHUNK = "sqlite"  # the key of the serialized database in a SQLite chunk
Chunk = dict[str, bytes]


@dataclass(frozen=True)
class Context:
    """What every chunk needs besides its range (sent to each worker once)."""

    catalogs: dict[str, gen.RegionCatalog]
    versions: dict[str, int]
    files: list[tuple[str, int]]
    data_key: str
    # Per table, the columns the chunks carry (a subset of gen.COLUMNS, in its order): all of them for
    # COPY; for SQLite not those in gen.CONSTANT_COLUMNS, which its INSERT ... SELECT spells as literals.
    columns: dict[str, tuple[str, ...]]
    # SQLite only: each table's declared column types (for the chunk's tables: the same type affinity).
    sqlite_types: dict[str, dict[str, str]] | None = None


def sent_columns(sqlite: bool) -> dict[str, tuple[str, ...]]:
    if not sqlite:
        return gen.COLUMNS
    return {name: tuple(c for c in cols if c not in gen.CONSTANT_COLUMNS[name])
            for name, cols in gen.COLUMNS.items()}


_context: Context | None = None


def _init_worker(context: Context) -> None:
    global _context
    _context = context


def _project(name: str, rows: list[gen.Row], columns: tuple[str, ...]) -> Iterable[gen.Row]:
    if columns == gen.COLUMNS[name]:
        return rows
    return map(itemgetter(*[gen.COLUMNS[name].index(c) for c in columns]), rows)


def _copy_text(name: str, rows: list[gen.Row], columns: tuple[str, ...]) -> bytes:
    if not rows:
        return b""
    text_rows = cast(Iterable[tuple[str, ...]], _project(name, rows, columns))  # NULL is the text \\N here
    return ("\n".join(map("\t".join, text_rows)) + "\n").encode()


def _sqlite_chunk(start: int, tables: dict[str, list[gen.Row]], c: Context) -> bytes:
    assert c.sqlite_types is not None
    db = sqlite3.connect(":memory:", isolation_level=None)
    for name in TABLES:
        cols = c.columns[name]
        db.execute(f"CREATE TABLE {name} ({', '.join(f'{col} {c.sqlite_types[name][col]}' for col in cols)})")
    # The writer replaces its attached copy chunk by chunk: a schema cookie of the chunk's own makes SQLite
    # prepare its INSERT ... SELECT statements again for each (they are cached), never reading through
    # the previous chunk's layout.
    db.execute(f"PRAGMA schema_version = {start + 1000}")
    db.execute("BEGIN")
    for name in TABLES:
        cols = c.columns[name]
        db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})",
                       _project(name, tables[name], cols))
    db.execute("COMMIT")
    data = db.serialize()
    db.close()
    return data


def make_chunk(start: int, stop: int, context: Context | None = None) -> Chunk:
    """Every row of applications start..stop-1 and their people: COPY text per table, or for SQLite one
    serialized database (under SQLITE_CHUNK)."""
    c = context or _context
    assert c is not None
    sqlite = c.sqlite_types is not None
    null = None if sqlite else NULL
    tables = {"insured_persons": gen.person_values(start, stop, c.data_key, null),
              **gen.application_values(start, stop, c.catalogs, c.versions, c.files, null)}
    if sqlite:
        return {SQLITE_CHUNK: _sqlite_chunk(start, tables, c)}
    return {name: _copy_text(name, tables[name], c.columns[name]) for name in TABLES}


def check_text_safe(context: Context) -> None:
    """COPY text needs \\, tab, newline and carriage return escaped; the generator writes values as they
    are, so no catalog value it copies may contain one (generated values never do)."""
    values = [sha for sha, _ in context.files]
    for cat in context.catalogs.values():
        values += [cat.region_code, *cat.diseases, *cat.hospitals, *cat.channels, *cat.material_kinds]
    bad = [v for v in values if any(ch in v for ch in "\\\t\n\r")]
    if bad:
        raise SystemExit(f"catalog values that COPY text would need escaped: {bad}")


def _reference_text(v: Any) -> str | None:
    """A value of the dict rows (generate.person_rows/application_rows) as the text the fast rows carry."""
    if v is None:
        return None
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime(gen.TS_FORMAT)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def check_generator(context: Context, size: int) -> int:
    """The fast rows (what is loaded) equal the reference dict rows on samples at the start, middle and end
    of the range: every column, ciphertexts by decrypting them. Returns the number of rows compared."""
    from mtb.identity import idnumber
    ranges = {(0, min(size, 2000)), (size // 2, min(size, size // 2 + 500)), (max(0, size - 500), size)}
    compared = 0
    for start, stop in sorted(ranges):
        fast = {"insured_persons": gen.person_values(start, stop, context.data_key, None),
                **gen.application_values(start, stop, context.catalogs, context.versions, context.files,
                                         None)}
        ref = {"insured_persons": gen.person_rows(start, stop, context.data_key),
               **gen.application_rows(start, stop, context.catalogs, context.versions, context.files)}
        for name in TABLES:
            cols = gen.COLUMNS[name]
            if len(fast[name]) != len(ref[name]):
                raise SystemExit(f"{name} {start}..{stop}: {len(fast[name])} fast rows, "
                                 f"{len(ref[name])} reference")
            for got, want in zip(fast[name], ref[name], strict=True):
                if set(want) != set(cols):
                    raise SystemExit(f"{name}: columns {sorted(want)} != {sorted(cols)}")
                expected = {c: _reference_text(want[c]) for c in cols}
                actual = dict(zip(cols, got, strict=True))
                constant = {c: actual[c] for c in gen.CONSTANT_COLUMNS[name]}
                if constant != gen.CONSTANT_COLUMNS[name]:
                    raise SystemExit(f"{name}: not the declared constant columns: {constant}")
                if name == "insured_persons":
                    for row in (actual, expected):
                        row["id_number_enc"] = idnumber.decrypt(cast(str, row["id_number_enc"]),
                                                                data_key=context.data_key)
                if actual != expected:
                    diff = {c: (actual[c], expected[c]) for c in cols if actual[c] != expected[c]}
                    raise SystemExit(f"{name}: the fast rows differ from the reference: {diff}")
                compared += 1
    return compared


def produce(size: int, batch: int, jobs: int, context: Context, timings: dict[str, float]) -> Iterator[Chunk]:
    """The chunks in order, made by `jobs` worker processes (a bounded number ahead of the writer).
    timings["wait_for_rows_s"]: how long the writer waited for them."""
    starts = list(range(0, size, batch))
    timings["wait_for_rows_s"] = 0.0
    if jobs <= 1:
        for s in starts:
            yield make_chunk(s, min(s + batch, size), context)
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(context,)) as pool:
        ahead = 2 * jobs + 2
        pending: deque[Future[Chunk]] = deque()
        for k, s in enumerate(starts):
            pending.append(pool.submit(make_chunk, s, min(s + batch, size)))
            if len(pending) >= ahead or k == len(starts) - 1:
                while pending and (len(pending) >= ahead or k == len(starts) - 1):
                    t = time.perf_counter()
                    chunk = pending.popleft().result()
                    timings["wait_for_rows_s"] += time.perf_counter() - t
                    yield chunk


# --- SQLite -----------------------------------------------------------------------------------------------

def sqlite_schema(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """What "the same schema" means on SQLite: every sqlite_master entry (not its root page) and the
    journal mode the file keeps."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                        "WHERE name NOT LIKE 'sqlite_stat%' "
                        "ORDER BY type, name").fetchall()  # (ANALYZE's statistics tables aside)
    return [*rows, ("pragma", "journal_mode", "", conn.execute("PRAGMA journal_mode").fetchone()[0])]


def sqlite_types(path: str) -> dict[str, dict[str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return {name: {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({name})")} for name in TABLES}


def write_sqlite(path: str, chunks: Iterator[Chunk], timings: dict[str, float],
                 progress: Callable[[int], None]) -> dict[str, int]:
    """Drop the loaded tables' secondary indexes, copy every chunk's rows in (one transaction, no
    journal), then recreate the indexes from their own CREATE INDEX statements and go back to WAL."""
    conn = sqlite3.connect(path, isolation_level=None)
    inserts = {}
    for name in TABLES:
        constant = gen.CONSTANT_COLUMNS[name]
        values = []
        for c in gen.COLUMNS[name]:
            if c in constant:
                v = constant[c]
                values.append("NULL" if v is None else "'" + v.replace("'", "''") + "'")
            else:
                values.append(c)
        inserts[name] = (f"INSERT INTO main.{name} ({', '.join(gen.COLUMNS[name])}) "
                         f"SELECT {', '.join(values)} FROM chunk.{name} ORDER BY rowid")
    marks = ", ".join("?" * len(TABLES))
    indexes = conn.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           f"AND tbl_name IN ({marks}) ORDER BY rowid", TABLES).fetchall()
    # Only for the load: no rollback journal (a failed load is simply run again), no syncs, a 1 GiB
    # page cache (the unique index on id_number_hash takes rows in random order), sorting in memory
    # with a helper thread.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA threads=2")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("ATTACH ':memory:' AS chunk")
    counts = dict.fromkeys(TABLES, 0)
    t = time.perf_counter()
    conn.execute("BEGIN")
    for chunk in chunks:
        conn.deserialize(chunk[SQLITE_CHUNK], name="chunk")
        for name in TABLES:
            counts[name] += conn.execute(inserts[name]).rowcount
        progress(counts["applications"])
    conn.execute("COMMIT")
    conn.execute("DETACH chunk")
    timings["write_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode=WAL")  # what the file had, and what mtb.db.engine sets on every connection
    timings["index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    conn.execute("ANALYZE")
    timings["analyze_s"] = time.perf_counter() - t
    conn.close()
    return counts


# --- PostgreSQL -------------------------------------------------------------------------------------------

_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid),
       c.confrelid::regclass::text
FROM pg_constraint c
WHERE c.connamespace = 'public'::regnamespace AND c.contype IN ('p', 'u', 'f')
  AND (c.conrelid::regclass::text = ANY(%(t)s) OR c.confrelid::regclass::text = ANY(%(t)s))
ORDER BY c.oid
"""
_INDEXES = """
SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = 'public' AND i.tablename = ANY(%(t)s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass
                  AND c.contype IN ('p', 'u'))
ORDER BY i.indexname
"""


def migration_indexes(url: str) -> dict[str, str]:
    """Every CREATE INDEX statement of the migrations, by index name, as Alembic renders them for this
    database (offline mode: the SQL script, no connection). Recreating an index from pg_indexes.indexdef
    would not do: PostgreSQL re-reads its own rendering of `status IN (...)` as a different expression."""
    import io

    from alembic import command

    from mtb.db.migrate import alembic_config
    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    script = config.output_buffer.getvalue()
    return {m[2]: m[0] for m in re.finditer(r"^CREATE (UNIQUE )?INDEX (\w+) ON [^;]*", script, re.MULTILINE)}


def pg_schema(conn: Any) -> list[tuple[Any, ...]]:
    """What "the same schema" means on PostgreSQL: every index definition, constraint definition (and
    whether validated), index flags, column, and table persistence in `public`."""
    q = [
        "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        ("SELECT 'constraint', conrelid::regclass::text, conname, "
         "contype::text || ' ' || pg_get_constraintdef(oid) "
         "|| ' validated=' || convalidated || ' deferrable=' || condeferrable || ' deferred=' || condeferred "
         "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"),
        ("SELECT 'index flags', indrelid::regclass::text, indexrelid::regclass::text, "
         "concat_ws(' ', indisunique, "
         "indisprimary, indisvalid, indisready, indislive, indimmediate, indisclustered, indisreplident) "
         "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
         "WHERE c.relnamespace = 'public'::regnamespace"),
        ("SELECT 'column', table_name, column_name, concat_ws(' ', ordinal_position, data_type, "
         "character_maximum_length, is_nullable, column_default) "
         "FROM information_schema.columns WHERE table_schema = 'public'"),
        ("SELECT 'relation', relkind::text, relname, relpersistence::text FROM pg_class "
         "WHERE relnamespace = 'public'::regnamespace"),
    ]
    rows: list[tuple[Any, ...]] = []
    for sql in q:
        rows += conn.execute(sql).fetchall()
    return sorted(rows)


def _backend_cpu_s(conn: Any) -> float:
    """CPU seconds of this connection's server process so far (0 when the server is not on this machine)."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pg_connect(url: str) -> Any:
    import psycopg
    conn = psycopg.connect(make_url(sync_url(url)).set(drivername="postgresql").render_as_string(
        hide_password=False))
    # The load's sessions only: no waiting for the WAL flush at commit (a crash loses the load, which is
    # simply run again; the tables stay logged), big sort memory for the index builds, UTC for the
    # timestamps in the COPY text.
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SET TimeZone = 'UTC'")
    conn.commit()
    return conn


def write_postgresql(url: str, chunks: Iterator[Chunk], timings: dict[str, float], jobs: int,
                     progress: Callable[[int], None]) -> tuple[dict[str, int], float]:
    """Drop the loaded tables' keys, unique constraints, indexes and the foreign keys that touch them; COPY
    each table on its own connection (TRUNCATE + COPY FREEZE in one transaction: rows written frozen and
    all-visible, no later rewrite by VACUUM); then recreate everything from its own definition (keys and
    indexes table by table on `jobs` connections, foreign keys validated one by one) and ANALYZE."""
    from psycopg.copy import QueuedLibpqWriter

    admin = _pg_connect(url)
    admin.autocommit = True
    tables = {"t": TABLES}
    constraints = admin.execute(_CONSTRAINTS, tables).fetchall()
    indexes = admin.execute(_INDEXES, tables).fetchall()
    missing = {name for _, name, _ in indexes} - set(migration_indexes(url))
    if missing:
        raise SystemExit(f"indexes the migrations do not create with CREATE INDEX: {sorted(missing)}")
    fks = [c for c in constraints if c[2] == "f"]
    keys = [c for c in constraints if c[2] in ("p", "u")]
    with admin.transaction():
        for table, name, *_ in fks + keys:
            admin.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for _, name, _ in indexes:
            admin.execute(f"DROP INDEX {name}")
    server_cpu = 0.0
    conns = {name: _pg_connect(url) for name in TABLES}
    counts = dict.fromkeys(TABLES, 0)
    t = time.perf_counter()
    with ExitStack() as stack:
        copies = {}
        for name, conn in conns.items():
            conn.execute(f"TRUNCATE {name}")
            cur = stack.enter_context(conn.cursor())
            copies[name] = stack.enter_context(cur.copy(
                f"COPY {name} ({', '.join(gen.COLUMNS[name])}) FROM STDIN (FREEZE)",
                writer=QueuedLibpqWriter(cur)))
        for chunk in chunks:
            for name in TABLES:
                data = chunk[name]
                if data:
                    copies[name].write(data)
                    counts[name] += data.count(b"\n")
            progress(counts["applications"])
    for name, conn in conns.items():
        conn.commit()
        cpu = _backend_cpu_s(conn)
        timings[f"server_cpu_copy_{name}_s"] = cpu
        server_cpu += cpu
        conn.close()
    timings["write_s"] = time.perf_counter() - t

    # Keys and indexes: per table in order (ALTER TABLE locks the table), tables in parallel.
    t = time.perf_counter()
    per_table: dict[str, list[tuple[str, str]]] = {name: [] for name in TABLES}
    for table, name, _, definition, _ in keys:
        per_table[table].append((name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    created = migration_indexes(url)
    for table, name, _ in indexes:
        per_table[table].append((name, created[name]))

    def build(statements: list[tuple[str, str]]) -> float:
        conn = _pg_connect(url)
        conn.autocommit = True
        for name, sql in statements:
            t = time.perf_counter()
            conn.execute(sql)
            timings[f"build_{name}_s"] = time.perf_counter() - t
        cpu = _backend_cpu_s(conn)
        conn.close()
        return cpu

    with ThreadPoolExecutor(max(1, jobs)) as threads:
        server_cpu += sum(threads.map(build, sorted(per_table.values(), key=len, reverse=True)))
    timings["index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for table, name, _, definition, _ in fks:
        admin.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    timings["foreign_keys_s"] = time.perf_counter() - t
    t = time.perf_counter()
    admin.execute("ANALYZE")
    timings["analyze_s"] = time.perf_counter() - t
    server_cpu += _backend_cpu_s(admin)
    admin.close()
    return counts, server_cpu


# --- the load --------------------------------------------------------------------------------------------

def schema_of(url: str) -> list[tuple[Any, ...]]:
    if is_sqlite(url):
        with closing(sqlite3.connect(str(make_url(url).database))) as conn:
            return sqlite_schema(conn)
    conn = _pg_connect(url)
    try:
        return pg_schema(conn)
    finally:
        conn.close()


def load(url: str, size: int, *, batch: int, jobs: int, storage_root: Path, verify: bool) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    reset(url)
    upgrade(url)
    # The freshly migrated schema: what the database must look like again once the load has dropped and
    # recreated its indexes and constraints.
    fresh = schema_of(url)
    versions = asyncio.run(load_reference_catalogs(url))
    timings["schema_and_catalogs_s"] = time.perf_counter() - t0
    sqlite = is_sqlite(url)
    context = Context(catalogs=gen.reference_catalogs(ROOT / "data" / "catalog"), versions=versions,
                      files=write_shared_files(storage_root), data_key=get_settings().data_key,
                      columns=sent_columns(sqlite),
                      sqlite_types=sqlite_types(str(make_url(url).database)) if sqlite else None)
    check_text_safe(context)
    t = time.perf_counter()
    checked = check_generator(context, size)
    timings["check_generator_s"] = time.perf_counter() - t
    t_load = time.perf_counter()

    def progress(done: int) -> None:
        print(f"  {done:>9} applications  {time.perf_counter() - t_load:7.1f} s", file=sys.stderr, flush=True)

    chunks = produce(size, batch, jobs, context, timings)
    server_cpu = None
    if sqlite:
        counts = write_sqlite(str(make_url(url).database), chunks, timings, progress)
    else:
        counts, server_cpu = write_postgresql(url, chunks, timings, jobs, progress)
    load_s = time.perf_counter() - t_load
    result: dict[str, Any] = {}
    if verify:
        t = time.perf_counter()
        after = schema_of(url)
        timings["verify_schema_s"] = time.perf_counter() - t
        if after != fresh:
            missing = sorted(set(fresh) - set(after))
            extra = sorted(set(after) - set(fresh))
            raise SystemExit(f"schema differs from the freshly migrated one:\n  missing {missing}\n"
                             f"  extra {extra}")
        result["schema_identical"] = True
        print(f"schema identical to the freshly migrated one ({len(fresh)} entries compared)",
              file=sys.stderr)
    total_rows = sum(counts.values())
    timings.update(load_s=load_s, total_s=time.perf_counter() - t0)
    if server_cpu is not None:
        result["server_cpu_s"] = round(server_cpu, 1)
    return {"database": "sqlite" if sqlite else "postgresql", "applications": size, "rows": counts,
            "total_rows": total_rows, "rows_per_s": total_rows / load_s, "applications_per_s": size / load_s,
            "jobs": jobs, "batch": batch, "generator_rows_checked": checked, **result,
            **{k: round(v, 2) for k, v in timings.items()}}


def measure_crypto(n: int = 20_000) -> dict[str, float]:
    """Per-person cost of the lookup hash, the AES-GCM ciphertext, and the whole row."""
    from mtb.identity import idnumber
    key = get_settings().data_key
    numbers = [gen.id_number(i) for i in range(n)]
    out = {}
    for label, fn in (("lookup_hash_us", lambda x: idnumber.lookup_hash(x, data_key=key)),
                      ("encrypt_us", lambda x: idnumber.encrypt(x, data_key=key))):
        t = time.perf_counter()
        for x in numbers:
            fn(x)
        out[label] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    gen.person_rows(0, n, key)
    out["person_row_us"] = (time.perf_counter() - t) / n * 1e6
    gen.person_values(0, 10, key, NULL)  # builds the generator's tables once
    t = time.perf_counter()
    gen.person_values(0, n, key, NULL)
    out["person_values_us"] = (time.perf_counter() - t) / n * 1e6  # what the load uses
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=100_000, help="number of applications (and people)")
    p.add_argument("--url", default=os.environ.get("MTB_DATABASE_URL", "sqlite+aiosqlite:///var/bench/mtb.sqlite3"))
    p.add_argument("--storage", type=Path, default=None, help="MTB_STORAGE_PATH (default: settings)")
    p.add_argument("--batch", type=int, default=10_000, help="applications per chunk a worker makes")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes making the rows (and PostgreSQL connections building indexes)")
    p.add_argument("--no-verify-schema", dest="verify", action="store_false",
                   help="skip comparing the schema after the load with the freshly migrated one")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = p.parse_args()
    storage_root = args.storage or get_settings().storage_path
    crypto = measure_crypto(5_000)
    print(f"crypto per person: {crypto}", file=sys.stderr)
    result = load(args.url, args.size, batch=args.batch, jobs=args.jobs, storage_root=storage_root,
                  verify=args.verify)
    result["crypto"] = crypto
    import resource
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result["cpu_s"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)  # the loader and its workers
    result["cpu_writer_s"], result["cpu_workers_s"] = (round(u.ru_utime + u.ru_stime, 1) for u in usage)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(f"loaded {result['applications']} applications, {result['total_rows']} rows "
          f"in {result['load_s']:.1f} s ({result['rows_per_s']:.0f} rows/s, "
          f"{result['applications_per_s']:.0f} applications/s); schema+catalogs {result['schema_and_catalogs_s']} s")
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
