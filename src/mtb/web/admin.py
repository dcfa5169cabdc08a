"""Administrator pages: the catalog, staff accounts, hospital keys and statistics of one's own region.

Every page needs an active administrator (`page_staff(..., StaffRole.admin)`); every query is filtered
by the administrator's region, so another region's rows do not exist here (404). Every POST checks the
CSRF token before anything else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from mtb.applications.actors import Actor
from mtb.catalog.calendar import enter_schedule, next_year_warning, parse_dates, synced
from mtb.catalog.document import CatalogDocument, Disease
from mtb.catalog.examples import example_values
from mtb.catalog.loader import CatalogInvalid, CatalogProblem, parse_catalog
from mtb.catalog.models import CalendarYear, CatalogVersion
from mtb.catalog.service import ActiveCatalog, active_catalog, load_catalogs
from mtb.catalog.statutory import LAST_YEAR
from mtb.catalog.workdays import FIRST_SCHEDULE_YEAR, SOURCE_LABELS, YearTable
from mtb.db.engine import DBSession
from mtb.errors import MTBError, NotFound
from mtb.identity import idnumber
from mtb.identity.accounts import deactivate, member_of, region_member, region_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.identity.service import create_staff
from mtb.qualifications.keys import create_hospital_key, region_key, region_keys, revoke_key
from mtb.qualifications.models import HospitalKey
from mtb.settings import get_settings
from mtb.timeutil import local_today
from mtb.web import charts
from mtb.web.core import page_staff, redirect, render, verify_csrf
from mtb.web.stats import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, RegionStats, region_stats

router = APIRouter(prefix="/staff/admin")

MAX_CATALOG_BYTES = 2 * 1024 * 1024
ROLE_LABELS = {StaffRole.reviewer.value: "审核人员", StaffRole.window.value: "窗口经办人员",
               StaffRole.admin.value: "管理员"}
# Which form field a staff-creation error belongs next to.
STAFF_ERROR_FIELDS = {"invalid_username": "username", "staff_exists": "username", "weak_password": "password"}


def local_time(instant: datetime | None) -> str:
    """An instant as the agency's local date and minute, for tables."""
    if instant is None:
        return ""
    return instant.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")


async def _admin(request: Request, session: AsyncSession) -> StaffUser:
    return await page_staff(request, session, StaffRole.admin)


async def _in_force(session: AsyncSession, region_code: str) -> ActiveCatalog | None:
    try:
        return await active_catalog(session, region_code)
    except NotFound:
        return None


def _region_name(region_code: str, current: ActiveCatalog | None) -> str:
    if current is not None:
        return current.document.region.name
    return idnumber.region_name(region_code) or region_code


async def _page(request: Request, session: AsyncSession, staff: StaffUser, template: str,
                status_code: int = 200, **context: Any) -> HTMLResponse:
    current = context.pop("current", None) or await _in_force(session, staff.region_code)
    calendar = await synced(session, request.app.state.calendar)
    return render(request, f"admin/{template}", status_code=status_code, staff=staff, current=current,
                  region_name=_region_name(staff.region_code, current), local_time=local_time,
                  calendar_warning=next_year_warning(calendar, local_today()), **context)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.get("")
async def index(request: Request, session: DBSession) -> Response:
    staff = await _admin(request, session)
    return await _page(request, session, staff, "index.html")


# --- catalog -------------------------------------------------------------------------------------


def disease_rows(doc: CatalogDocument) -> list[dict[str, Any]]:
    """What the catalog page shows of each disease, with codes resolved to their names."""
    titles = {t.code: t.name for t in doc.physician_titles}

    def kind_name(kind: str) -> str:
        found = doc.material_kind(kind)
        return found.name if found else kind

    def row(d: Disease) -> dict[str, Any]:
        category = doc.category(d.category)
        return {
            "disease": d, "category": category.name if category else d.category,
            "materials": [(kind_name(m.kind), m.required) for m in doc.materials_for(d)],
            "rules": [f"{kind_name(r.material)}须由{titles.get(r.title, r.title)}及以上职称医师出具" for r in d.rules],
        }

    return [row(d) for d in doc.diseases]


async def _catalog_page(request: Request, session: AsyncSession, staff: StaffUser, *, status_code: int = 200,
                        problems: list[CatalogProblem] | None = None, upload_error: str = "",
                        flashes: list[str] | None = None) -> HTMLResponse:
    versions = (await session.execute(
        select(CatalogVersion.id, CatalogVersion.version, CatalogVersion.effective_from, CatalogVersion.loaded_at,
               CatalogVersion.source_file)
        .where(CatalogVersion.region_code == staff.region_code)
        .order_by(CatalogVersion.effective_from.desc()))).all()
    current = await _in_force(session, staff.region_code)
    return await _page(request, session, staff, "catalog.html", status_code=status_code, current=current,
                       versions=versions, today=local_today(),
                       diseases=disease_rows(current.document) if current else [],
                       examples=example_values(current.document) if current else [],
                       problems=problems or [], upload_error=upload_error, flashes=flashes or [],
                       max_mb=MAX_CATALOG_BYTES // (1024 * 1024))


@router.get("/catalog")
async def catalog_page(request: Request, session: DBSession, loaded: str | None = None,
                       unchanged: str | None = None) -> Response:
    staff = await _admin(request, session)
    known = set((await session.execute(select(CatalogVersion.version).where(
        CatalogVersion.region_code == staff.region_code))).scalars())
    flashes: list[str] = []
    if loaded in known:
        flashes.append(f"目录版本 {loaded} 已加载")
    if unchanged in known:
        flashes.append(f"目录版本 {unchanged} 此前已加载，内容相同，未作改动")
    return await _catalog_page(request, session, staff, flashes=flashes)


@router.post("/catalog")
async def catalog_upload(request: Request, session: DBSession) -> Response:
    """Load a new catalog version of the administrator's region from an uploaded YAML file.

    Steps: check the file is there and at most 2 MB; validate it (every problem listed, nothing
    loaded); refuse another region's file; store the version (refused whole if it clashes).
    """
    await verify_csrf(request)
    staff = await _admin(request, session)
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _catalog_page(request, session, staff, status_code=422, upload_error="请选择要加载的目录文件（YAML）")
    raw = await upload.read(MAX_CATALOG_BYTES + 1)
    if len(raw) > MAX_CATALOG_BYTES:
        return await _catalog_page(request, session, staff, status_code=413,
                                   upload_error=f"文件过大：目录文件不能超过 {MAX_CATALOG_BYTES // (1024 * 1024)} MB")
    name = PurePosixPath(upload.filename.replace("\\", "/")).name[:200] or "catalog.yaml"
    try:
        parsed = parse_catalog(raw, file=name)
        if parsed.document.region.code != staff.region_code:
            return await _catalog_page(
                request, session, staff, status_code=422,
                upload_error=f"该文件属于地区 {parsed.document.region.code}（{parsed.document.region.name}），"
                             f"您只能加载本地区（{staff.region_code}）的目录")
        outcome = (await load_catalogs(session, [parsed]))[0]
    except CatalogInvalid as exc:
        return await _catalog_page(request, session, staff, status_code=422, problems=exc.problems,
                                   upload_error="目录文件有误，未加载任何内容。请按下列问题修改后重新上传。")
    param = "loaded" if outcome.result == "loaded" else "unchanged"
    return redirect(f"/staff/admin/catalog?{param}={outcome.version}")


# --- working-day calendar ----------------------------------------------------------------------


async def _calendar_page(request: Request, session: AsyncSession, staff: StaffUser, *, status_code: int = 200,
                         error: str = "", values: dict[str, str] | None = None,
                         flashes: list[str] | None = None) -> HTMLResponse:
    calendar = await synced(session, request.app.state.calendar)
    today = local_today()
    years = [{"year": y, "source": calendar.source(y), "label": SOURCE_LABELS[calendar.source(y)],
              "provisional": calendar.provisional(y), "schedule": calendar.entered.get(y)}
             for y in range(today.year - 1, today.year + 3)]
    entered = (await session.execute(select(CalendarYear).order_by(CalendarYear.year.desc()))).scalars().all()
    return await _page(request, session, staff, "calendar.html", status_code=status_code, years=years,
                       entered=entered, error=error, values=values or {"year": str(today.year + 1)},
                       flashes=flashes or [])


@router.get("/calendar")
async def calendar_page(request: Request, session: DBSession, entered: int | None = None,
                        recomputed: int | None = None) -> Response:
    staff = await _admin(request, session)
    flashes = []
    if entered is not None and await session.get(CalendarYear, entered) is not None:
        flashes.append(f"{entered}年节假日安排已录入；{recomputed or 0} 件待审申请的预计审核期限已按新安排重算")
    return await _calendar_page(request, session, staff, flashes=flashes)


@router.post("/calendar")
async def calendar_enter(request: Request, session: DBSession) -> Response:
    """Enter the State Council's schedule of a year: validated whole (every date in that year, none both off
    and working), then the provisional due dates of pending applications are recomputed once."""
    await verify_csrf(request)
    staff = await _admin(request, session)
    form = await request.form()
    values = {k: _text(form, k) for k in ("year", "holidays", "workdays", "source")}
    year = int(values["year"]) if values["year"].isascii() and values["year"].isdigit() else 0
    if not FIRST_SCHEDULE_YEAR <= year <= LAST_YEAR:
        return await _calendar_page(request, session, staff, status_code=422, values=values,
                                    error="请填写年份（如 2027）")
    if not values["source"]:
        return await _calendar_page(request, session, staff, status_code=422, values=values,
                                    error="请填写依据，如“国务院办公厅关于2027年部分节假日安排的通知”")
    try:
        table = YearTable(holidays=parse_dates(values["holidays"]), workdays=parse_dates(values["workdays"]),
                          source=values["source"])
        done = await enter_schedule(session, request.app.state.calendar, year, table, entered_by=staff.username,
                                    actor=Actor.of_staff(staff))
    except MTBError as exc:
        return await _calendar_page(request, session, staff, status_code=exc.status_code, values=values,
                                    error=exc.detail)
    return redirect(f"/staff/admin/calendar?entered={year}&recomputed={len(done)}")


# --- staff accounts ------------------------------------------------------------------------------


async def _staff_page(request: Request, session: AsyncSession, staff: StaffUser, *, status_code: int = 200,
                      errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                      flashes: list[str] | None = None) -> HTMLResponse:
    members = await region_staff(session, staff.region_code)
    return await _page(request, session, staff, "staff.html", status_code=status_code, members=members,
                       roles=ROLE_LABELS, errors=errors or {}, values=values or {"role": StaffRole.reviewer.value},
                       flashes=flashes or [])


@router.get("/staff")
async def staff_page(request: Request, session: DBSession, created: str | None = None,
                     deactivated: uuid.UUID | None = None) -> Response:
    staff = await _admin(request, session)
    flashes: list[str] = []
    if created:
        found = await region_member(session, staff.region_code, username=created)
        if found:
            flashes.append(f"已创建账号 {found.username}")
    if deactivated:
        member = await member_of(session, staff, deactivated)
        if not member.active:
            flashes.append(f"已停用账号 {member.username}")
    return await _staff_page(request, session, staff, flashes=flashes)


@router.post("/staff")
async def staff_create(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    staff = await _admin(request, session)
    form = await request.form()
    values = {"username": _text(form, "username"), "role": _text(form, "role")}
    password = form.get("password")
    if values["role"] not in ROLE_LABELS:
        return await _staff_page(request, session, staff, status_code=422, values=values,
                                 errors={"role": "请选择岗位：审核人员、窗口经办人员或管理员"})
    try:
        member = await create_staff(session, username=values["username"],
                                    password=password if isinstance(password, str) else "",
                                    role=StaffRole(values["role"]), region_code=staff.region_code)
    except MTBError as exc:
        field = STAFF_ERROR_FIELDS.get(exc.code, "form")
        return await _staff_page(request, session, staff, status_code=exc.status_code, values=values,
                                 errors={field: exc.detail})
    return redirect(f"/staff/admin/staff?{urlencode({'created': member.username})}")  # a name may hold & # + %


@router.post("/staff/{member_id}/deactivate")
async def staff_deactivate(member_id: uuid.UUID, request: Request, session: DBSession) -> RedirectResponse:
    await verify_csrf(request)
    staff = await _admin(request, session)
    member = await deactivate(session, staff, member_id)
    return redirect(f"/staff/admin/staff?deactivated={member.id}")


# --- hospital keys -------------------------------------------------------------------------------


async def _keys_page(request: Request, session: AsyncSession, staff: StaffUser, *, status_code: int = 200,
                     errors: dict[str, str] | None = None, new_key: str = "", new_row: HospitalKey | None = None,
                     flashes: list[str] | None = None) -> HTMLResponse:
    current = await _in_force(session, staff.region_code)
    hospitals = {h.code: h.name for h in current.document.hospitals} if current else {}
    keys = await region_keys(session, staff.region_code)
    response = await _page(request, session, staff, "hospital_keys.html", status_code=status_code, current=current,
                           hospitals=hospitals, keys=keys, errors=errors or {}, new_key=new_key, new_row=new_row,
                           flashes=flashes or [])
    if new_key:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/hospital-keys")
async def keys_page(request: Request, session: DBSession, revoked: uuid.UUID | None = None) -> Response:
    staff = await _admin(request, session)
    flashes: list[str] = []
    if revoked:
        row = await region_key(session, staff.region_code, revoked)
        if row.revoked_at is not None:
            flashes.append(f"密钥 {row.prefix}… 已停用")
    return await _keys_page(request, session, staff, flashes=flashes)


@router.post("/hospital-keys")
async def key_create(request: Request, session: DBSession) -> Response:
    """Make a key for a designated hospital of the region; the page shows it this once and never again."""
    await verify_csrf(request)
    staff = await _admin(request, session)
    code = _text(await request.form(), "hospital_code")
    try:
        row, key = await create_hospital_key(session, code, region_code=staff.region_code)
    except MTBError as exc:
        return await _keys_page(request, session, staff, status_code=exc.status_code,
                                errors={"hospital_code": exc.detail})
    return await _keys_page(request, session, staff, status_code=201, new_key=key, new_row=row)


@router.post("/hospital-keys/{key_id}/revoke")
async def key_revoke(key_id: uuid.UUID, request: Request, session: DBSession) -> RedirectResponse:
    await verify_csrf(request)
    staff = await _admin(request, session)
    row = await region_key(session, staff.region_code, key_id)
    await revoke_key(session, row)
    return redirect(f"/staff/admin/hospital-keys?revoked={row.id}")


# --- statistics ----------------------------------------------------------------------------------


def stats_charts(stats: RegionStats) -> dict[str, Markup]:
    """The page's five SVG charts, from the same numbers as its tables."""
    percent = stats.on_time_percent
    share_note = (f"按期办结率 {percent:.1f}%（{stats.on_time} / {stats.decided}）" if percent is not None
                  else "所选期间没有已办结的申请")
    return {
        "per_day": charts.stacked_columns(
            "chart-per-day", "每日新建申请（按渠道）", [d.strftime("%m-%d") for d in stats.days],
            [charts.Series(name, [stats.created_on(d, code) for d in stats.days])
             for code, name in stats.channels],
            tips=[d.isoformat() for d in stats.days]),
        "by_disease": charts.horizontal_bars("chart-by-disease", "新建申请（按病种）", stats.by_disease),
        "outcomes": charts.columns("chart-outcomes", "审核结果（终审决定）",
                                   [(label, n) for _, label, n in stats.outcomes],
                                   colors=[charts.PALETTE[1], charts.PALETTE[2], charts.PALETTE[4]]),
        "on_time": charts.columns("chart-on-time", "是否在办结时限内作出决定",
                                  [("按期", stats.on_time), ("逾期", stats.late)],
                                  colors=[charts.PALETTE[1], charts.PALETTE[4]], note=share_note),
        "workdays": charts.columns("chart-workdays", "提交至作出决定的工作日数", stats.histogram),
    }


@router.get("/stats")
async def stats_page(request: Request, session: DBSession, days: str | None = None) -> Response:
    staff = await _admin(request, session)
    error = ""
    period = DEFAULT_DAYS
    if days is not None and days.strip():
        if days.strip().isdigit() and MIN_DAYS <= int(days) <= MAX_DAYS:
            period = int(days)
        else:
            error = f"统计天数请填写 {MIN_DAYS} 到 {MAX_DAYS} 之间的整数"
    current = await _in_force(session, staff.region_code)
    stats = await region_stats(session, region_code=staff.region_code, today=local_today(), days=period,
                               calendar=request.app.state.calendar,
                               document=current.document if current else None)
    return await _page(request, session, staff, "stats.html", status_code=422 if error else 200, current=current,
                       stats=stats, charts=stats_charts(stats), period=period, days_value=days or period,
                       days_error=error, min_days=MIN_DAYS, max_days=MAX_DAYS)
