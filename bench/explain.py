"""Query plans of the hot paths ((c) status read, (d) eligibility, (e) reviewer queue) on a loaded
database: the SQL MTB's ORM statements compile to, with EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE
(PostgreSQL).

    .venv/bin/python bench/explain.py --url sqlite+aiosqlite:///var/bench/mtb.sqlite3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402
from load import sync_url  # noqa: E402

from mtb.applications.models import Application  # noqa: E402
from mtb.identity import idnumber  # noqa: E402
from mtb.identity.models import InsuredPerson  # noqa: E402
from mtb.qualifications.models import Qualification  # noqa: E402


def statements(size: int) -> dict[str, object]:
    i = next(j for j in range(size) if gen.status_of(j) == "approved" and gen.region_of(j) == gen.BEIJING)
    number = gen.id_number(i)
    return {
        "(c) application by id": select(Application).where(Application.id == gen.application_uuid(i)),
        "(c)/(d) person by id_number_hash": select(InsuredPerson).where(
            InsuredPerson.id_number_hash == idnumber.lookup_hash(number)),
        "(d) qualifications of person, disease, region": select(Qualification).where(
            Qualification.person_id == gen.person_uuid(i), Qualification.disease_code == "BJ-TUMOR-CHEMO",
            Qualification.region_code == gen.BEIJING),
        "(e) queue page": select(Application, InsuredPerson.name, InsuredPerson.id_number_masked)
        .join(InsuredPerson, InsuredPerson.id == Application.beneficiary_id)
        .where(Application.region_code == gen.BEIJING, Application.status.in_(["submitted", "in_review"]))
        .order_by(Application.due_date, Application.submitted_at, Application.id).limit(21),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="sqlite+aiosqlite:///var/bench/mtb.sqlite3")
    p.add_argument("--size", type=int, default=100_000)
    a = p.parse_args()
    engine = create_engine(sync_url(a.url))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        for label, stmt in statements(a.size).items():
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
            print(f"### {label}\n```\n{compiled}\n--\n" + "\n".join(
                " | ".join(str(c) for c in row) for row in conn.execute(text(prefix + str(compiled))))
                + "\n```")
            import time
            t = time.perf_counter()
            conn.execute(text(str(compiled))).all()
            print(f"(executed in {(time.perf_counter() - t) * 1000:.2f} ms)\n")


if __name__ == "__main__":
    main()
