"""The FastAPI application factory: settings, database, routers, one error format, request logs."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from mtb.apidocs import install_api_docs
from mtb.applications.api import read as read_application
from mtb.applications.api import read_status
from mtb.applications.api import router as applications_router
from mtb.applications.cross_region import router as cross_region_router
from mtb.catalog.api import router as catalog_router
from mtb.catalog.calendar_api import router as calendar_router
from mtb.catalog.service import refuse_example_catalogs
from mtb.catalog.workdays import load_calendar
from mtb.channels.api import admin_router as channels_admin_router
from mtb.channels.api import router as channels_router
from mtb.db.engine import create_engine, create_sessionmaker, is_sqlite
from mtb.db.sqlite_gate import WriteGate
from mtb.direct.reader import make_reader
from mtb.error_codes import document_error_codes
from mtb.errors import ErrorOut, MTBError
from mtb.http.edge import Edge
from mtb.http.hotpaths import HotPaths
from mtb.http.limits import BodyLimit
from mtb.identity.api import router as auth_router
from mtb.identity.demo_password import refuse_demo_accounts
from mtb.identity.service import RegistryVerifier
from mtb.interop.api import admin_router as exports_router
from mtb.interop.api import router as fhir_router
from mtb.interop.outcome import FHIR_JSON, is_fhir_path, operation_outcome
from mtb.jobs import scheduler
from mtb.logs import configure_logging
from mtb.materials.api import router as materials_router
from mtb.materials.stores import make_storage
from mtb.notifications.api import router as notifications_router
from mtb.observability import drain_on_signals, observe_request, record_dependency_failure
from mtb.observability import router as observability_router
from mtb.outage import dependency_of, failure_of
from mtb.qualifications.api import admin_router as qualifications_admin_router
from mtb.qualifications.api import router as qualifications_router
from mtb.qualifications.eligibility import eligibility
from mtb.qualifications.eligibility import router as eligibility_router
from mtb.review.api import queue
from mtb.review.api import router as review_router
from mtb.review.reasons import load_reasons
from mtb.settings import Settings, get_settings
from mtb.web.core import SESSION_COOKIE, STATIC_DIR, LoginRequired, redirect, render, return_path, safe_next
from mtb.web.routes import PAGE_ROUTERS
from mtb.webhooks.api import router as webhooks_router

log = logging.getLogger("mtb.app")


class HealthOut(BaseModel):
    status: Literal["ok"]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in (
        (401, "not logged in, or the token has ended"), (403, "a role that may not do this"),
        (404, "not found, or not yours to see"), (409, "a state conflict"), (413, "too large"),
        (415, "a file type MTB does not take"), (422, "malformed or incomplete input"),
        (429, "too many attempts (Retry-After)"),
        (503, "a dependency is unavailable (database_unavailable, storage_unavailable): retry after Retry-After"),
        (507, "the server's disk is full (disk_full): nothing was saved; try again after Retry-After"))}

_HTTP_CODES = {
    400: ("invalid_request", "请求内容格式不正确"),
    401: ("not_authenticated", "请先登录"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "请求的内容不存在"),
    405: ("method_not_allowed", "不支持此请求方法"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
}


def operation_id(route: APIRoute) -> str:
    """An operation's id is its function's name (`submit_application`), which a generated client uses as
    its method's name; tests/client checks they are unique."""
    return route.name


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in exc.errors()]


_TITLES = {401: "请先登录", 403: "无权访问", 404: "页面不存在", 409: "操作未能完成", 413: "文件过大",
           415: "文件格式不支持", 422: "填写有误", 429: "操作过于频繁", 500: "系统繁忙", 503: "服务暂时不可用",
           507: "存储空间不足"}


def _answer(request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    """JSON for the API (and uploads from pages), OperationOutcome on the FHIR routes; a page in Chinese for
    everything a browser shows."""
    if is_fhir_path(request.url.path):
        return JSONResponse(operation_outcome(status, code, detail, extra.get("fields")), status_code=status,
                            headers=headers, media_type=FHIR_JSON)
    wants_json = request.url.path.startswith("/api/") or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    if wants_json:
        return _error(status, code, detail, headers, **extra)
    back = "/staff" if request.url.path.startswith("/staff") else "/"
    if request.method == "POST":  # a refused form: back to the page it was sent from (e.g. the materials)
        back = safe_next(return_path(request), back)
    page = render(request, "error.html", status_code=status, title=_TITLES.get(status, "出错了"), detail=detail,
                  code=code, back=back)
    page.headers.update(headers or {})
    return page


async def answer_failure(request: Request, exc: Exception) -> Response | None:
    """The answer to an infrastructure failure (outage.py: 503 or 507 with Retry-After), logged once as a
    warning naming the dependency; None if `exc` is not one."""
    failure = failure_of(exc)
    if failure is None:
        return None
    _report_failure(request, failure, exc)
    return _answer(request, failure.status_code, failure.code, failure.detail, failure.headers)


def _report_failure(request: Request, failure: MTBError, exc: BaseException) -> None:
    """One warning line and one count per request a dependency failed (what an operator sees)."""
    dependency = dependency_of(failure)
    record_dependency_failure(dependency)
    log.warning("dependency unavailable", extra={"dependency": dependency, "code": failure.code,
                                                 "path": request.url.path, "error": _cause_name(exc)})


def _cause_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc.__cause__
    return f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__


def _limit_page(scope: Scope, status: int, code: str, detail: str) -> Response:
    """The body limit's answer to a browser's own form post: the error page, with the way back."""
    return _answer(Request(scope), status, code, detail)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":  # the page script keeps the file
            code, detail = (("session_expired", "登录已超时，请重新登录") if exc.expired
                            else ("login_required", "请先登录"))
            return _error(401, code, detail, None, login=exc.location)
        return redirect(exc.location)

    @app.exception_handler(MTBError)
    async def _mtb_error(request: Request, exc: MTBError) -> Response:
        if exc.status_code in (503, 507):  # an outage raised as a domain error (storage, direct reader)
            _report_failure(request, exc, exc)
        return _answer(request, exc.status_code, exc.code, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _answer(request, 422, "invalid_request", "请求内容不完整或格式不正确", fields=_field_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, detail = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
        return _answer(request, exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> Response:
        return _answer(request, 422, "invalid_request", "请求内容不完整或格式不正确",
                       fields=[{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()])

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        log.warning("input refused by the database", extra={"error": type(exc.orig).__name__})
        return _answer(request, 422, "invalid_text", "输入内容包含无法处理的字符，请检查后重试")

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception) -> Response:
        return await answer_failure(request, exc) or await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if (failure := await answer_failure(request, exc)) is not None:
            return failure
        log.exception("unhandled error", extra={"path": request.url.path})
        return _answer(request, 500, "internal_error", "系统繁忙，请稍后再试")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.env != "test":  # under pytest, logging belongs to pytest
        configure_logging(settings.log_level)
    if settings.env == "production" and (problems := settings.production_problems()):
        raise RuntimeError("; ".join(problems))
    if settings.is_insecure():
        log.warning("using the development secret keys; set MTB_SECRET_KEY and MTB_DATA_KEY")
    gate = WriteGate()  # SQLite: the request's writes and the counters' queue in one line
    engine = create_engine(settings.database_url, prepared_statements=settings.database_prepared_statements,
                           gate=gate, sqlite_inline=settings.sqlite_inline)
    counters_engine = create_engine(settings.database_url, prepared_statements=settings.database_prepared_statements,
                                    gate=gate, sqlite_inline=settings.sqlite_inline,
                                    **({} if is_sqlite(settings.database_url) else {"pool_size": 3, "max_overflow": 5}))
    direct = make_reader(settings.database_url, pool_size=settings.direct_pool_size,
                         prepare=settings.database_prepared_statements)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.env == "production":  # no account with the public demo password may serve
            async with app.state.sessionmaker() as session:
                await refuse_demo_accounts(session)
                await refuse_example_catalogs(session)  # unless MTB_ALLOW_EXAMPLE_POLICY=true
        drain_on_signals(app, settings.shutdown_drain_seconds)
        # What start-up made lives as long as the process: keep it out of the collector's full passes,
        # which otherwise walk it again and again and show as latency spikes (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        task = None
        if settings.scheduler_enabled:
            task = asyncio.create_task(scheduler(app.state.sessionmaker, settings))
        yield
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await direct.close()
        await engine.dispose()
        await counters_engine.dispose()

    app = FastAPI(title="MTB 门诊慢特病", version="1", lifespan=lifespan, responses=ERROR_RESPONSES,
                  description="门诊特殊病备案 / 门诊慢特病待遇认定：在线申请与经办审核",
                  docs_url=None, redoc_url=None,  # FastAPI's pages load a CDN: apidocs serves them offline
                  generate_unique_id_function=operation_id)
    app.state.settings = settings
    app.state.engine = engine
    app.state.direct = direct
    app.state.sessionmaker = create_sessionmaker(engine)
    # Counters (login throttling, upload rate) commit in their own short transactions while a request's
    # session may hold a connection: on a pool of their own, so that those requests never wait for
    # each other's connections.
    app.state.counters = create_sessionmaker(counters_engine)
    app.state.verifier = RegistryVerifier()
    app.state.storage = make_storage(settings)
    app.state.calendar = load_calendar(settings.calendar_path)
    app.state.reasons = load_reasons(settings.reason_codes_path)
    install_error_handlers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_error_codes(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    if settings.hot_paths:  # innermost: inside the body limit and the edge, like the routes themselves
        app.add_middleware(HotPaths, fastapi=app, endpoints=(read_status, read_application, eligibility, queue))
    app.add_middleware(BodyLimit, settings=settings, page=_limit_page)

    # Outermost: every answer, the body limit's 413 included, gets the headers and a log line.
    app.add_middleware(Edge, session_cookie=SESSION_COOKIE, observe=observe_request)

    @app.get("/api/v1/health", tags=["health"])
    async def health() -> HealthOut:
        return HealthOut(status="ok")

    # Routes are matched in order: the API first (the hot paths at the front), then the pages.
    app.include_router(eligibility_router)
    app.include_router(applications_router)
    app.include_router(catalog_router)
    app.include_router(calendar_router)
    app.include_router(auth_router)
    app.include_router(channels_router)
    app.include_router(materials_router)
    app.include_router(cross_region_router)
    app.include_router(notifications_router)
    app.include_router(review_router)
    app.include_router(qualifications_router)
    app.include_router(qualifications_admin_router)
    app.include_router(fhir_router)
    app.include_router(exports_router)
    app.include_router(channels_admin_router)
    app.include_router(webhooks_router)
    app.include_router(observability_router)
    install_api_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router, include_in_schema=False)
    return app
