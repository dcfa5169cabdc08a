"""Channel login: a registered channel's signed assertion names a person; MTB checks it in full and
issues its own session. Every attack is tried in several variants, each refused with its own code."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

import anyio
import httpx
import jwt
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from mtb.channels.models import ChannelAssertion
from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.jobs import run_jobs
from mtb.settings import Settings
from mtb.timeutil import utcnow
from tests.channels.keys import b64, claims, forge, jwks, private_key, private_pem, public_pem, sign
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Person, Seed

LOGIN = "/api/v1/auth/channel"
ADMIN = "/api/v1/admin/channels"


async def register(seed: Seed, keys: str, *, code: str = "bj-app", region: str = "110000",
                   kid: str | None = None, **extra: Any) -> dict[str, Any]:
    admin = await seed.staff(f"admin-{uuid.uuid4().hex[:6]}", StaffRole.admin, region)
    headers = await seed.staff_login(admin)
    response = await seed.client.post(ADMIN, headers=headers,
                                      json={"code": code, "name": "北京医保 APP", "keys": keys, "kid": kid} | extra)
    assert response.status_code == 201, response.text
    return dict(response.json()) | {"headers": headers}


async def login(client: httpx.AsyncClient, assertion: str) -> httpx.Response:
    return await client.post(LOGIN, json={"assertion": assertion})


def refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == code, response.text
    assert response.json()["detail"]


@pytest.fixture
async def zhang(seed: Seed) -> Person:
    await seed.catalogs()
    return await seed.person("zhang")


# --- accepted -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("rsa", "PS256"), ("rsa", "RS512"),
                                                 ("ec", "ES256"), ("ed25519", "EdDSA")])
async def test_a_signed_assertion_logs_the_person_in_with_the_usual_session(
        client: httpx.AsyncClient, seed: Seed, zhang: Person, settings: Settings, kind: str, algorithm: str) -> None:
    key = private_key(kind)
    await register(seed, public_pem(key))
    response = await login(client, sign(claims(zhang), key, algorithm=algorithm))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["person"]["id"] == str(zhang.row.id) and data["person"]["id_number_masked"] == "**************9010"
    assert zhang.id_number not in response.text
    # The same kind of token as the typed login: it works everywhere a person's token does, and ends by logout.
    typed = (await client.post("/api/v1/auth/real-name", json=zhang.credentials())).json()
    ours = jwt.decode(data["access_token"], settings.secret_key, algorithms=["HS256"])
    theirs = jwt.decode(typed["access_token"], settings.secret_key, algorithms=["HS256"])
    assert set(ours) == set(theirs) and ours["kind"] == "person" and ours["sub"] == theirs["sub"]
    assert data["expires_in"] == typed["expires_in"]
    headers = {"Authorization": f"Bearer {data['access_token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).json()["person"]["name"] == "张三"
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_jwks_with_several_keys_picks_by_kid_and_card_number_is_optional(
        client: httpx.AsyncClient, seed: Seed, zhang: Person) -> None:
    old, new = private_key("ec", 1), private_key("rsa", 1)
    await register(seed, jwks(("2026-old", old), ("2026-new", new)))
    for kid, key in (("2026-old", old), ("2026-new", new)):
        assert (await login(client, sign(claims(zhang), key, kid=kid))).status_code == 200
    assert (await login(client, sign(claims(zhang, card_number=None), new, kid="2026-new"))).status_code == 200
    # The audience may be a list naming MTB among others; clocks a few seconds apart are tolerated.
    now = int(utcnow().timestamp())
    assert (await login(client, sign(claims(zhang, aud=["other", "mtb"], iat=now + 20, exp=now + 200),
                                     new, kid="2026-new"))).status_code == 200


# --- refused: the token and its algorithm ---------------------------------------------------------

@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "eyJhbGciOiJFUzI1NiJ9.e30", "x" * 5000])
async def test_malformed(client: httpx.AsyncClient, seed: Seed, zhang: Person, token: str) -> None:
    await register(seed, public_pem(private_key("ec")))
    response = await login(client, token)
    if token == "":
        assert response.status_code == 422
    else:
        refused(response, "assertion_malformed")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(client: httpx.AsyncClient, seed: Seed, zhang: Person, alg: str) -> None:
    await register(seed, public_pem(private_key("rsa")))
    refused(await login(client, forge({"alg": alg, "typ": "JWT"}, claims(zhang))), "assertion_algorithm_refused")


def _hmac(header: dict[str, Any], payload: dict[str, Any], secret: bytes, digest: Any) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), digest).digest())}"


@pytest.mark.parametrize("alg,digest", [("HS256", hashlib.sha256), ("HS384", hashlib.sha384),
                                        ("HS512", hashlib.sha512)])
@pytest.mark.parametrize("secret_form", ["pem", "pem-stripped", "jwk"])
async def test_hmac_with_the_public_key_as_secret_is_refused(
        client: httpx.AsyncClient, seed: Seed, zhang: Person, alg: str, digest: Any, secret_form: str) -> None:
    """The classic confusion: the public key is public, so an HMAC keyed with it proves nothing."""
    key = private_key("rsa")
    channel = await register(seed, public_pem(key))
    secret = {"pem": public_pem(key), "pem-stripped": public_pem(key).strip(),
              "jwk": json.dumps(channel["keys"]["keys"][0])}[secret_form].encode()
    refused(await login(client, _hmac({"alg": alg, "typ": "JWT"}, claims(zhang), secret, digest)),
            "assertion_algorithm_refused")


@pytest.mark.parametrize(("registered", "signer", "alg"), [
    ("rsa", "ec", "ES256"), ("ec", "rsa", "RS256"), ("ed25519", "ec", "ES256"), ("ec", "ed25519", "EdDSA"),
    ("rsa", "rsa", "ES256")])
async def test_an_algorithm_of_another_key_type_is_refused(
        client: httpx.AsyncClient, seed: Seed, zhang: Person, registered: str, signer: str, alg: str) -> None:
    await register(seed, public_pem(private_key(registered)))
    if registered == signer:  # a header lying about the algorithm
        token = forge({"alg": alg}, claims(zhang), b"\x00" * 64)
    else:
        token = sign(claims(zhang), private_key(signer, 2), algorithm=alg)
    refused(await login(client, token), "assertion_algorithm_refused")


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
@pytest.mark.parametrize("attack", ["other-key", "tampered-name", "tampered-id", "truncated", "no-signature"])
async def test_bad_signatures(client: httpx.AsyncClient, seed: Seed, zhang: Person, kind: str, attack: str) -> None:
    li = await seed.person("li")
    key = private_key(kind)
    await register(seed, public_pem(key))
    good = sign(claims(zhang), key)
    head, body, signature = good.split(".")
    payload = json.loads(jwt.utils.base64url_decode(body))
    if attack == "other-key":
        token = sign(claims(zhang), private_key(kind, 3))
    elif attack in ("tampered-name", "tampered-id"):
        payload |= {"name": "李四"} if attack == "tampered-name" else {"id_number": li.id_number, "name": li.name}
        token = f"{head}.{b64(json.dumps(payload).encode())}.{signature}"
    elif attack == "truncated":
        token = f"{head}.{body}.{signature[:-8]}"
    else:
        token = f"{head}.{body}."
    response = await login(client, token)
    assert response.status_code == 401
    assert response.json()["error"] in ("assertion_signature_invalid", "assertion_malformed"), response.text
    if attack != "truncated":
        assert response.json()["error"] == "assertion_signature_invalid"


# --- refused: channel and key ---------------------------------------------------------------------

async def test_unknown_or_disabled_channel_and_unknown_kid(client: httpx.AsyncClient, seed: Seed,
                                                           zhang: Person) -> None:
    key = private_key("ec")
    channel = await register(seed, jwks(("k1", key), ("k2", private_key("ec", 1))))
    refused(await login(client, sign(claims(zhang, channel="someone-else"), key, kid="k1")), "channel_unknown")
    refused(await login(client, sign(claims(zhang, iss=None), key, kid="k1")), "assertion_claim_missing")
    refused(await login(client, sign(claims(zhang), key, kid="k9")), "channel_key_unknown")
    refused(await login(client, sign(claims(zhang), key)), "channel_key_unknown")  # no kid, two keys
    # Signed with k1's key but naming k2: the signature does not verify under k2.
    refused(await login(client, sign(claims(zhang), key, kid="k2")), "assertion_signature_invalid")
    headers = channel["headers"]
    assert (await client.post(f"{ADMIN}/{channel['id']}/disable", headers=headers)).json()["active"] is False
    refused(await login(client, sign(claims(zhang), key, kid="k1")), "channel_unknown")
    assert (await client.post(f"{ADMIN}/{channel['id']}/enable", headers=headers)).json()["active"] is True
    assert (await login(client, sign(claims(zhang), key, kid="k1"))).status_code == 200


async def test_key_rotation(client: httpx.AsyncClient, seed: Seed, zhang: Person) -> None:
    old, new = private_key("rsa"), private_key("rsa", 1)
    channel = await register(seed, public_pem(old))
    response = await client.put(f"{ADMIN}/{channel['id']}/keys", headers=channel["headers"],
                                json={"keys": public_pem(new), "kid": "2027"})
    assert response.status_code == 200 and response.json()["keys"]["keys"][0]["kid"] == "2027"
    refused(await login(client, sign(claims(zhang), old)), "assertion_signature_invalid")
    assert (await login(client, sign(claims(zhang), new, kid="2027"))).status_code == 200


# --- refused: claims ------------------------------------------------------------------------------

@pytest.mark.parametrize("aud", [None, "MTB", "mtb ", "other", ["other"], [], 7])
async def test_wrong_audience(client: httpx.AsyncClient, seed: Seed, zhang: Person, aud: Any) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    payload = claims(zhang, aud=aud) if aud is not None else {k: v for k, v in claims(zhang).items() if k != "aud"}
    refused(await login(client, sign(payload, key)), "assertion_audience_invalid")


@pytest.mark.parametrize("claim,value", [("jti", None), ("jti", ""), ("jti", "j" * 129), ("jti", 12345),
                                         ("iat", None), ("exp", None), ("exp", "soon"), ("iat", True),
                                         ("id_number", None), ("name", None), ("name", ""), ("card_number", 5)])
async def test_missing_or_malformed_claims(client: httpx.AsyncClient, seed: Seed, zhang: Person, claim: str,
                                           value: Any) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    payload = claims(zhang)
    if value is None:
        del payload[claim]
    else:
        payload[claim] = value
    refused(await login(client, sign(payload, key)), "assertion_claim_missing")


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e20, 10**30, -1, -1e9, -0.5,
                                   "1700000000", "", "NaN", True, False, [1], {"t": 1}])
async def test_a_time_claim_must_be_a_plausible_number(client: httpx.AsyncClient, seed: Seed, zhang: Person,
                                                       claim: str, value: Any) -> None:
    # JSON lets NaN and Infinity through (PyJWT writes them): they must not skip the lifetime and
    # expiry checks, nor break the date arithmetic (a 500).
    key = private_key("ec")
    await register(seed, public_pem(key))
    payload = claims(zhang) | {claim: value}
    refused(await login(client, sign(payload, key)), "assertion_claim_missing")
    # With the other times absurd too (iat NaN with exp 1e20 was a 500)
    other = claims(zhang) | {"iat": float("nan"), "exp": 1e20, claim: value}
    refused(await login(client, sign(other, key)), "assertion_claim_missing")
    # A plausible value of the same claim still logs in.
    now = int(utcnow().timestamp())
    assert (await login(client, sign(claims(zhang) | {claim: now}, key))).status_code == 200


@pytest.mark.parametrize("ago", [31, 61, 3600, 86400 * 365])
async def test_expired(client: httpx.AsyncClient, seed: Seed, zhang: Person, ago: int) -> None:
    key = private_key("ed25519")
    await register(seed, public_pem(key))
    now = int(utcnow().timestamp())
    refused(await login(client, sign(claims(zhang, iat=now - ago - 60, exp=now - ago), key)), "assertion_expired")


@pytest.mark.parametrize("lifetime", [301, 600, 3600, 86400 * 3650])
async def test_too_long_lived(client: httpx.AsyncClient, seed: Seed, zhang: Person, lifetime: int) -> None:
    key = private_key("ed25519")
    await register(seed, public_pem(key))
    now = int(utcnow().timestamp())
    refused(await login(client, sign(claims(zhang, iat=now, exp=now + lifetime), key)), "assertion_lifetime_too_long")
    # Backdating iat does not help either.
    refused(await login(client, sign(claims(zhang, iat=now - lifetime, exp=now + 10), key)),
            "assertion_lifetime_too_long")
    assert (await login(client, sign(claims(zhang, iat=now, exp=now + 300), key))).status_code == 200


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize("ahead", [31, 120, 86400])
async def test_from_the_future(client: httpx.AsyncClient, seed: Seed, zhang: Person, claim: str, ahead: int,
                               clock: Clock) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    clock.set("2027-03-01")  # stopped: 31 s ahead stays 31 s however slow the machine (leeway 30 s)
    now = int(utcnow().timestamp())
    payload = claims(zhang, exp=now + ahead + 100) | {claim: now + ahead}
    if claim == "nbf":
        payload["iat"] = now
        payload["exp"] = now + 250
    refused(await login(client, sign(payload, key)), "assertion_not_yet_valid")


async def test_the_clock_decides_with_mtbs_time(client: httpx.AsyncClient, seed: Seed, zhang: Person,
                                                clock: Clock) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    clock.set("2027-03-01")
    now = int(utcnow().timestamp())
    assertion = sign(claims(zhang, iat=now, exp=now + 120), key)
    clock.set("2027-03-01", hour=11)
    refused(await login(client, assertion), "assertion_expired")


# --- refused: replay ------------------------------------------------------------------------------

async def test_a_jti_is_accepted_once_even_after_the_first_session_ended(
        client: httpx.AsyncClient, seed: Seed, zhang: Person) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    assertion = sign(claims(zhang), key)
    first = await login(client, assertion)
    assert first.status_code == 200
    await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    for _ in range(3):
        refused(await login(client, assertion), "assertion_replayed")
    # Another assertion reusing the jti (freshly signed, other times) is a replay too.
    now = int(utcnow().timestamp())
    jti = jwt.decode(assertion, options={"verify_signature": False})["jti"]
    refused(await login(client, sign(claims(zhang, jti=jti, iat=now + 1, exp=now + 100), key)), "assertion_replayed")


async def test_concurrent_replays_let_exactly_one_through(client: httpx.AsyncClient, seed: Seed,
                                                          zhang: Person) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    for _ in range(3):
        assertion = sign(claims(zhang), key)
        answers = await asyncio.gather(*(login(client, assertion) for _ in range(8)))
        assert sorted(a.status_code for a in answers) == [200] + [401] * 7
        assert {a.json()["error"] for a in answers if a.status_code == 401} == {"assertion_replayed"}


async def test_the_same_jti_from_two_channels_is_two_assertions(client: httpx.AsyncClient, seed: Seed,
                                                                zhang: Person) -> None:
    a, b = private_key("ec"), private_key("ec", 1)
    await register(seed, public_pem(a), code="bj-app")
    await register(seed, public_pem(b), code="jingtong")
    assert (await login(client, sign(claims(zhang, jti="same"), a))).status_code == 200
    assert (await login(client, sign(claims(zhang, jti="same", channel="jingtong"), b))).status_code == 200


async def test_used_ids_are_purged_after_expiry_and_stay_refused(client: httpx.AsyncClient, seed: Seed,
                                                                 zhang: Person, settings: Settings) -> None:
    key = private_key("ec")
    await register(seed, public_pem(key))
    assertion = sign(claims(zhang), key)
    assert (await login(client, assertion)).status_code == 200

    async def count() -> int:
        async with seed.sessionmaker() as s:
            return int((await s.execute(select(func.count()).select_from(ChannelAssertion))).scalar_one())

    await run_jobs(seed.sessionmaker, settings, now=utcnow())
    assert await count() == 1  # not yet expired: kept
    await run_jobs(seed.sessionmaker, settings, now=utcnow() + timedelta(minutes=3))
    assert await count() == 0
    from mtb import timeutil
    timeutil.freeze(utcnow() + timedelta(minutes=3))
    try:
        refused(await login(client, assertion), "assertion_expired")
    finally:
        timeutil.freeze(None)


# --- refused: the person --------------------------------------------------------------------------

async def test_person_unknown_mismatching_or_of_another_region(client: httpx.AsyncClient, seed: Seed,
                                                               zhang: Person) -> None:
    key = private_key("rsa")
    await register(seed, public_pem(key))
    zhao = await seed.person("zhao")
    assert zhao.row.region_code == SHENNONGJIA
    cases = [
        ({"id_number": "110105197001019999"}, "channel_person_unknown"),  # bad check digit
        ({"id_number": "11010519700101011X"}, "channel_person_unknown"),
        ({"id_number": "not a number"}, "channel_person_unknown"),
        ({"name": "张四"}, "channel_person_mismatch"),
        ({"card_number": "C00000000"}, "channel_person_mismatch"),
        ({"id_number": zhao.id_number, "name": zhao.name, "card_number": zhao.card_number},
         "channel_person_other_region"),
    ]
    for overrides, code in cases:
        refused(await login(client, sign(claims(zhang, **overrides), key)), code)
    # A refused assertion used up nothing: nothing was recorded.
    async with seed.sessionmaker() as s:
        assert (await s.execute(select(func.count()).select_from(ChannelAssertion))).scalar_one() == 0


# --- registration ---------------------------------------------------------------------------------

async def test_registration_refuses_what_is_not_a_public_signing_key(client: httpx.AsyncClient, seed: Seed) -> None:
    admin = await seed.staff("admin-bj", StaffRole.admin)
    headers = await seed.staff_login(admin)
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_jwk = json.loads(jwks(("a", private_key("ec"))))["keys"][0]
    cases = [
        (private_pem(private_key("rsa")), "channel_key_private"),
        (json.dumps({"keys": [ec_jwk | {"d": "AAAA"}]}), "channel_key_private"),
        (json.dumps({"kty": "oct", "k": "c2VjcmV0"}), "channel_key_symmetric"),
        (public_pem(weak), "channel_key_weak"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "channel_key_invalid"),
        ("not a key", "channel_key_invalid"),
        (json.dumps({"keys": []}), "channel_key_invalid"),
        (json.dumps({"keys": [ec_jwk, ec_jwk]}), "channel_key_invalid"),  # two keys, same kid
        (json.dumps({"keys": [ec_jwk | {"use": "enc"}]}), "channel_key_invalid"),
        (json.dumps({"keys": [ec_jwk | {"crv": "secp256k1"}]}), "channel_key_unsupported"),
    ]
    for keys, code in cases:
        response = await client.post(ADMIN, headers=headers, json={"code": "bj-app", "name": "x", "keys": keys})
        assert response.status_code == 422 and response.json()["error"] == code, (code, response.text)
    assert (await client.get(ADMIN, headers=headers)).json() == []


async def test_registration_is_an_admins_and_stays_in_the_region(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    pem = public_pem(private_key("ec"))
    channel = await register(seed, pem, catalog_channel="bj_app")
    assert channel["catalog_channel"] == "bj_app" and channel["region_code"] == "110000"
    again = await client.post(ADMIN, headers=channel["headers"], json={"code": "bj-app", "name": "x", "keys": pem})
    assert again.status_code == 409 and again.json()["error"] == "channel_exists"
    unknown = await client.post(ADMIN, headers=channel["headers"],
                                json={"code": "other", "name": "x", "keys": pem, "catalog_channel": "hb_mp"})
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_channel"
    hubei = await seed.staff_login(await seed.staff("admin-hb", StaffRole.admin, SHENNONGJIA))
    assert (await client.get(ADMIN, headers=hubei)).json() == []
    for path in (f"{ADMIN}/{channel['id']}/disable", f"{ADMIN}/{channel['id']}/enable"):
        response = await client.post(path, headers=hubei)
        assert response.status_code == 404 and response.json()["error"] == "channel_not_found"
    reviewer = await seed.staff_login(await seed.staff("rev-bj", StaffRole.reviewer))
    assert (await client.get(ADMIN, headers=reviewer)).status_code == 403
    zhang = await seed.login(await seed.person("zhang"))
    assert (await client.post(ADMIN, headers=zhang, json={"code": "x1", "name": "x", "keys": pem})).status_code == 403


class _Runner:
    """The CLI runs its own event loop: from an async test, in a thread."""

    async def invoke(self, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(*args))


async def test_cli_registers_lists_rotates_and_disables(client: httpx.AsyncClient, seed: Seed, zhang: Person,
                                                        tmp_path: Any) -> None:
    key, new = private_key("ed25519"), private_key("ed25519", 1)
    (tmp_path / "key.pem").write_text(public_pem(key))
    (tmp_path / "new.json").write_text(jwks(("n1", new)))
    runner = _Runner()
    result = await runner.invoke(cli, ["channel", "create", "bj-app", "--key", str(tmp_path / "key.pem"),
                                 "--name", "北京医保 APP", "--region", "110000", "--kid", "k0"])
    assert result.exit_code == 0, result.output
    assert (await login(client, sign(claims(zhang), key, kid="k0"))).status_code == 200
    result = await runner.invoke(cli, ["channel", "create", "bj-app", "--key", str(tmp_path / "key.pem"),
                                 "--name", "again", "--region", "110000"])
    assert result.exit_code == 1 and "channel_exists" in result.output
    result = await runner.invoke(cli, ["channel", "create", "x2", "--key", str(tmp_path / "missing.pem"),
                                 "--name", "x", "--region", "110000"])
    assert result.exit_code == 1 and "cannot read" in result.output
    assert (await runner.invoke(cli, ["channel", "keys", "bj-app", "--key", str(tmp_path / "new.json")])).exit_code == 0
    assert (await login(client, sign(claims(zhang), new, kid="n1"))).status_code == 200
    listed = await runner.invoke(cli, ["channel", "list"])
    assert "bj-app" in listed.output and "active" in listed.output and "n1" in listed.output
    assert (await runner.invoke(cli, ["channel", "disable", "bj-app"])).exit_code == 0
    refused(await login(client, sign(claims(zhang), new, kid="n1")), "channel_unknown")
    result = await runner.invoke(cli, ["channel", "disable", "nope"])
    assert result.exit_code == 1 and "channel_not_found" in result.output
