"""Thai dates and text normalisation, as table tests."""

from __future__ import annotations

import pytest

from monitor.thai import bangkok_time, normalize_text, parse_thai_date


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
    ],
)
def test_thai_dates_become_utc(text: str, utc: str):
    assert parse_thai_date(text).isoformat() == utc


@pytest.mark.parametrize("text", ["31 กุมภาพันธ์ 2562", "ไม่มีวันที่", "", "99/99/2562"])
def test_no_valid_date_gives_none(text: str):
    assert parse_thai_date(text) is None


def test_bangkok_time_shows_the_local_day():
    assert bangkok_time("2019-10-06T17:00:00Z") == "2019-10-07 00:00"
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
