"""Make the benchmark's PostgreSQL database if it does not exist (never the tests' `test` database).

    .venv/bin/python bench/pgdb.py postgresql+psycopg://postgres@127.0.0.1:5432/mtb_bench
"""

from __future__ import annotations

import sys

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def main() -> None:
    url = make_url(sys.argv[1])
    name = url.database
    if not name or name == "test":
        sys.exit("give the benchmark its own database (not 'test')")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


if __name__ == "__main__":
    main()
