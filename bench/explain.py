"""Query plans of the hot paths on a loaded database: the statements mtb/direct sends, with the
parameters it binds, under EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL), and the
time of one execution after a warm-up.

    .venv/bin/python bench/explain.py --url sqlite+aiosqlite:///var/bench/mtb-1000000.sqlite3 --size 1000000
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen

from mtb.direct import applications as direct_apps
from mtb.direct.eligibility import FACTS
from mtb.direct.reader import PostgresReader, SqliteReader
from mtb.direct.staff import STAFF
from mtb.direct.statements import Statement
from mtb.identity import idnumber
from mtb.qualifications.keys import hash_key
from mtb.review.queue import QueueFilter, queue_params, queue_sql


def statements(size: int, reader: Any, key_hash: str) -> dict[str, tuple[Statement, dict[str, Any]]]:
    i = next(j for j in range(size // 2, size) if gen.status_of(j) == "approved" and gen.region_of(j) == gen.BEIJING)
    asker = {"jti": "jti", "app": reader.uuid_param(gen.application_uuid(i)),
             "person": reader.uuid_param(gen.person_uuid(i))}
    lookup = idnumber.lookup_hash(gen.id_number(i))
    queue = queue_sql(statuses=["submitted", "in_review"], filters=QueueFilter(), with_cursor=False)
    return {
        "(c) status read": (direct_apps.STATUS, asker),
        "(c') full read: application": (direct_apps.APPLICATION, asker),
        "(c') full read: materials": (direct_apps.MATERIALS, asker),
        "(c') full read: timeline": (direct_apps.EVENTS, asker),
        "(d) eligibility": (FACTS, {"day": reader.date_param(date(2026, 11, 25)), "lookup_hash": lookup,
                                    "disease_code": "BJ-TUMOR-CHEMO", "key_hash": key_hash}),
        "(e) reviewer": (STAFF, {"jti": "jti", "staff": reader.uuid_param(gen.person_uuid(0))}),
        "(e) queue page": (queue, queue_params(reader, region_code=gen.BEIJING, filters=QueueFilter(),
                                               cursor=None, today=date(2026, 11, 25), limit=20)),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--size", type=int, required=True)
    a = p.parse_args()
    url = make_url(a.url)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        conn: Any = sqlite3.connect(url.database or "")
        reader: Any = SqliteReader(url.database or "")
    else:
        conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                               autocommit=True)
        reader = PostgresReader("", size=1, prepare=True)
    print(f"# Query plans, {'SQLite' if sqlite else 'PostgreSQL'}, {a.size:,} applications\n")
    keys = conn.execute("SELECT key_hash FROM hospital_keys WHERE revoked_at IS NULL").fetchall()
    key_hash = keys[0][0] if keys else hash_key("no key yet: bench/run.py makes one")
    for label, (statement, named) in statements(a.size, reader, key_hash).items():
        compiled = statement.compiled(reader.dialect)
        sql, params = compiled.sql, compiled.args(named)
        # psycopg takes `%s` in the order bound; asyncpg's `$n` may repeat a parameter
        text = sql if sqlite else re.sub(r"\$(\d+)", r"%(p\1)s", sql)
        if not sqlite:
            params = {f"p{n}": v for n, v in enumerate(params, 1)}
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
        plan = [" | ".join(str(c) for c in row) for row in conn.execute(prefix + text, params).fetchall()]
        conn.execute(text, params).fetchall()
        t = time.perf_counter()
        rows = conn.execute(text, params).fetchall()
        ms = (time.perf_counter() - t) * 1000
        print(f"## {label}\n```\n{sql}\n--\n" + "\n".join(plan) + f"\n```\n{len(rows)} rows in {ms:.2f} ms\n")


if __name__ == "__main__":
    main()
