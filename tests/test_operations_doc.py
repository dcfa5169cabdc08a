"""docs/operations.md names every setting, so the configuration reference stays complete."""

from __future__ import annotations

from pathlib import Path

from mtb.settings import Settings

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = [f"MTB_{name.upper()}" for name in Settings.model_fields if f"`MTB_{name.upper()}`" not in text]
    assert not missing, f"add these to the configuration reference of docs/operations.md: {missing}"
