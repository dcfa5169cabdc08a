"""The hostile PDFs of the fresh-eyes attack (tests/materials/corpus/README.md): each one is read
differently by pypdf and by pdfium, and is refused; their honest twin is accepted. Checked through the
upload route as an applicant sends them, with the server's logging as shipped (mtb/logs.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mtb.logs import configure_logging
from tests.applications.helpers import BEIJING_SELF, create, upload
from tests.factories import Seed

CORPUS = Path(__file__).parent / "corpus"
HOSTILE = sorted(p.name for p in CORPUS.glob("*.pdf") if p.name != "00_clean.pdf")


@pytest.fixture
async def draft(client: httpx.AsyncClient, seed: Seed) -> tuple[str, dict[str, str]]:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    return (await create(client, headers, **BEIJING_SELF)).json()["id"], headers


def test_the_corpus_is_there() -> None:
    assert len(HOSTILE) >= 25 and (CORPUS / "00_clean.pdf").is_file()


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_pdf_read_differently_by_a_viewer_is_refused(name: str, client: httpx.AsyncClient,
                                                             draft: tuple[str, dict[str, str]],
                                                             logging_restored: None) -> None:
    configure_logging("INFO")  # as the server runs (it once made the check deaf)
    app_id, headers = draft
    response = await upload(client, headers, app_id, "diagnosis_certificate", (CORPUS / name).read_bytes(),
                            name="诊断证明.pdf")
    assert response.status_code == 422, (name, response.text)
    assert response.json()["error"] == "pdf_ambiguous", (name, response.text)
    assert "不同软件会读出不同内容" in response.json()["detail"]


async def test_the_honest_twin_is_accepted(client: httpx.AsyncClient, draft: tuple[str, dict[str, str]]) -> None:
    app_id, headers = draft
    response = await upload(client, headers, app_id, "diagnosis_certificate", (CORPUS / "00_clean.pdf").read_bytes(),
                            name="诊断证明.pdf")
    assert response.status_code == 201, response.text
