"""Recording the verdicts a decision gives the application's materials (合格, 不清晰, 无效)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application
from mtb.errors import Unprocessable
from mtb.materials.models import Material
from mtb.review.schemas import MaterialVerdictIn


async def apply_verdicts(session: AsyncSession, app: Application, given: Sequence[MaterialVerdictIn], *,
                         all_acceptable: bool = False) -> list[dict[str, str]]:
    """Record the verdicts given (and, with `all_acceptable`, 合格 for every material given none); the
    list for the decision row."""
    materials = {m.id: m for m in (await session.execute(
        select(Material).where(Material.application_id == app.id))).scalars()}
    by_material = {v.material_id: v for v in given}
    for material_id in by_material:
        if material_id not in materials:
            raise Unprocessable("material_not_in_application", "所标注的材料不属于此申请")
    if all_acceptable:
        by_material = {m: by_material.get(m) or MaterialVerdictIn(material_id=m, verdict="acceptable")
                       for m in materials}
    verdicts = []
    for v in by_material.values():
        await session.execute(update(Material).where(Material.id == v.material_id)
                              .values(verdict=v.verdict, verdict_comment=v.comment))
        materials[v.material_id].verdict = v.verdict
        verdicts.append({"material_id": str(v.material_id), "verdict": v.verdict, "comment": v.comment or ""})
    return verdicts
