"""Thai text helpers: normalisation, word segmentation and Thai dates. Pure functions.

Dates: government sites write Buddhist-era years (BE = CE + 543), Thai month names
or abbreviations, two-digit BE years (`6 ก.ย. 69`), Thai digits, and numeric
`DD/MM/YYYY [HH:MM]`. Times are Asia/Bangkok; callers store UTC. pythainlp's
`thai_strptime` is not used: in 5.3.x it read numeric months 10-12 as January
and raised on `/` separators (see SOURCES.md), and these forms are few.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import re
import tempfile
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200  # dates outside are typos or attacks, never news

# Thai vowel and tone marks (pythainlp's thai_above_vowels...). pythainlp itself (3 MB
# once imported) is imported only for text its normalisation fixes: ~3% of articles.
_ABOVE_VOWELS = "\u0e31\u0e34\u0e35\u0e36\u0e37\u0e4d\u0e47"
_BELOW_VOWELS = "\u0e38\u0e39"
_FOLLOW_VOWELS = "\u0e30\u0e32\u0e33\u0e45"
_LEAD_VOWELS = "\u0e40\u0e41\u0e42\u0e43\u0e44"
_TONE_MARKS = "\u0e48\u0e49\u0e4a\u0e4b"
# Zero-width characters, control characters but line ends (a page's bytes reach the
# analyst's terminal), and bidirectional overrides (they disguise text): dropped.
_ZERO_WIDTH = re.compile(
    "[\u200b\u200c\u200d\u2060\ufeff\u00ad\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"
    "\u202a-\u202e\u2066-\u2069]"
)
_ODD_SPACES = re.compile("[\u00a0\u2007\u202f\u3000\t\x0b\x0c]")
# ECMA-48 escape sequences, whole, so no `[2J` is left in a headline: CSI (ESC [ or 0x9B,
# up to its final byte), the strings OSC, DCS, SOS, PM and APC (up to BEL, ST or the end
# of the text: a terminal would swallow that much too) and two-byte escapes such as ESC c.
ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_THAI_DIGIT = re.compile("[๐-๙]")
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")

THAI_MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
THAI_MONTH_ABBREVIATIONS = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)  # fmt: skip
ENGLISH_MONTHS = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
)  # fmt: skip


def thai_digits_to_arabic(text: str) -> str:
    """Replace Thai digits ๐-๙ with 0-9."""
    return text.translate(_THAI_DIGITS) if _THAI_DIGIT.search(text) else text


def clean_spaces(text: str) -> str:
    """Drop zero-width and control characters and terminal escapes; turn odd spaces
    (NBSP, tabs) into plain spaces. Line ends are kept."""
    if "\x1b" in text or "\x9b" in text:  # memchr: the other C1 starts are dropped below
        text = ESCAPE_SEQUENCE.sub("", text)
    return _ODD_SPACES.sub(" ", _ZERO_WIDTH.sub("", text))


_RE_SPACE_RUNS = re.compile("  +")
_DANGLING = f"{_ABOVE_VOWELS}{_BELOW_VOWELS}{_TONE_MARKS}\u0e3a\u0e4c\u0e4d\u0e4e"
_NO_REPEAT = f"{_FOLLOW_VOWELS}{_LEAD_VOWELS}{_ABOVE_VOWELS}{_BELOW_VOWELS}\u0e3a\u0e4c\u0e4d\u0e4e"
# Everything pythainlp.util.normalize would change once spaces are collapsed:
# doubled SARA E, a tone mark (or THANTHAKHAT) before a vowel above or below, a follow
# vowel before a tone mark, two tone marks (the three in one search, which also finds
# a few pairs normalize leaves alone: 1 text in 44,484 of the corpus, unchanged, where
# three searches cost 2.5 times as much), NIKHAHIT + SARA AA, LAKKHANGYAO, repeated
# marks or vowels, marks dangling at the start or after a space (or separated from
# their consonant by a space).
_THAI_FIXABLE = tuple(
    re.compile(pattern)
    for pattern in (
        "\u0e40\u0e40",
        f"[{_TONE_MARKS}\u0e4c{_FOLLOW_VOWELS}][{_ABOVE_VOWELS}{_BELOW_VOWELS}{_TONE_MARKS}]",
        f"\u0e4d[{_TONE_MARKS}]*\u0e32",
        "\u0e45",
        f"([{_NO_REPEAT}])[ ]*\\1",
        f" [{_DANGLING}]",  # and at the start of the text: `_DANGLING_FIRST`
    )
)  # separate searches: four times faster than one alternation; a literal or a class
# first, never `^|` or a `{2,}` (ten and two times slower on articles)
_DANGLING_FIRST = tuple(_DANGLING)


def _without_blank_lines(text: str) -> str:
    """Lines stripped of spaces, blank ones dropped: what a regex for runs of spaces and
    line ends holding one did, nine times faster (it was tried at every character)."""
    if "\n" not in text:
        return text
    return "\n".join(line for raw in text.split("\n") if (line := raw.strip(" ")))


@lru_cache(maxsize=32)  # the same title and body are normalised by dedup, match and store
def normalize_text(text: str) -> str:
    """Normalise text for matching and hashing.

    NFC, zero-width characters removed, odd spaces made plain, Thai tone/vowel
    order and doubled marks fixed (pythainlp), Thai digits made Arabic, Latin
    case-folded. Runs of spaces collapse to one so re-wrapped text compares equal.
    """
    text = unicodedata.normalize("NFC", text)
    text = thai_digits_to_arabic(clean_spaces(text))
    text = _without_blank_lines(_RE_SPACE_RUNS.sub(" ", text)).strip()
    if text.startswith(_DANGLING_FIRST) or _fixable(text):
        text = _RE_SPACE_RUNS.sub(" ", _thai_normalized(text))
    return text.casefold()


def _fixable(text: str) -> bool:
    return any(p.search(text) for p in _THAI_FIXABLE)


def _thai_normalized(text: str) -> str:
    """pythainlp's normalize of text whose lines are stripped and not blank, run on the
    lines that have something for it to fix: its ~40 regex passes cost 4 ms on a 4 KB
    article (one in 37 of the corpus), where one line needs it.

    Its rules do not reach across a line end, except two: a dangling mark is dropped at
    the start of the text only (so a line after the first is fixed behind a letter that
    no rule touches, as the line end it follows), and the final strip (a line ending in
    another space, such as a carriage return, sends the text through whole).
    """
    from pythainlp.util import normalize as thai_normalize

    lines = text.split("\n")
    if any(line.rstrip() != line for line in lines[:-1]):
        return thai_normalize(text)
    first, *rest = lines
    fixed = [
        thai_normalize(first) if first.startswith(_DANGLING_FIRST) or _fixable(first) else first
    ]
    fixed += (thai_normalize("a" + line)[1:] if _fixable(line) else line for line in rest)
    return "\n".join(fixed)


# Loanwords and abbreviations newmm splits badly (แรนซัมแวร์ -> แร|นซัมแวร์). Add
# only words the segmenter cannot otherwise segment: adding compound keywords
# makes nested keywords disappear (see NOTES.md). Changing this list changes how
# stored items are indexed: the store re-indexes them all (`dictionary_version`).
EXTRA_WORDS = ("แรนซัมแวร์", "ฟิชชิ่ง", "สกมช", "ไทยเซิร์ต", "บอตเน็ต", "วันนาคราย")
DICT_NAME = "thai-news-monitor"


@lru_cache(maxsize=1)
def dictionary_version() -> str:
    """A digest of what segmentation depends on: pythainlp's word list, EXTRA_WORDS and
    the engine, and the compound rule of `index_words`. Text indexed under another
    version is split otherwise than queries now are, so the search index is rebuilt
    when it changes (a pythainlp upgrade, a new prefix)."""
    words = _word_list().read_bytes()
    engine = b"nlpo3" if importlib.util.find_spec("nlpo3") else b"newmm"
    extra = "\n".join(EXTRA_WORDS).encode()
    heads = "\n".join((COMPOUND_RULE, *COMPOUND_PREFIXES, *sorted(LEXICALISED))).encode()
    return hashlib.sha256(b"\0".join((words, extra, engine, heads))).hexdigest()[:16]


def _word_list() -> Path:
    """pythainlp's word list, found without importing pythainlp."""
    spec = importlib.util.find_spec("pythainlp")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pythainlp is not installed")
    return Path(spec.submodule_search_locations[0]) / "corpus" / "words_th.txt"


@lru_cache(maxsize=1)
def _tokenizer() -> Callable[[str], list[str]]:
    """newmm on pythainlp's word list plus EXTRA_WORDS: one dictionary for matching and
    for the search index, loaded once.

    nlpo3 (newmm in Rust, ~5x faster, 59 MB) when it has a wheel for this platform,
    else pythainlp's newmm (a Python trie of 73 MB). The two agree on Thai words;
    they differ only on where punctuation next to Latin text is split.
    """
    words = _word_list()
    try:
        import nlpo3
    except ImportError:
        from pythainlp.tokenize import word_tokenize
        from pythainlp.util import dict_trie

        lines = words.read_text(encoding="utf-8").splitlines()
        trie = dict_trie([*lines, *EXTRA_WORDS])
        return lambda text: word_tokenize(
            text, custom_dict=trie, engine="newmm", keep_whitespace=True
        )
    try:  # nlpo3 reads a dictionary only from a file
        with tempfile.TemporaryDirectory() as folder:
            merged = Path(folder) / "words.txt"
            extra = "\n" + "\n".join(EXTRA_WORDS) + "\n"
            merged.write_text(words.read_text(encoding="utf-8") + extra, encoding="utf-8")
            nlpo3.load_dict(str(merged), DICT_NAME)
    except OSError as exc:  # a full disk must not stop the monitor
        log.warning("cannot write the Thai word list (%s): loanwords are split as newmm does", exc)
        nlpo3.load_dict(str(words), DICT_NAME)
    return lambda text: nlpo3.segment(text, DICT_NAME)


def segment(text: str) -> list[str]:
    """Split text into words for the search index and search queries (whitespace dropped)."""
    return [word for word in _tokenizer()(text) if not word.isspace()]


# Derivational prefixes: newmm keeps `ความมั่นคง`, `การประชุม`, `นักวิจัย` as one word,
# so a search for `มั่นคง` found nothing in `ความมั่นคง` (issue 15). The index also
# holds the head after such a prefix when the head is a dictionary word; no other
# word is split, so `ภัย` is never found inside `ปลอดภัย`. Longest prefix first
# (`ความเป็นผู้นำ` -> `ผู้นำ` -> `นำ`). Changing these changes `dictionary_version`.
COMPOUND_RULE = "prefix-heads-appended-1"
COMPOUND_PREFIXES = ("ความเป็น", "ความ", "การ", "นัก", "ผู้", "ชาว")
# Compounds whose head is not what they mean: `เมือง` (city) must not find
# `การเมือง` (politics), nor `บ้าน` (house) `การบ้าน` (homework).
LEXICALISED = frozenset({"การเมือง", "การบ้าน"})


@lru_cache(maxsize=1)
def _dictionary() -> array[int]:
    """The segmenter's words (pythainlp's word list and EXTRA_WORDS) as sorted 64-bit
    hashes: 0.5 MB, where a frozenset of the 62,000 words kept 10 MB in the service.

    Python's own `hash` (seeded per process: the array never leaves the process that
    built it) takes 33 ms where blake2b took 75, paid by every process that indexes.
    The file is read line by line, so the words are never all in memory at once.
    """
    with _word_list().open(encoding="utf-8") as lines:
        words = (word.strip() for word in itertools.chain(lines, EXTRA_WORDS))
        return array("q", sorted(hash(word) for word in words if word))


def is_dictionary_word(word: str) -> bool:
    """Whether the segmenter's dictionary holds `word` (see `_dictionary`).

    Compared by hash: a word outside the dictionary is taken for one in it only when
    its hash equals one of the 62,000 words', a chance of 62,000 / 2**64 (3e-15) per
    word on a 64-bit Python; over a billion distinct words looked up, one in 300,000.
    It would add a spurious head to the index, never lose one.
    """
    hashes, key = _dictionary(), hash(word)
    at = bisect_left(hashes, key)
    return at < len(hashes) and hashes[at] == key


def compound_heads(word: str) -> tuple[str, ...]:
    """The heads of a derivational compound, outermost first: `ความเป็นผู้นำ` gives
    (`ผู้นำ`, `นำ`), `ความมั่นคง` (`มั่นคง`,); any other word gives ().

    A head is what follows a COMPOUND_PREFIXES prefix when it is a dictionary word;
    words are never split elsewhere (`ปลอดภัย` gives no `ภัย`), nor in LEXICALISED.
    """
    return _prefixed_heads(word) if word.startswith(COMPOUND_PREFIXES) else ()


@lru_cache(maxsize=4096)
def _prefixed_heads(word: str) -> tuple[str, ...]:
    """`compound_heads` of a word that starts with a prefix; only these are cached.

    2,000 thaigov articles hold 25,000 distinct words, 1,100 of them with a prefix:
    caching every word kept 4 MB in the service and was slower than `str.startswith`.
    """
    if word in LEXICALISED:
        return ()
    for prefix in COMPOUND_PREFIXES:
        head = word[len(prefix) :]
        if word.startswith(prefix) and len(head) > 1 and is_dictionary_word(head):
            return (head, *compound_heads(head))
    return ()


def index_words(words: list[str]) -> list[str]:
    """Words as the search index holds them: the words, then each compound head once.

    Heads go after the text, not beside their compound: the words keep their sequence,
    so every phrase query reads as before (FTS5's unicode61 also splits Thai at vowel
    and tone marks, and a phrase such as `ความร่วมมือ` has always been found within
    `ให้ความร่วมมือ`). The cost: a phrase that starts at a head does not find it
    beside its compound's neighbours (`มั่นคงปลอดภัย` in `ความมั่นคงปลอดภัย`); its words
    searched apart do. Known false positive: heads lie next to each other, so that
    phrase does find a text with `ความมั่นคง` and `ความปลอดภัย` anywhere in it.
    """
    prefixed = (word for word in words if word.startswith(COMPOUND_PREFIXES))  # no call
    heads = dict.fromkeys(head for word in prefixed for head in _prefixed_heads(word))
    return [*words, *heads]


def word_boundaries(text: str) -> set[int]:
    """Offsets in `text` where a word starts or ends."""
    bounds = {0, len(text)}
    offset = 0
    for token in _tokenizer()(text):
        offset += len(token)
        bounds.add(offset)
    return bounds


def _month_pattern(names: tuple[str, ...]) -> str:
    alternatives = sorted(names, key=len, reverse=True)
    return "|".join(re.escape(n).replace(r"\.", r"\.?\s?") for n in alternatives)


_MONTH_INDEX: dict[str, int] = {}
for _i, (_full, _abbr) in enumerate(zip(THAI_MONTHS, THAI_MONTH_ABBREVIATIONS, strict=True)):
    _MONTH_INDEX[_full] = _i + 1
    _MONTH_INDEX[_abbr.replace(".", "")] = _i + 1
for _i, _name in enumerate(ENGLISH_MONTHS):
    _MONTH_INDEX[_name] = _i + 1

# A clock time after a date: `13:41`, `10.30 น.`, `เวลา 10.30 น.`, `10:30:00`.
_CLOCK = r"(?P<hh>\d{1,2})[:.](?P<mm>\d{2})(?::(?P<ss>\d{2}))?(?!\d)"
_THAI_TIME = r"(?:\s*,?\s*(?:เวลา\s*)?" + _CLOCK + r"(?:\s*น\.)?)?"
# English and ISO times may say AM/PM and an offset: `+0700`, `+07:00`, `GMT+7`, `Z`, `ICT`.
_ZONE = r"(?P<tz>Z|(?:GMT|UTC)?\s?[+-]\d{1,2}(?::?\d{2})?(?!\d)|GMT|UTC|ICT)(?![A-Za-z])"
_ENGLISH_TIME = (
    r"(?:,?\s*(?:at\s+)?" + _CLOCK + r"(?:\s*(?P<ampm>[ap])\.?m\.?)?(?:\s*" + _ZONE + r")?)?"
)
_THAI_DATE = re.compile(
    r"(?P<d>\d{1,2})\s*(?P<mon>" + _month_pattern(THAI_MONTHS + THAI_MONTH_ABBREVIATIONS) + r")"
    r"\s*(?:พ\.\s?ศ\.\s*)?(?P<y>\d{4}|\d{2})(?!\d)" + _THAI_TIME
)
_NUMERIC_DATE = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4}|\d{2})(?!\d)"
    r"(?:\s+(?:เวลา\s*)?" + _CLOCK + r"(?:\s*น\.)?)?"
)
_ENGLISH_DATE = re.compile(
    r"(?:(?P<d>\d{1,2})\s+(?P<mon>" + "|".join(ENGLISH_MONTHS) + r")[a-z]*\.?,?\s+(?P<y>\d{4})"
    r"|(?P<mon2>" + "|".join(ENGLISH_MONTHS) + r")[a-z]*\.?\s+(?P<d2>\d{1,2}),?\s+(?P<y2>\d{4}))"
    r"(?!\d)" + _ENGLISH_TIME,
    re.IGNORECASE,
)
# ISO 8601 inside text (`2025-11-20T10:30:00+07:00`, `2025-11-20 10:30`, `2025-11-20`).
_ISO_DATE = re.compile(
    r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)"
    r"(?:[T ]" + _CLOCK + r"(?:[.,]\d+)?(?:\s?" + _ZONE + r")?)?"
)
MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (Kiribati)


def bangkok_time(utc_iso: str | None, with_time: bool = True) -> str:
    """A stored UTC timestamp shown as Bangkok local time ("" when unknown).

    Exactly midnight in Bangkok is how a date without a time of day is stored
    (`parse_thai_date`): it is shown as the date alone, not with an invented 00:00.
    """
    if not utc_iso:
        return ""
    when = datetime.fromisoformat(utc_iso.replace("Z", "+00:00")).astimezone(BANGKOK)
    date_only = when.time() == datetime.min.time()
    return when.strftime("%Y-%m-%d %H:%M" if with_time and not date_only else "%Y-%m-%d")


def _year(text: str, two_digit_era: str) -> int:
    """Gregorian year from a 4-digit year (BE when above 2400) or a 2-digit one."""
    year = int(text)
    if len(text) == 2:
        return year + 2500 - 543 if two_digit_era == "be" else year + 2000
    return year - 543 if year > 2400 else year


def _zone(text: str | None) -> timezone | None:
    """The offset a date names (`+0700`, `GMT+7`, `Z`, `ICT`); Bangkok when it names none;
    None for an offset no clock uses."""
    if not text:
        return BANGKOK
    text = text.upper().replace(" ", "")
    if text in ("Z", "GMT", "UTC"):
        return UTC
    if text == "ICT":  # Indochina Time, Thailand's
        return BANGKOK
    sign, digits = text.lstrip("GMTUC")[0], text.lstrip("GMTUC")[1:].replace(":", "")
    hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset > MAX_OFFSET or int(minutes) >= 60:
        return None
    return timezone(-offset if sign == "-" else offset)


def _to_utc(year: int, month: int, day: int, match: re.Match[str] | None = None) -> datetime | None:
    """The date with the time and offset `match` read after it, as aware UTC.

    A time no clock shows (`25.50`: a figure after the date, not a time) is dropped and
    the date kept; a date without a time is midnight in Bangkok.
    """
    try:
        date = datetime(year, month, day)
    except ValueError:
        return None
    groups = match.groupdict() if match is not None else {}
    zone = _zone(groups.get("tz"))
    if zone is None or not groups.get("hh"):
        return plausible(date.replace(tzinfo=BANGKOK))
    hour = int(groups["hh"])
    if ampm := (groups.get("ampm") or "").lower():
        hour = hour % 12 + (12 if ampm == "p" else 0) if 1 <= hour <= 12 else 99
    try:
        local = date.replace(hour=hour, minute=int(groups["mm"]), second=int(groups.get("ss") or 0))
    except ValueError:
        return plausible(date.replace(tzinfo=BANGKOK))
    return plausible(local.replace(tzinfo=zone))


def plausible(when: datetime) -> datetime | None:
    """`when` as aware UTC (naive means UTC), or None outside the years news can carry.

    A hostile or broken page writes year 1 (`1 มกราคม 0001`, `0001-01-01T00:00:00+01:00`):
    converting it to UTC overflows, and no real release is that old or far ahead.
    """
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def read_datetime(text: str) -> datetime | None:
    """An ISO 8601 timestamp or any date `parse_thai_date` reads, as aware UTC; never raises.

    An ISO time without an offset is Bangkok time, as in `parse_thai_date` (a page's
    `2025-11-20 10:30`, a sitemap's `<lastmod>2025-11-20`); stored times carry `Z`.
    None when nothing readable or plausible is found.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_thai_date(text)
    return plausible(when if when.tzinfo else when.replace(tzinfo=BANGKOK))


def parse_thai_date(text: str) -> datetime | None:
    """Find the first date in `text` and return it as an aware UTC datetime.

    Forms: Thai (`7 ต.ค. 2562 เวลา 10.30 น.`), numeric `DD/MM/YYYY [HH:MM]` (Buddhist
    era when above 2400), English (`Thu, 20 Nov 2025 10:30:00 +0700`, `November 20,
    2025 at 10:30 AM`) and ISO 8601 (`2025-11-20T10:30:00+07:00`). The date that starts
    first in the text is read, with the time and offset that follow it: a date line
    comes before any date quoted in the paragraphs below it. A date without a time of
    day is midnight in Bangkok; a time without an offset is Bangkok time. Returns None
    when the first date is not valid (an impossible day such as 31 February, or a year
    outside EARLIEST_YEAR..LATEST_YEAR, counts as none).
    """
    text = thai_digits_to_arabic(clean_spaces(unicodedata.normalize("NFC", text)))
    found = [
        m for p in (_NUMERIC_DATE, _THAI_DATE, _ENGLISH_DATE, _ISO_DATE) if (m := p.search(text))
    ]
    if not found:
        return None
    m = min(found, key=lambda match: match.start())
    if m.re is _NUMERIC_DATE:
        return _to_utc(_year(m["y"], "be"), int(m["m"]), int(m["d"]), m)
    if m.re is _THAI_DATE:
        month = _MONTH_INDEX[re.sub(r"[.\s]", "", m["mon"])]
        return _to_utc(_year(m["y"], "be"), month, int(m["d"]), m)
    if m.re is _ISO_DATE:
        return _to_utc(_year(m["y"], "ce"), int(m["m"]), int(m["d"]), m)
    day, mon, year = (m["d"], m["mon"], m["y"]) if m["d"] else (m["d2"], m["mon2"], m["y2"])
    return _to_utc(_year(year, "ce"), _MONTH_INDEX[mon[:3].lower()], int(day), m)
