"""/docs is served offline: the page, its assets and its starter script come from MTB itself, under the
same Content-Security-Policy as every other answer (the browser test is tests/e2e/test_apidocs.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from mtb.apidocs import ASSET_FILES, ASSETS_DIR
from mtb.http.edge import CSP
from mtb.web.core import STATIC_DIR

_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


class _Refs(HTMLParser):
    """Every URL the page makes a browser load or follow (src, href), and any inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href", "action", "data-openapi") and v]
        if tag in ("script", "style") and "src" not in values:
            self._in = tag
        if "style" in values or any(k.startswith("on") for k in values):
            self.inline.append(f"<{tag} {values}>")

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.inline.append(f"<{self._in}>{data}")

    def handle_endtag(self, tag: str) -> None:
        self._in = None


async def test_docs_page_references_only_mtbs_own_files(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    refs = _Refs()
    refs.feed(response.text)
    assert refs.inline == []
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/static/apidocs.js",
            "/openapi.json"} <= set(refs.refs)
    for ref in refs.refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        fetched = await client.get(ref)
        assert fetched.status_code == 200, ref
        assert fetched.headers["content-security-policy"] == CSP
        if ref.startswith("/docs/assets/"):  # 1.5 MB of Swagger UI: cacheable like /static
            assert "no-store" not in fetched.headers.get("cache-control", "")
    assert not _URL.search(response.text)


def test_starter_script_names_no_other_origin_and_turns_the_validator_off() -> None:
    script = (STATIC_DIR / "apidocs.js").read_text()
    assert not _URL.search(script)
    assert "validatorUrl: null" in script  # else Swagger UI sends the schema to validator.swagger.io


def test_assets_ship_in_the_installed_package() -> None:
    for name in ASSET_FILES:
        assert (ASSETS_DIR / name).stat().st_size > 0, name


async def test_no_cdn_pages_left(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404
    assert (await client.get("/docs/assets/../apidocs.js")).status_code == 404
