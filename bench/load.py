"""Bulk-load N synthetic applications into an MTB database through the project's own schema.

    .venv/bin/python bench/load.py --size 100000 --url sqlite+aiosqlite:///var/bench/mtb.sqlite3
    .venv/bin/python bench/load.py --size 100000 \\
        --url postgresql+psycopg://postgres@127.0.0.1/mtb_bench

Steps: drop the old database (SQLite file / PostgreSQL `public` schema), `mtb.migrate.upgrade`, load the
reference catalogs (`read_catalog_files` + `load_catalogs`), write two small shared PDF files through
`LocalStorage`, then insert people, applications, events, materials and qualifications in batches:
SQLAlchemy Core `insert` with executemany on SQLite, `COPY ... FROM STDIN` (psycopg `cursor.copy`) on
PostgreSQL. People's crypto (lookup hash + AES-GCM) runs in a process pool (`--jobs`).

Prints the time of each phase and rows/s, and writes them as JSON (`--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402

from mtb.catalog.loader import read_catalog_files  # noqa: E402
from mtb.catalog.models import CatalogVersion  # noqa: E402
from mtb.catalog.service import load_catalogs  # noqa: E402
from mtb.db import create_engine, is_sqlite  # noqa: E402
from mtb.materials.storage import LocalStorage, Received  # noqa: E402
from mtb.migrate import upgrade  # noqa: E402
from mtb.models import Application  # noqa: E402, F401  (registers every table on Base.metadata)
from mtb.settings import get_settings  # noqa: E402

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
    from mtb.db import create_sessionmaker
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


# --- PostgreSQL COPY -------------------------------------------------------------------------------------

def _copy_value(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return v


def _sqlite_value(v: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: UUIDs as 32 hex digits, UTC timestamps without a zone, JSON text."""
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return v


def insert_rows_sqlite(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """executemany on the sqlite3 connection itself, without SQLAlchemy's per-row processing."""
    if not rows:
        return
    cols = list(rows[0])
    conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [tuple(_sqlite_value(r[c]) for c in cols) for r in rows])


def copy_rows(cur: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([_copy_value(r[c]) for c in cols])


# --- the load --------------------------------------------------------------------------------------------

def load(url: str, size: int, *, batch: int, jobs: int, storage_root: Path) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    reset(url)
    upgrade(url)
    versions = asyncio.run(load_reference_catalogs(url))
    timings["schema_and_catalogs_s"] = time.perf_counter() - t0
    catalogs = gen.reference_catalogs(ROOT / "data" / "catalog")
    files = write_shared_files(storage_root)
    data_key = get_settings().data_key
    sqlite = is_sqlite(url)
    engine = create_sync_engine(sync_url(url))
    counts = dict.fromkeys(TABLES, 0)
    t_people = t_gen = t_write = 0.0
    t_load = time.perf_counter()
    pool = ProcessPoolExecutor(jobs) if jobs > 1 else None
    with engine.begin() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-200000")
        raw = conn.connection.driver_connection
        starts = list(range(0, size, batch))
        # People in the pool, batch by batch, while this process writes the previous batch.
        if pool:
            futures = [pool.submit(gen.person_rows, s, min(s + batch, size), data_key) for s in starts]
        for k, start in enumerate(starts):
            stop = min(start + batch, size)
            t = time.perf_counter()
            people = futures[k].result() if pool else gen.person_rows(start, stop, data_key)
            t_people += time.perf_counter() - t
            t = time.perf_counter()
            rows = {"insured_persons": people, **gen.application_rows(start, stop, catalogs, versions, files)}
            t_gen += time.perf_counter() - t
            t = time.perf_counter()
            for name in TABLES:
                if sqlite:
                    insert_rows_sqlite(raw, name, rows[name])
                else:
                    with raw.cursor() as cur:
                        copy_rows(cur, name, rows[name])
                counts[name] += len(rows[name])
            t_write += time.perf_counter() - t
            print(f"  {stop:>9} applications  {time.perf_counter() - t_load:7.1f} s", file=sys.stderr, flush=True)
    if pool:
        pool.shutdown()
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    timings["analyze_s"] = time.perf_counter() - t
    engine.dispose()
    total_rows = sum(counts.values())
    load_s = time.perf_counter() - t_load
    timings.update(people_crypto_wait_s=t_people, generate_s=t_gen, write_s=t_write, load_s=load_s,
                   total_s=time.perf_counter() - t0)
    return {"database": "sqlite" if sqlite else "postgresql", "applications": size, "rows": counts,
            "total_rows": total_rows, "rows_per_s": total_rows / load_s, "applications_per_s": size / load_s,
            "jobs": jobs, "batch": batch, **{k: round(v, 2) for k, v in timings.items()}}


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
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=100_000, help="number of applications (and people)")
    p.add_argument("--url", default=os.environ.get("MTB_DATABASE_URL", "sqlite+aiosqlite:///var/bench/mtb.sqlite3"))
    p.add_argument("--storage", type=Path, default=None, help="MTB_STORAGE_PATH (default: settings)")
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes for people's crypto")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = p.parse_args()
    storage_root = args.storage or get_settings().storage_path
    crypto = measure_crypto(5_000)
    print(f"crypto per person: {crypto}", file=sys.stderr)
    result = load(args.url, args.size, batch=args.batch, jobs=args.jobs, storage_root=storage_root)
    result["crypto"] = crypto
    import resource
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result["cpu_s"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)  # the loader and its crypto workers
    print(f"loaded {result['applications']} applications, {result['total_rows']} rows "
          f"in {result['load_s']:.1f} s ({result['rows_per_s']:.0f} rows/s, "
          f"{result['applications_per_s']:.0f} applications/s); schema+catalogs {result['schema_and_catalogs_s']} s")
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
