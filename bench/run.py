"""Run the HTTP benchmarks of issue 8 against a database loaded by bench/load.py.

    .venv/bin/python bench/run.py --url sqlite+aiosqlite:///var/bench/mtb.sqlite3 --size 100000

Starts the server itself (`mtb serve`, 1 worker, 127.0.0.1, a free port; MTB_SCHEDULER_ENABLED=false,
MTB_UPLOADS_PER_MINUTE high) in the configuration the README ships: the JSON access log at INFO, one line
per request, written to a file (`--server-log`, as a service manager or container runtime collects it).
`--log-level WARNING` gives the figures without the access log. It measures, with wrk (2 threads, `--connections`)
when installed or an asyncio httpx client otherwise:
  (a) bare ASGI app (bench/bare_asgi.py, same uvicorn options)   (b) GET /api/v1/health
  (c) GET /api/v1/applications/{id}/status as its applicant      (d) GET /api/v1/eligibility (X-Api-Key)
  (c') GET /api/v1/applications/{id} (the full read) as its applicant
  (e) GET /api/v1/review/queue?limit=20 as a reviewer            (f) create + 2 × 200 KB uploads + submit
and the worker's resident memory. Prints a table and writes JSON (`--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen
import rawhttp
from load import fake_pdf, sync_url

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"c": "≥50% of (b), p99<15ms", "d": "≥50% of (b), p99<15ms", "e": "p99<50ms", "h": "p99<50ms",
           "f": "≥100/s",
           "rss": "<250 MB"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Server:
    def __init__(self, argv: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port, self.base = port, f"http://127.0.0.1:{port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        # A file, never an unread pipe: with the access log on, a full pipe would stop the server.
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_bytes().decode(errors='replace')[-2000:]}")
            try:
                httpx.get(self.base + "/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- load generators -------------------------------------------------------------------------------------

def lua_script(requests: list[tuple[str, dict[str, str]]]) -> str:
    """A wrk script cycling over (path, headers) pairs, from a random start per thread."""
    def q(s: str) -> str:
        return json.dumps(s)
    items = ",\n".join("{" + q(p) + ", {" + ", ".join(f"[{q(k)}]={q(v)}" for k, v in h.items()) + "}}"
                       for p, h in requests)
    return f"""local reqs = {{
{items}
}}
local i = 0
function setup(thread) thread:set("start", math.random(1, #reqs)) end
function init(args) i = start or 1 end
function request()
  i = i % #reqs + 1
  local r = reqs[i]
  return wrk.format("GET", r[1], r[2])
end
function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\\n", summary.errors.status))
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(base: str, requests: list[tuple[str, dict[str, str]]], *, connections: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(requests))
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", f.name, base],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    pct = {m[0]: _ms(m[1], m[2]) for m in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"NON2XX (\d+)", out)) else 0
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": rps, "p50_ms": pct.get("50"), "p99_ms": pct.get("99"), "requests": total,
            "non_2xx": non2xx, "socket_errors": errors, "tool": "wrk"}


async def _httpx_load(base: str, requests: list[tuple[str, dict[str, str]]], connections: int,
                      seconds: int) -> dict[str, Any]:
    lat: list[float] = []
    bad = 0
    stop_at = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal bad
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            i = n * 7919
            while time.perf_counter() < stop_at:
                path, headers = requests[i % len(requests)]
                i += 1
                t = time.perf_counter()
                r = await c.get(path, headers=headers)
                lat.append(time.perf_counter() - t)
                bad += r.status_code >= 300
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return _summary(lat, time.perf_counter() - t0, bad, "httpx")


def _summary(lat: list[float], elapsed: float, bad: int, tool: str) -> dict[str, Any]:
    lat.sort()
    def p(q: float) -> float | None:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else None
    return {"rps": len(lat) / elapsed, "p50_ms": p(0.5), "p99_ms": p(0.99), "requests": len(lat), "non_2xx": bad,
            "socket_errors": 0, "tool": tool}


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server and its worker processes so far."""
    import psutil

    total = 0.0
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def load_test(base: str, requests: list[tuple[str, dict[str, str]]], *, connections: int, seconds: int,
              pid: int | None = None, warmup: int = 2) -> dict[str, Any]:
    """Throughput and latency under `connections`, and the server's CPU per request: on a machine shared
    with other work, CPU time per request is the steadier figure (it does not count waiting for a core)."""
    # Check one request first: a benchmark of 401s is worthless.
    path, headers = requests[0]
    r = httpx.get(base + path, headers=headers, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:300]}")
    # Warm up first (connections opened, statements prepared, caches filled), as a server that has been
    # up for a while would be; only what follows is measured.
    if warmup > 0:
        if shutil.which("wrk"):
            run_wrk(base, requests, connections=connections, seconds=warmup)
        else:
            asyncio.run(_httpx_load(base, requests, connections, warmup))
    cpu0 = server_cpu_seconds(pid) if pid else None
    if shutil.which("wrk"):
        result = run_wrk(base, requests, connections=connections, seconds=seconds)
    else:
        result = asyncio.run(_httpx_load(base, requests, connections, seconds))
    if pid and cpu0 is not None and result["requests"]:
        result["server_cpu_us_per_request"] = (server_cpu_seconds(pid) - cpu0) / result["requests"] * 1e6
    return result


# --- set-up in the database ------------------------------------------------------------------------------

async def prepare(url: str, size: int, fresh_people: int) -> dict[str, Any]:
    """A hospital key, a reviewer, and `fresh_people` new Beijing people for the submission benchmark."""
    from sqlalchemy import insert, select

    from mtb.db.engine import create_engine, create_sessionmaker
    from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
    from mtb.identity.service import create_staff
    from mtb.qualifications.keys import create_hospital_key
    from mtb.settings import get_settings

    engine = create_engine(url)
    sm = create_sessionmaker(engine)
    tag = f"{int(time.time())}"
    async with sm() as s, s.begin():
        _, key = await create_hospital_key(s, "BJ-EX-0001")
        username = f"bench-reviewer-{tag}"
        await create_staff(s, username=username, password="bench password 1234", role=StaffRole.reviewer,
                           region_code=gen.BEIJING)
    # Fresh people beyond the loaded ones (Beijing only), skipping any a previous run added.
    async with sm() as s:
        existing = (await s.execute(select(InsuredPerson.id).where(InsuredPerson.id >= gen.person_uuid(size)))).scalars()
        taken = {u.int & ((1 << 96) - 1) for u in existing}
    indices, i = [], size
    while len(indices) < fresh_people:
        if gen.region_of(i) == gen.BEIJING and i not in taken:
            indices.append(i)
        i += 1
    rows = [r for j in indices for r in gen.person_rows(j, j + 1, get_settings().data_key)]
    if rows:
        async with sm() as s, s.begin():
            await s.execute(insert(InsuredPerson), rows)
    await engine.dispose()
    _ = StaffUser
    return {"api_key": key, "reviewer": (username, "bench password 1234"), "fresh": indices}


def credentials(i: int) -> dict[str, str]:
    number = gen.id_number(i)
    return {"name": gen.name_of(i), "id_number": number, "card_number": gen.card_of(number)}


async def logins(base: str, people: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    sem = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        async def one(i: int) -> None:
            async with sem:
                r = await c.post("/api/v1/auth/real-name", json=credentials(i))
                if r.status_code != 200:
                    raise RuntimeError(f"login of person {i} -> {r.status_code}: {r.text[:300]}")
                out[i] = r.json()["access_token"]
        await asyncio.gather(*(one(i) for i in people))
    return out


async def submissions(base: str, tokens: dict[int, str], catalogs: dict[str, gen.RegionCatalog],
                      connections: int) -> dict[str, Any]:
    """create → 2 uploads of 200 KB → submit, once per (distinct) person, `connections` at a time, with
    the raw keep-alive client of rawhttp.py (the multipart bodies encoded once)."""
    import resource

    cat = catalogs[gen.BEIJING]
    uploads = []
    for n, kind in enumerate(cat.material_kinds[:2]):
        fields = {"kind": kind, **({"physician_title": "chief"} if kind == "diagnosis_certificate" else {})}
        uploads.append(rawhttp.multipart(fields, "file", f"{kind}.pdf", "application/pdf",
                                         fake_pdf(200 * 1024, f"sub-{n}-{random.random()}".encode())))
    queue = list(tokens.items())
    lat: list[float] = []
    step_lat: dict[str, list[float]] = {"create": [], "upload": [], "submit": []}
    bad: list[str] = []

    async def flow(c: rawhttp.Connection, i: int, token: str) -> None:
        h = {"Authorization": f"Bearer {token}"}
        t0 = time.perf_counter()
        status, body = await c.json("POST", "/api/v1/applications", h, {
            "region_code": gen.BEIJING, "disease_code": cat.diseases[i % len(cat.diseases)],
            "hospital_code": cat.hospitals[i % len(cat.hospitals)], "channel": cat.channels[0]})
        step_lat["create"].append(time.perf_counter() - t0)
        if status != 201:
            bad.append(f"create {status} {str(body)[:200]}")
            return
        app_id = body["id"]
        for content_type, data in uploads:
            t = time.perf_counter()
            status, raw = await c.request("POST", f"/api/v1/applications/{app_id}/materials",
                                          {**h, "Content-Type": content_type}, data)
            step_lat["upload"].append(time.perf_counter() - t)
            if status != 201:
                bad.append(f"upload {status} {raw[:200]!r}")
                return
        t = time.perf_counter()
        status, raw = await c.request("POST", f"/api/v1/applications/{app_id}/submit", h)
        step_lat["submit"].append(time.perf_counter() - t)
        if status != 200:
            bad.append(f"submit {status} {raw[:200]!r}")
            return
        lat.append(time.perf_counter() - t0)

    async def worker() -> None:
        c = await rawhttp.Connection.open(base)
        try:
            while queue:
                i, token = queue.pop()
                await flow(c, i, token)
        finally:
            await c.close()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    out = _summary(lat, time.perf_counter() - t0, len(bad), "raw asyncio client")
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if lat:  # what the load generator itself cost per flow, on the same cores as the server
        out["client_cpu_us_per_flow"] = ((cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime)
                                         / len(lat) * 1e6)
    out["errors_sample"] = bad[:3]
    for k, v in step_lat.items():
        v.sort()
        out[f"{k}_p50_ms"] = round(v[len(v) // 2] * 1000, 1) if v else None
    return out


# --- main ------------------------------------------------------------------------------------------------

def fmt(x: float | None, nd: int = 1) -> str:
    return "—" if x is None else f"{x:,.{nd}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="sqlite+aiosqlite:///var/bench/mtb.sqlite3")
    p.add_argument("--size", type=int, required=True, help="the size bench/load.py loaded")
    p.add_argument("--storage", default="var/bench/files")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--people", type=int, default=200, help="applicants logged in for (c)")
    p.add_argument("--submissions", type=int, default=300, help="distinct people submitting in (f)")
    p.add_argument("--submit-connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--only", default="abcdef", help="which benchmarks to run, e.g. 'bcd'")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--log-level", default=None,
                   help="MTB_LOG_LEVEL for the server (default: as shipped, INFO with the access log)")
    p.add_argument("--server-log", type=Path, default=ROOT / "var" / "bench" / "server.log",
                   help="where the server's log lines go (appended)")
    args = p.parse_args()

    env = {**os.environ, "MTB_DATABASE_URL": args.url, "MTB_SCHEDULER_ENABLED": "false",
           "MTB_UPLOADS_PER_MINUTE": "100000", "MTB_STORAGE_PATH": args.storage,
           "MTB_LOGIN_MAX_FAILURES_PER_CLIENT": "100000", "MTB_ELIGIBILITY_PER_MINUTE": "100000000"}
    env.pop("MTB_LOG_LEVEL", None)
    args.server_log.parent.mkdir(parents=True, exist_ok=True)
    args.server_log.write_bytes(b"")  # this run's lines only
    if args.log_level:
        env["MTB_LOG_LEVEL"] = args.log_level
    os.environ.update({k: env[k] for k in ("MTB_DATABASE_URL", "MTB_STORAGE_PATH")})
    catalogs = gen.reference_catalogs(ROOT / "data" / "catalog")
    results: dict[str, Any] = {"size": args.size, "database": sync_url(args.url).split(":")[0],
                               "connections": args.connections, "seconds": args.seconds, "workers": args.workers,
                               "tool": "wrk" if shutil.which("wrk") else "httpx", "cpus": os.cpu_count(),
                               "log_level": args.log_level or "INFO (as shipped)"}
    rows: dict[str, dict[str, Any]] = {}
    if "a" in args.only:
        port = free_port()
        srv = Server([str(BIN / "python"), str(ROOT / "bench" / "bare_asgi.py"), "--port", str(port)], env, port,
                     args.server_log)
        try:
            rows["a"] = load_test(srv.base, [("/", {})], connections=args.connections, seconds=args.seconds,
                                  pid=srv.proc.pid)
        finally:
            srv.stop()
    prep = asyncio.run(prepare(args.url, args.size, args.submissions if "f" in args.only else 0))
    port = free_port()
    srv = Server([str(BIN / "mtb"), "serve", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", str(args.workers)], env, port, args.server_log)
    rss: list[float] = [rss_mb(srv.proc.pid)]
    results["rss_start_mb"] = rss[0]
    try:
        rng = random.Random(8)
        if "b" in args.only:
            rows["b"] = load_test(srv.base, [("/api/v1/health", {})], connections=args.connections,
                                  seconds=args.seconds, pid=srv.proc.pid)
            rss.append(rss_mb(srv.proc.pid))
        if "c" in args.only:
            people = rng.sample(range(args.size), min(args.people, args.size))
            tokens = asyncio.run(logins(srv.base, people))
            reqs = [(f"/api/v1/applications/{gen.application_uuid(i)}/status",
                     {"Authorization": f"Bearer {tokens[i]}"}) for i in people]
            rows["c"] = load_test(srv.base, reqs, connections=args.connections, seconds=args.seconds, pid=srv.proc.pid)
            rss.append(rss_mb(srv.proc.pid))
            full = [(path.removesuffix("/status"), headers) for path, headers in reqs]
            rows["g"] = load_test(srv.base, full, connections=args.connections, seconds=args.seconds, pid=srv.proc.pid)
        if "d" in args.only:
            approved = [i for i in range(0, args.size, max(1, args.size // 20000))
                        if gen.status_of(i) == "approved" and gen.region_of(i) == gen.BEIJING]
            sample = rng.sample(approved, min(500, len(approved)))
            bj = catalogs[gen.BEIJING]
            reqs = [(f"/api/v1/eligibility?id_number={gen.id_number(i)}"
                     f"&disease_code={bj.diseases[i % len(bj.diseases)]}", {"X-Api-Key": prep["api_key"]})
                    for i in sample]
            rows["d"] = load_test(srv.base, reqs, connections=args.connections, seconds=args.seconds, pid=srv.proc.pid)
            rss.append(rss_mb(srv.proc.pid))
        if "e" in args.only:
            user, pw = prep["reviewer"]
            r = httpx.post(srv.base + "/api/v1/auth/staff", json={"username": user, "password": pw}, timeout=30)
            r.raise_for_status()
            h = {"Authorization": f"Bearer {r.json()['access_token']}"}
            rows["e"] = load_test(srv.base, [("/api/v1/review/queue?limit=20", h)], connections=args.connections,
                                  seconds=args.seconds, pid=srv.proc.pid)
            # A region's reviewers at work: a handful of pages at a time, not 32 at once.
            rows["h"] = load_test(srv.base, [("/api/v1/review/queue?limit=20", h)], connections=4,
                                  seconds=args.seconds, pid=srv.proc.pid)
            rss.append(rss_mb(srv.proc.pid))
        if "f" in args.only:
            tokens = asyncio.run(logins(srv.base, prep["fresh"]))
            cpu0 = server_cpu_seconds(srv.proc.pid)
            rows["f"] = asyncio.run(submissions(srv.base, tokens, catalogs, args.submit_connections))
            if rows["f"]["requests"]:  # per flow (4 requests and 400 KB of uploads)
                rows["f"]["server_cpu_us_per_request"] = ((server_cpu_seconds(srv.proc.pid) - cpu0)
                                                          / rows["f"]["requests"] * 1e6)
            rss.append(rss_mb(srv.proc.pid))
    finally:
        srv.stop()
    results["rss_max_mb"] = max(rss)
    results["rows"] = rows
    names = {"a": "(a) bare ASGI floor", "b": "(b) MTB GET /health", "c": "(c) applicant GET application status",
             "g": "(c') applicant GET application (full: materials, timeline, decisions)",
             "h": "(e') reviewer queue page, 4 connections",
             "d": "(d) eligibility check", "e": "(e) reviewer queue page", "f": "(f) submission, 2×200KB"}
    base_rps = rows.get("b", {}).get("rps")
    base_cpu = rows.get("b", {}).get("server_cpu_us_per_request")
    lines = [f"size={args.size} applications, db={results['database']}, workers={args.workers}, "
             f"tool={results['tool']} c={args.connections} {args.seconds}s, cpus={os.cpu_count()}, "
             f"log={results['log_level']}",
             "| benchmark | req/s | p50 ms | p99 ms | ratio to (b) | server CPU µs/req | CPU ratio to (b) | non-2xx "
             "| target | met |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for k, r in rows.items():
        ratio = r["rps"] / base_rps if base_rps and k in "cdg" else None
        met = ""
        if k in "cd":
            met = "yes" if ratio is not None and ratio >= 0.5 and (r["p99_ms"] or 1e9) < 15 else "no"
        elif k in "eh":
            met = "yes" if (r["p99_ms"] or 1e9) < 50 else "no"
        elif k == "f":
            met = "yes" if r["rps"] >= 100 else "no"
        unit = " flows/s" if k == "f" else ""
        cpu = r.get("server_cpu_us_per_request")
        cpu_ratio = base_cpu / cpu if cpu and base_cpu and k in "cdg" else None
        lines.append(f"| {names[k]} | {fmt(r['rps'])}{unit} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | "
                     f"{fmt(ratio and ratio * 100, 0) + ' %' if ratio else ''} | {fmt(cpu, 0) if cpu else ''} | "
                     f"{fmt(cpu_ratio * 100, 0) + ' %' if cpu_ratio else ''} | {r['non_2xx']} | "
                     f"{TARGETS.get(k, '')} | {met} |")
    lines.append(f"| worker RSS (max over the run) | {fmt(results['rss_max_mb'])} MB | | | | | | | <250 MB | "
                 f"{'yes' if results['rss_max_mb'] < 250 else 'no'} |")
    table = "\n".join(lines)
    results["table"] = table
    print(table)
    if "f" in rows and rows["f"].get("errors_sample"):
        print("submission errors:", rows["f"]["errors_sample"], file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
