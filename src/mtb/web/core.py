"""What every page needs: templates, the session cookie, CSRF protection, who is logged in.

Session: the same signed access token the API uses, in an HttpOnly, SameSite=Lax cookie (Secure over
TLS). CSRF: a random token in an HttpOnly, SameSite=Strict cookie that every form (and every htmx or
upload request, as the X-CSRF-Token header) must repeat; a POST without it is refused.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Forbidden, MTBError
from mtb.identity.asker import load_person, load_staff
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.tokens import (
    Principal,
    decode_token,
    issue_token,
    lifetime_seconds,
    revoke,
)
from mtb.timeutil import utcnow

SESSION_COOKIE = "mtb_session"
CSRF_COOKIE = "mtb_csrf"
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


# A person's session cookie outlives its token by this much, so that a lapsed login is recognised as one
# ("登录已超时") instead of looking like a first visit; the token inside is refused all the same.
LAPSE_GRACE_SECONDS = 24 * 3600


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the right login page (or, for a request
    sent by the page script, a 401 the script can act on). `next_path` keeps the query string, so the
    person comes back to the same step with what they had chosen; `expired` says the login lapsed."""

    def __init__(self, login_path: str, next_path: str, *, expired: bool = False) -> None:
        self.expired = expired
        self.location = f"{login_path}?next={quote(next_path, safe='/')}" + ("&expired=1" if expired else "")


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return token


CARE_COOKIE = "mtb_care"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "page_user", None))
    context.setdefault("care", request.cookies.get(CARE_COOKIE) == "1")  # 关怀版 (large text), applicant.py
    token = csrf_token(request)
    response = templates.TemplateResponse(request, template, {"csrf": token, **context}, status_code=status_code)
    if request.cookies.get(CSRF_COOKIE) != token:
        set_cookie(request, response, CSRF_COOKIE, token, samesite="strict")
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, *, samesite: str = "lax",
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, secure=request.url.scheme == "https", samesite=samesite,  # type: ignore[arg-type]
                        max_age=max_age, path="/")


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def verify_csrf(request: Request) -> None:
    """Every state-changing page request repeats the CSRF cookie's token."""
    expected = request.cookies.get(CSRF_COOKIE)
    given = request.headers.get("X-CSRF-Token")
    if given is None:
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise Forbidden("csrf_failed", "页面已过期或来源不明，请刷新页面后重试")


def session_principal(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return decode_token(token)
    except MTBError:
        return None


async def _asker(request: Request, session: AsyncSession, kind: str) -> tuple[Principal | None, Any]:
    """The page's session (its principal, or None) and the person or staff member of `kind` behind it, or
    None when there is none, it was revoked, or the account is gone or inactive (identity/asker.py)."""
    principal = session_principal(request)
    if principal is None or principal.kind != kind:
        return principal, None
    try:
        return principal, await (load_person(session, principal) if kind == "person" else load_staff(session, principal))
    except MTBError:
        return principal, None


async def logout_to(request: Request, session: AsyncSession, location: str) -> RedirectResponse:
    """Logout: the token stops working everywhere, not only in this browser; then go to `location`."""
    await verify_csrf(request)
    principal = session_principal(request)
    if principal is not None:
        await revoke(session, principal)
    response = redirect(location)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def return_path(request: Request) -> str:
    """Where to come back to after logging in again: this page with its query string; for a form sent from
    a page, that page (the Referer, when it is this site's)."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = request.headers.get("referer")
    if referer:
        parsed = urlsplit(referer)
        if parsed.netloc == request.url.netloc and parsed.path.startswith("/"):
            return parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return request.url.path


async def page_person(request: Request, session: AsyncSession, *, next_path: str | None = None) -> InsuredPerson:
    """The insured person logged in on this page. A session in use is renewed (an idle timeout, like
    staff sessions); a lapsed one is sent to log in again and come back to `next_path` (default: here)."""
    principal, person = await _asker(request, session, "person")
    if person is None:
        lapsed = bool(request.cookies.get(SESSION_COOKIE)) and (principal is None or principal.kind == "person")
        raise LoginRequired("/login", next_path or return_path(request), expired=lapsed)
    request.state.page_user = {"kind": "person", "name": person.name}
    assert principal is not None and principal.expires_at is not None
    if principal.expires_at - utcnow().timestamp() < lifetime_seconds("person") / 2:
        token, lifetime = issue_token(principal)
        request.state.renewed_session = (token, lifetime + LAPSE_GRACE_SECONDS)
    return person


async def page_staff(request: Request, session: AsyncSession, *roles: StaffRole) -> StaffUser:
    principal, staff = await _asker(request, session, "staff")
    if staff is None:
        raise LoginRequired("/staff/login", request.url.path)
    request.state.page_user = {"kind": "staff", "name": staff.username, "role": staff.role,
                               "region_code": staff.region_code}
    if roles and staff.role not in {r.value for r in roles}:
        raise Forbidden("forbidden_role", "您的岗位无权使用此功能")
    assert principal is not None and principal.expires_at is not None
    if principal.expires_at - utcnow().timestamp() < lifetime_seconds("staff") / 2:
        # Idle timeout, not a fixed one: a session in use is renewed (the middleware sets the cookie).
        token, lifetime = issue_token(Principal(kind="staff", id=staff.id, role=staff.role,
                                                region_code=staff.region_code, session_id=principal.session_id))
        request.state.renewed_session = (token, lifetime)
    return staff


def safe_next(raw: str | None, default: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default


async def undo(session: AsyncSession, *keep: object) -> None:
    """Roll back what a refused action wrote, then reload the objects the page still shows."""
    await session.rollback()
    for obj in keep:
        await session.refresh(obj)
