"""The insured person's pages (mobile first): login, home, applying step by step, the application and
its materials, filings (change, renewal), messages, cross-region filing."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from mtb.applications.actors import Actor
from mtb.applications.cross_region import create_filing
from mtb.applications.models import CrossRegionFiling
from mtb.applications.schemas import RELATION_LABELS, ApplicationCreate, BeneficiaryIn, CrossRegionFilingIn
from mtb.applications.service import create_application, list_readable
from mtb.applications.views import application_summary
from mtb.catalog.api import disease_out
from mtb.catalog.service import active_catalog, active_catalogs
from mtb.db.engine import DBSession
from mtb.errors import MTBError
from mtb.identity import idnumber
from mtb.identity.api import real_name_login
from mtb.identity.schemas import RealNameLogin
from mtb.identity.throttle import IdentityGuard
from mtb.notifications.models import Notification
from mtb.notifications.service import list_for, mark_read
from mtb.qualifications.lifecycle import start_change, start_renewal
from mtb.qualifications.service import get_owned, list_for_person
from mtb.qualifications.views import qualification_out
from mtb.timeutil import local_today
from mtb.web import casework
from mtb.web.core import (
    CARE_COOKIE,
    LAPSE_GRACE_SECONDS,
    SESSION_COOKIE,
    logout_to,
    page_person,
    redirect,
    render,
    safe_next,
    session_principal,
    set_cookie,
    undo,
    verify_csrf,
)

router = APIRouter()
BASE = "/applications"
FIELD_OF = {"hospital_not_designated": "hospital_code", "laterality_required": "laterality",
            "laterality_invalid": "laterality", "laterality_not_applicable": "laterality",
            "channel_unknown": "channel", "window_channel_staff_only": "channel",
            "beneficiary_not_found": "beneficiary", "beneficiary_required": "beneficiary"}
FILING_ACTIONS = {"granted": "备案生效", "replaced": "已变更或续期", "expired": "到期", "revoked": "撤销",
                  "reminded": "到期提醒"}


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


@router.get("/login")
async def login_page(request: Request, next: str = "/", expired: bool = False) -> Response:
    return render(request, "login.html", next=safe_next(next, "/"), form={}, errors={}, expired=expired)


def _login_answer(request: Request, status_code: int, detail: str | None, **page: Any) -> Response:
    """A refused login: the page again, or for the page script's inline login, JSON it shows."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JSONResponse({"error": "login_failed", "detail": detail or "请填写姓名、身份证号和医保卡号"},
                            status_code=status_code)
    return render(request, "login.html", status_code=status_code, error=None if page.get("errors") else detail,
                  **page)


@router.post("/login")
async def login(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    target = safe_next(form.get("next"), "/")
    errors = {f: "请填写此项" for f in ("name", "id_number", "card_number") if not form.get(f, "").strip()}
    problem = idnumber.typing_problem(idnumber.normalize(form.get("id_number", ""))) if not errors else None
    if problem:
        errors["id_number"] = problem
    if errors:
        return _login_answer(request, 422, problem, next=target, form=form, errors=errors)
    try:
        token = await real_name_login(RealNameLogin(name=form["name"], id_number=form["id_number"],
                                                    card_number=form["card_number"]), request, session)
    except MTBError as exc:
        return _login_answer(request, exc.status_code, exc.detail, next=target, form=form, errors={})
    response: Response = redirect(target)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        response = JSONResponse({"redirect": target})
    set_cookie(request, response, SESSION_COOKIE, token.access_token,
               max_age=token.expires_in + LAPSE_GRACE_SECONDS)
    return response


@router.get("/logout")
async def logout_page(request: Request) -> Response:
    """退出 asks first (a tap on the header's corner should not end a half-done application)."""
    return render(request, "logout.html")


@router.post("/logout")
async def logout(request: Request, session: DBSession) -> Response:
    return await logout_to(request, session, "/")


@router.post("/care")
async def care_mode(request: Request) -> Response:
    """Switch 关怀版 (large text, large targets) on or off; remembered in this browser for a year."""
    await verify_csrf(request)
    form = await request.form()
    response = redirect(safe_next(str(form.get("next") or "/"), "/"))
    set_cookie(request, response, CARE_COOKIE, "1" if form.get("on") == "1" else "0", max_age=365 * 24 * 3600)
    return response


@router.get("/")
async def home(request: Request, session: DBSession) -> Response:
    principal = session_principal(request)
    if principal is not None and principal.kind == "staff":
        return redirect("/staff")
    regions = [a.document.region for a in await active_catalogs(session)]
    if principal is None:
        return render(request, "home.html", person=None, regions=regions)
    person = await page_person(request, session)
    # The person's own region first: the other is for treatment elsewhere (after a 异地就医备案).
    regions.sort(key=lambda r: not idnumber.within(person.region_code, r.code))
    apps = [await application_summary(session, a) for a in await list_readable(session, Actor.of_person(person))]
    filings = [await qualification_out(session, q, today=local_today(),
                                       expiring_soon_days=request.app.state.settings.expiring_soon_days)
               for q in await list_for_person(session, person.id)]
    unread = (await session.execute(select(func.count()).select_from(Notification).where(
        Notification.person_id == person.id, Notification.read_at.is_(None)))).scalar_one()
    home_region = next((r.code for r in regions if idnumber.within(person.region_code, r.code)), None)
    return render(request, "home.html", person=person, regions=regions, applications=apps, filings=filings,
                  unread=unread, person_home=home_region, insured_elsewhere=home_region is None,
                  person_region=idnumber.region_name(person.region_code) or person.region_code)


# The choices of the details step that may travel in a URL (back to the step after a lapsed login); the
# other person's name, ID and card number never do (the page script keeps them in the tab).
CARRIED = ("hospital_code", "laterality", "for_whom", "relation")
CHANNEL_COOKIE = "mtb_channel"


def _carry_url(form: dict[str, str]) -> str:
    query = {"region": form.get("region_code", ""), "disease": form.get("disease_code", "")}
    query |= {k: form[k] for k in CARRIED if form.get(k)}
    return "/apply?" + urlencode(query)


def _known_channel(request: Request, doc: Any, asked: str | None) -> Any:
    """The online channel the person came through: named by the app that opened the page (`?channel=`,
    remembered in a cookie), else the region's first online channel. The page does not ask."""
    online = [c for c in doc.channels if c.kind == "online"]
    for code in (asked, request.cookies.get(CHANNEL_COOKIE)):
        found = next((c for c in online if c.code == code), None)
        if found is not None:
            return found
    return online[0] if online else None


@router.get("/apply")
async def apply(request: Request, session: DBSession, region: str, disease: str | None = None,
                step: int = 2, channel: str | None = None) -> Response:
    person = await page_person(request, session)
    doc = (await active_catalog(session, region)).document
    chosen = doc.disease(disease) if disease else None
    if chosen is None or step == 1:
        categories = [{"name": c.name, "diseases": [disease_out(doc, d) for d in doc.diseases if d.category == c.code]}
                      for c in doc.categories]
        response = render(request, "apply_disease.html", region=doc.region, categories=categories, chosen=disease,
                          channel=channel)
    else:
        form = {k: request.query_params[k] for k in CARRIED if request.query_params.get(k)}
        response = _details(request, doc, chosen.code, person, form=form, errors={}, channel=channel)
    known = _known_channel(request, doc, channel)
    if channel and known is not None and known.code == channel:
        set_cookie(request, response, CHANNEL_COOKIE, channel)
    return response


def _details(request: Request, doc: Any, disease_code: str, person: Any, *, form: dict[str, str],
             errors: dict[str, str], error: str | None = None, status_code: int = 200,
             channel: str | None = None, cross_region: bool = False) -> Response:
    disease = disease_out(doc, doc.disease(disease_code))
    return render(request, "apply_details.html", status_code=status_code, region=doc.region, disease=disease,
                  hospitals=doc.hospitals, channel=_known_channel(request, doc, channel or form.get("channel")),
                  person=person, relations=[(k, v) for k, v in RELATION_LABELS.items() if k != "self"], form=form,
                  errors=errors, error=error, cross_region=cross_region)


@router.post("/apply")
async def apply_submit(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    person = await page_person(request, session, next_path=_carry_url(form))
    doc = (await active_catalog(session, form.get("region_code", ""))).document
    if doc.disease(form.get("disease_code", "")) is None:
        return redirect(f"/apply?region={doc.region.code}")
    if not form.get("hospital_code"):
        return _details(request, doc, form["disease_code"], person, form=form, status_code=422,
                        errors={"hospital_code": "请选择定点医疗机构"})
    known = _known_channel(request, doc, form.get("channel"))
    form["channel"] = known.code if known is not None else ""
    if form.get("for_whom") == "other" and form.get("relation", "self") not in set(RELATION_LABELS) - {"self"}:
        # Asked, never assumed: a first option preselected recorded sons as their fathers' spouses.
        return _details(request, doc, form["disease_code"], person, form=form, status_code=422,
                        errors={"relation": "请选择参保人是您的什么人"})
    if form.get("for_whom") == "other" and form.get("b_id_number", "").strip():
        problem = idnumber.typing_problem(idnumber.normalize(form["b_id_number"]))
        if problem:
            return _details(request, doc, form["disease_code"], person, form=form, status_code=422,
                            errors={"beneficiary": "参保人" + problem})
    try:
        beneficiary = None
        if form.get("for_whom") == "other":
            beneficiary = BeneficiaryIn(name=form.get("b_name", ""), id_number=form.get("b_id_number", ""),
                                        card_number=form.get("b_card_number", ""),
                                        relation=form["relation"])  # type: ignore[arg-type]
        payload = ApplicationCreate(region_code=doc.region.code, disease_code=form["disease_code"],
                                    hospital_code=form.get("hospital_code", ""), channel=form.get("channel", ""),
                                    laterality=form.get("laterality") or None, beneficiary=beneficiary)
    except ValidationError:
        return _details(request, doc, form["disease_code"], person, form=form, status_code=422,
                        errors={"beneficiary": "为他人办理时，请完整填写参保人的姓名、身份证号和医保卡号"})
    try:
        app, _ = await create_application(session, actor=Actor.of_person(person), actor_person=person, payload=payload,
                                       guard=IdentityGuard.for_request(request))
    except MTBError as exc:
        await undo(session, person)
        field = FIELD_OF.get(exc.code)
        existing = exc.extra.get("application_id")
        if existing:
            return redirect(f"{BASE}/{existing}")
        return _details(request, doc, form["disease_code"], person, form=form, status_code=exc.status_code,
                        errors={field: exc.detail} if field else {}, error=None if field else exc.detail,
                        cross_region=exc.code == "cross_region_filing_required")
    return redirect(f"{BASE}/{app.id}")


@router.get(BASE + "/{app_id}")
async def application_page(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.show(request, session, Actor.of_person(person), app_id, base=BASE, home="/")


@router.get(BASE + "/{app_id}/submitted")
async def submitted(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.submitted_page(request, session, Actor.of_person(person), app_id, base=BASE)


@router.post(BASE + "/{app_id}/materials")
async def upload(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.upload(request, session, Actor.of_person(person), app_id, base=BASE)


@router.post(BASE + "/{app_id}/materials/{material_id}/delete")
async def delete(app_id: uuid.UUID, material_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.delete(request, session, Actor.of_person(person), app_id, material_id, base=BASE)


@router.post(BASE + "/{app_id}/submit")
async def submit(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.submit_page(request, session, Actor.of_person(person), app_id, base=BASE, home="/")


@router.post(BASE + "/{app_id}/withdraw")
async def withdraw(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.withdraw_page(request, session, Actor.of_person(person), app_id, base=BASE)


@router.get(BASE + "/{app_id}/materials/{material_id}/file")
async def material_file(app_id: uuid.UUID, material_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.material_file(request, session, Actor.of_person(person), app_id, material_id)


@router.get(BASE + "/{app_id}/form.pdf")
async def form(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return await casework.form_page(session, Actor.of_person(person), app_id)


@router.get("/filings")
async def filings(request: Request, session: DBSession, error: str | None = None) -> Response:
    person = await page_person(request, session)
    rows = [await qualification_out(session, q, today=local_today(),
                                    expiring_soon_days=request.app.state.settings.expiring_soon_days)
            for q in await list_for_person(session, person.id)]
    hospitals = {r: (await active_catalog(session, r)).document.hospitals for r in {q.region_code for q in rows}}
    return render(request, "filings.html", filings=rows, hospitals=hospitals, actions=FILING_ACTIONS, tz=_tz(request),
                  error=error)


@router.post("/filings/{qualification_id}/{action}")
async def filing_action(qualification_id: uuid.UUID, action: str, request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    person = await page_person(request, session)
    q = await get_owned(session, person.id, qualification_id)
    form = await request.form()
    try:
        if action == "change":
            hospital = form.get("hospital_code")
            app = await start_change(session, person=person, q=q, hospital_code=str(hospital or ""), channel=None)
        elif action == "renew":
            app = await start_renewal(session, person=person, q=q, hospital_code=None, channel=None)
        else:
            return redirect("/filings")
    except MTBError as exc:
        await undo(session, person)
        existing = exc.extra.get("application_id")
        if existing:
            return redirect(f"{BASE}/{existing}")
        return await filings(request, session, error=exc.detail)
    return redirect(f"{BASE}/{app.id}")


@router.get("/messages")
async def messages(request: Request, session: DBSession) -> Response:
    person = await page_person(request, session)
    return render(request, "messages.html", messages=await list_for(session, person.id, limit=100), tz=_tz(request))


@router.post("/messages/{message_id}/read")
async def read_message(message_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    person = await page_person(request, session)
    await mark_read(session, person.id, message_id)
    return redirect("/messages")


@router.get("/cross-region")
async def cross_region(request: Request, session: DBSession, error: str | None = None,
                       done: str | None = None) -> Response:
    person = await page_person(request, session)
    regions = [a.document.region for a in await active_catalogs(session)
               if not idnumber.within(person.region_code, a.document.region.code)]
    rows = (await session.execute(select(CrossRegionFiling).where(CrossRegionFiling.person_id == person.id))).scalars()
    shown = [{"treatment_region_name": idnumber.region_name(f.treatment_region_code), "valid_from": f.valid_from,
              "valid_until": f.valid_until} for f in rows]
    region = next((r for r in regions if r.code == request.query_params.get("region")), None)
    done_region = next((a.document.region for a in await active_catalogs(session) if a.document.region.code == done),
                       None)
    return render(request, "cross_region.html", regions=regions, filings=shown, error=error, chosen=region,
                  done=done_region)


@router.post("/cross-region")
async def cross_region_submit(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    person = await page_person(request, session)
    code = (await request.form()).get("treatment_region_code")
    try:
        await create_filing(CrossRegionFilingIn(treatment_region_code=str(code or "")), person, session)
    except (MTBError, ValidationError) as exc:
        await undo(session, person)
        return await cross_region(request, session, error=getattr(exc, "detail", "请选择就医地区"))
    return redirect(f"/cross-region?{urlencode({'done': str(code or '')})}")

