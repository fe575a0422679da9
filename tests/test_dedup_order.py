"""Dedup whatever the arrival order: copy first or original first, one verdict.

Pure tests on release-shaped Thai texts: a stored page's body as the extractor
keeps it (no date line, no repeated headline) against copies that keep both.
"""

from __future__ import annotations

import struct

import pytest

from monitor import dedup
from monitor.dedup import Signature, Verdict, classify, content_hash, signature
from monitor.models import Item

TITLE = "กระทรวงพลังงาน มอบแอลกอฮอล์ให้โรงพยาบาลส่งเสริมสุขภาพตำบล 800 แห่งทั่วประเทศ"
DATE_LINE = "วันพุธที่ 15 เมษายน 2563"
PARAGRAPHS = [
    "นายสุพัฒนพงษ์ พันธ์มีเชาว์ รองนายกรัฐมนตรีและรัฐมนตรีว่าการกระทรวงพลังงาน เป็นประธานในพิธี"
    "ส่งมอบแอลกอฮอล์สำหรับทำความสะอาดมือให้แก่กระทรวงสาธารณสุข เพื่อกระจายไปยังโรงพยาบาล"
    "ส่งเสริมสุขภาพตำบลทั่วประเทศ ในการป้องกันการแพร่ระบาดของโรคติดเชื้อไวรัสโคโรนา",
    "โดยกระทรวงพลังงานได้ร่วมกับบริษัทผู้ผลิตเอทานอลในประเทศ ผลิตแอลกอฮอล์ความเข้มข้นร้อยละ 75"
    " จำนวนกว่า 20,000 ลิตร บรรจุในขวดขนาดพร้อมใช้ และจะทยอยจัดส่งให้ครบภายในสิ้นเดือนนี้",
    "ทั้งนี้ กระทรวงพลังงานยังได้ประสานผู้ค้าน้ำมันให้คงราคาจำหน่ายเอทานอลสำหรับผลิตเจลล้างมือ"
    "ไว้ที่ระดับเดิม เพื่อให้ผู้ผลิตสามารถเพิ่มกำลังการผลิตได้อย่างต่อเนื่องตลอดช่วงสถานการณ์",
    "รองนายกรัฐมนตรีกล่าวขอบคุณบุคลากรทางการแพทย์และอาสาสมัครสาธารณสุขประจำหมู่บ้าน"
    "ที่ทำงานอย่างหนักในการดูแลประชาชน และขอให้ประชาชนปฏิบัติตามมาตรการของรัฐอย่างเคร่งครัด",
]
# What the extractor keeps of the official page: no date line, no repeated headline.
STORED = "\n".join(PARAGRAPHS)
# A republisher's copy: the page's date line and headline inside its text.
PAGE = "\n".join([DATE_LINE, TITLE, *PARAGRAPHS])
PREFIX = "[ข่าวรัฐบาล] "
HEADER = "asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : 15/04/2563 10:12\n"


def _rewrap(body: str) -> str:
    words = " ".join(body.split("\n")).split(" ")
    return "\n".join(" ".join(words[i : i + 5]) for i in range(0, len(words), 5))


def _trimmed(body: str) -> str:
    return body.rsplit("\n", 1)[0]


COPIES = {
    "the whole page": (TITLE, PAGE),
    "the page re-wrapped": (TITLE, _rewrap(PAGE)),
    "a title prefix and a header": (PREFIX + TITLE, HEADER + PAGE.replace(TITLE, PREFIX + TITLE)),
    "trimmed": (TITLE, _trimmed(PAGE)),
    "trimmed, without its headline": (TITLE, _trimmed("\n".join([DATE_LINE, *PARAGRAPHS]))),
    "trimmed, under a prefixed title": (
        PREFIX + TITLE,
        _trimmed(PAGE).replace(TITLE, PREFIX + TITLE),
    ),
    "trimmed and re-wrapped, with a header": (TITLE, _rewrap(HEADER + _trimmed(PAGE))),
}


def _item(title: str, body: str, url: str) -> Item:
    return Item(url=url, source="test", title=title, body=body, published_at=None)


def _arrive(first: tuple[str, str], then: tuple[str, str]) -> Verdict:
    """The verdict on `then` when `first` is stored (item 1) and shares a band key."""
    stored = signature(*first)
    new = signature(*then)
    assert set(dedup.band_keys(stored)) & set(dedup.band_keys(new)), "LSH must propose it"
    return classify(_item(*then, url="https://b.example/2"), None, None, [(1, stored)], sig=new)


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copy_first_and_original_first_give_the_same_merge(copy: str):
    original = (TITLE, STORED)
    assert _arrive(original, COPIES[copy]).kind == "duplicate"
    assert _arrive(COPIES[copy], original).kind == "duplicate"


def test_a_trimmed_copy_whose_figure_is_only_in_the_original_headline_merges():
    """Corpus release 23073's case: `800 แห่ง` is in the stored page's title only; the
    copy keeps the headline and the date line inside its text."""
    original, copy = signature(TITLE, STORED), signature(*COPIES["trimmed, under a prefixed title"])
    assert dedup.rejection(copy, original) is None
    assert dedup.rejection(original, copy) is None


def test_the_original_arriving_after_its_trimmed_copy_replaces_its_text():
    copy = COPIES["trimmed, under a prefixed title"]
    late_original = _arrive(copy, (TITLE, STORED))
    assert late_original == Verdict("duplicate", 1, replaces_text=True)
    assert _arrive((TITLE, STORED), copy) == Verdict("duplicate", 1, replaces_text=False)
    header_copy = COPIES["a title prefix and a header"]  # furniture is not fuller text
    assert not _arrive((TITLE, STORED), header_copy).replaces_text
    assert not _arrive(header_copy, (TITLE, STORED)).replaces_text


def test_a_date_line_only_one_side_has_is_no_missing_figure_but_two_dates_are_compared():
    original = signature(TITLE, STORED)
    copy = signature(TITLE, _trimmed(PAGE))
    assert copy.date == 25630415 and original.date == 0
    assert dedup.is_near_duplicate(copy, original)
    next_day = signature(TITLE, _trimmed(PAGE.replace("วันพุธที่ 15", "วันพฤหัสบดีที่ 16")))
    page = signature(TITLE, PAGE)
    assert not dedup.is_near_duplicate(next_day, page)
    assert not dedup.is_near_duplicate(page, next_day)


def _stub(day: int) -> tuple[str, str]:
    """A cabinet-meeting stub: the title carries the day, the body is always the same."""
    return (
        f"สรุปข่าวการประชุมคณะรัฐมนตรี {day} พฤษภาคม 2560",
        "พลเอก ประยุทธ์ จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี",
    )


def test_three_stubs_with_one_body_and_different_titles_stay_three():
    stored: dict[str, int] = {}
    verdicts = []
    for item_id, day in enumerate((9, 16, 23), 1):
        title, body = _stub(day)
        digest = content_hash(title, body)
        near = [(i, signature(*_stub(d))) for i, d in enumerate((9, 16, 23)[: item_id - 1], 1)]
        verdict = classify(_item(title, body, f"https://x.example/{day}"), None,
                           stored.get(digest), near)  # fmt: skip
        verdicts.append(verdict)
        stored.setdefault(digest, item_id)
    assert verdicts == [Verdict("new")] * 3
    assert len(stored) == 3
    title, body = _stub(16)  # the same stub again, re-spaced: still the exact hash
    assert content_hash(title, body.replace(" ", "  ")) == content_hash(title, body)


WEEKS = [
    (
        "ผลการปราบปรามผู้กระทำผิดกฎหมายสรรพสามิต",
        "\n".join(
            [
                f"ผลการปราบปรามระหว่างวันที่ {start} - {end} {month} 2561 พบการกระทำผิด {cases} คดี"
                f" ค่าปรับ {fine} ล้านบาท",
                "กรมสรรพสามิตดำเนินมาตรการเชิงรุกในการป้องกันและปราบปรามสินค้าผิดกฎหมายสรรพสามิต"
                " เพื่อสร้างความเป็นธรรม โปร่งใส และความมั่นใจให้แก่ผู้ประกอบการที่เสียภาษีโดยสุจริต",
                f"ผลการปราบปรามระหว่างวันที่ {start} - {end} {month} 2561 พบการกระทำผิดทั้งสิ้น"
                f" {cases} คดี ค่าปรับ {fine} ล้านบาท ส่วนใหญ่เป็นสุรา ยาสูบ และน้ำมัน",
                "หากพบเห็นการกระทำผิดกฎหมายสรรพสามิต สามารถแจ้งเบาะแสได้ที่สายด่วน 1713"
                " กรมสรรพสามิตจะปกปิดข้อมูลของผู้แจ้งเบาะแสเป็นความลับ",
            ]
        ),
    )
    for start, end, month, cases, fine in (
        (19, 25, "ตุลาคม", 383, "5.75"),
        (2, 8, "พฤศจิกายน", 452, "7.10"),
    )
]


def test_weeks_of_one_template_stay_apart_in_both_orders_and_trimmed():
    first, second = WEEKS
    trimmed_second = (second[0], _trimmed(second[1]))
    for a, b in ((first, second), (first, trimmed_second)):
        assert not dedup.is_near_duplicate(signature(*a), signature(*b))
        assert not dedup.is_near_duplicate(signature(*b), signature(*a))


def test_version_1_signatures_still_load_without_a_date():
    sig = signature(TITLE, STORED)
    v1 = struct.pack("<BHHI", 1, len(sig.mins), len(sig.numbers), sig.size)
    v1 += struct.pack(f"<{len(sig.mins) + len(sig.numbers)}I", *sig.mins, *sig.numbers)
    assert Signature.from_bytes(v1) == Signature(sig.mins, sig.size, sig.numbers, 0)
    assert Signature.from_bytes(sig.to_bytes()) == sig


SHORT_TITLE = "กระทรวงอุตสาหกรรม สั่งหยุดประกอบกิจการโรงงานน้ำแข็งในจังหวัดพะเยา หลังแอมโมเนียรั่ว"
SHORT_BODY = "\n".join([DATE_LINE, SHORT_TITLE, "พร้อมสั่งปรับปรุงแก้ไขภายใน 30 วัน"])


def test_a_short_release_under_a_prefixed_title_merges_either_way():
    """Under 120 shingles: a title prefix or a re-wrap no longer leaves it to the hash."""
    original = signature(SHORT_TITLE, SHORT_BODY)
    assert original.size < dedup.MIN_SHINGLES
    for copy in (
        (PREFIX + SHORT_TITLE, SHORT_BODY.replace(SHORT_TITLE, PREFIX + SHORT_TITLE)),
        (SHORT_TITLE, _rewrap(SHORT_BODY) + "\nที่มา:รัฐบาลไทย"),
    ):
        assert _arrive((SHORT_TITLE, SHORT_BODY), copy).kind == "duplicate"
        assert _arrive(copy, (SHORT_TITLE, SHORT_BODY)).kind == "duplicate"


def test_short_texts_with_other_figures_or_words_stay_apart():
    original = signature(SHORT_TITLE, SHORT_BODY)
    other_days = signature(SHORT_TITLE, SHORT_BODY.replace("30 วัน", "15 วัน"))
    other_words = signature(SHORT_TITLE, SHORT_BODY.replace("ปรับปรุงแก้ไข", "ตรวจสอบระบบ"))
    for other in (other_days, other_words):
        assert dedup.rejection(other, original) == "short"
        assert dedup.rejection(original, other) == "short"
    stubs = [signature(*_stub(day)) for day in (9, 16)]
    assert not dedup.is_near_duplicate(*stubs)


def test_a_dated_rewrite_as_long_as_an_undated_text_is_no_trimmed_copy_of_it():
    """15785/15839: a rewrite two days later against the original stored without its
    date line; `date` cannot tell them, a trim would be shorter than its original.
    (Read the other way, the shorter as a trim, such a small substitution still
    passes: a known limit.)"""
    rewrite = PAGE.replace("ที่ทำงานอย่างหนักในการดูแลประชาชน", "ซึ่งเสียสละเวลาส่วนตัวเพื่อดูแลผู้ป่วยทุกคน")
    stored, later = signature(TITLE, STORED), signature(TITLE, rewrite)
    assert later.date and not stored.date and later.size >= stored.size
    counts = dedup._compare(later, stored)
    assert dedup._copy_rejection(later, stored, dedup.DEFAULT_THRESHOLDS, *counts) == "alike"
