"""Topic matching: normalisation, word boundaries, term syntax, scoring and explanations."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

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
