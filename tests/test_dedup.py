"""Near-duplicate detection: edits a republisher makes merge, look-alike releases do not."""

from __future__ import annotations

import hashlib

import pytest

from monitor import dedup
from monitor.dedup import Signature, Verdict, classify, content_hash, is_near_duplicate, signature
from monitor.models import Item

TITLE = "กระทรวงดิจิทัลฯ เตือนภัยแรนซัมแวร์โจมตีหน่วยงานรัฐ"
BODY = "\n".join(
    [
        "วันจันทร์ที่ 7 ตุลาคม 2562",
        TITLE,
        "นายพุทธิพงษ์ ปุณณกันต์ รัฐมนตรีว่าการกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม เปิดเผยว่า"
        " ศูนย์ประสานการรักษาความมั่นคงปลอดภัยระบบคอมพิวเตอร์แห่งชาติ ตรวจพบการโจมตีด้วย"
        "แรนซัมแวร์ต่อหน่วยงานภาครัฐจำนวน 12 แห่ง ในช่วงวันที่ 1 ถึง 5 ตุลาคม 2562",
        "ผู้ไม่หวังดีเข้ารหัสไฟล์เอกสารและเรียกค่าไถ่เป็นเงินดิจิทัล กระทรวงจึงขอให้ทุกหน่วยงาน"
        "สำรองข้อมูลอย่างสม่ำเสมอ ปรับปรุงระบบปฏิบัติการให้เป็นรุ่นล่าสุด และไม่เปิดไฟล์แนบ"
        "จากอีเมลที่ไม่รู้จัก หากพบเหตุผิดปกติให้แจ้งศูนย์ประสานงานทางโทรศัพท์หมายเลข 1212",
        "ทั้งนี้ กระทรวงได้จัดอบรมเจ้าหน้าที่ด้านเทคโนโลยีสารสนเทศของหน่วยงานรัฐกว่า 300 คน"
        " เพื่อเตรียมความพร้อมรับมือภัยคุกคามทางไซเบอร์ในปีงบประมาณ 2563",
    ]
)
LINES = BODY.split("\n")


def _rewrap(body: str) -> str:
    words = " ".join(body.split("\n")).split(" ")
    return "\n".join(" ".join(words[i : i + 4]) for i in range(0, len(words), 4))


EDITS = {
    "title prefix": ("[ข่าวรัฐบาล] " + TITLE, BODY.replace(TITLE, "[ข่าวรัฐบาล] " + TITLE)),
    "credit line": (TITLE, BODY + "\nที่มา:รัฐบาลไทย"),
    "header added": (TITLE, "asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : 07/10/2562 13:41\n" + BODY),
    "date line removed": (TITLE, "\n".join(LINES[1:])),
    "footer and print link": (TITLE, BODY + "\n" + "*" * 30 + "\n8,532\nพิมพ์"),
    "re-wrapped": (TITLE, _rewrap(BODY)),
    "last paragraph trimmed": (TITLE, "\n".join(LINES[:-1])),
    "nbsp and zero-width": (TITLE, BODY.replace(" ", "\u00a0").replace("ไซเบอร์", "ไซ\u200bเบอร์")),
    "thai digits": (TITLE, BODY.replace("12 แห่ง", "๑๒ แห่ง")),
    "trimmed, with a header, a title prefix and a print link": (
        "[ข่าวรัฐบาล] " + TITLE,
        "asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : 07/10/2562 13:41\n"
        + "\n".join(LINES[:-1]).replace(TITLE, "[ข่าวรัฐบาล] " + TITLE)
        + "\nพิมพ์",
    ),
    "trimmed and re-wrapped, with a header": (
        TITLE,
        _rewrap("asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : 07/10/2562 13:41\n" + "\n".join(LINES[:-1])),
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_republished_copy_is_a_near_duplicate(edit: str):
    original = signature(TITLE, BODY)
    copy = signature(*EDITS[edit])
    assert set(dedup.band_keys(original)) & set(dedup.band_keys(copy)), "LSH must propose it"
    assert is_near_duplicate(copy, original)


SECOND_WARNING = "\n".join(
    [
        "วันอังคารที่ 5 พฤศจิกายน 2562",
        "กระทรวงดิจิทัลฯ เตือนภัยแรนซัมแวร์โจมตีโรงพยาบาล",
        "นายพุทธิพงษ์ ปุณณกันต์ รัฐมนตรีว่าการกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม เปิดเผยว่า"
        " ศูนย์ประสานการรักษาความมั่นคงปลอดภัยระบบคอมพิวเตอร์แห่งชาติ ตรวจพบการโจมตีด้วย"
        "แรนซัมแวร์ต่อโรงพยาบาลจำนวน 3 แห่ง ทำให้ระบบเวชระเบียนใช้งานไม่ได้นาน 2 วัน",
        "กระทรวงได้ส่งทีมผู้เชี่ยวชาญเข้าไปกู้ระบบร่วมกับกระทรวงสาธารณสุข และขอให้สถานพยาบาล"
        "ทั่วประเทศตรวจสอบการตั้งค่ารหัสผ่านของเครื่องแม่ข่ายที่เปิดให้เข้าถึงจากภายนอก"
        " หากพบเหตุผิดปกติให้แจ้งศูนย์ประสานงานทางโทรศัพท์หมายเลข 1212",
    ]
)


def _excise_week(start: int, end: int, month: str, cases: int, fine: str) -> str:
    """One week of a template release: only dates and figures change."""
    return "\n".join(
        [
            f"วันศุกร์ที่ {end + 1} {month} 2561",
            f"ผลการปราบปรามผู้กระทำผิดกฎหมายสรรพสามิต ระหว่างวันที่ {start} - {end} {month} 2561"
            f" พบการกระทำผิด จำนวน {cases} คดี คิดเป็นเงินค่าปรับ {fine} ล้านบาท",
            "กรมสรรพสามิตดำเนินมาตรการเชิงรุกในการป้องกันและปราบปรามสินค้าผิดกฎหมายสรรพสามิต"
            " เพื่อสร้างความเป็นธรรม โปร่งใส และความมั่นใจให้แก่ผู้ประกอบการที่เสียภาษีโดยสุจริต",
            f"ผลการปราบปรามระหว่างวันที่ {start} - {end} {month} 2561 พบการกระทำผิดทั้งสิ้น {cases}"
            f" คดี ค่าปรับ {fine} ล้านบาท ส่วนใหญ่เป็นสุรา ยาสูบ และน้ำมัน",
            "หากพบเห็นการกระทำผิดกฎหมายสรรพสามิต สามารถแจ้งเบาะแสได้ที่สายด่วน 1713"
            " กรมสรรพสามิตจะปกปิดข้อมูลของผู้แจ้งเบาะแสเป็นความลับ และจะมอบสินบนนำจับให้"
            " ภายหลังจากคดีเสร็จสิ้นเรียบร้อยแล้ว",
        ]
    )


def _roadshow(city: str) -> str:
    """A roadshow release reused per city: no figure changes, only the place."""
    return "\n".join(
        [
            f"ธนาคารออมสิน จัดโปรโมชั่นในงาน Money Expo {city} ชูสินเชื่อบ้านดอกเบี้ยต่ำ",
            f"ธนาคารออมสินร่วมออกบูธในงาน Money Expo {city} ระหว่างวันที่ 17 - 19 สิงหาคม"
            " เสนอสินเชื่อที่อยู่อาศัยดอกเบี้ยต่ำ เงินฝากพิเศษ และบัตรเดบิตสำหรับลูกค้ารายใหม่",
            f"ผู้สนใจสามารถติดต่อเจ้าหน้าที่ธนาคารได้ที่บูธของธนาคารภายในงาน {city}"
            " หรือสอบถามรายละเอียดเพิ่มเติมได้ที่ศูนย์บริการลูกค้า โทร 1115",
        ]
    )


def _cabinet_summary(day: int, month: str) -> str:
    return "\n".join(
        [
            f"วันอังคารที่ {day} {month} 2560",
            f"สรุปข่าวการประชุมคณะรัฐมนตรี {day} {month} 2560",
            "พลเอก ประยุทธ์ จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี",
        ]
    )


DISTINCT = {
    "two ransomware warnings a month apart": (BODY, SECOND_WARNING),
    "two weeks of one excise template": (
        _excise_week(19, 25, "ตุลาคม", 383, "5.75"),
        _excise_week(2, 8, "พฤศจิกายน", 452, "7.10"),
    ),
    "next year's warning, new figures": (
        BODY,
        BODY.replace("2563", "2564").replace("2562", "2563").replace("12 แห่ง", "9 แห่ง"),
    ),
    "one roadshow release, two cities": (_roadshow("โคราช"), _roadshow("อุดรธานี")),
    "two cabinet summary stubs": (_cabinet_summary(16, "พฤษภาคม"), _cabinet_summary(23, "พฤษภาคม")),
    "a short release quoted in a much longer one": (
        "\n".join(LINES[2:3]),
        BODY + "\n" + SECOND_WARNING,
    ),
}


@pytest.mark.parametrize("case", sorted(DISTINCT))
def test_look_alike_releases_stay_distinct(case: str):
    a, b = signature("", DISTINCT[case][0]), signature("", DISTINCT[case][1])
    assert not is_near_duplicate(a, b)
    assert not is_near_duplicate(b, a)


def test_signature_round_trips_through_bytes():
    sig = signature(TITLE, BODY)
    data = sig.to_bytes()
    assert Signature.from_bytes(data) == sig
    assert len(data) < 1024
    with pytest.raises(ValueError):
        Signature.from_bytes(data[:-3])
    with pytest.raises(ValueError):
        Signature.from_bytes(b"\x09" + data[1:])


def test_signature_is_stable_across_processes():
    """Stored signatures must not depend on PYTHONHASHSEED: pin one value."""
    sig = signature("", "สวัสดีครับ ทดสอบลายเซ็น ของข้อความภาษาไทย 2562")
    assert sig.size == len(dedup.shingle_text("", "สวัสดีครับทดสอบลายเซ็นของข้อความภาษาไทย2562")) - 7
    assert sig == signature("", "สวัสดีครับ\nทดสอบลายเซ็น  ของข้อความภาษาไทย 2562")
    assert sig.numbers == (403507384,)  # zlib.crc32(b"2562")
    digest = hashlib.blake2b(sig.to_bytes(), digest_size=8).hexdigest()
    assert digest == "28b946e42259cddf"  # changes only with the algorithm


def test_band_keys_are_sqlite_integers_and_skip_empty_bands():
    keys = dedup.band_keys(signature(TITLE, BODY))
    assert len(keys) == dedup.NUM_BINS // dedup.BAND_ROWS
    assert all(-(2**63) <= k < 2**63 for k in keys)
    short = signature("", "ข่าวสั้นมาก")
    assert len(dedup.band_keys(short)) < len(keys)


def test_short_texts_are_left_to_the_exact_hash():
    short = "ประชุมคณะรัฐมนตรีวันนี้"
    assert not is_near_duplicate(signature("", short), signature("", short))


def test_similarity_and_containment_estimates():
    whole, part = signature(TITLE, BODY), signature(TITLE, "\n".join(LINES[:-1]))
    assert dedup.similarity(whole, whole) == 1.0
    assert 0.5 < dedup.similarity(whole, part) < 0.95
    assert dedup.containment(whole, part) > 0.95
    assert dedup.similarity(whole, signature("", SECOND_WARNING)) < 0.5


# ---- content_hash and classify


def test_content_hash_ignores_spacing_credit_lines_and_blank_lines():
    base = content_hash(TITLE, BODY)
    assert content_hash(TITLE, BODY.replace("\n", "\n\n") + "\nที่มา:รัฐบาลไทย") == base
    assert content_hash(TITLE, BODY.replace(" ", "\u00a0 ")) == base
    assert content_hash(TITLE, BODY + "\nพิมพ์") != base
    assert content_hash("หัวข้อ", "") == content_hash("หัวข้อ", "") != content_hash("อื่น", "")


def _item(title: str = TITLE, body: str = BODY, url: str = "https://x.example/1") -> Item:
    return Item(url=url, source="test", title=title, body=body, published_at=None)


def test_classify_without_candidates_keeps_todays_behaviour():
    assert classify(_item(), None, None) == Verdict("new")
    assert classify(_item(), 5, 7) == Verdict("known", 5)
    assert classify(_item(), None, 7) == Verdict("duplicate", 7)


def test_classify_picks_the_most_similar_verified_candidate():
    copy = _item(*EDITS["header added"])
    candidates = [
        (3, signature("", SECOND_WARNING)),  # shares a band key? still rejected on verify
        (4, signature(*EDITS["last paragraph trimmed"])),
        (9, signature(TITLE, BODY)),
    ]
    assert classify(copy, None, None, candidates) == Verdict("duplicate", 9)
    assert classify(copy, None, None, candidates[:1]) == Verdict("new")
    assert classify(copy, None, 2, candidates) == Verdict("duplicate", 2)  # exact hash first


def test_best_near_duplicate_prefers_the_lowest_id_on_a_tie():
    sig = signature(TITLE, BODY)
    assert dedup.best_near_duplicate(sig, [(8, sig), (5, sig)]) == 5
    assert dedup.best_near_duplicate(sig, []) is None


def test_thresholds_can_be_overridden():
    whole, part = signature(TITLE, BODY), signature(*EDITS["last paragraph trimmed"])
    assert is_near_duplicate(part, whole)
    strict = dedup.Thresholds(containment_min=1.01)
    assert not is_near_duplicate(part, whole, strict)
    item = _item(*EDITS["last paragraph trimmed"])
    assert classify(item, None, None, [(1, whole)], strict) == Verdict("new")


def test_a_fuller_text_of_the_same_day_merges_either_way():
    """Copy first or original first: the verdict is the pair's, not the arrival order's."""
    trimmed = signature(TITLE, "\n".join(LINES[:-1]))
    full = signature(TITLE, BODY)
    assert is_near_duplicate(full, trimmed)
    assert is_near_duplicate(trimmed, full)


def _follow_up() -> str:
    """A report a month later that repeats the earlier release whole, under its own date."""
    second = SECOND_WARNING.split("\n")
    return "\n".join([second[0], *LINES[1:], *second[2:]])


def test_a_follow_up_on_another_day_quoting_a_stored_release_is_not_a_copy():
    """Its own date line tells a later report that repeats an earlier one whole."""
    follow_up = signature(TITLE, _follow_up())
    earlier = signature(TITLE, BODY)
    assert not is_near_duplicate(follow_up, earlier)
    assert not is_near_duplicate(earlier, follow_up)


# ---- what is signed: from the headline on, figures of the whole text


HEADER = "asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : 07/10/2562 13:41\n"


def test_furniture_before_the_headline_is_not_shingled():
    stream = dedup.shingle_text(TITLE, BODY)
    assert stream.startswith(dedup.shingle_text("", TITLE))
    assert dedup.shingle_text(TITLE, HEADER + BODY) == stream
    assert dedup.shingle_text(TITLE, "\n".join(LINES[1:])) == stream  # date line removed
    assert dedup.shingle_text(TITLE, _rewrap(HEADER + BODY)) == stream
    assert dedup.shingle_text("", BODY).startswith(dedup.shingle_text("", LINES[0]))  # no title


def test_one_date_written_two_ways_gives_the_same_figures():
    """A republisher's numeric date and time add no figure to the Thai date line."""
    thai = signature("", "วันจันทร์ที่ 7 ตุลาคม 2562\nประชุมคณะกรรมการ")
    numeric = signature("", "วันที่ : 07/10/2562 13:41\nประชุมคณะกรรมการ")
    assert thai.numbers == numeric.numbers
    assert signature("", "เวลา 09.30 น. ค่าปรับ 5.75").numbers == signature("", "ค่าปรับ 5.75").numbers


# ---- trimmed copies against look-alike releases


def test_a_trimmed_copy_with_a_header_merges_with_its_own_week_only():
    title = "ผลการปราบปรามผู้กระทำผิดกฎหมายสรรพสามิต"
    weeks = [
        (_excise_week(19, 25, "ตุลาคม", 383, "5.75"), "26/10/2561"),
        (_excise_week(2, 8, "พฤศจิกายน", 452, "7.10"), "09/11/2561"),
    ]
    for (week, date), (other, _) in (weeks, weeks[::-1]):
        header = f"asean.dla.go.th ข่าวประชาสัมพันธ์\nวันที่ : {date} 13:41\n"
        copy = signature(title, header + "\n".join(week.split("\n")[:-1]) + "\nพิมพ์")
        assert is_near_duplicate(copy, signature(title, week))
        assert not is_near_duplicate(copy, signature(title, other))


def _closures(counts: list[int], note: bool) -> str:
    """A daily list of closed provinces: tomorrow's update changes a few counts."""
    days = [15, 16, 17, 18, 19, 20, 21, 22, 23, 30]
    lines = [
        "วันจันทร์ที่ 13 เมษายน 2563",
        "ศบค.มท. เผยทั่วประเทศพร้อมใจปิดร้านค้าและสถานประกอบการขายสุรา ลดเสี่ยงแพร่เชื้อ",
        "กระทรวงมหาดไทยรายงานจังหวัดที่มีคำสั่งปิดร้านค้าและสถานประกอบการขายสุรา ดังนี้",
    ]
    for n, (day, count) in enumerate(zip(days, counts, strict=True), 1):
        lines.append(f"{n}) ปิดถึงวันที่ {day} เมษายน 2563 จำนวน {count} จังหวัด ตามประกาศจังหวัด")
    if note:
        lines.append(
            "หมายเหตุ ข้อมูลปรับล่าสุดโดยศูนย์ปฏิบัติการกระทรวงมหาดไทย ณ วันที่ 13 เม.ย. 2563 เวลา 11.00 น."
        )
    return "\n".join(lines)


def test_a_re_issued_list_with_changed_counts_is_not_a_trimmed_copy():
    """Corpus 28898/28899: the new counts recur elsewhere in the text, but one does not."""
    title = "ศบค.มท. เผยทั่วประเทศพร้อมใจปิดร้านค้าและสถานประกอบการขายสุรา ลดเสี่ยงแพร่เชื้อ"
    old = signature(title, _closures([5, 3, 7, 2, 4, 18, 1, 9, 11, 26], note=True))
    new = signature(title, _closures([4, 3, 6, 2, 4, 19, 1, 9, 11, 27], note=False))
    assert dedup.numbers_missing(new, old) <= dedup.NUMBERS_MISSING_MAX  # the old tolerance
    assert dedup.rejection(new, old) == "numbers"
    trimmed = signature(title, _closures([5, 3, 7, 2, 4, 18, 1, 9, 11, 26], note=False))
    assert is_near_duplicate(trimmed, old)


@pytest.mark.parametrize("day", ["วันอาทิตย์ที่ 6", "วันอังคารที่ 8"])
def test_a_headline_left_over_from_one_day_is_not_another_days_release(day: str):
    """Corpus 5745, 5800 and 5884: one headline on three days of August; a copy cut down
    to the headline keeps its date line, compared as a date."""
    headline = (
        "ผู้บริหารกระทรวงอุตสาหกรรม ตรวจเยี่ยมและให้กำลังใจเจ้าหน้าที่ในการจัดเตรียมอาหาร"
        "เพื่อบริการประชาชนที่มาร่วมถวายสักการะพระบรมศพ"
    )
    remnant = signature(headline, f"{day} สิงหาคม 2560\n{headline}\n{headline} ณ ท้องสนามหลวง")
    another_day = signature(
        headline,
        f"วันศุกร์ที่ 11 สิงหาคม 2560\n{headline}\n{headline} ณ ท้องสนามหลวง\n"
        "วันนี้ รองปลัดกระทรวงอุตสาหกรรม ตรวจเยี่ยมและให้กำลังใจเจ้าหน้าที่สำนักงานปลัดกระทรวง",
    )
    assert dedup.containment(remnant, another_day) == 1.0
    assert dedup.rejection(remnant, another_day) == "date"


def test_rejection_names_the_rule():
    whole = signature(TITLE, BODY)
    assert dedup.rejection(whole, whole) is None
    assert dedup.rejection(signature("", "ประชุมคณะรัฐมนตรี"), whole) == "short"
    assert dedup.rejection(signature(TITLE, _follow_up()), whole) == "date"
    longer = "\n".join(
        [
            BODY,
            *SECOND_WARNING.split("\n")[2:],
            _excise_week(2, 8, "ตุลาคม", 4, "1"),
            _roadshow("ตาก"),
        ]
    )
    assert dedup.rejection(signature(TITLE, longer), whole) == "added"  # nor `whole` kept half
    assert dedup.rejection(signature(TITLE, "\n".join(LINES[:3])), whole) == "kept"
    a, b = signature("", _roadshow("โคราช")), signature("", _roadshow("อุดรธานี"))
    assert {dedup.rejection(a, b), dedup.rejection(b, a)} <= {"alike", "contained"}
