"""The operators' CLI: clear messages and non-zero exits on bad input, nothing half-loaded."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mtb.catalog.models import CatalogVersion
from mtb.cli import app
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson, StaffUser
from mtb.settings import Settings
from tests.factories import CATALOG_DIR

runner = CliRunner()


def rows(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_catalog_load_and_reload(settings: Settings, sync_engine: Engine) -> None:
    files = [str(p) for p in sorted(CATALOG_DIR.glob("*.yaml"))]
    first = runner.invoke(app, ["catalog", "load", *files])
    assert first.exit_code == 0, first.output
    assert first.output.count(": loaded") == 2
    again = runner.invoke(app, ["catalog", "load", *files])
    assert again.exit_code == 0 and again.output.count(": unchanged") == 2
    assert rows(sync_engine, CatalogVersion) == 2


def test_bad_catalog_file_is_refused_whole(settings: Settings, sync_engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (CATALOG_DIR / "429021-2025.1.yaml").read_text("utf-8").replace("category: special", "category: rare", 1)
    bad.write_text(text, "utf-8")
    result = runner.invoke(app, ["catalog", "load", str(CATALOG_DIR / "110000-2025.1.yaml"), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: diseases[0].category: unknown category 'rare'" in result.output
    assert "nothing was loaded" in result.output
    assert rows(sync_engine, CatalogVersion) == 0


def test_insured_import_refuses_bad_rows_and_imports_good_files(settings: Settings, sync_engine: Engine,
                                                                tmp_path: Path) -> None:
    good_id = idnumber.with_check_digit("11010519800101901")
    header = "name,id_number,card_number,insurance_type,region_code\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"张三,{good_id},BJ0000000001,employee,110000\n李四,123,BJ2,resident,110000\n", "utf-8")
    result = runner.invoke(app, ["insured", "import", str(bad)])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "nothing was imported" in result.output
    assert rows(sync_engine, InsuredPerson) == 0

    good = tmp_path / "good.csv"
    good.write_text(header + f"张三,{good_id},BJ0000000001,employee,110000\n", "utf-8")
    assert runner.invoke(app, ["insured", "import", str(good)]).output.strip().endswith(
        "1 created, 0 updated, 0 unchanged")
    again = runner.invoke(app, ["insured", "import", str(good)])
    assert again.exit_code == 0 and "0 created, 0 updated, 1 unchanged" in again.output
    assert rows(sync_engine, InsuredPerson) == 1

    missing = runner.invoke(app, ["insured", "import", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_staff_create_reads_password_from_stdin(settings: Settings, sync_engine: Engine) -> None:
    ok = runner.invoke(app, ["staff", "create", "bj_rev", "--role", "reviewer", "--region", "110000"],
                       input="a long enough password\n")
    assert ok.exit_code == 0, ok.output
    with sync_engine.connect() as conn:
        stored = conn.execute(select(StaffUser.password_hash)).scalar_one()
    assert stored.startswith("$argon2") and "a long enough password" not in stored
    duplicate = runner.invoke(app, ["staff", "create", "bj_rev", "--role", "admin", "--region", "110000"],
                              input="another long password\n")
    assert duplicate.exit_code == 1 and "staff_exists" in duplicate.output
    weak = runner.invoke(app, ["staff", "create", "x", "--role", "admin", "--region", "110000"], input="short\n")
    assert weak.exit_code == 1 and "weak_password" in weak.output
    region = runner.invoke(app, ["staff", "create", "y", "--role", "admin", "--region", "000000"],
                           input="a long enough password\n")
    assert region.exit_code == 1 and "unknown_region" in region.output
    role = runner.invoke(app, ["staff", "create", "z", "--role", "boss", "--region", "110000"],
                         input="a long enough password\n")
    assert role.exit_code == 2
    assert rows(sync_engine, StaffUser) == 1


def test_demo_loads_people_and_staff_once(settings: Settings, sync_engine: Engine) -> None:
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "bj_reviewer" in first.output and "snj_admin" in first.output
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0
    assert rows(sync_engine, StaffUser) == 6
    assert rows(sync_engine, InsuredPerson) == 6
