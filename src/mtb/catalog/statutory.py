"""The statutory public holidays of a year, for years no published schedule covers.

The 全国年节及纪念日放假办法 as revised in 2024 (in force since 1 January 2025) gives every citizen
these days off (article 2): 元旦 1 January; 春节 4 days, 除夕 (the last day of the lunar year) to
正月初三; 清明 the day of the 清明 solar term; 劳动节 1-2 May; 端午 五月初五; 中秋 八月十五;
国庆 1-3 October. Article 6: a holiday that falls on a Saturday or Sunday is made up on a working day
(补假); here, on the next weekday that is not itself a holiday.

What the State Council's yearly notice adds (the weekend days made working days, the bridges that make
the 8-day 春节 and 7-day 国庆 breaks) cannot be known before it is published: a year computed here is
provisional, and so is every due date counted on it (workdays.py).

The lunar dates and the solar term come from lunar-python (6tail's `lunar`): pure Python with no
dependencies, it computes the lunar calendar and the 24 solar terms with the 寿星天文历 astronomical
algorithm for any year, so it has no table that runs out (chinesecalendar's does, at the end of the
last year whose notice was published) and downloads nothing. Its answers for 2027 are checked in
tests/catalog/test_workdays.py against the published dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from lunar_python import Lunar

# The first year the revised rules apply to: earlier years are known to chinesecalendar.
FIRST_YEAR = 2025
LAST_YEAR = 2099


def _solar(lunar: Lunar) -> date:
    solar = lunar.getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # The lunar year `year` always holds the 清明 of the Gregorian year (early April).
    term = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return date(term.getYear(), term.getMonth(), term.getDay())


@cache
def statutory_holidays(year: int) -> dict[date, str]:
    """Every statutory day off of `year` with its festival's name, made-up days (补假) included."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"statutory holidays are computed for {FIRST_YEAR}-{LAST_YEAR}, not {year}")
    new_year = _solar(Lunar.fromYmd(year, 1, 1))
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    for offset in range(-1, 3):  # 除夕, 初一, 初二, 初三
        days[new_year + timedelta(days=offset)] = "春节"
    days[_qingming(year)] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    days[_solar(Lunar.fromYmd(year, 5, 5))] = "端午节"
    days[_solar(Lunar.fromYmd(year, 8, 15))] = "中秋节"
    for day in (1, 2, 3):
        days[date(year, 10, day)] = "国庆节"
    made_up: dict[date, str] = {}
    for day, name in sorted(days.items()):
        if day.weekday() >= 5:
            substitute = day + timedelta(days=1)
            while substitute.weekday() >= 5 or substitute in days or substitute in made_up:
                substitute += timedelta(days=1)
            made_up[substitute] = f"{name}（补假）"
    return {d: n for d, n in sorted((days | made_up).items()) if d.year == year}
