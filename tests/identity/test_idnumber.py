"""Resident ID numbers: GB 11643 check, masking, keyed lookup, encryption at rest."""

from __future__ import annotations

import pytest

from mtb.identity import idnumber
from mtb.settings import Settings, get_settings


def test_check_digit_and_birth_date() -> None:
    number = idnumber.with_check_digit("11010519491231002")
    assert number == "11010519491231002X"
    assert idnumber.is_valid(number)
    assert not idnumber.is_valid("110105194912310021")  # wrong check digit
    assert not idnumber.is_valid(idnumber.with_check_digit("11010519491332002"))  # no 32 December
    assert not idnumber.is_valid("11010519491231002")  # 17 characters


def test_mask_keeps_region_and_last_four() -> None:
    assert idnumber.mask("11010519491231002X") == "**************002X"


def test_region_names_from_the_division_table() -> None:
    assert idnumber.region_name("110000") == "北京市"
    assert idnumber.region_name("429021") == "湖北省神农架林区"
    assert idnumber.region_name("999999") is None
    assert idnumber.region_name("abc") is None


def test_encryption_round_trip_and_fresh_nonce(settings: Settings) -> None:
    number = "11010519491231002X"
    a, b = idnumber.encrypt(number), idnumber.encrypt(number)
    assert a != b and number not in a
    assert idnumber.decrypt(a) == number == idnumber.decrypt(b)


def test_lookup_hash_depends_on_the_data_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    number = "11010519491231002X"
    first = idnumber.lookup_hash(number)
    assert first == idnumber.lookup_hash(number) and number not in first
    monkeypatch.setenv("MTB_DATA_KEY", "another-key")
    get_settings.cache_clear()
    assert idnumber.lookup_hash(number) != first


def test_validation_agrees_with_python_stdnum() -> None:
    """is_valid remembers birth-place lookups; its answers must stay python-stdnum's, digit for digit."""
    import random

    from stdnum.cn import ric

    rng = random.Random(11643)
    numbers = ["110105194912310021", "11010519491231002X", "990105194912310021", "110105194902300021",
               "11010519491331002X", "１１0105194912310021", "11010519491231002"]
    for _ in range(400):
        base = f"{rng.choice(['110105', '110102', '429021', '420102', '110199', '429099'])}" \
               f"{rng.randrange(1930, 2010)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
        numbers.append(base + ric.calc_check_digit(base + "0"))
        wrong = list(numbers[-1])
        wrong[rng.randrange(18)] = rng.choice("0123456789X")
        numbers.append("".join(wrong))
    def stdnum_says(number: str) -> bool:
        try:
            return ric.is_valid(number) and len(number) == 18
        except KeyError:  # python-stdnum's own failure on a division without a county: not valid
            return False

    assert sum(idnumber.is_valid(n) for n in numbers) > 100
    for number in numbers:
        assert idnumber.is_valid(number) == stdnum_says(number), number
