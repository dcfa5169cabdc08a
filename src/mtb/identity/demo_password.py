"""The demo accounts' password is public (README, `make run`): it must never open a production system.

In production (`MTB_ENV=production`): `mtb demo` refuses, no staff account can be given the demo
password, and the server refuses to start while any active account still has it (`refuse_demo_accounts`).
"""

from __future__ import annotations

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Unprocessable
from mtb.identity.models import StaffUser
from mtb.identity.passwords import password_matches
from mtb.settings import get_settings

# Not a secret: demo accounts exist only in a database made by `mtb demo`, never in production.
DEMO_PASSWORD = "mtb-demo-2025"


class DemoInProduction(RuntimeError):
    """Demo data or the demo password where MTB_ENV=production."""


def in_production() -> bool:
    return get_settings().env == "production"


def refuse_demo_data() -> None:
    if in_production():
        raise DemoInProduction("mtb demo refuses to run with MTB_ENV=production: demo accounts have a public "
                               "password")


def refuse_demo_password(password: str) -> None:
    """A new account's password may not be the public one (in production; demo data uses it elsewhere)."""
    if in_production() and password == DEMO_PASSWORD:
        raise Unprocessable("demo_password", "不能使用演示账号的公开密码，请另设密码")


async def accounts_with_demo_password(session: AsyncSession) -> list[str]:
    """Usernames of the active staff accounts whose password is the demo one (one hash check each,
    off the event loop: a few hundred milliseconds per account)."""
    rows = (await session.execute(
        select(StaffUser.username, StaffUser.password_hash).where(StaffUser.active.is_(True))
        .order_by(StaffUser.username))).all()
    found = []
    for username, stored in rows:
        if await anyio.to_thread.run_sync(password_matches, DEMO_PASSWORD, stored):
            found.append(username)
    return found


async def refuse_demo_accounts(session: AsyncSession) -> None:
    """Raise while any active staff account has the demo password (the server's start in production)."""
    found = await accounts_with_demo_password(session)
    if found:
        raise DemoInProduction(
            f"{len(found)} active staff account(s) have the public demo password ({', '.join(found[:10])}): "
            "deactivate them (or drop the demo database) before serving with MTB_ENV=production")
