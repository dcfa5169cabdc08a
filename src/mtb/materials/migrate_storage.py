"""`mtb storage migrate --from URL --to URL`: copy the material files from one storage to another.

A URL is `s3://bucket/prefix` (with the MTB_S3_ endpoint and credentials, the same for both sides),
`file://path` or a plain path. Steps:
1. What to copy: every sha256 a material row names, and every file stored in the source (orphans too:
   one may belong to an upload whose row is about to commit).
2. A file the destination already holds intact (its content hashes to its name) is skipped, so a second
   run copies only what is new or was damaged.
3. Otherwise it is read from the source into a local temporary file, hashing it (a source file that does
   not hash to its name is reported and not copied), put in the destination (a damaged copy there is
   removed first), and read back from the destination to check its hash.
4. A summary; exit 1 if any file was missing, damaged or could not be copied.

Run it with the service stopped; or run it, switch MTB_STORAGE_URL, restart, and run it again: it is
idempotent, and the second run copies only what arrived in between.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import typer
from sqlalchemy import select

from mtb.db.engine import create_engine, create_sessionmaker
from mtb.materials.doctor import file_sha256
from mtb.materials.location import parse_storage_url
from mtb.materials.models import Material
from mtb.materials.storage import Storage, StorageUnavailable, copy_to_spool
from mtb.materials.stores import storage_at
from mtb.settings import Settings, get_settings

storage_app = typer.Typer(help="Material file storage", no_args_is_help=True)
PROGRESS_EVERY = 500


class CopyFailed(Exception):
    """One file could not be copied intact; the message says why."""


@dataclass
class MigrationReport:
    files: int = 0
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    problems: list[str] = field(default_factory=list)


def migrate(source: Storage, dest: Storage, referenced: set[str]) -> MigrationReport:
    """Copy every referenced or stored file of `source` to `dest`, verified (see the module's steps)."""
    todo = sorted(referenced | {f.sha256 for f in source.stored()})
    report = MigrationReport(files=len(todo))
    for done, sha in enumerate(todo, 1):
        try:
            outcome, size = copy_one(source, dest, sha)
        except CopyFailed as exc:
            report.problems.append(f"{sha}: {exc}")
        except (StorageUnavailable, OSError) as exc:
            report.problems.append(f"{sha}: {exc.__cause__ or exc!r}")
        else:
            if outcome == "present":
                report.present += 1
            else:
                report.copied += 1
                report.copied_bytes += size
        if done % PROGRESS_EVERY == 0:
            typer.echo(f"… {done}/{len(todo)}")
    return report


def copy_one(source: Storage, dest: Storage, sha256: str) -> tuple[Literal["copied", "present"], int]:
    """Copy one file unless the destination holds it intact; returns what happened and the bytes copied."""
    there = file_sha256(dest, sha256)
    if there == sha256:
        return "present", 0
    try:
        received = copy_to_spool(source.open(sha256), dest.tmp, prefix="up-migrate-")
    except FileNotFoundError:
        raise CopyFailed("missing in the source") from None
    if received.sha256 != sha256:
        received.path.unlink(missing_ok=True)
        raise CopyFailed(f"damaged in the source: its content hashes to {received.sha256}; not copied")
    try:
        if there is not None:  # a damaged copy: `put` would keep it and only renew it
            dest.delete(sha256)
        dest.put(received)
    finally:
        received.path.unlink(missing_ok=True)
    copied = file_sha256(dest, sha256)
    if copied != sha256:
        raise CopyFailed(f"the copy in the destination reads back as {copied or 'missing'}")
    return "copied", received.size


@storage_app.command("migrate")
def migrate_command(
    source_url: Annotated[str, typer.Option("--from", help="s3://bucket/prefix, file://path or a path")],
    dest_url: Annotated[str, typer.Option("--to", help="s3://bucket/prefix, file://path or a path")],
) -> None:
    """Copy every material file (those the database refers to, and any other stored file) from one
    storage to another, checking each copy's sha256; safe to run again. Exits 1 if any file failed."""
    settings = get_settings()
    try:
        source_at, dest_at = _resolved(source_url), _resolved(dest_url)
    except ValueError as exc:
        _fail(str(exc))
        return
    if source_at == dest_at:
        _fail("--from and --to name the same storage")
    source, dest = storage_at(source_url, settings), storage_at(dest_url, settings)
    try:
        referenced = asyncio.run(_referenced(settings))
        report = migrate(source, dest, referenced)
    except StorageUnavailable as exc:
        _fail(f"storage migrate failed, listing {source.describe()}: {exc.__cause__!r}")
        return
    for problem in report.problems:
        typer.echo(problem, err=True)
    typer.echo(f"{report.files} files from {source.describe()} to {dest.describe()}: {report.copied} copied "
               f"({report.copied_bytes} bytes), {report.present} already there intact, "
               f"{len(report.problems)} failed")
    if report.problems:
        _fail(f"storage migrate incomplete: {len(report.problems)} file(s) not copied or not verified "
              "(listed above); do not switch storage before they are resolved (restore them from backup, "
              "then run again)")


def _resolved(url: str) -> Path | str:
    location = parse_storage_url(url)
    return location.resolve() if isinstance(location, Path) else str(location)


async def _referenced(settings: Settings) -> set[str]:
    engine = create_engine(settings.database_url, prepared_statements=settings.database_prepared_statements)
    try:
        async with create_sessionmaker(engine)() as session:
            return set((await session.execute(select(Material.sha256).distinct())).scalars())
    finally:
        await engine.dispose()


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)
