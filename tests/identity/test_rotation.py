"""`mtb keys rotate`: ID numbers re-encrypted and re-hashed under the new data key, all or nothing."""

from __future__ import annotations

import uuid

import anyio
import httpx
import pytest
from click.testing import Result
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mtb.cli import app as cli
from mtb.identity import idnumber, rotation
from mtb.identity.models import InsuredPerson, LoginThrottle
from mtb.settings import Settings, get_settings
from tests.factories import Person, Seed

REAL_NAME = "/api/v1/auth/real-name"
NEW_KEY = "test-data-key-for-resident-id-numbers-0002"
runner = CliRunner()


async def rotate() -> Result:
    """The CLI runs its own event loop, so it runs in a thread of its own here."""
    return await anyio.to_thread.run_sync(lambda: runner.invoke(cli, ["keys", "rotate"]))


def use_keys(monkeypatch: pytest.MonkeyPatch, *, new: str, old: str | None) -> None:
    monkeypatch.setenv("MTB_DATA_KEY", new)
    if old is None:
        monkeypatch.delenv("MTB_OLD_DATA_KEY", raising=False)
    else:
        monkeypatch.setenv("MTB_OLD_DATA_KEY", old)
    get_settings.cache_clear()


def stored(engine: Engine) -> dict[uuid.UUID, tuple[str, str]]:
    with engine.connect() as conn:
        return {r.id: (r.id_number_enc, r.id_number_hash) for r in conn.execute(
            select(InsuredPerson.id, InsuredPerson.id_number_enc, InsuredPerson.id_number_hash))}


def throttle_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(LoginThrottle.key)).scalars())


async def test_rotation_re_encrypts_and_login_works_with_the_new_key(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, sync_engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    people = [await seed.person("zhang"), await seed.person("li")]
    wrong = people[1].credentials() | {"card_number": "WRONG0000"}
    assert (await client.post(REAL_NAME, json=wrong)).status_code == 401
    # per (ID number, client) and per ID number, both keyed by the old hash; and per client
    assert [k.split(":")[0] for k in throttle_keys(sync_engine)] == ["client", "id", "id"]
    before = stored(sync_engine)

    use_keys(monkeypatch, new=NEW_KEY, old=settings.data_key)
    result = await rotate()
    assert result.exit_code == 0, result.output
    assert "2 ID numbers re-encrypted, 2 login counters cleared" in result.output

    after = stored(sync_engine)
    for person in people:
        enc, digest = after[person.row.id]
        assert enc != before[person.row.id][0] and digest != before[person.row.id][1]
        assert idnumber.decrypt(enc) == person.id_number
        assert digest == idnumber.lookup_hash(person.id_number)
        assert person.id_number not in result.output
    assert [k.split(":")[0] for k in throttle_keys(sync_engine)] == ["client"]
    for person in people:
        response = await client.post(REAL_NAME, json=person.credentials())
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("old", ["not-the-key-the-data-was-encrypted-with", None, NEW_KEY])
async def test_a_wrong_missing_or_same_old_key_changes_nothing(
        old: str | None, client: httpx.AsyncClient, seed: Seed, settings: Settings, sync_engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    zhang = await seed.person("zhang")
    before = stored(sync_engine)
    use_keys(monkeypatch, new=NEW_KEY, old=old)
    result = await rotate()
    assert result.exit_code == 1
    expected = {None: "MTB_OLD_DATA_KEY is not set", NEW_KEY: "the old and the new data key are the same"}.get(
        old, "does not decrypt with the old key (MTB_OLD_DATA_KEY)")
    assert expected in result.output
    assert stored(sync_engine) == before
    use_keys(monkeypatch, new=settings.data_key, old=None)
    assert (await client.post(REAL_NAME, json=zhang.credentials())).status_code == 200


async def test_one_row_that_does_not_decrypt_rolls_back_the_rows_already_done(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, sync_engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    good = [await seed.person("zhang"), await seed.person("wang")]
    use_keys(monkeypatch, new="a-third-key-nobody-remembers-any-more-0003", old=None)
    stray: Person = await seed.person("li")
    with sync_engine.begin() as conn:  # last in id order, so the others are re-encrypted before it fails
        conn.execute(update(InsuredPerson).where(InsuredPerson.id == stray.row.id)
                     .values(id=uuid.UUID(int=2**128 - 1)))
    before = stored(sync_engine)
    monkeypatch.setattr(rotation, "_BATCH", 1)

    use_keys(monkeypatch, new=NEW_KEY, old=settings.data_key)
    result = await rotate()
    assert result.exit_code == 1
    assert f"insured person {uuid.UUID(int=2**128 - 1)}" in result.output
    assert "nothing was changed" in result.output
    assert stored(sync_engine) == before
    use_keys(monkeypatch, new=settings.data_key, old=None)
    for person in good:
        assert (await client.post(REAL_NAME, json=person.credentials())).status_code == 200


async def test_rotation_refuses_the_development_default_as_new_key(
        seed: Seed, settings: Settings, sync_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.person("zhang")
    before = stored(sync_engine)
    monkeypatch.delenv("MTB_DATA_KEY")
    monkeypatch.setenv("MTB_OLD_DATA_KEY", settings.data_key)
    get_settings.cache_clear()
    result = await rotate()
    assert result.exit_code == 1 and "development default" in result.output
    assert stored(sync_engine) == before
