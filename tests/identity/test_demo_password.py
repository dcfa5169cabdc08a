"""Issue 16 item 2: the public demo password never opens a production system. With MTB_ENV=production
`mtb demo` refuses, no account can be given the demo password (CLI or admin page), and the server refuses
to start while any active account still has it, whatever its username."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mtb.app import create_app
from mtb.cli import app as cli
from mtb.demo import load_demo
from mtb.identity.demo_password import DEMO_PASSWORD, DemoInProduction
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.passwords import hash_password
from mtb.identity.service import create_staff
from mtb.settings import Settings, get_settings

runner = CliRunner()


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def production(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MTB_ENV", "production")
    get_settings.cache_clear()
    return get_settings()


def test_demo_command_refuses_in_production(settings: Settings, sync_engine: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 1
    assert "MTB_ENV=production" in result.output and DEMO_PASSWORD not in result.output
    assert count(sync_engine, StaffUser) == 0 and count(sync_engine, InsuredPerson) == 0


@pytest.mark.parametrize("username", ["bj_admin", "ops-admin", "zhang.reviewer"])
def test_no_account_gets_the_demo_password_in_production(settings: Settings, sync_engine: Engine,
                                                         monkeypatch: pytest.MonkeyPatch, username: str) -> None:
    production(monkeypatch)
    result = runner.invoke(cli, ["staff", "create", username, "--role", "admin", "--region", "110000"],
                           input=f"{DEMO_PASSWORD}\n")
    assert result.exit_code == 1 and "demo_password" in result.output
    assert count(sync_engine, StaffUser) == 0
    ok = runner.invoke(cli, ["staff", "create", username, "--role", "admin", "--region", "110000"],
                       input="a password of its own\n")
    assert ok.exit_code == 0, ok.output


async def _start(settings: Settings) -> None:
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            pass
    finally:
        await app.state.engine.dispose()


async def test_server_refuses_to_start_while_demo_accounts_remain(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(settings)
    async with app.state.sessionmaker() as s, s.begin():  # a database once filled by `mtb demo`
        await load_demo(s)
    await app.state.engine.dispose()
    prod = production(monkeypatch)
    with pytest.raises(DemoInProduction, match="bj_admin"):
        await _start(prod)
    # The demo code refuses in production even when called directly.
    with pytest.raises(DemoInProduction):
        await load_demo(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("demo_password_on", ["renamed", "inactive_others"])
async def test_any_active_account_with_the_demo_password_blocks_the_start(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, demo_password_on: str) -> None:
    app = create_app(settings)
    async with app.state.sessionmaker() as s, s.begin():
        await create_staff(s, username="real-admin", password="", role=StaffRole.admin, region_code="110000",
                           password_hash=hash_password("a real admin password"))
        await create_staff(s, username="chief", password="", role=StaffRole.reviewer, region_code="110000",
                           password_hash=hash_password(DEMO_PASSWORD))
    prod = production(monkeypatch)
    if demo_password_on == "renamed":  # not a demo username, still the demo password: refused
        with pytest.raises(DemoInProduction, match="chief"):
            await _start(prod)
    else:  # the account with the demo password deactivated: the server starts
        async with app.state.sessionmaker() as s, s.begin():
            await s.execute(update(StaffUser).where(StaffUser.username == "chief").values(active=False))
        await _start(prod)
    await app.state.engine.dispose()


async def test_development_and_test_start_with_demo_accounts(settings: Settings) -> None:
    app = create_app(settings)
    async with app.state.sessionmaker() as s, s.begin():
        await load_demo(s)
    await app.state.engine.dispose()
    await _start(settings)
