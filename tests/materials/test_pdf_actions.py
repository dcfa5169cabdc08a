"""The active-content rule for PDFs (issue 16, item 4), as a property: every action type but a jump
within the document is refused in every place an action can sit, however the file spells it (plain
names, #-escaped names, every object inside a compressed object stream, or added by an incremental
update); a jump within the document is accepted in all of them. Checked on `inspect_file` in-process;
the upload corpus (test_hostile.py) sends the named variants through the API.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mtb.settings import Settings
from tests.files import ACTION_PLACES, ACTIONS, GOTO, HARMLESS_PDFS, HOSTILE_PDFS, pdf_with_action
from tests.materials.helpers import inspected

SPELLINGS = ("plain", "escaped", "object-stream", "update")


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("place", list(ACTION_PLACES))
def test_every_action_but_goto_is_refused_wherever_it_sits(place: str, spelling: str, tmp_path: Path,
                                                           settings: Settings) -> None:
    assert inspected(tmp_path, settings, pdf_with_action(place, GOTO, spelling=spelling)) is None
    accepted = [name for name, action in ACTIONS.items()
                if inspected(tmp_path, settings, pdf_with_action(place, action, spelling=spelling))
                != "pdf_active_content"]
    assert accepted == []


@pytest.mark.parametrize("name", list(HOSTILE_PDFS))
def test_hostile_pdf_variant_is_refused(name: str, tmp_path: Path, settings: Settings) -> None:
    assert inspected(tmp_path, settings, HOSTILE_PDFS[name]()) == "pdf_active_content"


@pytest.mark.parametrize("name", list(HARMLESS_PDFS))
def test_harmless_structures_with_the_same_names_are_accepted(name: str, tmp_path: Path, settings: Settings) -> None:
    assert inspected(tmp_path, settings, HARMLESS_PDFS[name]()) is None
