"""A small filesystem to fill, for the full-disk tests (tests/test_outage.py in-process, tests/faults
against a topology): a tmpfs mounted over a folder (root only) and a file that takes every free byte."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[str | None]:
    """A tmpfs of `size` mounted over `path`, unmounted afterwards; yields None when it is mounted, or why
    it is not (not root, or `mount` refused)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield "mounting a small filesystem needs root (CI runs as root)"
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        yield f"cannot mount a tmpfs here: {done.stderr.strip()}"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Take every free byte of the filesystem at `path`; remove the file returned to give them back."""
    filler = path / "filler"
    with filler.open("wb", buffering=0) as f:
        for block in (65536, 1):
            with contextlib.suppress(OSError):
                while f.write(b"\0" * block):
                    pass
    return filler
