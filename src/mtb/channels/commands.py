"""`mtb channel create|list|keys|disable|enable`: the operator's side of the channel registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.channels.models import Channel
from mtb.channels.service import create_channel, get_channel, list_channels, replace_keys, set_active
from mtb.commandline import fail, in_transaction
from mtb.errors import MTBError

channel_app = typer.Typer(help="Trusted channels: their public keys for channel login", no_args_is_help=True)

KeyFile = Annotated[Path, typer.Option("--key", help="a PEM public key or a JWKS document (JSON)")]
Kid = Annotated[str | None, typer.Option("--kid", help="the key id of a PEM key (optional)")]


def _run(work):  # type: ignore[no-untyped-def]
    try:
        return in_transaction(work)
    except MTBError as exc:
        fail(f"{exc.code}: {exc.detail}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read: {exc}")
        raise AssertionError from exc  # fail() exits


def _describe(c: Channel) -> str:
    kids = ", ".join(str(k.get("kid") or k.get("kty")) for k in c.keys.get("keys", []))
    return (f"{c.code}\t{c.name}\tregion {c.region_code}\tcatalog channel {c.catalog_channel or '-'}\t"
            f"{'active' if c.active else 'disabled'}\tkeys: {kids}")


@channel_app.command("create")
def create(code: str, key: KeyFile, name: Annotated[str, typer.Option(help="the channel's name")],
           region: Annotated[str, typer.Option(help="region code, e.g. 110000")], kid: Kid = None,
           catalog_channel: Annotated[str | None, typer.Option(
               help="the catalog's channel code its applications are made under (e.g. bj_app)")] = None) -> None:
    """Register a channel: CODE is the `iss` of its assertions."""
    keys = _read(key)

    async def work(s: AsyncSession) -> Channel:
        return await create_channel(s, code=code, name=name, region_code=region, keys=keys, kid=kid,
                                    catalog_channel=catalog_channel)

    typer.echo(_describe(_run(work)))


@channel_app.command("list")
def list_() -> None:
    """Every registered channel."""
    for c in _run(lambda s: list_channels(s, None)):
        typer.echo(_describe(c))


@channel_app.command("keys")
def keys(code: str, key: KeyFile, kid: Kid = None) -> None:
    """Replace a channel's keys (to rotate: register old and new together, later the new one alone)."""
    text = _read(key)

    async def work(s: AsyncSession) -> Channel:
        channel = await get_channel(s, code, None)
        await replace_keys(s, channel, text, kid)
        return channel

    typer.echo(_describe(_run(work)))


def _switch(code: str, active: bool) -> None:
    async def work(s: AsyncSession) -> Channel:
        channel = await get_channel(s, code, None)
        await set_active(s, channel, active)
        return channel

    typer.echo(_describe(_run(work)))


@channel_app.command("disable")
def disable(code: str) -> None:
    """Refuse the channel's assertions from now on."""
    _switch(code, False)


@channel_app.command("enable")
def enable(code: str) -> None:
    _switch(code, True)


webhooks_app = typer.Typer(help="Webhooks: deliver the outbox", no_args_is_help=True)


@webhooks_app.command("deliver")
def deliver(watch: Annotated[bool, typer.Option(
        "--watch", help="keep delivering as messages come due (a worker where `mtb serve` runs no scheduler)")]
            = False) -> None:
    """Deliver every webhook message due now (with --watch: keep going until stopped)."""
    import asyncio

    from mtb.db.engine import create_engine, create_sessionmaker
    from mtb.settings import get_settings
    from mtb.webhooks.delivery import deliver_due, worker

    settings = get_settings()

    async def runner() -> None:
        engine = create_engine(settings.database_url, prepared_statements=settings.database_prepared_statements)
        try:
            if watch:
                await worker(create_sessionmaker(engine), settings)
            report = await deliver_due(create_sessionmaker(engine), settings)
        finally:
            await engine.dispose()
        typer.echo(f"webhooks delivered {report.delivered}, failed attempts {report.failed}")

    asyncio.run(runner())
