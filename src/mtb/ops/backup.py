"""Backup and restore of the embedded default: the SQLite database and the local material files.

A backup directory holds `mtb.sqlite3` (a consistent copy made with SQLite's online backup API, safe
while the service runs), `files/` (the material files, laid out as in storage) and `manifest.json`,
written last: a directory without a manifest is not a backup. PostgreSQL and object storage are backed
up with their own tools (docs/backup.md): with MTB_STORAGE_URL=s3://…, both commands refuse, and the
bucket's own versioning and replication keep the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from mtb.materials.location import S3Location, parse_storage_url
from mtb.settings import Settings

MANIFEST = "manifest.json"
DATABASE = "mtb.sqlite3"
FILES = "files"
FORMAT = 1
_CHUNK = 1024 * 1024


class BackupRefused(Exception):
    """The backup or restore cannot go ahead; nothing was put in place. The message says why."""


@dataclass(frozen=True)
class Manifest:
    created_at: str
    alembic_revision: str | None
    database_sha256: str
    tables: dict[str, int]
    files: dict[str, str]  # path under files/ → sha256 of its content

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "created_at": self.created_at, "alembic_revision": self.alembic_revision,
                "database": {"file": DATABASE, "sha256": self.database_sha256},
                "tables": self.tables, "file_count": len(self.files), "files": self.files}

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text("utf-8"))
            if data["format"] != FORMAT:
                raise BackupRefused(f"{path}: format {data['format']} is not supported (expected {FORMAT})")
            files = {str(k): str(v) for k, v in data["files"].items()}
            if data["file_count"] != len(files):
                raise BackupRefused(f"{path}: file_count says {data['file_count']}, {len(files)} files listed")
            return cls(created_at=str(data["created_at"]), alembic_revision=data["alembic_revision"],
                       database_sha256=str(data["database"]["sha256"]),
                       tables={str(k): int(v) for k, v in data["tables"].items()}, files=files)
        except FileNotFoundError:
            raise BackupRefused(f"{path} not found: {directory} is not a complete backup") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupRefused(f"{path} is unreadable or malformed: {exc!r}") from None


def files_root(settings: Settings) -> Path:
    """The local directory of the material files; files in object storage are refused."""
    location = parse_storage_url(settings.storage_url) if settings.storage_url else settings.storage_path
    if isinstance(location, S3Location):
        raise BackupRefused(
            f"the material files are in object storage ({location}): `mtb backup` and `mtb restore` cover "
            "only the embedded SQLite database with files in a local directory. Protect the bucket with the "
            "object store's own versioning and replication (or its backup service), and back up the database "
            "with its own tools; see docs/backup.md")
    return location


def sqlite_file(settings: Settings) -> Path:
    """The database file of a `sqlite+aiosqlite:///path` URL; any other database is refused."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(
            f"the database is {url.get_backend_name()}, not SQLite: `mtb backup` and `mtb restore` cover only "
            "the embedded SQLite default. Back up PostgreSQL with pg_dump (logical) or base backups with WAL "
            "archiving (point-in-time recovery), and the material files with your storage's own tools; "
            "see docs/backup.md")
    if not url.database or url.database == ":memory:":
        raise BackupRefused("the database is in memory: there is nothing to back up or restore")
    return Path(url.database)


def backup(settings: Settings, dest: Path) -> Manifest:
    """Copy the database and the material files into the empty directory `dest`.

    Steps: refuse a non-empty `dest`; snapshot the database with the online backup API; copy every
    material file (not `tmp/`), hashing it; check that every material row of the snapshot has its file;
    write the manifest last. On failure, what was written is removed.
    """
    root = files_root(settings)
    source = sqlite_file(settings)
    if not source.is_file():
        raise BackupRefused(f"database file {source} does not exist")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(f"{dest} is not an empty directory: back up into a new or empty one")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        database = dest / DATABASE
        with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(database)) as out:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        tables, revision = _describe(database)
        files = {rel: _copy_hashing(root / rel, dest / FILES / rel) for rel in _material_files(root)}
        missing = _referenced_sha256(database) - set(files.values())
        if missing:
            raise BackupRefused(f"{len(missing)} material file(s) the database refers to are missing or "
                                f"damaged in {root} (e.g. {min(missing)}); nothing was backed "
                                "up: run `mtb doctor`")
        manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                            alembic_revision=revision, database_sha256=_sha256(database),
                            tables=tables, files=files)
        _write_atomically(dest / MANIFEST, json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
    except BaseException:
        for name in (DATABASE, FILES, MANIFEST):
            path = dest / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        raise
    return manifest


def restore(settings: Settings, src: Path, *, force: bool = False) -> Manifest:
    """Put the backup in `src` in place of the configured database and storage.

    Steps: read the manifest; refuse a target database that has data (unless `force`); verify the
    database copy and every file against the manifest, before anything is written; copy the files
    into storage; copy the database in with the backup API (files first, so no row ever points to a
    missing file); check the restored row counts.
    """
    storage = files_root(settings)
    target = sqlite_file(settings)
    manifest = Manifest.read(src)
    if target.exists() and target.stat().st_size > 0 and not force:
        raise BackupRefused(f"database file {target} already exists and is not empty: restore into a new "
                            "location, or pass --force (with the service stopped) to overwrite it")
    _verify(src, manifest)

    for rel, digest in manifest.files.items():
        dest = storage / rel
        if dest.is_file() and _sha256(dest) == digest:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".restore-")
        os.close(fd)
        try:
            if _copy_hashing(src / FILES / rel, Path(tmp)) != digest:
                raise BackupRefused(f"{src / FILES / rel} changed while it was being restored")
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)

    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(src / DATABASE)) as backup_db, closing(sqlite3.connect(target, timeout=30)) as out:
        backup_db.backup(out)
    tables, _ = _describe(target)
    if tables != manifest.tables:
        raise BackupRefused(f"restored database {target} has row counts {tables}, the manifest says "
                            f"{manifest.tables}")
    return manifest


def _verify(src: Path, manifest: Manifest) -> None:
    """Every byte of the backup is what the manifest says, and the database copy is sound."""
    problems: list[str] = []
    database = src / DATABASE
    if not database.is_file():
        problems.append(f"{database}: missing")
    elif _sha256(database) != manifest.database_sha256:
        problems.append(f"{database}: sha256 differs from the manifest")
    for rel, digest in manifest.files.items():
        path = src / FILES / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            problems.append(f"{rel}: not a path inside files/")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{path}: sha256 differs from the manifest")
    if not problems:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            problems.append(f"{database}: integrity check failed: {check}")
        elif _describe(database)[0] != manifest.tables:
            problems.append(f"{database}: row counts differ from the manifest")
    if problems:
        raise BackupRefused("backup does not match its manifest, nothing was restored:\n  " + "\n  ".join(problems))


def _describe(database: Path) -> tuple[dict[str, int], str | None]:
    """Row count of every table, and the Alembic revision (None if the schema has none)."""
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        tables = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        revision = None
        if "alembic_version" in tables:
            revision = ",".join(sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")))
    return tables, revision or None


def _referenced_sha256(database: Path) -> set[str]:
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'materials'").fetchone():
            return set()
        return {r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM materials")}


def _material_files(root: Path) -> Iterator[str]:
    """Paths (relative, POSIX) of the regular files under `root`, except the upload spool `tmp/`."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] != "tmp" and path.is_file() and not path.is_symlink():
            yield rel.as_posix()


def _copy_hashing(source: Path, dest: Path) -> str:
    """Copy `source` to `dest`, synced to disk; return the sha256 of the bytes written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with source.open("rb") as f, dest.open("wb") as out:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
