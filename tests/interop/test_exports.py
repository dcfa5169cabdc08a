"""CSV tables for statisticians: one row per application and one per decision, by the administrator's
region over local days; the pseudonymous key and the masked ID number instead of names and ID numbers;
the same bytes from the API and the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
from typer.testing import CliRunner

from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.interop.tables import APPLICATION_COLUMNS, BATCH, DECISION_COLUMNS, csv_chunks
from tests.applications.helpers import BEIJING_SELF, create, submit
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed
from tests.review.helpers import claim, decide, submitted

EXPORTS = "/api/v1/admin/exports"
runner = CliRunner()


def table(raw: bytes, columns: tuple[str, ...]) -> list[dict[str, str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the byte order mark to read UTF-8"
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert tuple(header) == columns
    return [dict(zip(header, row, strict=True)) for row in rows]


async def fetch(client: httpx.AsyncClient, headers: dict[str, str], name: str, **params: str) -> bytes:
    response = await client.get(f"{EXPORTS}/{name}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.content


async def cli_run(*args: str) -> Any:
    return await anyio.to_thread.run_sync(lambda: runner.invoke(cli, ["export", "csv", *args]))


async def test_applications_and_decisions(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                          tmp_path: Path) -> None:
    """zhang submits on Monday 3 March 2025, is returned on the 4th, resubmits on the 5th and is approved
    on Monday the 10th; li starts a draft at 00:00 on the 4th (still the 3rd in UTC); zhao applies in
    Shennongjia."""
    clock.set("2025-03-03")
    await seed.catalogs()
    zhang, li, zhao = await seed.person("zhang"), await seed.person("li"), await seed.person("zhao")
    reviewer_row = await seed.staff("bj_reviewer", StaffRole.reviewer)
    admin_row = await seed.staff("bj_admin", StaffRole.admin)
    app_id, _ = await submitted(client, seed, zhang)
    await submitted(client, seed, zhao, hubei=True)

    clock.set("2025-03-04", hour=0)
    li_headers = await seed.login(li)
    draft = (await create(client, li_headers, **BEIJING_SELF | {"disease_code": "BJ-HEMOPHILIA"})).json()
    clock.set("2025-03-04")
    reviewer = await seed.staff_login(reviewer_row)
    await claim(client, reviewer, app_id)
    materials = (await client.get(f"/api/v1/applications/{app_id}", headers=reviewer)).json()["materials"]
    returned = await decide(client, reviewer, app_id, "return", [{"code": "material_unclear"}],
                            materials=[{"material_id": materials[0]["id"], "verdict": "unclear"},
                                       {"material_id": materials[1]["id"], "verdict": "acceptable"}])
    assert returned.status_code == 200, returned.text
    clock.set("2025-03-05")
    assert (await submit(client, await seed.login(zhang), app_id)).status_code == 200
    clock.set("2025-03-10")
    reviewer = await seed.staff_login(reviewer_row)
    await claim(client, reviewer, app_id)
    # The material marked unclear in the first round is looked at again (全部合格): an approval never passes
    # a material still marked unclear.
    assert (await decide(client, reviewer, app_id, "approve", all_acceptable=True)).status_code == 200

    admin = await seed.staff_login(admin_row)
    raw = await fetch(client, admin, "applications.csv")
    text = raw.decode("utf-8-sig")
    for person in (zhang, li):
        assert person.name not in text and person.id_number not in text and person.card_number not in text
    rows = {r["application_id"]: r for r in table(raw, APPLICATION_COLUMNS)}
    assert set(rows) == {app_id, draft["id"]}  # Beijing's only
    a, b = rows[app_id], rows[draft["id"]]
    assert {k: a[k] for k in ("region_code", "catalog_version", "disease_code", "kind", "channel", "relation",
                              "status", "rounds", "created_date", "first_submitted_date", "due_date",
                              "decided_date", "working_days_taken", "decision", "reason_codes", "reviewer_id",
                              "hospital_code", "insurance_type", "sex", "birth_year", "age_band",
                              "id_number_masked")} == {
        "region_code": "110000", "catalog_version": "2025.1", "disease_code": "BJ-TUMOR-CHEMO", "kind": "new",
        "channel": "bj_app", "relation": "self", "status": "approved", "rounds": "2",
        "created_date": "2025-03-03", "first_submitted_date": "2025-03-03", "due_date": "2025-03-10",
        "decided_date": "2025-03-10", "working_days_taken": "5", "decision": "approve", "reason_codes": "",
        "reviewer_id": str(reviewer_row.id),
        "hospital_code": "BJ-EX-0001", "insurance_type": "employee", "sex": "male", "birth_year": "1980",
        "age_band": "40-49", "id_number_masked": zhang.row.id_number_masked}
    assert a["disease_name"] == (await client.get(f"/api/v1/applications/{app_id}", headers=admin)).json()[
        "disease"]["name"]
    assert (b["status"], b["created_date"], b["first_submitted_date"], b["decision"], b["working_days_taken"],
            b["sex"], b["age_band"]) == ("draft", "2025-03-04", "", "", "", "female", "50-59")
    assert len(a["person_key"]) == 16 and a["person_key"] != b["person_key"]

    until_3rd = await fetch(client, admin, "applications.csv", to="2025-03-03")
    assert [r["application_id"] for r in table(until_3rd, APPLICATION_COLUMNS)] == [app_id]
    from_4th = await fetch(client, admin, "applications.csv", **{"from": "2025-03-04"})
    assert [r["application_id"] for r in table(from_4th, APPLICATION_COLUMNS)] == [draft["id"]]

    decisions = table(await fetch(client, admin, "decisions.csv"), DECISION_COLUMNS)
    assert [(d["round"], d["stage"], d["outcome"], d["reason_codes"], d["materials_acceptable"],
             d["materials_unclear"], d["round_submitted_date"], d["decided_date"], d["working_days"],
             d["due_date"], d["within_due"]) for d in decisions] == [
        ("1", "final", "return", "material_unclear", "1", "1", "2025-03-03", "2025-03-04", "1", "2025-03-06",
         "true"),
        ("2", "final", "approve", "", "2", "0", "2025-03-05", "2025-03-10", "3", "2025-03-10", "true")]
    assert {d["person_key"] for d in decisions} == {a["person_key"]}
    assert {d["reviewer_id"] for d in decisions} == {str(reviewer_row.id)}
    late = table(await fetch(client, admin, "decisions.csv", **{"from": "2025-03-05", "to": "2025-03-10"}),
                 DECISION_COLUMNS)
    assert [d["round"] for d in late] == ["2"]

    snj_admin = await seed.staff_login(await seed.staff("snj_admin", StaffRole.admin, SHENNONGJIA))
    (other,) = table(await fetch(client, snj_admin, "applications.csv"), APPLICATION_COLUMNS)
    assert (other["region_code"], other["status"]) == ("429021", "submitted")

    out = tmp_path / "applications.csv"
    result = await cli_run("--out", str(out), "--region", "110000")
    assert result.exit_code == 0, result.output
    assert f"{out}: 2 rows (applications)" in result.output
    assert out.read_bytes() == raw  # the same table as the API's
    result = await cli_run("--out", str(out), "--table", "decisions", "--from", "2025-03-05")
    assert result.exit_code == 0 and f"{out}: 1 rows (decisions)" in result.output
    assert [d["outcome"] for d in table(out.read_bytes(), DECISION_COLUMNS)] == ["approve"]
    result = await cli_run("--out", str(out))  # every region
    assert f"{out}: 3 rows (applications)" in result.output
    bad = await cli_run("--out", str(out), "--to", "10 March")
    assert bad.exit_code == 2 and "--to: not a date" in bad.output
    missing = await cli_run("--out", str(tmp_path / "no" / "such" / "dir.csv"))
    assert missing.exit_code == 1 and "cannot write" in missing.output


async def test_chunks_are_written_batch_by_batch() -> None:
    """The file is produced `BATCH` rows at a time (never the whole table at once), and reads back whole."""
    count = 2 * BATCH + 1

    async def rows() -> AsyncIterator[list[Any]]:
        for i in range(count):
            yield [i, "慢性肾功能衰竭透析", None, 'a "quoted", value']

    chunks = [chunk async for chunk in csv_chunks(("n", "name", "empty", "text"), rows())]
    assert len(chunks) == 1 + 3
    parsed = table(b"".join(chunks), ("n", "name", "empty", "text"))
    assert len(parsed) == count
    assert parsed[-1] == {"n": str(count - 1), "name": "慢性肾功能衰竭透析", "empty": "", "text": 'a "quoted", value'}
