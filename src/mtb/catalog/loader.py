"""Reading catalog files: YAML → validated `CatalogDocument`, or every problem with its file and path.

A file with any problem is refused whole; nothing of it is loaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from mtb.catalog.document import CatalogDocument, cross_reference_problems
from mtb.catalog.yamlstrict import load_strict


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(file)'}: {self.reason}"


@dataclass(frozen=True)
class ParsedCatalog:
    file: str
    document: CatalogDocument
    sha256: str


class CatalogInvalid(Exception):
    def __init__(self, problems: list[CatalogProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_catalog(raw: bytes, *, file: str) -> ParsedCatalog:
    """Validate one catalog file's bytes; raise `CatalogInvalid` listing every problem found."""
    try:
        data = load_strict(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogInvalid([CatalogProblem(file, "", f"not UTF-8 text: {exc.reason}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise CatalogInvalid([CatalogProblem(file, where, f"not valid YAML: {reason}")]) from exc
    if not isinstance(data, dict):
        raise CatalogInvalid([CatalogProblem(file, "", "the file must hold a mapping at its top level")])
    try:
        document = CatalogDocument.model_validate(data)
    except ValidationError as exc:
        raise CatalogInvalid([
            CatalogProblem(file, _loc_to_path(tuple(err["loc"])), err["msg"]) for err in exc.errors()
        ]) from exc
    problems = [CatalogProblem(file, path, reason) for path, reason in cross_reference_problems(document)]
    if problems:
        raise CatalogInvalid(problems)
    return ParsedCatalog(file=file, document=document, sha256=hashlib.sha256(raw).hexdigest())


def read_catalog_files(paths: list[Path]) -> list[ParsedCatalog]:
    """Parse every file; raise one `CatalogInvalid` with the problems of all of them."""
    parsed: list[ParsedCatalog] = []
    problems: list[CatalogProblem] = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(CatalogProblem(str(path), "", f"cannot read: {exc.strerror}"))
            continue
        try:
            parsed.append(parse_catalog(raw, file=str(path)))
        except CatalogInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise CatalogInvalid(problems)
    return parsed
