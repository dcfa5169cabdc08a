"""Allowed values as a client must send them: in the public catalog, and named by every refusal that lists
them (the code a client sends, with the name a person reads: `associate_chief（副主任医师）`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mtb.catalog.document import CatalogDocument, MaterialField, MaterialKind


def spelled(options: Iterable[tuple[str, str]]) -> str:
    """`code（name）、code（name）`, for a refusal's message."""
    return "、".join(f"{code}（{name}）" for code, name in options)


def allowed_extra(options: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The refusal's machine-readable list: {"allowed": [{"code", "name"}]}."""
    return {"allowed": [{"code": code, "name": name} for code, name in options]}


def title_options(doc: CatalogDocument) -> list[tuple[str, str]]:
    return [(t.code, t.name) for t in doc.physician_titles]


def field_options(doc: CatalogDocument, spec: MaterialField) -> list[tuple[str, str]] | None:
    """The only values a material's field accepts (None: free text or a date)."""
    if spec.name == "physician_title":
        return title_options(doc)
    return None


def field_format(spec: MaterialField) -> str | None:
    return "date" if spec.name == "issue_date" else None


def uploadable(doc: CatalogDocument, kinds: Iterable[str]) -> list[MaterialKind]:
    wanted = set(kinds)
    return [k for k in doc.material_kinds if k.kind in wanted and not k.generated]
