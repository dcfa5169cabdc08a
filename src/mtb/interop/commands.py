"""`mtb export fhir` (FHIR bulk data, NDJSON) and `mtb export csv` (tables for statisticians).

Both read the configured database and write files only; nothing in the database changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.catalog.workdays import load_calendar
from mtb.commandline import fail, with_database
from mtb.interop.export import export_fhir
from mtb.interop.tables import (
    APPLICATION_COLUMNS,
    DECISION_COLUMNS,
    Period,
    TableContext,
    application_rows,
    csv_chunks,
    decision_rows,
)
from mtb.settings import get_settings
from mtb.timeutil import local_today

T = TypeVar("T")

export_app = typer.Typer(help="Exports: FHIR R4 bulk data, CSV tables for statisticians",
                         no_args_is_help=True)

Region = Annotated[str | None, typer.Option("--region", help="region code, e.g. 110000 (default: all)")]


class Table(StrEnum):
    applications = "applications"
    decisions = "decisions"


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date (YYYY-MM-DD): {value!r}", 2)


@export_app.command("fhir")
def fhir_command(
    out: Annotated[Path, typer.Option("--out", help="directory for the NDJSON files (created if needed)")],
    region: Region = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="only applications changed on or after this day")] = None,
    base_url: Annotated[str, typer.Option(
        "--base-url", help="public address of MTB, for absolute download URLs")] = "",
) -> None:
    """Write Patient, Coverage, Condition, Task, DocumentReference and CoverageEligibilityResponse
    resources as NDJSON, one file per type (docs/fhir.md)."""
    day = _day(since, "--since")
    settings = get_settings()
    try:
        counts = with_database(lambda sm: export_fhir(sm, out, region_code=region, since=day,
                                             base_url=base_url.rstrip("/"), today=local_today(),
                                             timezone=settings.timezone))
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}")
    for kind, count in counts.items():
        typer.echo(f"{out / f'{kind}.ndjson'}: {count} resources")


@export_app.command("csv")
def csv_command(
    out: Annotated[Path, typer.Option("--out", help="the CSV file to write")],
    region: Region = None,
    start: Annotated[str | None, typer.Option("--from", help="first day (included)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day (included)")] = None,
    table: Annotated[Table, typer.Option("--table", help="applications (by creation day) or decisions "
                                                         "(by decision day)")] = Table.applications,
) -> None:
    """Write one table for statisticians: UTF-8 with a byte order mark, no names or full ID numbers
    (docs/exports.md)."""
    period = Period(region_code=region, start=_day(start, "--from"), end=_day(end, "--to"))
    settings = get_settings()
    ctx = TableContext(calendar=load_calendar(settings.calendar_path), data_key=settings.data_key,
                       timezone=settings.timezone)
    columns, rows = ((APPLICATION_COLUMNS, application_rows) if table == Table.applications
                     else (DECISION_COLUMNS, decision_rows))

    async def write(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        count = 0

        async def counted() -> AsyncIterator[list[Any]]:
            nonlocal count
            async for row in rows(sessionmaker, period, ctx):
                count += 1
                yield row

        partial = out.with_name(f"{out.name}.partial")
        try:
            with partial.open("wb") as handle:
                async for chunk in csv_chunks(columns, counted()):
                    handle.write(chunk)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return count

    try:
        count = with_database(write)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}")
    typer.echo(f"{out}: {count} rows ({table.value})")
