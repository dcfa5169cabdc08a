"""The operators' command line: `mtb db upgrade`, `mtb catalog load`, `mtb insured import`,
`mtb staff create`, `mtb hospital-key create`, `mtb jobs run`, `mtb doctor`, `mtb backup`, `mtb restore`,
`mtb keys rotate`, `mtb storage migrate`, `mtb channel ...`, `mtb webhooks deliver`, `mtb fonts`, `mtb demo`, `mtb serve`.

Every failure prints what went wrong to stderr and exits non-zero; nothing half-done is committed.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.catalog.loader import CatalogInvalid, read_catalog_files
from mtb.catalog.service import load_catalogs
from mtb.channels.commands import channel_app, webhooks_app
from mtb.commandline import fail, in_transaction, with_database
from mtb.errors import MTBError
from mtb.identity.models import StaffRole
from mtb.identity.registry import RegistryFileInvalid, import_insured, parse_registry_csv
from mtb.identity.service import create_staff
from mtb.interop.commands import export_app
from mtb.materials.migrate_storage import storage_app
from mtb.settings import get_settings

T = TypeVar("T")

app = typer.Typer(help="MTB 门诊慢特病 — operator commands", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
catalog_app = typer.Typer(help="Policy catalog", no_args_is_help=True)
insured_app = typer.Typer(help="Insured registry", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts", no_args_is_help=True)
jobs_app = typer.Typer(help="Periodic jobs", no_args_is_help=True)
hospital_key_app = typer.Typer(help="Hospital API keys for the eligibility check", no_args_is_help=True)
calendar_app = typer.Typer(help="Working-day calendar: the State Council's holiday schedules", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(insured_app, name="insured")
app.add_typer(staff_app, name="staff")
app.add_typer(jobs_app, name="jobs")
app.add_typer(hospital_key_app, name="hospital-key")
app.add_typer(calendar_app, name="calendar")
keys_app = typer.Typer(help="Data key rotation", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(export_app, name="export")
app.add_typer(storage_app, name="storage")
app.add_typer(channel_app, name="channel")
app.add_typer(webhooks_app, name="webhooks")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from mtb.db.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@catalog_app.command("load")
def catalog_load(paths: Annotated[list[Path] | None, typer.Argument(help="catalog YAML files")] = None) -> None:
    """Validate and load catalog files (default: every file in MTB_CATALOG_PATH), all or nothing.
    A version already loaded unchanged is skipped."""
    if not paths:
        paths = sorted(get_settings().catalog_path.glob("*.yaml"))
        if not paths:
            fail(f"no catalog files in {get_settings().catalog_path}")
    try:
        parsed = read_catalog_files(paths)
        outcomes = in_transaction(lambda s: load_catalogs(s, parsed))
    except CatalogInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"catalog refused: {len(exc.problems)} problem(s); nothing was loaded")
        return
    for o in outcomes:
        typer.echo(f"{o.file}: region {o.region_code} version {o.version}: {o.result}")


@calendar_app.command("load")
def calendar_load(file: Path) -> None:
    """Enter the State Council's holiday schedule of one or more years from FILE (the format of
    data/calendar/cn-workdays.yaml: years: {2027: {holidays: [...], workdays: [...], source: ...}}), all or
    nothing; then recompute, once, the provisional due dates of pending applications."""
    from pydantic import ValidationError

    from mtb.applications.actors import Actor
    from mtb.catalog.calendar import enter_schedule
    from mtb.catalog.workdays import load_calendar, read_table

    try:
        table = read_table(file)
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}")
        return
    except (ValidationError, ValueError) as exc:
        fail(f"{file}: refused, not a calendar table: {exc}")
        return
    if not table.years:
        fail(f"{file}: refused, no year in it")
    calendar = load_calendar(get_settings().calendar_path)

    async def work(session: AsyncSession) -> list[str]:
        lines = []
        for year, entry in sorted(table.years.items()):
            entry = entry.model_copy(update={"source": entry.source or file.name})
            done = await enter_schedule(session, calendar, year, entry, entered_by=f"mtb calendar load {file.name}",
                                        actor=Actor("system", None))
            lines.append(f"{year}: {len(entry.holidays)} holidays, {len(entry.workdays)} working weekend days "
                         f"entered; {len(done)} provisional due date(s) recomputed")
        return lines

    try:
        for line in in_transaction(work):
            typer.echo(line)
    except MTBError as exc:
        typer.echo(f"{file}: {exc.detail}", err=True)
        fail(f"{file}: refused ({exc.code}); nothing was entered")


@insured_app.command("import")
def insured_import(file: Path) -> None:
    """Import insured people from CSV (name,id_number,card_number,insurance_type,region_code)."""
    try:
        records = parse_registry_csv(file.read_bytes())
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}")
        return
    except RegistryFileInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{file}: {problem}", err=True)
        fail(f"{file}: refused, {len(exc.problems)} problem(s); nothing was imported")
        return
    result = in_transaction(lambda s: import_insured(s, records))
    typer.echo(f"{file}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@staff_app.command("create")
def staff_create(
    username: str,
    role: Annotated[StaffRole, typer.Option(help="reviewer | window | admin")],
    region: Annotated[str, typer.Option(help="region code, e.g. 110000")],
) -> None:
    """Create a staff account; the password is read from standard input."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        staff = in_transaction(lambda s: create_staff(
            s, username=username, password=password, role=role, region_code=region))
    except MTBError as exc:
        fail(f"{exc.code}: {exc.detail}")
        return
    typer.echo(f"staff {staff.username} created ({staff.role}, region {staff.region_code})")


@jobs_app.command("run")
def jobs_run() -> None:
    """Expire due filings, release lapsed review claims, send expiry reminders (safe to run anywhere, twice)."""
    from mtb.jobs import run_jobs

    async def runner(sessions: async_sessionmaker[AsyncSession]) -> None:
        report = await run_jobs(sessions, get_settings())
        typer.echo(f"expired {report.expired}, claims released {report.claims_released}, "
                   f"reminders sent {report.reminders}, files removed {report.files_removed}, "
                   f"webhooks delivered {report.webhooks_delivered}")

    from mtb.materials.storage import StorageUnavailable

    try:
        with_database(runner)
    except StorageUnavailable as exc:
        fail(f"jobs stopped, the material storage failed: {exc.__cause__!r}; run again when it is back "
             "(every job is idempotent)")


@hospital_key_app.command("create")
def hospital_key_create(hospital_code: str) -> None:
    """Make an API key for a designated hospital. The key is shown once; only its hash is kept."""
    from mtb.qualifications.keys import create_hospital_key

    try:
        row, key = in_transaction(lambda s: create_hospital_key(s, hospital_code))
    except MTBError as exc:
        fail(f"{exc.code}: {exc.detail}")
        return
    typer.echo(f"hospital {row.hospital_code} (region {row.region_code}) key, shown only now:")
    typer.echo(key)


@app.command("demo")
def demo() -> None:
    """Load demo people and staff accounts (safe to run again) and print how to log in."""
    from mtb.demo import load_demo
    from mtb.identity.demo_password import DemoInProduction, refuse_demo_data

    try:
        refuse_demo_data()
        lines = in_transaction(load_demo)
    except DemoInProduction as exc:
        fail(str(exc))
        return
    for line in lines:
        typer.echo(line)


@app.command("fonts")
def fonts() -> None:
    """Prepare the font of the generated forms (once; takes a few seconds)."""
    from mtb.materials.form import regular_font_file

    typer.echo(f"form font ready: {regular_font_file(get_settings().cache_path)}")


@app.command("doctor")
def doctor(clean: Annotated[bool, typer.Option(
        "--clean", help="remove orphan files and temporaries untouched for the grace period")] = False) -> None:
    """Check that every material's file exists and is intact; report (and with --clean remove) files
    no material refers to. Exits 1 when a material's file is missing or corrupt."""
    from mtb.catalog.calendar import next_year_warning, synced
    from mtb.catalog.workdays import load_calendar
    from mtb.materials.doctor import DoctorReport, diagnose
    from mtb.materials.storage import StorageUnavailable
    from mtb.materials.stores import make_storage
    from mtb.timeutil import local_date, utcnow

    settings = get_settings()
    storage = make_storage(settings)

    async def runner(sessions: async_sessionmaker[AsyncSession]) -> tuple[DoctorReport, str | None]:
        async with sessions() as session:
            calendar = await synced(session, load_calendar(settings.calendar_path))
            warning = next_year_warning(calendar, local_date(utcnow()))
            return await diagnose(session, storage, now=utcnow(),
                                  grace_minutes=settings.storage_gc_grace_minutes, clean=clean), warning

    try:
        report, calendar_warning = with_database(runner)
    except StorageUnavailable as exc:
        fail(f"storage {storage.describe()} failed: {exc.__cause__!r}")
        return
    grace = settings.storage_gc_grace_minutes
    typer.echo(f"storage: {storage.describe()}")
    typer.echo(f"materials: {report.materials} rows, {report.files_checked} files checked")
    typer.echo(f"missing files: {len(report.missing)} rows; corrupt files: {len(report.corrupt)} rows")
    typer.echo(f"orphan files: {report.orphans} ({report.orphan_bytes} bytes), "
               f"{report.orphans_past_grace} untouched for {grace} min")
    typer.echo(f"temporary files: {report.temporaries} ({report.temporary_bytes} bytes), "
               f"{report.temporaries_past_grace} untouched for {grace} min")
    if report.removed is not None:
        typer.echo(f"removed {report.removed.files} orphan files ({report.removed.bytes} bytes) "
                   f"and {report.removed.temporaries} temporary files")
    if calendar_warning:  # a warning: due dates are still counted, provisionally
        typer.echo(f"calendar warning: {calendar_warning}", err=True)
    for broken in report.broken:
        typer.echo(f"{broken.problem}: material {broken.material_id} of application {broken.application_id} "
                   f"(sha256 {broken.sha256})", err=True)
    if not report.healthy:
        fail(f"{len(report.broken)} material(s) point to a missing or corrupt file; restore them from backup")
    typer.echo("ok: every material's file is present and intact")


@app.command("backup")
def run_backup(dest: Annotated[Path, typer.Argument(help="a new or empty directory")]) -> None:
    """Back up the embedded SQLite database and the material files into DEST (safe while serving)."""
    import sqlite3

    from mtb.ops.backup import BackupRefused, backup

    try:
        manifest = backup(get_settings(), dest)
    except BackupRefused as exc:
        fail(f"backup refused: {exc}")
        return
    except (OSError, sqlite3.Error) as exc:
        fail(f"backup failed, nothing was kept in {dest}: {exc}")
        return
    typer.echo(f"backed up {sum(manifest.tables.values())} rows in {len(manifest.tables)} tables and "
               f"{len(manifest.files)} files (revision {manifest.alembic_revision}) to {dest}")


@app.command("restore")
def run_restore(
    src: Annotated[Path, typer.Argument(help="a directory made by `mtb backup`")],
    force: Annotated[bool, typer.Option("--force", help="overwrite a database that has data")] = False,
) -> None:
    """Restore the SQLite database and the material files from SRC, after checking every hash."""
    import sqlite3

    from mtb.ops.backup import BackupRefused, restore

    try:
        manifest = restore(get_settings(), src, force=force)
    except BackupRefused as exc:
        fail(f"restore refused: {exc}")
        return
    except (OSError, sqlite3.Error) as exc:
        fail(f"restore failed: {exc}")
        return
    typer.echo(f"restored {sum(manifest.tables.values())} rows and {len(manifest.files)} files "
               f"(backup of {manifest.created_at}, revision {manifest.alembic_revision})")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every ID number under MTB_DATA_KEY, reading it with MTB_OLD_DATA_KEY; all or nothing."""
    import os

    from mtb.identity.rotation import RotationFailed, rotate_data_key
    from mtb.settings import DEV_SECRET

    old_key = os.environ.get("MTB_OLD_DATA_KEY", "")
    new_key = get_settings().data_key
    if not old_key:
        fail("MTB_OLD_DATA_KEY is not set: give the current key there and the new one in MTB_DATA_KEY")
    if new_key == DEV_SECRET:
        fail("MTB_DATA_KEY is the development default: set it to the new key")
    try:
        result = in_transaction(lambda s: rotate_data_key(s, old_key=old_key, new_key=new_key))
    except RotationFailed as exc:
        fail(f"rotation refused: {exc}; nothing was changed")
        return
    typer.echo(f"{result.people} ID numbers re-encrypted, {result.throttles_cleared} login counters cleared; "
               "serve with the new MTB_DATA_KEY from now on")


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the API (and pages) with uvicorn.

    SIGTERM stops it gracefully: readiness answers 503 at once; after MTB_SHUTDOWN_DRAIN_SECONDS no new
    connection is taken and the requests in flight get MTB_SHUTDOWN_GRACE_SECONDS to finish; then the
    process exits 0. Several workers share the socket and add up their metrics in PROMETHEUS_MULTIPROC_DIR
    (a fresh directory unless one is given)."""
    import os
    import shutil
    import signal
    import tempfile

    import uvicorn

    metrics_dir = None
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics_dir = tempfile.mkdtemp(prefix="mtb-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # uvicorn raises the signal that stopped it again once it is done: caught here, a stop on request
    # exits 0 instead of dying of SIGTERM.
    signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.run("mtb.app:create_app", factory=True, host=host, port=port, workers=workers,
                    proxy_headers=True, log_config=None, access_log=False,
                    timeout_graceful_shutdown=get_settings().shutdown_grace_seconds)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def main() -> None:
    app()
