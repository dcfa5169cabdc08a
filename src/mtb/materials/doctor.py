"""`mtb doctor`: does the database agree with the material storage (a local directory or a bucket)?

Steps:
1. Every file a material row names must exist and hash to its name (sha256). A row whose file is
   missing or corrupt means an acknowledged upload was lost: that is the serious finding. Every such
   file is read whole, so on S3 this downloads each one once.
2. Files no material refers to (orphans) are reported: an upload whose row never committed (a crash,
   a refused submission) leaves one behind. So are temporary files in the local upload spool `tmp/`.
3. With cleaning, orphans and temporaries untouched for the grace period are removed under the same
   rules as the periodic job (`remove_unreferenced`, shared with `mtb.materials.jobs.collect_garbage`): a file is
   checked against the rows again right before it goes, and a young one may belong to an upload whose
   row is about to commit, so it stays. A file a row refers to is never removed, even a corrupt one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.materials.models import Material
from mtb.materials.storage import CHUNK, Storage, StoredFile

BATCH = 500


@dataclass(frozen=True)
class BrokenMaterial:
    """A material row whose file is gone or does not hash to the row's sha256."""

    material_id: uuid.UUID
    application_id: uuid.UUID
    sha256: str
    problem: Literal["missing", "corrupt"]


@dataclass(frozen=True)
class Removal:
    """What a cleaning removed."""

    files: int = 0
    bytes: int = 0
    temporaries: int = 0


@dataclass
class DoctorReport:
    materials: int = 0  # material rows checked
    files_checked: int = 0  # distinct files those rows name
    broken: list[BrokenMaterial] = field(default_factory=list)
    orphans: int = 0
    orphan_bytes: int = 0
    orphans_past_grace: int = 0
    temporaries: int = 0
    temporary_bytes: int = 0
    temporaries_past_grace: int = 0
    removed: Removal | None = None  # None: not asked to clean

    @property
    def missing(self) -> list[BrokenMaterial]:
        return [b for b in self.broken if b.problem == "missing"]

    @property
    def corrupt(self) -> list[BrokenMaterial]:
        return [b for b in self.broken if b.problem == "corrupt"]

    @property
    def healthy(self) -> bool:
        """No row points to a missing or corrupt file (orphans and temporaries are only clutter)."""
        return not self.broken


def file_sha256(storage: Storage, sha256: str) -> str | None:
    """The actual sha256 of a stored file's content, or None if there is no such file."""
    try:
        opened = storage.open(sha256)
    except FileNotFoundError:
        return None
    digest = hashlib.sha256()
    try:
        while chunk := opened.stream.read(CHUNK):
            digest.update(chunk)
    finally:
        opened.stream.close()
    return digest.hexdigest()


async def unreferenced(session: AsyncSession, shas: list[str]) -> list[str]:
    """Those of `shas` that no material row refers to, in order (queried in batches)."""
    out: list[str] = []
    for start in range(0, len(shas), BATCH):
        chunk = shas[start:start + BATCH]
        used = set((await session.execute(select(Material.sha256).where(Material.sha256.in_(chunk)))).scalars())
        out.extend(sha for sha in chunk if sha not in used)
    return out


async def remove_unreferenced(session: AsyncSession, storage: Storage, *, now: datetime,
                              grace_minutes: int) -> Removal:
    """Remove stored files no material refers to and temporaries, both untouched for the grace period."""
    cutoff = (now - timedelta(minutes=grace_minutes)).timestamp()
    temporaries = await anyio.to_thread.run_sync(storage.remove_stale_temporaries, cutoff)
    stale = {f.sha256: f.size for f in await _listing(storage) if f.modified < cutoff}
    files = size = 0
    for sha in await unreferenced(session, list(stale)):
        # Still untouched right before it goes: a put since the listing restarted its grace period.
        if await anyio.to_thread.run_sync(partial(storage.delete, sha, untouched_since=cutoff)):
            files += 1
            size += stale[sha]
    return Removal(files=files, bytes=size, temporaries=temporaries)


async def diagnose(session: AsyncSession, storage: Storage, *, now: datetime, grace_minutes: int,
                   clean: bool = False) -> DoctorReport:
    """Check every material's file, count orphans and temporaries; with `clean`, remove the stale ones."""
    report = DoctorReport()
    rows = (await session.execute(select(Material.sha256))).scalars().all()
    report.materials = len(rows)
    referenced = set(rows)
    report.files_checked = len(referenced)
    listing = {f.sha256: f for f in await _listing(storage)}  # after the rows: a row's file is put before it
    bad: dict[str, Literal["missing", "corrupt"]] = {}
    for sha in sorted(referenced):
        actual = await anyio.to_thread.run_sync(file_sha256, storage, sha) if sha in listing else None
        if actual != sha:
            bad[sha] = "missing" if actual is None else "corrupt"
    bad_shas = list(bad)
    for start in range(0, len(bad_shas), BATCH):
        chunk = bad_shas[start:start + BATCH]
        for material_id, application_id, sha in (await session.execute(
                select(Material.id, Material.application_id, Material.sha256)
                .where(Material.sha256.in_(chunk)).order_by(Material.created_at))).all():
            report.broken.append(BrokenMaterial(material_id, application_id, sha, bad[sha]))

    cutoff = (now - timedelta(minutes=grace_minutes)).timestamp()
    for stored in listing.values():
        if stored.sha256 not in referenced:
            report.orphans += 1
            report.orphan_bytes += stored.size
            report.orphans_past_grace += stored.modified < cutoff
    for path in storage.tmp.glob("up-*") if storage.tmp.exists() else []:
        try:
            stat = path.stat()
        except FileNotFoundError:  # an upload finished (or was removed) meanwhile
            continue
        report.temporaries += 1
        report.temporary_bytes += stat.st_size
        report.temporaries_past_grace += stat.st_mtime < cutoff

    if clean:
        report.removed = await remove_unreferenced(session, storage, now=now, grace_minutes=grace_minutes)
    return report


async def _listing(storage: Storage) -> list[StoredFile]:
    return await anyio.to_thread.run_sync(lambda: list(storage.stored()))
