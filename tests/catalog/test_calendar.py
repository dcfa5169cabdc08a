"""Working days after 2026 (issue 17): due dates counted on the statutory fallback are provisional, an
administrator enters the State Council's schedule (admin page or `mtb calendar load`), the provisional due
dates of pending applications are then recomputed once with a history entry; the public calendar route;
the warning from 1 November while next year's schedule is missing (admin pages, `mtb doctor`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import anyio
import httpx
from click.testing import Result
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mtb.applications.models import Application, ApplicationEvent
from mtb.catalog.models import CalendarYear
from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.jobs import run_jobs
from mtb.settings import Settings
from tests.conftest import Clock
from tests.factories import Seed
from tests.review.helpers import submitted
from tests.web.helpers import as_staff, post_form

runner = CliRunner()


async def invoke(args: list[str]) -> Result:
    """The command as an operator runs it (its own event loop, so in a thread here)."""
    return await anyio.to_thread.run_sync(runner.invoke, cli, args)

# A schedule made up for these tests, NOT the State Council's 2027 schedule (not published as of writing):
# 1-3 January off; 春节 5-13 February off, Saturday 20 February working.
TEST_2027 = {"year": "2027", "source": "测试用安排（非正式）",
             "holidays": "2027-01-01~2027-01-03\n2027-02-05~2027-02-13", "workdays": "2027-02-20"}


def table_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "2027.yaml"
    path.write_text(text, "utf-8")
    return path


async def history(client: httpx.AsyncClient, headers: dict[str, str], app_id: str) -> list[dict[str, object]]:
    response = await client.get(f"/api/v1/review/applications/{app_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e["action"] == "due_date_recomputed"]


async def test_due_date_over_new_year_is_provisional_then_exact_after_the_schedule(
        client: httpx.AsyncClient, seed: Seed, clock: Clock) -> None:
    """Submitted Thursday 31 December 2026: the fallback counts 元旦 (Friday 1 January 2027) off, so the due
    date is Wednesday 6 January, provisional in every answer; once the (test) schedule makes 1-3 January off
    the due date stays 6 January but is exact, recomputed once with a history entry."""
    await seed.catalogs()
    clock.set("2026-12-31")
    app_id, headers = await submitted(client, seed, await seed.person("zhang"))
    for path in (f"/api/v1/applications/{app_id}", f"/api/v1/applications/{app_id}/status"):
        out = (await client.get(path, headers=headers)).json()
        assert (out["due_date"], out["due_date_provisional"]) == ("2027-01-06", True), path
    listed = (await client.get("/api/v1/applications", headers=headers)).json()
    assert listed[0]["due_date_provisional"] is True

    admin = await seed.staff("admin", StaffRole.admin)
    await as_staff(seed, admin)
    entered = await post_form(client, "/staff/admin/calendar", TEST_2027)
    assert entered.status_code == 303, entered.text
    page = await client.get(entered.headers["location"])
    assert "2027年节假日安排已录入；1 件待审申请" in page.text
    out = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
    assert (out["due_date"], out["due_date_provisional"]) == ("2027-01-06", False)
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    events = await history(client, reviewer, app_id)
    assert len(events) == 1 and events[0]["actor"] == "admin"
    assert events[0]["detail"] == {"from": "2027-01-06", "to": "2027-01-06", "provisional": False,
                                   "years": [2026, 2027]}


async def test_spring_festival_due_date_moves_when_the_schedule_is_entered(
        client: httpx.AsyncClient, seed: Seed, clock: Clock, tmp_path: Path, settings: Settings) -> None:
    """Submitted Thursday 4 February 2027: fallback 除夕-初三 plus the two made-up days -> Monday 15 February
    (provisional); the test schedule (5-13 February off) gives 15, 16, 17 February: recomputed once by
    `mtb calendar load`, and loading the same file again recomputes nothing."""
    await seed.catalogs()
    clock.set("2027-02-04")
    app_id, headers = await submitted(client, seed, await seed.person("zhang"))
    hubei_id, hubei_headers = await submitted(client, seed, await seed.person("zhao"), hubei=True)
    for a, h in ((app_id, headers), (hubei_id, hubei_headers)):
        out = (await client.get(f"/api/v1/applications/{a}", headers=h)).json()
        assert (out["due_date"], out["due_date_provisional"]) == ("2027-02-15", True)
    path = table_file(tmp_path, "years:\n  2027:\n    source: 测试用安排（非正式）\n"
                                "    holidays: [2027-01-01, 2027-01-02, 2027-01-03, 2027-02-05, 2027-02-06, 2027-02-07,"
                                " 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12, 2027-02-13]\n"
                                "    workdays: [2027-02-20]\n")
    first = await invoke(["calendar", "load", str(path)])
    assert first.exit_code == 0, first.output
    assert "2 provisional due date(s) recomputed" in first.output
    again = await invoke(["calendar", "load", str(path)])
    assert again.exit_code == 0 and "0 provisional due date(s) recomputed" in again.output
    for a, h in ((app_id, headers), (hubei_id, hubei_headers)):
        out = (await client.get(f"/api/v1/applications/{a}", headers=h)).json()
        assert (out["due_date"], out["due_date_provisional"]) == ("2027-02-17", False)
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    events = await history(client, reviewer, app_id)
    assert [(e["detail"]["from"], e["detail"]["to"], e["actor_kind"]) for e in events] == [  # type: ignore[index]
        ("2027-02-15", "2027-02-17", "system")]


async def test_a_refused_schedule_enters_nothing(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                 sync_engine: Engine, tmp_path: Path) -> None:
    """Every date in that year, none both off and working: refused whole on the page (422, in Chinese) and by
    the command (exit 1), nothing entered, the provisional due date untouched."""
    await seed.catalogs()
    clock.set("2026-12-31")
    app_id, headers = await submitted(client, seed, await seed.person("zhang"))
    await as_staff(seed, await seed.staff("admin", StaffRole.admin))
    for change, message in ((TEST_2027 | {"workdays": "2027-02-06"}, "既是放假日期又是调休上班日期"),
                            (TEST_2027 | {"holidays": "2028-01-01"}, "不在 2027 年内"),
                            (TEST_2027 | {"holidays": "2027-13-01"}, "不是日期"),
                            (TEST_2027 | {"workdays": "2027-02-15"}, "是工作日")):
        refused = await post_form(client, "/staff/admin/calendar", change)
        assert refused.status_code == 422 and message in refused.text, refused.text[-2000:]
    bad = table_file(tmp_path, "years:\n  2027:\n    holidays: [2027-01-01, 2027-02-06]\n    workdays: [2027-02-06]\n"
                               "  2028:\n    holidays: [2028-01-01]\n")
    result = await invoke(["calendar", "load", str(bad)])
    assert result.exit_code == 1 and "既是放假日期又是调休上班日期" in result.output
    assert "nothing was entered" in result.output
    with sync_engine.connect() as conn:
        assert conn.execute(select(CalendarYear.year)).all() == []
    out = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
    assert out["due_date_provisional"] is True


async def test_calendar_route_names_the_source_of_each_day(client: httpx.AsyncClient, seed: Seed) -> None:
    published = (await client.get("/api/v1/calendar/2026")).json()
    assert published["source"] == "library" and published["provisional"] is False
    assert {"date": "2026-01-04", "name": None, "source": "library"} in published["working_weekend_days"]
    assert {"date": "2026-10-01", "name": "国庆节", "source": "library"} in published["non_working_weekdays"]
    fallback = (await client.get("/api/v1/calendar/2027")).json()
    assert fallback["source"] == "statutory" and fallback["provisional"] is True
    assert fallback["working_weekend_days"] == []
    assert {"date": "2027-02-05", "name": "春节", "source": "statutory"} in fallback["non_working_weekdays"]
    assert {"date": "2027-02-09", "name": "春节（补假）", "source": "statutory"} in fallback["non_working_weekdays"]
    assert all(d["date"] != "2027-02-06" for d in fallback["non_working_weekdays"])  # a Saturday anyway
    for year in ("1999", "2100", "year"):
        refused = await client.get(f"/api/v1/calendar/{year}")
        assert refused.status_code == 422, year

    await as_staff(seed, await seed.staff("admin", StaffRole.admin))
    assert (await post_form(client, "/staff/admin/calendar", TEST_2027)).status_code == 303
    entered = (await client.get("/api/v1/calendar/2027")).json()
    assert entered["source"] == "schedule" and entered["provisional"] is False
    assert entered["schedule_source"] == "测试用安排（非正式）"
    assert entered["working_weekend_days"] == [{"date": "2027-02-20", "name": None, "source": "schedule"}]
    assert [d["date"] for d in entered["non_working_weekdays"]][:2] == ["2027-01-01", "2027-02-05"]


async def test_next_years_schedule_is_asked_for_from_1_november(
        client: httpx.AsyncClient, seed: Seed, clock: Clock, settings: Settings) -> None:
    """From 1 November, every admin page and `mtb doctor` warn while next year is only computed."""
    await seed.catalogs()
    await as_staff(seed, await seed.staff("admin", StaffRole.admin))
    pages = ["/staff/admin", "/staff/admin/catalog", "/staff/admin/staff", "/staff/admin/calendar"]
    for day, warned in (("2026-10-31", False), ("2026-11-01", True), ("2026-12-06", True), ("2025-11-01", False)):
        clock.set(day)
        for path in pages:
            text = (await client.get(path)).text
            assert ('id="calendar-warning"' in text) is warned, (day, path)
            if warned:
                assert "2027年节假日安排尚未录入" in text
        doctor = await invoke(["doctor"])
        assert doctor.exit_code == 0, doctor.output
        assert ("calendar warning: 2027年节假日安排尚未录入" in doctor.output) is warned, day
    assert (await post_form(client, "/staff/admin/calendar", TEST_2027)).status_code == 303
    assert 'id="calendar-warning"' not in (await client.get("/staff/admin")).text
    assert "calendar warning" not in (await invoke(["doctor"])).output


async def test_jobs_recompute_a_due_date_a_stale_worker_left_provisional(
        client: httpx.AsyncClient, seed: Seed, clock: Clock, settings: Settings,
        app_and_client: tuple[object, httpx.AsyncClient]) -> None:
    """A worker that had not yet seen an entered schedule counted a due date provisionally: the next job run
    recomputes it (once)."""
    await seed.catalogs()
    clock.set("2027-02-04")
    await as_staff(seed, await seed.staff("admin", StaffRole.admin))
    assert (await post_form(client, "/staff/admin/calendar", TEST_2027)).status_code == 303
    app_id, headers = await submitted(client, seed, await seed.person("zhang"))
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()["due_date"] == "2027-02-17"
    sessionmaker = app_and_client[0].state.sessionmaker  # type: ignore[attr-defined]
    async with sessionmaker() as s, s.begin():  # as the stale worker wrote it
        await s.execute(update(Application).values(due_date_provisional=True, due_date=date(2027, 2, 15)))
    no_ocr = settings.model_copy(update={"prereview_enabled": False})  # not what this test is about
    assert (await run_jobs(sessionmaker, no_ocr)).due_dates_recomputed == 1
    assert (await run_jobs(sessionmaker, no_ocr)).due_dates_recomputed == 0
    out = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
    assert (out["due_date"], out["due_date_provisional"]) == ("2027-02-17", False)
    async with sessionmaker() as s:
        actions = (await s.execute(select(ApplicationEvent.action, ApplicationEvent.actor_kind)
                                   .where(ApplicationEvent.action == "due_date_recomputed"))).all()
    assert [tuple(a) for a in actions] == [("due_date_recomputed", "system")]


async def test_provisional_due_date_is_marked_on_the_pages(client: httpx.AsyncClient, seed: Seed,
                                                           clock: Clock) -> None:
    await seed.catalogs()
    clock.set("2026-12-31")
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    queue = (await client.get("/staff")).text
    assert "2027-01-06" in queue and "预计</span>" in queue
    assert "预计</span>" in (await client.get(f"/staff/applications/{app_id}")).text


async def test_a_malformed_schedule_file_is_refused_clearly_and_enters_nothing(
        client: httpx.AsyncClient, seed: Seed, sync_engine: Engine, tmp_path: Path) -> None:
    """YAML the loader cannot read, a key written twice (YAML keeps only the last one, silently), a year
    outside 2004-2099 (`yes:` reads as year 1) and a file of millions of dates: each refused with a clear
    message (no traceback) and exit code 1, nothing entered. The admin page refuses a year it cannot read."""
    cases = [
        ("years:\n  2027:\n    holidays: [2027-01-01\n", "not valid YAML"),
        ('years: !!python/object/apply:os.system ["true"]\n', "not valid YAML"),
        ("years:\n  2027:\n    holidays: [2027-01-01, 2027-02-05]\n  2027:\n    holidays: [2027-10-01]\n",
         "2027"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    holidays: [2027-10-01]\n", "holidays"),
        ("years:\n  yes:\n    holidays: [0001-01-01]\n", "2004"),
        ("years:\n  2200:\n    holidays: [2200-01-01]\n", "2004"),
        ("years:\n  1899:\n    holidays: [1899-01-02]\n", "2004"),
        ("years:\n  2027:\n    holidays: [" + ",".join(["2027-01-01"] * 200_000) + "]\n", "重复填写"),
    ]
    for text, message in cases:
        result = await invoke(["calendar", "load", str(table_file(tmp_path, text))])
        assert result.exit_code == 1, (text[:80], result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (text[:80], result.exception)
        assert message in result.output and "Traceback" not in result.output, (text[:80], result.output)
    with sync_engine.connect() as conn:
        assert conn.execute(select(CalendarYear.year)).all() == []
    await as_staff(seed, await seed.staff("admin", StaffRole.admin))
    refused = await post_form(client, "/staff/admin/calendar", TEST_2027 | {"year": "２⁰²⁷"})
    assert refused.status_code == 422 and "请填写年份" in refused.text
