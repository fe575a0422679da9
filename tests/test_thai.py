"""Thai dates and text normalisation, as table tests."""

from __future__ import annotations

import random
import re

import pytest
from pythainlp.util import normalize as thai_normalize

from monitor.thai import (
    _thai_normalized,
    bangkok_time,
    normalize_text,
    parse_thai_date,
    read_datetime,
)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("วันจันทร์ที่ 7 ตุลาคม 2562", "2019-10-06T17:00:00+00:00"),
        ("3 ต.ค. 2562", "2019-10-02T17:00:00+00:00"),
        ("(6 ก.ย. 69)", "2026-09-05T17:00:00+00:00"),
        ("วันที่ : 07/09/2569 13:41", "2026-09-07T06:41:00+00:00"),
        ("22/11/2563", "2020-11-21T17:00:00+00:00"),
        ("(30/11/2020)", "2020-11-29T17:00:00+00:00"),
        ("12/10/2562", "2019-10-11T17:00:00+00:00"),  # months 10-12 are not January
        ("5 Sep 2014", "2014-09-04T17:00:00+00:00"),
        ("October 7, 2019", "2019-10-06T17:00:00+00:00"),
        ("๗ ตุลาคม ๒๕๖๒", "2019-10-06T17:00:00+00:00"),
        ("22 มิถุนายน 2018", "2018-06-21T17:00:00+00:00"),
        ("1 มี.ค. 2563 เวลา 13.30 น.", "2020-03-01T06:30:00+00:00"),
        ("วันนี้ (17 ส.ค. 59) นายกฯ", "2016-08-16T17:00:00+00:00"),
        ("1 มี.ค. 2563, 13:30 น.", "2020-03-01T06:30:00+00:00"),
        ("7 ตุลาคม 2562 10:30:15", "2019-10-07T03:30:15+00:00"),
        ("07/09/2569 เวลา 13.41 น.", "2026-09-07T06:41:00+00:00"),
        ("5 มกราคม 2569 25.50 ล้านบาท", "2026-01-04T17:00:00+00:00"),  # no clock shows 25.50
    ],
)
def test_thai_dates_become_utc(text: str, utc: str):
    assert parse_thai_date(text).isoformat() == utc


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("Thu, 20 Nov 2025 10:30:00 +0700", "2025-11-20T03:30:00+00:00"),
        ("Thu, 20 Nov 2025 03:30:00 GMT", "2025-11-20T03:30:00+00:00"),
        ("Posted: Thu, 20 Nov 2025 10:30:00 +07:00 by admin", "2025-11-20T03:30:00+00:00"),
        ("20 November 2025 10:30", "2025-11-20T03:30:00+00:00"),  # no offset: Bangkok
        ("20 Nov 2025 10:30 GMT+7", "2025-11-20T03:30:00+00:00"),
        ("20 Nov 2025 10:30 ICT", "2025-11-20T03:30:00+00:00"),
        ("20 Nov 2025 10:30 -0500", "2025-11-20T15:30:00+00:00"),
        ("November 20, 2025 at 10:30 PM", "2025-11-20T15:30:00+00:00"),
        ("November 20, 2025 at 12:05 a.m.", "2025-11-19T17:05:00+00:00"),
        ("20 Nov 2025 10:30 zone B", "2025-11-20T03:30:00+00:00"),  # a word, not Z (UTC)
        ("20 Nov 2025 10:30 +2500", "2025-11-19T17:00:00+00:00"),  # no such offset: the day
        ("2025-11-20T10:30:00+07:00", "2025-11-20T03:30:00+00:00"),
        ("updated 2025-11-20T10:30:00.123+07:00.", "2025-11-20T03:30:00+00:00"),
        ("2025-11-20 10:30Z", "2025-11-20T10:30:00+00:00"),
        ("2025-11-20 10:30", "2025-11-20T03:30:00+00:00"),
        ("2025-11-20", "2025-11-19T17:00:00+00:00"),
    ],
)
def test_english_and_iso_dates_keep_their_time_and_offset(text: str, utc: str):
    assert parse_thai_date(text).isoformat() == utc
    assert read_datetime(text).isoformat() == utc


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        # A date line then a date quoted in the text: the line's date is the page's.
        ("วันจันทร์ที่ 7 ตุลาคม 2562\nประชุมเมื่อ 30/09/2562", "2019-10-06T17:00:00+00:00"),
        ("20 Nov 2025 10:30 +0700, first reported 2025-11-01", "2025-11-20T03:30:00+00:00"),
        ("ข่าววันที่ 01/10/2562 อ้างถึงประกาศ 7 ตุลาคม 2561", "2019-09-30T17:00:00+00:00"),
    ],
)
def test_the_date_that_comes_first_is_read(text: str, utc: str):
    assert parse_thai_date(text).isoformat() == utc


@pytest.mark.parametrize("text", ["31 กุมภาพันธ์ 2562", "ไม่มีวันที่", "", "99/99/2562"])
def test_no_valid_date_gives_none(text: str):
    assert parse_thai_date(text) is None


def test_bangkok_time_shows_the_local_day_and_no_invented_midnight():
    assert bangkok_time("2019-10-06T17:00:00Z") == "2019-10-07"  # a date without a time
    assert bangkok_time("2019-10-07T06:41:00Z") == "2019-10-07 13:41"
    assert bangkok_time("2019-10-06T17:00:01Z") == "2019-10-07 00:00"
    assert bangkok_time(None) == ""


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ไซ\u200bเบอร์", "ไซเบอร์"),  # zero-width space inside a word
        ("ASEAN\u00a0\u00a0Summit", "asean summit"),  # NBSP and case
        ("ปี ๒๕๖๒", "ปี 2562"),  # Thai digits
        ("เเปลก", "แปลก"),  # two SARA E typed for SARA AE
    ],
)
def test_normalize_text(raw: str, normal: str):
    assert normalize_text(raw) == normal


def _typed_lines(rng: random.Random) -> str:
    """Lines of Thai with typos (marks doubled, dangling, misordered), as normalize_text
    hands them to pythainlp: spaces collapsed, lines stripped of them, none blank, the
    whole stripped."""
    keys = "กขคฤฦ ่้๊๋ิีุูัาำเแๅ็์ \r\u0e4d\u0e3a\u2028\x85a"
    lines = ("".join(rng.choice(keys) for _ in range(rng.randint(1, 12))) for _ in range(4))
    return "\n".join(filter(None, (re.sub(" +", " ", line).strip(" ") for line in lines))).strip()


def test_pythainlp_normalize_line_by_line_gives_what_it_gives_on_the_whole_text():
    rng = random.Random(7)
    texts = ["กา\n่ข", "ก\nๅ", "ก่\u0e4d\nเเ\nข", "ก้\r\nั", *(_typed_lines(rng) for _ in range(3000))]
    for text in texts:
        assert _thai_normalized(text) == thai_normalize(text), repr(text)
