"""What a load balancer and a monitoring system ask of a running MTB process: readiness, Prometheus
metrics, and the drain on shutdown.

- `GET /api/v1/health` (in app.py) stays trivial: the process answers. `GET /api/v1/health/ready` says
  whether this process should get traffic: the database answers `SELECT 1`, the material storage is
  writable (and its bucket reachable), and the process is not shutting down. 200 `{"status": "ready"}` or
  503 `{"error": "not_ready", "detail", "check"}`.
- `GET /metrics` (Prometheus text format): request latency by method, route template and status (fed by
  `observe_request`, which the edge middleware calls once per request), the review queue by region
  (counted at scrape time, cached for a few seconds), and the periodic jobs. Only from
  `MTB_METRICS_NETWORKS` (default loopback) or with `Authorization: Bearer $MTB_METRICS_TOKEN`.
  With several workers on one socket (`mtb serve --workers N`) every worker writes its samples under
  PROMETHEUS_MULTIPROC_DIR (`mtb serve` makes one) and a scrape adds them up; separate processes (one
  per port, as behind nginx) are scraped one by one.
- On SIGTERM or SIGINT readiness turns 503 at once; the server's own graceful shutdown (stop accepting,
  finish the requests in flight within MTB_SHUTDOWN_GRACE_SECONDS) begins MTB_SHUTDOWN_DRAIN_SECONDS
  later, so a balancer that polls readiness stops sending first.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import case, func, select, text

from mtb.applications.models import Application
from mtb.applications.states import Status
from mtb.db.sqlite_loop import off_loop
from mtb.errors import ErrorOut
from mtb.materials.storage import LocalStorage, Storage
from mtb.settings import Settings
from mtb.timeutil import local_today

log = logging.getLogger("mtb.observability")
SignalHandler = Callable[[int, FrameType | None], object]
router = APIRouter()

READY_TIMEOUT_SECONDS = 2.0
QUEUE_CACHE_SECONDS = 10.0
QUEUED = (Status.submitted.value, Status.in_review.value)

REQUEST_SECONDS = Histogram(
    "mtb_http_request_duration_seconds", "Time from the request's arrival to the end of its answer",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
JOBS_LAST_RUN = Gauge("mtb_jobs_last_run_timestamp_seconds", "When the periodic jobs last ran to the end",
                      multiprocess_mode="max")
JOBS_ROWS = Counter("mtb_jobs_rows_total", "Rows the periodic jobs acted on", ["job"])
JOBS_FAILURES = Counter("mtb_jobs_failures_total", "Runs of the periodic jobs that failed")
DEPENDENCY_FAILURES = Counter(
    "mtb_dependency_failures_total",
    "Requests answered 503/507 because a dependency failed (database, storage, disk)", ["dependency"])


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request: `route` is the route's template (`/api/v1/applications/{application_id}`),
    never the path, so the number of series stays bounded."""
    REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def record_dependency_failure(dependency: str) -> None:
    DEPENDENCY_FAILURES.labels(dependency).inc()


def record_jobs(rows_by_job: Mapping[str, int]) -> None:
    """A jobs run: what each job did (mtb/jobs.py JobReport, as a mapping)."""
    JOBS_LAST_RUN.set(time.time())
    for job, rows in rows_by_job.items():
        JOBS_ROWS.labels(job).inc(rows)


def record_jobs_failure() -> None:
    JOBS_FAILURES.inc()


# --- readiness ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NotReady:
    check: str  # database | storage | shutdown
    detail: str


async def _database_problem(app: FastAPI) -> NotReady | None:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any failure at all means: send no traffic here)
        log.warning("readiness: database unavailable", extra={"error": type(exc).__name__})
        return NotReady("database", "数据库暂不可用")
    return None


def _check_storage(storage: Storage) -> None:
    """The upload spool takes a file; a bucket answers (blocking: run in a thread)."""
    storage.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=storage.tmp, prefix="ready-"):
        pass
    if not isinstance(storage, LocalStorage):
        from mtb.materials.s3 import S3Storage  # boto3 is imported only where S3 is used

        if isinstance(storage, S3Storage):
            storage.client.head_bucket(Bucket=storage.bucket)


async def _storage_problem(app: FastAPI) -> NotReady | None:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await asyncio.to_thread(_check_storage, app.state.storage)
    except Exception as exc:  # noqa: BLE001  (as above)
        log.warning("readiness: storage unavailable", extra={"error": type(exc).__name__})
        return NotReady("storage", "材料存储暂不可用")
    return None


async def readiness_problem(app: FastAPI) -> NotReady | None:
    if getattr(app.state, "draining", False):
        return NotReady("shutdown", "服务正在停止")
    return await _database_problem(app) or await _storage_problem(app)


class ReadyOut(BaseModel):
    status: Literal["ready"]


@router.get("/api/v1/health/ready", tags=["health"], response_model=ReadyOut, responses={503: {
    "model": ErrorOut, "description": "`not_ready`: the database, the storage, or shutting down (`check`)"}})
async def ready(request: Request) -> Response:
    problem = await readiness_problem(request.app)
    if problem is not None:
        return JSONResponse({"error": "not_ready", "detail": problem.detail, "check": problem.check},
                            status_code=503)
    return JSONResponse({"status": "ready"})


# --- shutdown -------------------------------------------------------------------------------------

def drain_on_signals(app: FastAPI, drain_seconds: float) -> None:
    """Mark the app draining on SIGTERM/SIGINT, then hand the signal on to the server's own handler
    (uvicorn's: stop accepting, finish what is in flight) `drain_seconds` later. Called from the lifespan,
    once the server has installed its handlers; a second signal is handed on at once."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        server_handler = signal.getsignal(sig)
        if callable(server_handler):
            signal.signal(sig, _draining_handler(app, loop, server_handler, drain_seconds))


def _draining_handler(app: FastAPI, loop: asyncio.AbstractEventLoop, server_handler: SignalHandler,
                      drain_seconds: float) -> SignalHandler:
    def hand_on_later(signum: int) -> None:
        log.info("draining before shutdown", extra={"seconds": drain_seconds})
        loop.call_later(drain_seconds, server_handler, signum, None)

    def handler(signum: int, frame: FrameType | None) -> None:
        first = not getattr(app.state, "draining", False)
        app.state.draining = True
        if first and drain_seconds > 0:
            loop.call_soon_threadsafe(hand_on_later, signum)  # signal-safe; logging waits for the loop
        else:
            server_handler(signum, frame)

    return handler


# --- metrics --------------------------------------------------------------------------------------

@dataclass
class QueueDepth:
    """Open review work per region, counted at most every QUEUE_CACHE_SECONDS."""

    rows: list[tuple[str, str, int, int]]  # region, status, applications, overdue
    counted_at: float


class _QueueCollector(Collector):
    def __init__(self, depth: QueueDepth) -> None:
        self.depth = depth

    def collect(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily("mtb_review_queue_depth", "Applications waiting for or under review",
                                   labels=["region", "status"])
        overdue = GaugeMetricFamily("mtb_review_queue_overdue", "Queued applications past their due date",
                                    labels=["region"])
        late: dict[str, int] = {}
        for region, status, count, past_due in self.depth.rows:
            queued.add_metric([region, status], count)
            late[region] = late.get(region, 0) + past_due
        for region, past_due in sorted(late.items()):
            overdue.add_metric([region], past_due)
        yield queued
        yield overdue


async def queue_depth(app: FastAPI) -> QueueDepth:
    """The cached count, recounted when older than QUEUE_CACHE_SECONDS (a failed count keeps the last one)."""
    cached: QueueDepth = getattr(app.state, "queue_depth", None) or QueueDepth([], float("-inf"))
    now = time.monotonic()
    if now - cached.counted_at < QUEUE_CACHE_SECONDS:
        return cached
    today = local_today()
    statement = off_loop(
        select(Application.region_code, Application.status, func.count(),
               func.coalesce(func.sum(case((Application.due_date < today, 1), else_=0)), 0))
        .where(Application.status.in_(QUEUED))
        .group_by(Application.region_code, Application.status)
        .order_by(Application.region_code, Application.status))
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), app.state.sessionmaker() as session:
            rows = [(r, s, int(n), int(o)) for r, s, n, o in (await session.execute(statement)).all()]
    except Exception as exc:  # noqa: BLE001  (the other metrics are served all the same)
        log.warning("metrics: the review queue could not be counted", extra={"error": type(exc).__name__})
        return cached
    app.state.queue_depth = QueueDepth(rows, now)
    return app.state.queue_depth


def _may_scrape(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    given = request.headers.get("authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_networks)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _may_scrape(request, request.app.state.settings):
        return JSONResponse({"error": "metrics_forbidden", "detail": "无权读取运行指标"}, status_code=403)
    queue = _QueueCollector(await queue_depth(request.app))
    extra = CollectorRegistry()
    extra.register(queue)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        body = generate_latest(workers)
    else:
        body = generate_latest(REGISTRY)
    return Response(body + generate_latest(extra), media_type=CONTENT_TYPE_LATEST)
