"""Topic matching: normalisation, word boundaries, term syntax, scoring and explanations."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from monitor import match as match_module
from monitor.config import load_rules
from monitor.match import Rules, Term, Topic, match

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ROOT / "config" / "topics.toml"
SEED_HTML = ROOT / "demo" / "snapshot" / "details" / "23673.html"
FILLER = "รัฐบาลจัดงานส่งเสริมการท่องเที่ยวและการเกษตรในจังหวัดต่าง ๆ ทั่วประเทศ "


def _rules(*terms: tuple[str, float], threshold: float = 1.0, **extra: object) -> Rules:
    topic = Topic(
        name="t",
        label="T",
        threshold=threshold,
        terms=tuple(Term.parse(raw, weight) for raw, weight in terms),
        **extra,  # type: ignore[arg-type]
    )
    return Rules(topics=(topic,))


def _result(title: str, body: str, rules: Rules):  # type: ignore[no-untyped-def]
    return match(title, body, rules).topics[0]


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules(TOPICS)


@pytest.fixture
def no_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact scores of one mechanism, without the share-of-the-article bonus."""
    monkeypatch.setattr(match_module, "SHARE_FACTOR", 0.0)


# (term, body, matched?) -- one term of weight 1, threshold 1.
BOUNDARY_CASES = [
    # Thai word boundaries
    ("ภัย", "ถนนนี้ปลอดภัยสำหรับทุกคน", False),
    ("ภัย", "เกิดภัยพิบัติร้ายแรง", False),
    ("ภัย", "ประชาชนต้องระวังภัย อย่างต่อเนื่อง", True),
    ("ไซเบอร์", "การป้องกันภัยไซเบอร์ของประเทศ", True),
    ("อาเซียน", "ประเทศสมาชิกอาเซียนร่วมประชุม", True),
    # Thai normalisation: doubled vowel, tone mark typed before the vowel, ZWSP, NBSP, digits
    ("แฮกเกอร์", "ตำรวจจับกลุ่มเเฮกเกอร์ได้แล้ว", True),
    ("ความมั่นคง", "ด้านความม่ันคงของชาติ", True),
    ("ไซเบอร์", "ภัยไซ\u200bเบอร์ที่เพิ่มขึ้น", True),
    ("cyber security", "the cyber\u00a0security agenda", True),
    ("ครั้งที่ 4", "การประชุมครั้งที่ ๔ ที่สิงคโปร์", True),
    # Latin whole words and case folding
    ("cert", "the ThaiCERT team and the national CERT", True),
    ("cert", "a concert in the park", False),
    ("cert", "the certificate was issued", False),
    ("apt", "chapter seven of the report", False),
    ("apt", "an APT group attacked banks", True),
    ("asean", "the ASEAN-Japan centre", True),
    ("asean", "AseanFood brand", False),
    ("asean", "ASEAN2019 logo", False),
    # Term syntax
    ("cyber*", "new cyberattacks on banks", True),
    ("cyber*", "Cybersecurity Act", True),
    ("cyber", "Cybersecurity Act", False),
    ("*sec*", "Cybersecurity Act", True),
    ("แรนซัมแวร์", "ระวังการโจมตีด้วยแรนซัมแวร์ในองค์กร", True),
    # newmm keeps กระทำความผิด as one word: the law is found by its full phrase
    ("ความผิดเกี่ยวกับคอมพิวเตอร์", "พ.ร.บ.ว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์", False),
    ("กระทำความผิดเกี่ยวกับคอมพิวเตอร์", "พ.ร.บ.ว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์", True),
]


@pytest.mark.parametrize(("term", "body", "expected"), BOUNDARY_CASES)
def test_boundaries_and_normalisation(term: str, body: str, expected: bool) -> None:
    result = _result("", body, _rules((term, 1.0)))
    assert result.matched is expected, (term, body, result)


@pytest.mark.parametrize(
    ("raw", "text", "prefix", "substring"),
    [
        ("Cyber*", "cyber", True, False),
        ("*sec*", "sec", False, True),
        ("ASEAN", "asean", False, False),
        ("อาเซียน-*", "อาเซียน-", True, False),
    ],
)
def test_term_parse(raw: str, text: str, prefix: bool, substring: bool) -> None:
    term = Term.parse(raw, 2)
    assert (term.text, term.prefix, term.substring, term.weight) == (text, prefix, substring, 2)


def test_term_parse_co_occurrence() -> None:
    term = Term.parse("มิจฉาชีพ|หลอก* ~ ออนไลน์", 3)
    assert term.text == "มิจฉาชีพ|หลอก* ~ ออนไลน์"
    assert [[t.text for t in side] for side in term.near] == [["มิจฉาชีพ", "หลอก"], ["ออนไลน์"]]
    assert term.near[0][1].prefix and term.weight == 3


@pytest.mark.parametrize("raw", ["หลอก ~", "~ ออนไลน์", "a ~ b ~ c", "หลอก ~ |"])
def test_term_parse_rejects_incomplete_co_occurrence(raw: str) -> None:
    with pytest.raises(ValueError, match="co-occurrence"):
        Term.parse(raw, 1)


def test_nested_hit_counts_only_longest() -> None:
    rules = _rules(("ความมั่นคงปลอดภัยไซเบอร์", 3), ("ไซเบอร์", 1), ("cyber*", 1), ("cybersecurity", 3))
    result = _result("", "ด้านความมั่นคงปลอดภัยไซเบอร์ (cybersecurity) ของไทย", rules)
    assert {h.term for h in result.hits} == {"ความมั่นคงปลอดภัยไซเบอร์", "cybersecurity"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("ความร่วมมือกับประเทศในภูมิภาคอาเซียน", False),  # ignored geography phrase
        ("ความร่วมมือกับอาเซียนด้านการค้า", True),
    ],
)
def test_ignore_phrase(body: str, expected: bool) -> None:
    rules = _rules(("อาเซียน", 1), ignore=("ภูมิภาคอาเซียน",))
    assert _result("", body, rules).matched is expected


def test_thai_ignore_phrase_may_start_inside_a_word() -> None:
    # newmm segments เจาะตลาด|อาเซียน: the phrase ตลาดอาเซียน starts inside a word
    rules = _rules(("อาเซียน", 1), ignore=("ตลาดอาเซียน",))
    assert not _result("", "ผู้ส่งออกเจาะตลาดอาเซียน", rules).matched
    assert _result("", "ผู้ส่งออกเจาะตลาดในกลุ่มประเทศสมาชิกอาเซียน", rules).matched


# (body, matched?) -- one co-occurrence term of weight 1, threshold 1.
NEAR_CASES = [
    ("ระวังมิจฉาชีพขายสินค้าทางเฟซบุ๊ก", True),
    ("ซื้อของออนไลน์แล้วถูกหลอกให้โอนเงิน", True),  # either order; หลอก* is a prefix
    ("มิจฉาชีพ " + FILLER + "ออนไลน์", False),  # more than NEAR_CHARS apart
    ("ตำรวจจับมิจฉาชีพที่โทรศัพท์หลอกเหยื่อ", False),  # no online channel
    ("ส่งเสริมการขายสินค้าออนไลน์ของชุมชน", False),  # no scam word
    ("มิจฉาชีพหลอกให้เล่นเกมออนไลน์", False),  # the only online word is inside an ignore phrase
]


@pytest.mark.parametrize(("body", "expected"), NEAR_CASES)
def test_co_occurrence_term(body: str, expected: bool) -> None:
    rules = _rules(("มิจฉาชีพ|หลอก* ~ ออนไลน์|เฟซบุ๊ก", 1), ignore=("เกมออนไลน์",))
    assert _result("", body, rules).matched is expected, body


def test_co_occurrence_sides_keep_word_boundaries() -> None:
    # ไลน์ inside the word ออนไลน์ is not the chat app
    assert not _result("", "หลอกขายของออนไลน์", _rules(("หลอก* ~ ไลน์", 1))).matched


def test_co_occurrence_in_one_sentence_counts_once_and_keeps_inner_terms() -> None:
    rules = _rules(("มิจฉาชีพ|หลอก* ~ ออนไลน์", 1), ("ฟิชชิง", 1))
    result = _result("", "มิจฉาชีพส่งฟิชชิงหลอกลวงทางออนไลน์ มิจฉาชีพ", rules)
    hits = {h.term: h for h in result.hits}
    assert hits["มิจฉาชีพ|หลอก* ~ ออนไลน์"].count == 1
    assert "มิจฉาชีพ" in hits["มิจฉาชีพ|หลอก* ~ ออนไลน์"].snippet
    assert "ฟิชชิง" in hits  # a term inside the span still counts


@pytest.mark.parametrize(
    ("body", "score"),
    [
        ("ตำรวจจับแฮกเกอร์", 3.0),  # lead: 2 * 1.5
        ("ตำรวจจับแฮกเกอร์ที่สร้างข่าวปลอม", 1.5),  # counter-evidence: -1 * 1.5
        ("ตำรวจจับแฮกเกอร์ที่สร้างข่าวปลอม ข่าวปลอม ข่าวปลอม", 1.5),  # counted once
        ("ศูนย์ต่อต้านข่าวปลอมแถลงผลงาน", 0.0),  # nothing to count against
    ],
)
def test_negative_weight_is_counter_evidence(body: str, score: float, no_share: None) -> None:
    rules = _rules(("แฮกเกอร์", 2), ("ข่าวปลอม", -1), threshold=2)
    result = _result("", body, rules)
    assert (result.score, result.matched) == (score, score >= 2)


def test_negative_weight_outside_the_topic_passage_does_not_count(no_share: None) -> None:
    rules = _rules(("แฮกเกอร์", 2), ("ข่าวปลอม", -1), threshold=2)
    body = FILLER * 10 + "ตำรวจจับแฮกเกอร์ " + FILLER * 30 + "ข่าวปลอม"
    assert _result("", body, rules).score == 2.0


def test_veto_phrase_stops_match() -> None:
    rules = _rules(("ไซเบอร์", 1), veto=("ไซเบอร์พังก์",))
    result = _result("นิยายแนวไซเบอร์พังก์", "เรื่องราวในโลกไซเบอร์", rules)
    assert not result.matched
    assert result.vetoed_by == "ไซเบอร์พังก์"


@pytest.mark.parametrize(
    ("body", "expected"),
    [("ภัยไซเบอร์ และ มัลแวร์", True), ("โลกไซเบอร์ที่กว้างใหญ่ ไซเบอร์", False)],
)
def test_require_any(body: str, expected: bool) -> None:
    rules = _rules(("ไซเบอร์", 1), ("มัลแวร์", 1), require_any=("มัลแวร์",))
    assert _result("", body, rules).matched is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [("ประชุม asean ด้าน cyber", True), ("ประชุม asean ด้านการค้า", False)],
)
def test_require_all(body: str, expected: bool) -> None:
    rules = _rules(("asean", 1), ("cyber", 1), require_all=(("asean",), ("cyber",)))
    assert _result("", body, rules).matched is expected


def test_one_mention_in_long_article_stays_low(shipped: Rules) -> None:
    body = FILLER * 60 + "ทั้งนี้ยังกล่าวถึงภัยไซเบอร์ด้วย " + FILLER * 60
    result = match("นายกรัฐมนตรีตรวจราชการภาคเหนือ", body, shipped)
    cyber = next(t for t in result.topics if t.topic == "cybersecurity")
    assert not cyber.matched
    assert cyber.hits and cyber.hits[0].field == "body"


def test_paragraph_on_topic_in_long_article_matches(shipped: Rules) -> None:
    paragraph = (
        "สำนักงานคณะกรรมการการรักษาความมั่นคงปลอดภัยไซเบอร์แห่งชาติ (สกมช.) เตือนภัยแรนซัมแวร์ "
        "และมัลแวร์ที่โจมตีโรงพยาบาล พร้อมแนะนำการป้องกันภัยคุกคามทางไซเบอร์ "
    )
    body = FILLER * 60 + paragraph + FILLER * 60
    result = match("นายกรัฐมนตรีตรวจราชการภาคเหนือ", body, shipped)
    assert next(t for t in result.topics if t.topic == "cybersecurity").matched


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("เตือนภัยแรนซัมแวร์โจมตีระบบโรงพยาบาล", "cybersecurity"),
        ("Thai CERT warns of phishing campaign", "cybersecurity"),
        ("นายกรัฐมนตรีเข้าร่วมการประชุมสุดยอดอาเซียน ครั้งที่ 35", "asean"),
        ("ASEAN-Japan foreign ministers meeting", "asean"),
        ("ธนาคารเตือนลูกค้าระวัง SMS หลอกลวงให้โอนเงิน", "cybersecurity"),
        ("เตือนภัยมิจฉาชีพแอบอ้างชื่อหน่วยงานขายสินค้าทางเฟซบุ๊ก", "cybersecurity"),
        ("ร่าง พ.ร.บ. ไซเบอร์ ผ่านความเห็นชอบของคณะรัฐมนตรี", "cybersecurity"),
        ("ดีอีเอส ร่วมกับ ปอท. จับกุมแฮกเกอร์ที่ปล่อยข่าวปลอม", "cybersecurity"),
        ("รมว.สธ. ร่วมการประชุมรัฐมนตรีสาธารณสุขอาเซียน ครั้งที่ 14", "asean"),
    ],
)
def test_shipped_rules_match_clear_titles(shipped: Rules, title: str, topic: str) -> None:
    result = match(title, "รายละเอียดข่าว", shipped)
    assert next(t for t in result.topics if t.topic == topic).matched


@pytest.mark.parametrize(
    "title",
    [
        "APEC ministers meet in Vietnam",
        "การประชุมความร่วมมือแม่โขง-ล้านช้าง",
        "ตำรวจเตือนข่าวปลอมในสื่อสังคมออนไลน์",
        "ตำรวจจับคนร้ายหลอกขายพระเครื่องปลอมทางโทรศัพท์",
        "ดีอีเอส ร่วมกับ ปอท. เปิดปฏิบัติการปราบปรามข่าวปลอม",
        "ผู้ส่งออกผลไม้เจาะตลาดอาเซียนได้เพิ่มขึ้น",
        "ประธานสภาธุรกิจสหรัฐอเมริกา-อาเซียนหารือการลงทุน",
    ],
)
def test_shipped_rules_ignore_look_alikes(shipped: Rules, title: str) -> None:
    result = match(title, "รายละเอียดข่าว", shipped)
    assert not any(t.matched for t in result.topics)


def test_seed_release_matches_both_topics_with_explanation(shipped: Rules) -> None:
    text = BeautifulSoup(SEED_HTML.read_text(encoding="utf-8"), "html.parser").get_text("\n")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = next(line for line in lines if line.startswith("กระทรวงดิจิทัลฯ ร่วมประชุม"))
    body = "\n".join(lines[lines.index(title) + 1 :])
    result = {t.topic: t for t in match(title, body, shipped).topics}
    cyber, asean = result["cybersecurity"], result["asean"]
    assert cyber.matched and asean.matched
    assert "ความมั่นคงปลอดภัยไซเบอร์" in {h.term for h in cyber.hits}
    assert "รัฐมนตรีอาเซียน" in {h.term for h in asean.hits}
    assert any(h.field == "title" for h in cyber.hits)
    for hit in cyber.hits + asean.hits:
        assert hit.count >= 1 and hit.snippet


def test_snippet_keeps_original_case() -> None:
    result = _result("", "The ASEAN Secretariat said so.", _rules(("asean secretariat", 1)))
    assert "ASEAN Secretariat" in result.hits[0].snippet


# (body, listed?) -- one term of weight 2 in the body after a 600-character lead.
ENUMERATION_CASES = [
    ("ที่ประชุมหารือหลายด้าน เช่น การค้า การลงทุน การท่องเที่ยว แรนซัมแวร์ การศึกษา และสาธารณสุข", True),
    ("ความร่วมมือ 5 ด้าน ได้แก่ 1) การค้า 2) การลงทุน 3) แรนซัมแวร์ 4) การศึกษา", True),
    ("topics: trade, investment, ransomware, tourism, education and health", True),
    ("ทั้งสองฝ่ายตกลงร่วมมือกันป้องกันแรนซัมแวร์ที่โจมตีโรงพยาบาลของรัฐอย่างจริงจังในปีนี้", False),
    ("the two ministers agreed to work together against ransomware attacks on hospitals", False),
]


@pytest.mark.parametrize(("sentence", "listed"), ENUMERATION_CASES)
def test_mention_in_an_enumeration_counts_half(sentence: str, listed: bool, no_share: None) -> None:
    rules = _rules(("แรนซัมแวร์", 2), ("ransomware", 2), threshold=2)
    body = "ข่าว" * 150 + "\n" + sentence
    result = _result("", body, rules)
    assert (result.score, result.matched) == ((1.0, False) if listed else (2.0, True)), sentence


# (body, score) -- two terms of weight 2 in the body after a 600-character lead.
SAME_ITEM_CASES = [
    # one item of a list, written with two of the topic's words: counts once, half
    ("ความท้าทาย เช่น การก่อการร้าย แรนซัมแวร์ มัลแวร์ ยาเสพติด การค้ามนุษย์ และโรคระบาด", 1.0),
    ("challenges such as terrorism, ransomware and malware, drugs and trafficking", 1.0),
    # two sentences about the topic: both count, fully
    ("ทั้งสองฝ่ายร่วมมือป้องกันแรนซัมแวร์ที่โจมตีโรงพยาบาลของรัฐอย่างจริงจัง "
     "โดยจะแบ่งปันข้อมูลมัลแวร์ที่ตรวจพบระหว่างหน่วยงานทุกสัปดาห์ตลอดปีนี้", 4.0),
    ("the ministers agreed to fight ransomware attacks on hospitals together. "
     "they will share what they learn about new malware every week this year", 4.0),
]  # fmt: skip


@pytest.mark.parametrize(("sentence", "score"), SAME_ITEM_CASES)
def test_topic_words_in_one_list_item_count_once(
    sentence: str, score: float, no_share: None
) -> None:
    rules = _rules(("แรนซัมแวร์", 2), ("มัลแวร์", 2), ("ransomware", 2), ("malware", 2))
    result = _result("", "ข่าว" * 150 + "\n" + sentence, rules)
    assert result.score == score, sentence
    assert len(result.hits) == 2  # both still shown: the explanation keeps every word


def test_bullet_list_of_many_items_counts_half(no_share: None) -> None:
    rules = _rules(("แรนซัมแวร์", 2), threshold=2)
    bullets = "\n".join(f"- ประเด็นที่ {n} การค้า" for n in range(4)) + "\n- แรนซัมแวร์\n"
    assert _result("", "ข่าว" * 150 + "\n" + bullets, rules).score == 1.0


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        ("เอกอัครราชทูตเข้าเยี่ยมคารวะในโอกาสที่ไทยเป็นประธานอาเซียน", False),
        ("ไทยในฐานะประธานอาเซียนจะผลักดันวาระการประชุม", True),
        (
            "ในโอกาสที่ไทยเป็นประธานอาเซียน ที่ประชุมผู้นำอาเซียนรับรองปฏิญญาอาเซียนว่าด้วยขยะทะเล",
            True,
        ),
    ],
)
def test_occasion_phrase_is_counter_evidence(shipped: Rules, body: str, matched: bool) -> None:
    asean = next(t for t in match("ข่าวทำเนียบรัฐบาล", body, shipped).topics if t.topic == "asean")
    assert asean.matched is matched, asean


@pytest.mark.parametrize(
    ("title", "matched"),
    [
        ("เตือนมิจฉาชีพโทรศัพท์แอบอ้างเป็นเจ้าหน้าที่ธนาคารขอรหัส OTP", True),
        ("ระวัง SMS ปลอมแอบอ้างกรมสรรพากรให้กรอกข้อมูลส่วนบุคคล", True),
        # the guide's example of phone phishing: the gang is named for it
        ("ตำรวจจับแก๊งคอลเซ็นเตอร์หลอกลวงเหยื่อทางโทรศัพท์", True),
        ("ตำรวจจับคนร้ายหลอกขายพระเครื่องปลอมทางโทรศัพท์", False),  # fraud: no data, no impostor
    ],
)
def test_phone_and_sms_phishing_is_cyber(shipped: Rules, title: str, matched: bool) -> None:
    result = match(title, "รายละเอียดข่าว", shipped)
    assert next(t for t in result.topics if t.topic == "cybersecurity").matched is matched


def test_asean_led_meeting_names_count(shipped: Rules) -> None:
    for title in ("ปลัดกระทรวงเป็นประธานการประชุม ASEAN Smart Cities Network", "ไทยร่วมประชุม RCEP"):
        asean = next(t for t in match(title, "รายละเอียด", shipped).topics if t.topic == "asean")
        assert asean.matched, title


@pytest.mark.parametrize(
    ("sentence", "score"),
    [
        ("ทั้งสองฝ่ายหารือความร่วมมือหลายด้าน โดยเฉพาะแรนซัมแวร์ที่โจมตีโรงพยาบาลของรัฐ", 3.0),
        ("the sides discussed cooperation, especially ransomware attacks on hospitals", 3.0),
        ("หารือหลายด้าน เช่น การค้า การลงทุน โดยเฉพาะแรนซัมแวร์ การศึกษา และสาธารณสุข", 3.0),
        ("ทั้งสองฝ่ายหารือความร่วมมือป้องกันแรนซัมแวร์ที่โจมตีโรงพยาบาลของรัฐในปีนี้", 2.0),
    ],
)
def test_mention_singled_out_counts_more(sentence: str, score: float, no_share: None) -> None:
    rules = _rules(("แรนซัมแวร์", 2), ("ransomware", 2), threshold=2)
    body = "ข่าว" * 150 + "\n" + sentence
    assert _result("", body, rules).score == score


def test_share_of_the_article_about_the_topic_adds_to_the_strongest_term() -> None:
    rules = _rules(("แรนซัมแวร์", 2), ("มัลแวร์", 1), threshold=2)
    paragraph = "หน่วยงานเตือนภัยแรนซัมแวร์และมัลแวร์ที่โจมตีโรงพยาบาล"
    whole = _result("", paragraph, rules)  # lead 1.5 * (2 + 1) + share 1.0 * 2
    assert whole.score == 6.5
    long = _result("", paragraph + "\n" + FILLER * 12, rules)
    assert 4.5 < long.score < 6.0  # the same paragraph in an article three times as long
    assert next(h for h in long.hits if h.term == "แรนซัมแวร์").count == 1
