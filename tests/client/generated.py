"""A Python client generated from MTB's /openapi.json by openapi-python-client (a test dependency), as an
integrator would make one.

Generation takes a few seconds, so the client is kept under var/openapi-client/<key>/, the key being the
hash of the schema, the generator's version and its settings: a changed schema makes a new one. What the
generator printed is kept beside it (generator.log); the tests require it to have printed no warning, so
a schema the generator cannot express fails here, to be fixed in the schema.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("openapi-python-client.yaml")
CACHE = ROOT / "var" / "openapi-client"
PACKAGE = "mtb_client"
KEEP = 3  # generated clients kept in the cache


@dataclass(frozen=True)
class Generated:
    package: ModuleType
    folder: Path
    log: str           # what the generator printed
    files: int         # .py files written
    size: int          # their bytes


def _key(schema: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode())
    digest.update(version("openapi-python-client").encode())
    digest.update(CONFIG.read_bytes())
    return digest.hexdigest()[:16]


def generate(schema: dict[str, Any]) -> Generated:
    folder = CACHE / _key(schema)
    if not (folder / PACKAGE / "__init__.py").exists():
        work = CACHE / f"tmp-{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        try:
            (work / "openapi.json").write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
            done = subprocess.run(
                [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
                 "--meta", "none", "--output-path", PACKAGE, "--config", str(CONFIG)],
                cwd=work, capture_output=True, text=True, timeout=300, check=False,
                env={**os.environ, "PYTHONPATH": ""})
            (work / "generator.log").write_text(done.stdout + done.stderr, "utf-8")
            if done.returncode != 0 or not (work / PACKAGE / "__init__.py").exists():
                raise RuntimeError(f"openapi-python-client failed ({done.returncode}):\n{done.stdout}{done.stderr}")
            try:
                work.rename(folder)
            except OSError:  # another run made it meanwhile
                shutil.rmtree(work, ignore_errors=True)
            kept = sorted((p for p in CACHE.iterdir() if not p.name.startswith("tmp-")),
                          key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[KEEP:]:  # clients of schemas long gone
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]  # another schema's client from earlier in this process
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
    files = list((folder / PACKAGE).rglob("*.py"))
    return Generated(package=package, folder=folder, log=(folder / "generator.log").read_text("utf-8"),
                     files=len(files), size=sum(f.stat().st_size for f in files))


def module(generated: Generated, name: str) -> Any:
    """`api.applications.create` → the generated module (imported on demand, like an integrator would)."""
    return importlib.import_module(f"{PACKAGE}.{name}")
