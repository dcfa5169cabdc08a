"""Judging a file as the upload does (`inspect_file`), in-process: the error code it is refused with."""

from __future__ import annotations

from pathlib import Path

from mtb.errors import MTBError
from mtb.materials.inspect import inspect_file
from mtb.settings import Settings


def inspection_code(path: Path, settings: Settings) -> str | None:
    """The error code inspecting the file at `path` gives, or None when it is accepted."""
    try:
        inspect_file(path, settings)
    except MTBError as exc:
        return exc.code
    return None


def inspected(tmp_path: Path, settings: Settings, content: bytes) -> str | None:
    """The error code inspecting `content` (written to tmp_path/upload.pdf) gives, or None when accepted."""
    path = tmp_path / "upload.pdf"
    path.write_bytes(content)
    return inspection_code(path, settings)
