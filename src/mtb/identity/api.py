"""Login routes: real-name for insured people and agents, username/password for staff."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mtb.db.engine import DBSession
from mtb.errors import Unauthorized
from mtb.identity import idnumber, throttle
from mtb.identity.auth import CurrentPrincipal
from mtb.identity.models import InsuredPerson, StaffUser
from mtb.identity.schemas import Me, PersonOut, PersonToken, RealNameLogin, StaffLogin, StaffOut, StaffToken
from mtb.identity.service import authenticate_staff
from mtb.identity.tokens import Principal, issue_token, revoke

router = APIRouter(prefix="/api/v1", tags=["auth"])
INVALID_REAL_NAME = "姓名、身份证号或医保卡号不正确，请核对后重试"


@router.post("/auth/real-name", response_model=PersonToken)
async def real_name_login(body: RealNameLogin, request: Request, session: DBSession) -> PersonToken:
    """Verify name, ID number and card number against the registry (the e-voucher stand-in)."""
    guard = throttle.IdentityGuard.for_request(request)
    number = idnumber.normalize(body.id_number)
    await guard.before(number)
    person = await request.app.state.verifier.verify(
        session, name=body.name, id_number=number, card_number=body.card_number)
    if person is None:
        remaining = await guard.failed(number)
        raise Unauthorized("invalid_credentials", throttle.attempts_left(INVALID_REAL_NAME, remaining),
                           extra={"remaining_attempts": remaining})
    await guard.succeeded(number)
    token, lifetime = issue_token(Principal(kind="person", id=person.id, region_code=person.region_code))
    return PersonToken(access_token=token, expires_in=lifetime, person=PersonOut.of(person))


@router.post("/auth/staff", response_model=StaffToken)
async def staff_login(body: StaffLogin, request: Request, session: DBSession) -> StaffToken:
    guard = throttle.staff_guard(request)
    user_key = f"staff:{body.username.strip()}"
    await guard.check(user_key)
    staff = await authenticate_staff(session, username=body.username, password=body.password)
    if staff is None:
        remaining = await guard.fail(user_key)
        raise Unauthorized("invalid_credentials", throttle.attempts_left("用户名或密码不正确", remaining),
                           extra={"remaining_attempts": remaining})
    await guard.succeed(user_key)
    token, lifetime = issue_token(
        Principal(kind="staff", id=staff.id, role=staff.role, region_code=staff.region_code))
    return StaffToken(access_token=token, expires_in=lifetime, staff=StaffOut.of(staff))


@router.post("/auth/logout", status_code=204)
async def logout(principal: CurrentPrincipal, session: DBSession) -> None:
    """End this token now (not only when it expires)."""
    await revoke(session, principal)


@router.get("/me", response_model=Me)
async def who_am_i(principal: CurrentPrincipal, session: DBSession) -> Me:
    if principal.kind == "person":
        person = await session.get(InsuredPerson, principal.id)
        if person is None:
            raise Unauthorized("token_invalid", "登录已失效，请重新登录")
        return Me(kind="person", person=PersonOut.of(person))
    staff = await session.get(StaffUser, principal.id)
    if staff is None or not staff.active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    return Me(kind="staff", staff=StaffOut.of(staff))
