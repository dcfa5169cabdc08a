"""Catalog versions: immutable, all-or-nothing loads, the version in force by date."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import yaml
from sqlalchemy import func, select

from mtb.catalog.loader import CatalogInvalid, parse_catalog
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import active_catalog, active_catalogs, catalog_by_version_id, load_catalogs
from mtb.errors import NotFound
from tests.factories import CATALOG_DIR, Seed, reference_catalogs


def beijing_variant(version: str, effective_from: str, disease_name: str) -> bytes:
    data = yaml.safe_load((CATALOG_DIR / "110000-2025.1.yaml").read_text("utf-8"))
    data["version"] = version
    data["effective_from"] = date.fromisoformat(effective_from)
    data["diseases"][0]["name"] = disease_name
    return yaml.safe_dump(data, allow_unicode=True).encode()


async def count_versions(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(CatalogVersion))).scalar_one()


async def test_load_is_idempotent_for_identical_files(seed: Seed) -> None:
    async with seed.sessionmaker() as s, s.begin():
        first = await load_catalogs(s, list(reference_catalogs()))
    async with seed.sessionmaker() as s, s.begin():
        second = await load_catalogs(s, list(reference_catalogs()))
    assert [o.result for o in first] == ["loaded", "loaded"]
    assert [o.result for o in second] == ["unchanged", "unchanged"]
    assert await count_versions(seed) == 2


async def test_changed_content_under_same_version_is_refused_and_nothing_loads(seed: Seed) -> None:
    await seed.catalogs()
    changed = parse_catalog(beijing_variant("2025.1", "2025-01-01", "改过的名字"), file="changed.yaml")
    newer_hubei = replace(reference_catalogs()[1], file="hubei-copy.yaml")
    async with seed.sessionmaker() as s:
        with pytest.raises(CatalogInvalid) as info:
            async with s.begin():
                await load_catalogs(s, [newer_hubei, changed])
    (problem,) = info.value.problems
    assert problem.file == "changed.yaml" and problem.path == "version"
    assert "already loaded with other content" in problem.reason
    assert await count_versions(seed) == 2


async def test_two_versions_on_the_same_day_are_refused(seed: Seed) -> None:
    await seed.catalogs()
    same_day = parse_catalog(beijing_variant("2025.2", "2025-01-01", "x"), file="same-day.yaml")
    async with seed.sessionmaker() as s:
        with pytest.raises(CatalogInvalid) as info:
            async with s.begin():
                await load_catalogs(s, [same_day])
    assert info.value.problems[0].path == "effective_from"


async def test_new_version_takes_effect_on_its_date_and_old_one_stays_readable(seed: Seed) -> None:
    await seed.catalogs()
    newer = parse_catalog(beijing_variant("2026.1", "2026-07-01", "恶性肿瘤化学治疗（新版）"), file="v2.yaml")
    async with seed.sessionmaker() as s, s.begin():
        await load_catalogs(s, [newer])
    async with seed.sessionmaker() as s:
        before = await active_catalog(s, "110000", on=date(2026, 6, 30))
        after = await active_catalog(s, "110000", on=date(2026, 7, 1))
        assert before.version == "2025.1" and after.version == "2026.1"
        assert after.document.diseases[0].name == "恶性肿瘤化学治疗（新版）"
        # An application keeps the version it was made under (it stores the version id).
        old = await catalog_by_version_id(s, before.version_id)
        assert old.document.diseases[0].name == "恶性肿瘤化学治疗（化疗）"
        regions = await active_catalogs(s, on=date(2026, 7, 1))
        assert {(r.document.region.code, r.version) for r in regions} == {
            ("110000", "2026.1"), ("429021", "2025.1")}


async def test_region_without_a_version_in_force(seed: Seed) -> None:
    await seed.catalogs()
    async with seed.sessionmaker() as s:
        with pytest.raises(NotFound) as info:
            await active_catalog(s, "110000", on=date(2024, 12, 31))
    assert info.value.code == "region_not_found"
