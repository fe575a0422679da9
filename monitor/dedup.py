"""Decide whether an extracted item is new, already stored, or a copy. Pure.

A government release is republished on several sites (thaigov.go.th, the
ministry's site, asean.dla.go.th with a credit line) with a new title prefix,
extra header or footer lines, re-wrapped paragraphs or a trimmed ending. Such a
copy becomes an "also published at" URL of the stored item. Two different
releases on one subject (weekly reports from one template, daily COVID-19
figures, cabinet summaries, a warning repeated a month later) stay two items.

Heuristics, in order (`classify`):
- Same page: the canonical URL key (`urls.url_key`) is already stored -> `known`.
- Same text: the SHA-256 of the normalised title and body (`content_hash`: Thai
  normalisation, case, spacing; credit lines such as `ที่มา:รัฐบาลไทย` and blank
  lines removed) equals a stored item's -> `duplicate`. The title is hashed:
  cabinet-meeting stubs of different days have one body (`พลเอก ประยุทธ์
  จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี`) and only their titles
  differ. (Hashes of the body alone, before, merged them: stored hashes must be
  recomputed from the stored title and body.)
- Near-duplicate: among the stored items sharing an LSH band key with the item's
  `Signature` (`near_candidates`), the most similar one that passes
  `is_near_duplicate` -> `duplicate` of it (the lowest id on a tie: the first
  publication), with `replaces_text` when the new item is the fuller text (below).
  Without candidates (the default) only the two rules above apply.

The signature (`signature(title, body)`) covers the same span of every copy,
however its page was extracted (the extractor drops a leading date line and the
repeated headline of the pages it knows; a copy elsewhere keeps them in its text):
- Text: the title, then the normalised body (the title alone when the body is
  empty) without credit lines, lines without letters (page-view counter, a row of
  `*`), a date line, spacing and punctuation, so re-wrapped or re-indented copies
  give the same stream; and from after the headline on: when the title starts
  within the first `PREAMBLE_CHARS` (150) characters of the stream, it and what
  comes before it (the date line, a republisher's site name and `วันที่ :
  07/10/2562 13:41`, a print link) are not shingled again. Each site writes that
  furniture its own way. The headline is found in the stream, so a re-wrapped
  copy is cut alike; no headline in the body, no cut (the title still starts it).
- `date`: the page's date, compared as a date, not as figures: the last date in
  the furniture before the headline (the original's date line follows a
  republisher's header) when the headline starts a line (a re-wrapped copy, or a
  paragraph that starts with a date and the headline, has none), yyyymmdd in the
  Buddhist era. Without a headline in the
  body there is none (0): lines that are a date and nothing else (`วันจันทร์ที่ 7
  ตุลาคม 2562`, `วันที่ : 07/10/2562 13:41`) among the short lines leading the page
  (at most `DATE_LINES`, 4) are left out of text and figures, but may be an
  event's date that stood under the headline the extractor dropped (783, 2227).
- Shingles: every run of `SHINGLE_CHARS` (8) characters, hashed with CRC-32 of
  its UTF-32 bytes and mixed by a multiplication (CRC-32 alone is linear).
  Stable across processes (never Python's salted `hash`).
- One-permutation MinHash: the mixed hash's low 7 bits choose one of `NUM_BINS`
  (128) bins, each bin keeps the minimum of the high bits (`EMPTY_BIN` when no
  shingle fell in it; bins empty in both texts are left out of the estimate).
  One hash per shingle instead of one per shingle and permutation: 128 classic
  permutations would cost ~15 ms per article in pure Python. Computed with numpy
  (`_minhash`: ~0.15 ms an article, 0.87 ms in a Python loop); rensa's compiled
  R-MinHash (0.54 ms with the shingle set built in Python) missed ~3% more copies
  and changed the stored format: 128 independent minima vary more than these bins.
- `size`: the number of distinct shingles.
- `numbers`: CRC-32s of the figures of the title and the text (the furniture
  and the date line left out: only one side may have them; corpus 23073's
  "800 แห่ง" is in the headline only, which the extractor drops from the body),
  the smallest `NUMBERS_KEPT` (64) as a bottom-k sample. Figures: integers
  (thousands separators dropped, Thai digits already made Arabic), the month
  of a date as a token of its own (`7 ตุลาคม 2562` and `07/10/2562` give the
  same three; as a plain 8, August made 5800's date look like a figure of
  5884), times of day (`13:41`, `09.30 น.`) left out; so the asean.dla.go.th
  header `วันที่ : 07/10/2562 13:41` adds no figure to the date line
  `วันจันทร์ที่ 7 ตุลาคม 2562`. Template releases (weekly excise seizures, daily
  COVID-19 reports, cabinet summary stubs, a yearly ceremony) share 80-95% of
  their shingles; their figures differ.
- Serialised by `Signature.to_bytes()` (~0.7 KB: 128 + up to 64 uint32 and a
  header with the date; format version 2) and `Signature.from_bytes()` (version
  1, without a date, still loads).

Verification is of the pair, whichever arrived first: `a` and `b` are one
release when `a` is a copy of `b` or `b` a copy of `a` by the rules below (a
trimmed copy that arrives first must not make its original "a new item that
adds text"; sources have different intervals, so copies often come first).
`rejection` names the rule that fails for `a` read as the copy;
`is_near_duplicate` is "one direction passes"; thresholds in `Thresholds`.
`replaces_text`: the new item has over `added_max` shingles more text of its own
than the stored one (more than furniture: the stored item is a trimmed copy).
Figures are compared evenly (`_figures_against`): `b`'s date counts among its
figures (a re-wrapped copy's date line is plain text), `a`'s is held against `b`
only when `b` has a date too. Each bin's minimum over both texts
lies in both (the minima are equal), in the new item `a` only (lower in `a`) or
in the stored `b` only, in proportion to the shingles there. So the bins
estimate `own`, the share of `a` found in `b`, and what `b` has that `a` lacks;
a text that holds the other is never lower in a bin, so a pure trim shows zero
`a`-only bins (estimated from Jaccard and the sizes, as before, 12 of 991
trimmed copies came out at 0.84-0.95 and were missed). In order:
1. `date`: both texts have a date and they differ: a follow-up that quotes the
   earlier day's release whole, dates included (7123/7165), is another release.
   `short`: a text under `MIN_SHINGLES` (120) shingles (about 150 characters: a
   headline and a sentence) is a copy only with lines added (a title prefix, a
   header, a footer): the other lies within it (at most `STRAY_BINS`), it adds
   at most as much as it shares, they share at least `SHORT_SHARED_MIN` (60)
   shingles, and the figures of their texts are the same (a date line only
   one side has is no figure; two dates are `date`). Under 128 shingles nearly
   every shingle has a bin of its own: the bins count the shingles rather than
   sample them, so "lies within" is exact. Before, short texts were left to
   the exact hash, and any edit of one (a title prefix, a credit line, a
   re-wrap) was missed: over a quarter of the misses (texts of 80-110
   shingles). Cabinet summary stubs (one body, the day in the title) differ by
   figures; a bare title or a one-line text is left to the hash.
2. Same text: estimated Jaccard >= `JACCARD_MIN` (0.9) and at most
   `NUMBERS_MISSING_MAX` (5%) of one side's sampled numbers absent from the
   other, in the better direction; else `numbers`. Tolerating one figure more
   merged a yearly ceremony re-issued with only the year changed (3565/12013).
3. `added`: `a` has at most `ADDED_MAX` (100) shingles of its own (estimated):
   a title prefix, a header or footer line, a print link. In shingles, not as a
   share: a short article with a header grew past the old 25% (8 of 1000 header
   copies missed), while a follow-up that repeats the previous report adds ~900
   (7123/7165, twice the length) and roadshow releases reused per city differ
   by 200-300 on each side (14680/15901, 16207/16531).
4. Lines added only (at most `STRAY_BINS`, 1, bin lower in `b`): a copy, with
   the numbers rule of 2.
5. Otherwise `b` has text `a` lacks: a trimmed ending, maybe with a header too
   (a trimmed copy with a new header neither contains nor is contained in the
   original: 53% of those copies were missed). Then all of:
   - `contained`: at least `CONTAINMENT_MIN` (0.9) of `a` lies in `b`. Short
     releases of one series differ by a few words on each side (relief
     measures per group, 27862/27863/27866: ~200 shingles, 17-20% own text;
     8715/9077);
   - `alike`: when over `ALIKE_OWN_SHARE` (7%) of `a` is its own, what it lacks
     is at least `ALIKE_RATIO` (2) times that: equal changes on both sides are
     substituted words (one release reused for another city), not a cut ending;
   - `alike` too: when only one side has a date (`date` cannot tell), `a` is
     shorter than `b`: a trimmed copy lost more than it gained; one as long
     is a rewrite with words substituted (15785/15839, two days later, the
     original stored without its date line: merged copy first, seed 11);
   - `kept`: `a` keeps at least `LENGTH_RATIO_MIN` (0.45) of `b`, half with the
     estimate's noise allowed for;
   - `numbers`: every sampled figure of `a` is in `b`. A header or footer adds
     none (see `numbers` above) and the cut ending may take some; a 5%
     tolerance merged a closure list re-issued a day later with four counts
     changed whose new values occur elsewhere in the text (28898/28899).
The module constants are the defaults of `Thresholds`; config can build one
(keys `min_shingles`, `jaccard_min`, `added_max`, `containment_min`,
`length_ratio_min`, `numbers_missing_max`) and pass it to `classify`.
`SHINGLE_CHARS`, `NUM_BINS`, `BAND_ROWS`, `NUMBERS_KEPT`, `PREAMBLE_CHARS` and
the text and figures signed (above) define stored data: changing them means
recomputing every stored signature and band key. Signatures of version 1 (before
the title was signed and the date compared as a date) still load, with no date,
but compared with new ones they miss copies: re-sign them once.

LSH (`band_keys`): 32 bands of 4 minima; two texts share at least one key with
probability 1 - (1 - J**4)**32: 0.9997 at J = 0.8, 0.87 at J = 0.5. A trimmed
copy keeping a share r of the original is proposed with 1 - (1 - r**4)**32:
0.87 at half, 0.56 at 0.4. Keys are signed 64-bit ints (blake2b of band number
and values) for a SQLite table `(band_key INTEGER, item_id INTEGER, PRIMARY KEY
(band_key, item_id)) WITHOUT ROWID`; all-empty bands get no key. Look-up: the
ids sharing any of the item's keys, with their stored signatures, are
`near_candidates`.

Why hand-written and not datasketch: datasketch needs numpy and scipy (~215 MB,
~470 ms import), 2.2 ms per article at 128 permutations and ~265 MB of index
per 100k items. Measured here (`python3 benchmarks/dedup_quality.py`, 22,242
thaigov articles, shared 2-core machine, CPU time, medians of 3 runs):
- signature ~0.8-0.95 ms after `content_hash` of the same text (shared, cached
  normalisation), ~1.1-1.3 ms on its own; lookup + verify ~0.1 ms (1.05
  candidates per lookup on average, 75 at most); each within 3% of the rules
  before the headline cut, timed in one process;
- per 100k items: 32 band rows per item, ~57 MB for the band table and ~63 MB of
  signature BLOBs in SQLite;
- 2,000 articles edited 9 ways, looked up among all 22,242: no false merge;
  missed 0.3% per single edit (title prefix, credit line, header line added
  or removed, re-wrapping, NBSP/zero-width noise) and for all of those at once:
  texts under `MIN_SHINGLES`; of the copies keeping at least half of the text,
  0.5% missed with a dropped last paragraph, 2.9% with that and everything else
  at once (`contained`, `alike`: short articles). A "last paragraph" can be most
  of an article: the 10% of copies keeping under half are 95% missed, by design;
- both arrival orders (benchmark, seed 7; the original stored as the corpus has
  it or as the extractor keeps it, copies that lost their headline or date line
  too): copies keeping at least half of the text 1.00% missed original first,
  0.99% copy first (seed 11: 0.98%/0.98%, seed 23: 0.96%/0.94%; before the
  `short` copy rule and the one-date length rule 1.16%/1.15%, 1.12%/1.12%,
  1.04%/1.02%, and one false merge copy first on seed 11, 15785 into 15839),
  no false merge but into an original's corpus twin (same-day reposts below);
  the corpus-scale pairs unchanged (905); no title series member merged
  (cabinet summaries, weekly excise, daily COVID-19); signature unchanged,
  lookup + verify 97-108 us against 98 before (separate runs);
- before the order-free rules (body-only figures and hash, date as figures):
  every article against all others: 1,054 merged pairs; 1,029 confirmed by a
  slower independent check; the other 25 (listed by the benchmark) are, by
  title, date and similarity (J 0.65-0.99), same-day rewrites and reposts of
  one release, and the grey cases below. Consecutive members of
  title series on different dates: 117 of 6,886 merged, 3 not confirmed (a
  repost under a shorter title 29551/29572, one without its list numbers
  27940/27951, a rewrite two days later 15785/15839).

Known limits:
- Merged, arguably wrongly: one text re-issued unchanged days or weeks later
  when one side has no date line (with both dated, they stay apart); a
  follow-up that repeats an earlier release whole and adds at most as much
  again, same day or undated (either order: read the other way, the earlier is
  a trimmed copy keeping half; `replaces_text` then gives the item the
  follow-up's text); a speech merged into
  the same-day report that quotes most of it (25037/25038); short and long
  versions of one event report (10055/10058), same-day or next-day rewrites
  (15785/15839, 33853/33855); a yearly or weekly release reused with at most 5%
  of its figures changed.
- Missed: copies keeping under half of the original (by design; LSH seldom
  proposes them anyway); trimmed copies of short articles (under ~360
  shingles) that also gained a title prefix or a footer, as those are over 10%
  own text (`contained`), or whose cut ending is shorter than twice what was
  added (`alike`): both look like a short release of a series; copies whose
  header carries figures the original lacks, when the headline is not in the
  body to cut at; copies whose figures were re-typed (`1.5 ล้าน` vs
  `1,500,000`); texts under 120 shingles that lost text or changed a figure,
  and under 60 shingles; rewritten or translated copies; about
  13% of pairs at Jaccard 0.5 are never proposed by LSH; a release posted again
  on another day under a new date line (`date`), or a copy whose republisher
  replaced the original's date line with its own day.
- The estimates are noisy (standard error ~0.035 at J = 0.8 with 128 bins, and
  one bin stands for 1/128 of a text, ~20 shingles of a long article, in
  `ADDED_MAX`), so pairs right at a threshold go either way.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from monitor.models import Item
from monitor.thai import THAI_MONTH_ABBREVIATIONS, THAI_MONTHS, normalize_text

# Data-defining constants: stored signatures and band keys depend on them.
SHINGLE_CHARS = 8
NUM_BINS = 128
BAND_ROWS = 4
NUMBERS_KEPT = 64
EMPTY_BIN = 0xFFFFFFFF
# Furniture before the headline (site name, date lines, a print link) is at most this
# many characters of the stream; the headline must start within them to be cut at.
PREAMBLE_CHARS = 150
# A page's date line is among its first lines (after a republisher's site-name line).
DATE_LINES = 4

# Verification thresholds (defaults of `Thresholds`): safe to change at any time.
MIN_SHINGLES = 120
JACCARD_MIN = 0.9
ADDED_MAX = 100
CONTAINMENT_MIN = 0.9
LENGTH_RATIO_MIN = 0.45
NUMBERS_MISSING_MAX = 0.05
# Trimmed and with own text too: when the new item's own share is over ALIKE_OWN_SHARE,
# what it lacks must be ALIKE_RATIO times what it adds, else both sides changed alike:
# words substituted (a release reused per city), not an ending cut.
ALIKE_OWN_SHARE = 0.07
ALIKE_RATIO = 2.0
# Texts under MIN_SHINGLES share at least this many shingles (a headline and a sentence)
# to be compared at all; shorter ones (a bare title, a one-line stub) are left to the hash.
SHORT_SHARED_MIN = 60
# Bins where the stored item's minimum is lower that still count as "nothing dropped":
# one stray changed word. A copy with only lines added has none (its set holds the other).
STRAY_BINS = 1

_CREDIT_LINE = re.compile(r"^(ที่มา|แหล่งที่มา|source)\s*[:：]", re.IGNORECASE)
# Spacing and punctuation move freely between copies of one text.
_NOT_TEXT = re.compile(r"[\s\"'“”‘’«».,:;!?()\[\]{}*\-–—/\\|<>_=+#~`…•·]+")
# A line with no letters: the page-view counter, a row of `*`, a bare number.
_NO_LETTERS = re.compile(r"^[\W\d_]*$")
# A thousands comma, matched with the digit before it (a pattern that opens with a
# look-behind is tried at every position of the text: twice as slow on articles).
_THOUSANDS = re.compile(r"(\d),(?=\d{3})")
_MONTH_NUMBERS = {
    name: number
    for names in (THAI_MONTHS, THAI_MONTH_ABBREVIATIONS)
    for number, name in enumerate(names, 1)
}
_MONTHS = "|".join(map(re.escape, sorted(_MONTH_NUMBERS, key=len, reverse=True)))
# A time of day (13:41, 09.30 น.; left out), a numeric date, else an integer with the
# month name that may follow it. The lookahead skips non-digits at once (4x faster).
_FIGURE = re.compile(
    r"(?=\d)(?:\d{1,2}(?::\d{2}){1,2}|\d{1,2}\.\d{2}\s*น\."
    r"|(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{2,4})\b"
    rf"|(?P<number>\d+)\s*(?P<month_name>{_MONTHS})?)"
)
# A date: `7 ตุลาคม 2562`, `7 ต.ค. 62`, `07/10/2562`, maybe with a time after it.
_DATE = (
    rf"(?:(?P<day>\d{{1,2}})\s*(?P<month_name>{_MONTHS})\s*(?:พ\.\s?ศ\.\s*)?(?P<year>\d{{4}}|\d{{2}})"
    r"|(?P<nday>\d{1,2})/(?P<nmonth>\d{1,2})/(?P<nyear>\d{4}|\d{2}))"
    r"(?!\d)(?:\s*(?:เวลา\s*)?\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:น\.)?)?"
)
# A line that is a date and nothing else: `วันจันทร์ที่ 7 ตุลาคม 2562`, `วันที่ : 07/10/2562 13:41`.
_DATE_LINE = re.compile(r"(?:[ก-๛]{0,24}\s*[:：]?\s*)?" + _DATE)
_DATE_IN_TEXT = re.compile(r"(?<!\d)" + _DATE)
_DATE_LINE_CHARS = 60
_MIX = 0x9E3779B1  # odd 32-bit constant (golden ratio): spreads CRC-32's bits
_MASK32 = 0xFFFFFFFF
_BIN_BITS = NUM_BINS.bit_length() - 1
_TABLE_CHARS = 0x1000  # Thai (U+0E00-U+0E7F), Latin and the like: one table entry each
_HEADER_V1 = struct.Struct("<BHHI")  # format version, bins, numbers, size
_HEADER = struct.Struct("<BHHII")  # the same and the date (yyyymmdd in B.E., 0: none)
_VERSION = 2
_EMPTY_BAND = struct.pack(f"<{BAND_ROWS}I", *[EMPTY_BIN] * BAND_ROWS)


@dataclass(frozen=True)
class Thresholds:
    """Verification thresholds (constants: measured by benchmarks/dedup_quality.py in both
    arrival orders, not a setting to tune per site)."""

    min_shingles: int = MIN_SHINGLES
    jaccard_min: float = JACCARD_MIN
    added_max: int = ADDED_MAX
    containment_min: float = CONTAINMENT_MIN
    length_ratio_min: float = LENGTH_RATIO_MIN
    numbers_missing_max: float = NUMBERS_MISSING_MAX


DEFAULT_THRESHOLDS = Thresholds()


@lru_cache(maxsize=16)
def _normalised_lines(text: str) -> tuple[str, ...]:
    """Non-blank normalised lines minus credit lines.

    Cached: the pipeline computes `content_hash` and `signature` of the same
    text one after the other, and `normalize_text` costs ~2 ms per article.
    """
    lines = (line.strip() for line in normalize_text(text).splitlines())
    return tuple(line for line in lines if line and not _CREDIT_LINE.match(line))


@lru_cache(maxsize=16)
def _normalised_title(title: str) -> str:
    return " ".join(normalize_text(title).split())


def content_hash(title: str, body: str) -> str:
    """Hash of the normalised title and body: one body under two titles is two releases.

    Cabinet-meeting stubs of different days share their whole body (`พลเอก ประยุทธ์
    จันทร์โอชา นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี`); only the title tells them
    apart. A copy under a prefixed title is left to the near-duplicate rules.
    """
    text = "\n".join(_normalised_lines(body)) if body else ""
    return hashlib.sha256(f"{_normalised_title(title)}\x00{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Signature:
    """An item's text in a few hundred bytes: MinHash minima, set size, number hashes, date.

    `date` is the date line's day as yyyymmdd in the Buddhist era, 0 when the text
    has no date line (the extractor drops it from the pages it knows).
    """

    mins: tuple[int, ...]
    size: int
    numbers: tuple[int, ...] = ()
    date: int = 0

    def to_bytes(self) -> bytes:
        """Pack for a SQLite BLOB (4 bytes per value, ~0.6 KB for an article)."""
        header = _HEADER.pack(_VERSION, len(self.mins), len(self.numbers), self.size, self.date)
        values = self.mins + self.numbers
        return header + struct.pack(f"<{len(values)}I", *values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Unpack what `to_bytes` made (version 1: no date); ValueError on anything else."""
        try:
            version = data[0]
            header = _HEADER_V1 if version == 1 else _HEADER
            version, bins, count, size, *date = header.unpack_from(data)
            values = struct.unpack_from(f"<{bins + count}I", data, header.size)
        except (struct.error, IndexError) as exc:
            raise ValueError(f"not a dedup signature: {exc}") from None
        if version not in (1, _VERSION) or len(data) != header.size + 4 * (bins + count):
            raise ValueError(f"not a version 1 or {_VERSION} dedup signature")
        return cls(values[:bins], size, values[bins:], date[0] if date else 0)


def _date_of(line: str) -> int:
    """The date of a line that is a date and nothing else, as yyyymmdd (B.E.), else 0."""
    if len(line) > _DATE_LINE_CHARS:
        return 0
    found = _DATE_LINE.fullmatch(line)
    return _date_value(found) if found else 0


def _date_value(found: re.Match[str]) -> int:
    if found["day"]:
        day, month, year = int(found["day"]), _MONTH_NUMBERS[found["month_name"]], found["year"]
    else:
        day, month, year = int(found["nday"]), int(found["nmonth"]), found["nyear"]
    number = int(year)
    if len(year) == 2:  # `7 ต.ค. 62`: a short Buddhist-era year
        number += 2500
    elif number < 2400:  # a Christian-era year
        number += 543
    return number * 10_000 + month * 100 + day if 1 <= month <= 12 and 1 <= day <= 31 else 0


def _text_offset(joined: str, count: int) -> int:
    """Where in `joined` its stream (`_NOT_TEXT` removed) reaches `count` characters."""
    pos = seen = 0
    for gap in _NOT_TEXT.finditer(joined):
        if seen + gap.start() - pos > count:
            break
        seen += gap.start() - pos
        pos = gap.end()
    return pos + count - seen


@dataclass(frozen=True)
class _Signed:
    stream: str  # shingled
    figures: str  # figures taken from
    date: int


def _signed(title: str, body: str) -> _Signed:
    """What is signed: the stream to shingle, the text to take figures from, the date.

    Both sides of a comparison are signed over the same span however the page was
    extracted. The headline (the title) always starts the stream, whether the body
    repeats it or not (the extractor drops it from the pages it knows, a copy keeps
    it), and what comes before it in the body (a date line, a republisher's site
    name and date, a print link) is furniture each site writes its own way: not
    shingled, no figures. The headline is looked for in the stream, so a re-wrapped
    copy is cut alike. Figures come from the title and the text. The date: the last
    date in that furniture when the headline starts a line, compared as a date
    (`_figures_against`, `date`). Without a headline in the body, lines that are a
    date and nothing else among the short
    lines leading the page (at most `DATE_LINES`) are left out, and there is no date.
    """
    lines = [line for line in _normalised_lines(body or title) if not _NO_LETTERS.match(line)]
    joined = "\n".join(lines)
    stream = _NOT_TEXT.sub("", joined)
    headline = _NOT_TEXT.sub("", _normalised_title(title)) if body and title else ""
    start = stream.find(headline, 0, PREAMBLE_CHARS + len(headline)) if headline else -1
    if start >= 0:  # furniture before the headline, maybe a date re-wrapped into one line
        offset = _text_offset(joined, start)
        line_start = joined.rfind("\n", 0, offset) + 1
        date = 0  # a date line is a line: the headline starts one (corpus 783 begins its
        # first paragraph with the event's date and the headline, after the extractor)
        if not _NOT_TEXT.sub("", joined[line_start:offset]):
            dates = [_date_value(m) for m in _DATE_IN_TEXT.finditer(joined, 0, offset)]
            date = next((d for d in reversed(dates) if d), 0)  # nearest the text: its own
        return _Signed(stream[start:], f"{title}\n{joined[offset:]}", date)
    # No headline in the body: date lines leading the page (before its first long line)
    # are left out, but are no date: an event's date under a headline the extractor
    # dropped would pass for the page's (corpus 783, 2227).
    dated = False
    for i, line in enumerate(lines[:DATE_LINES]):
        if _date_of(line):
            dated, lines[i] = True, ""
        elif len(line) > _DATE_LINE_CHARS:
            break
    if dated:
        joined = "\n".join(line for line in lines if line)
        stream = _NOT_TEXT.sub("", joined)
    return _Signed(headline + stream, f"{title}\n{joined}" if headline else joined, 0)


def shingle_text(title: str, body: str) -> str:
    """The character stream that is shingled (for inspection and tests)."""
    return _signed(title, body).stream


def _numbers(text: str) -> tuple[int, ...]:
    """Hashes of the text's figures, smallest `NUMBERS_KEPT` (a bottom-k sample).

    Figures: the distinct integers, times of day left out, and the month of a
    date (`7 ตุลาคม 2562`, `07/10/2562`) as a token of its own: one date written
    either way gives the same figures, and a month is not a count (the 8th of
    August is not the `8` of another release).
    """
    figures: set[str] = set()
    for day, month, year, number, month_name in _FIGURE.findall(_THOUSANDS.sub(r"\1", text)):
        if number:
            figures.add(str(int(number)))
            if month_name:
                figures.add(f"m{_MONTH_NUMBERS[month_name]}")
        elif day:
            figures.update((str(int(day)), f"m{int(month)}", str(int(year))))
    return tuple(sorted(zlib.crc32(f.encode()) for f in figures)[:NUMBERS_KEPT])


@lru_cache(maxsize=256)
def _date_figures(date: int) -> frozenset[int]:
    """A date's figures, hashed as `_numbers` hashes them: day, month token, year."""
    year, month, day = date // 10_000, date // 100 % 100, date % 100
    return frozenset(zlib.crc32(f.encode()) for f in (str(day), f"m{month}", str(year)))


def signature(title: str, body: str) -> Signature:
    """Sign the title and the body from its headline on (the title when the body is empty)."""
    signed = _signed(title, body)
    mins, size = _minhash(signed.stream)
    return Signature(mins, size, _numbers(signed.figures), signed.date)


def _minhash(stream: str) -> tuple[tuple[int, ...], int]:
    """The bins' minima of the stream's distinct shingles, and how many there are.

    Vectorised with numpy (~6x faster than a loop over the shingles, the same values):
    CRC-32 is affine in its message, so a window's CRC is the XOR of one share per
    byte position and byte value and the CRC of 32 zero bytes (`_tables`); a table
    by character below `_TABLE_CHARS` (Thai, Latin) spares two of three look-ups.
    Duplicate windows do not change a minimum; they are counted apart by a 64-bit
    tabulation hash of the window (two alike by chance: ~1e-12 an article).
    """
    data = stream.encode("utf-32-le")
    codes = np.frombuffer(data, dtype="<u4")
    count = len(codes) - SHINGLE_CHARS + 1
    if count < 1:  # one shingle, the whole text (none when empty)
        crc = np.array([zlib.crc32(data)] if data else [], dtype=np.uint32)
        size = len(crc)
    else:
        by_char, by_byte = _tables()
        tables, parts = (
            (by_char, (codes,)) if codes.max() < _TABLE_CHARS else (by_byte, _bytes(codes))
        )
        crc = np.full(count, zlib.crc32(bytes(4 * SHINGLE_CHARS)), dtype=np.uint32)
        key = np.zeros(count, dtype=np.uint64)
        for i in range(SHINGLE_CHARS):
            for (crc_of, key_of), part in zip(tables[i], parts, strict=True):
                crc ^= crc_of.take(part[i : i + count])
                key ^= key_of.take(part[i : i + count])
        key.sort()
        size = int(np.count_nonzero(key[1:] != key[:-1])) + 1
    mixed = crc * np.uint32(_MIX)  # wraps at 32 bits like format 2's `& _MASK32`
    mins = np.full(NUM_BINS, EMPTY_BIN, dtype=np.uint32)
    np.minimum.at(mins, mixed & np.uint32(NUM_BINS - 1), mixed >> np.uint32(_BIN_BITS))
    return tuple(mins.tolist()), size


def _bytes(codes: np.ndarray) -> tuple[np.ndarray, ...]:
    """The three low bytes of each code point (the fourth is 0 below U+110000)."""
    return codes & 0xFF, (codes >> 8) & 0xFF, codes >> 16


_Tables = list[list[tuple[np.ndarray, np.ndarray]]]


@lru_cache(maxsize=1)
def _tables() -> tuple[_Tables, _Tables]:
    """Per window position: (CRC share, tabulation key) tables by character below
    `_TABLE_CHARS`, and by each of the three low bytes of a code point (~0.5 MB)."""
    width = 4 * SHINGLE_CHARS
    zero = zlib.crc32(bytes(width))
    by_byte: _Tables = []
    by_char: _Tables = []
    for i in range(SHINGLE_CHARS):
        shares = []
        for byte in range(3):
            crc = np.empty(256, dtype=np.uint32)
            for value in range(256):
                message = bytearray(width)
                message[4 * i + byte] = value
                crc[value] = zlib.crc32(message) ^ zero
            seed = np.arange(256, dtype=np.uint64) + np.uint64((i * 3 + byte) << 8)
            shares.append((crc, _splitmix64(seed)))
        by_byte.append(shares)
        chars = np.arange(_TABLE_CHARS, dtype=np.uint32)
        crc = shares[0][0][chars & 0xFF] ^ shares[1][0][chars >> 8]
        key = _splitmix64(chars.astype(np.uint64) + np.uint64((100 + i) << 16))
        by_char.append([(crc, key)])
    return by_char, by_byte


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Random-looking 64-bit values of distinct inputs (SplitMix64; numpy.random would
    add ~3 MB to the process). uint64 products wrap, as the algorithm wants."""
    x = x * np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def band_keys(sig: Signature) -> list[int]:
    """LSH keys to index and look up: one signed 64-bit int per non-empty band."""
    packed = struct.pack(f"<{len(sig.mins)}I", *sig.mins)  # packed once, hashed a band at a time
    keys = []
    for start in range(0, len(sig.mins), BAND_ROWS):
        band = packed[4 * start : 4 * (start + BAND_ROWS)]
        if band == _EMPTY_BAND[: len(band)]:
            continue  # short texts: all-empty bands would collide with each other
        digest = hashlib.blake2b(struct.pack("<H", start) + band, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def _compare(a: Signature, b: Signature) -> tuple[int, int, int]:
    """Bins where the minima are equal (not empty), lower in `a`, lower in `b`.

    A bin's minimum over the union of both sets lies in the intersection, in `a`
    only or in `b` only, in proportion to their sizes: so `lt / (eq + lt)`
    estimates the share of `a` that is not in `b`, and a set that holds the other
    is never lower in a bin (a trimmed copy gives `lt == 0` exactly).
    """
    eq = lt = gt = 0
    for x, y in zip(a.mins, b.mins, strict=True):
        if x == y:
            if x != EMPTY_BIN:
                eq += 1
        elif x < y:
            lt += 1
        else:
            gt += 1
    return eq, lt, gt


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets (bins empty in both skipped)."""
    eq, lt, gt = _compare(a, b)
    return eq / (eq + lt + gt) if eq else 0.0


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller shingle set that lies in the larger."""
    eq, lt, gt = _compare(a, b)
    own = lt if a.size <= b.size else gt
    return eq / (eq + own) if eq else 0.0


def _sampled_numbers(a: Signature, b: Signature) -> tuple[set[int], set[int]]:
    """Both number samples, cut to the hashes both bottom-k samples are complete up to."""
    x, y = set(a.numbers), set(b.numbers)
    full = [s for s in (a.numbers, b.numbers) if len(s) >= NUMBERS_KEPT]
    if full:
        limit = min(s[-1] for s in full)
        x = {v for v in x if v <= limit}
        y = {v for v in y if v <= limit}
    return x, y


def _figures_against(a: Signature, b: Signature) -> tuple[set[int], set[int]]:
    """`a`'s figures and `b`'s, to ask which of `a`'s `b` lacks, dates compared evenly.

    `b`'s date counts among its figures (a re-wrapped copy's date line is text, its
    figures plain figures); `a`'s date is held against `b` only when `b` has a date
    too: a date line the extractor dropped is no figure `b` lacks.
    """
    x, y = _sampled_numbers(a, b)
    if b.date:
        y |= _date_figures(b.date)
        if a.date:
            x |= _date_figures(a.date)
    return x, y


def numbers_missing(a: Signature, b: Signature) -> float:
    """Share of one side's numbers absent from the other, in the direction where it is lower."""
    shares = []
    for one, other in ((a, b), (b, a)):
        x, y = _figures_against(one, other)
        if not x or not y:
            return 0.0
        shares.append(len(x - y) / len(x))
    return min(shares)


def rejection(
    a: Signature, b: Signature, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> str | None:
    """Why `a` and `b` are not one release, or None when they are (either is a copy of the other).

    The reason is the one for `a` read as the copy: `short`, `numbers`, `added` (too
    much text of its own); for a trimmed copy `contained` (too little of it in `b`),
    `alike` (changed on both sides alike) and `kept` (too little of `b` kept). The
    rules and their cases: module docstring.
    """
    eq, lt, gt = _compare(a, b)
    forward = _copy_rejection(a, b, thresholds, eq, lt, gt)
    if forward is None or _copy_rejection(b, a, thresholds, eq, gt, lt) is None:
        return None
    return forward


def _copy_rejection(
    a: Signature, b: Signature, t: Thresholds, eq: int, lt: int, gt: int
) -> str | None:
    """Why `a` is not a copy of `b` (lines added, an ending cut), or None when it is."""
    if a.date and b.date and a.date != b.date:  # a follow-up quoting the earlier day's text
        return "date"
    if min(a.size, b.size) < t.min_shingles:
        return _short_rejection(a, b, eq, lt, gt)
    if eq >= t.jaccard_min * (eq + lt + gt):
        return None if numbers_missing(a, b) <= t.numbers_missing_max else "numbers"
    own = eq / (eq + lt) if eq else 0.0
    if (1 - own) * a.size > t.added_max:
        return "added"
    if gt <= STRAY_BINS:  # `b` lies within `a`: header or footer lines added, nothing dropped
        return None if numbers_missing(a, b) <= t.numbers_missing_max else "numbers"
    # Something of `b` is missing from `a`: a trimmed ending, maybe with lines added.
    if own < t.containment_min:
        return "contained"
    if bool(a.date) != bool(b.date) and a.size >= b.size:
        # Only one side dated, so `date` cannot tell a rewrite days later (15785/15839):
        # a trimmed copy that gained as much as it lost is words substituted, not a cut.
        return "alike"
    dropped = gt / (eq + gt) * b.size
    if 1 - own > ALIKE_OWN_SHARE and dropped < ALIKE_RATIO * (1 - own) * a.size:
        return "alike"
    if own * a.size < t.length_ratio_min * b.size:
        return "kept"
    x, y = _figures_against(a, b)
    return "numbers" if x - y else None  # furniture adds no figures; the cut ending may


def _short_rejection(a: Signature, b: Signature, eq: int, lt: int, gt: int) -> str | None:
    """Why short `a` is not `b` with lines added (a title prefix, a footer), or None.

    Under `MIN_SHINGLES` nearly every shingle has a bin of its own, so the bins count
    the shingles rather than sample them: `b` must lie within `a` (at most a stray
    bin), what `a` adds must be at most what it shares, and the figures of the
    texts must be the same (cabinet stubs differ by their title's day).
    """
    if gt > STRAY_BINS or lt > eq or eq / (eq + lt) * a.size < SHORT_SHARED_MIN:
        return "short"
    x, y = _sampled_numbers(a, b)  # a date only one side has is no figure (as above)
    return None if x == y else "short"


def is_near_duplicate(
    a: Signature, b: Signature, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> bool:
    """Whether `a` and `b` are one release: either is a copy of the other (module docstring).

    Symmetric: a trimmed copy that arrived first and its original that arrives
    later merge as the other way round. A follow-up that quotes an earlier
    release whole is told apart by its date line, when both texts have one.
    """
    return rejection(a, b, thresholds) is None


def _fuller(a: Signature, b: Signature, t: Thresholds, eq: int, lt: int, gt: int) -> bool:
    """Whether `a` has over `added_max` shingles more of its own text than `b`: more than
    any furniture a copy adds, so text `b` lost (`b` is a trimmed copy of `a`)."""
    own_a = lt / (eq + lt) * a.size if eq + lt else 0.0
    own_b = gt / (eq + gt) * b.size if eq + gt else 0.0
    return own_a - own_b > t.added_max


def best_near_duplicate(
    sig: Signature,
    candidates: Sequence[tuple[int, Signature]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> int | None:
    """The id of the most similar verified candidate (lowest id on a tie), or None."""
    found = _best(sig, candidates, thresholds)
    return None if found is None else found[0]


def _best(
    sig: Signature, candidates: Sequence[tuple[int, Signature]], t: Thresholds
) -> tuple[int, bool] | None:
    """(id, whether `sig` is fuller than it) of the most similar verified candidate."""
    best: tuple[float, int, bool] | None = None
    for item_id, other in candidates:
        eq, lt, gt = _compare(sig, other)
        if (
            _copy_rejection(sig, other, t, eq, lt, gt) is None
            or _copy_rejection(other, sig, t, eq, gt, lt) is None
        ):
            key = (eq / (eq + lt + gt) if eq else 0.0, -item_id, _fuller(sig, other, t, eq, lt, gt))
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else (-best[1], best[2])


@dataclass(frozen=True)
class Verdict:
    """`new`, `known` (same URL) or `duplicate` (same content elsewhere) and the stored id.

    `replaces_text`: the duplicate is the fuller text, the stored item a trimmed copy
    that arrived first; the stored item should take this item's title and body
    (without a new alert).
    """

    kind: str
    item_id: int | None = None
    replaces_text: bool = False


def classify(
    item: Item,
    id_by_url: int | None,
    id_by_hash: int | None,
    near_candidates: Sequence[tuple[int, Signature]] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sig: Signature | None = None,
) -> Verdict:
    """Classify an item given what the store holds for its URL, its hash and its band keys.

    `near_candidates` are the stored items sharing a band key with the item's
    signature; without them (the default) only URL and exact hash are used.
    `sig` is the item's signature when the caller already has it.
    """
    if id_by_url is not None:
        return Verdict("known", id_by_url)
    if id_by_hash is not None:
        return Verdict("duplicate", id_by_hash)
    if near_candidates:
        sig = sig or signature(item.title, item.body)
        found = _best(sig, near_candidates, thresholds)
        if found is not None:
            return Verdict("duplicate", found[0], replaces_text=found[1])
    return Verdict("new")
