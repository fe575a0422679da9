"""Decide whether an extracted item is new, already stored, or a copy. Pure.

A government release is republished on several sites (thaigov.go.th, the
ministry's site, asean.dla.go.th with a credit line) with a new title prefix,
extra header or footer lines, re-wrapped paragraphs or a trimmed ending. Such a
copy becomes an "also published at" URL of the stored item. Two different
releases on one subject (weekly reports from one template, daily COVID-19
figures, cabinet summaries, a warning repeated a month later) stay two items.

Heuristics, in order (`classify`):
- Same page: the canonical URL key (`urls.url_key`) is already stored -> `known`.
- Same text: the SHA-256 of the normalised body (`content_hash`: Thai
  normalisation, case, spacing; credit lines such as `ที่มา:รัฐบาลไทย` and blank
  lines removed) equals a stored item's -> `duplicate`.
- Near-duplicate: among the stored items sharing an LSH band key with the item's
  `Signature` (`near_candidates`), the most similar one that passes
  `is_near_duplicate` -> `duplicate` of it. Without candidates (the default)
  only the two rules above apply, as before.

The signature (`signature(title, body)`):
- Text: the normalised body (the title when the body is empty) without credit
  lines, lines without letters (page-view counter, a row of `*`), spacing and
  punctuation, so re-wrapped or re-indented copies give the same stream.
- Shingles: every run of `SHINGLE_CHARS` (8) characters, hashed with CRC-32 of
  its UTF-32 bytes and mixed by a multiplication (CRC-32 alone is linear).
  Stable across processes (never Python's salted `hash`).
- One-permutation MinHash: the mixed hash's low 7 bits choose one of `NUM_BINS`
  (128) bins, each bin keeps the minimum of the high bits (`EMPTY_BIN` when no
  shingle fell in it; bins empty in both texts are left out of the estimate).
  One hash per shingle instead of one per shingle and permutation: 128 classic
  permutations would cost ~15 ms per article in pure Python.
- `size`: the number of distinct shingles, for the containment estimate.
- `numbers`: CRC-32s of the integers in the text (thousands separators dropped,
  `07/10/2562` split into parts, Thai digits already made Arabic), the smallest
  `NUMBERS_KEPT` (64) as a bottom-k sample. The date line counts: skipping it
  merged a trimmed copy of a release repeated daily with a changed date (corpus
  ids 5745 and 5884) and did not help trimmed copies with a new header. Template
  releases (weekly excise seizures, daily COVID-19 reports, cabinet summary
  stubs, a yearly ceremony) share 80-95% of their shingles; their figures differ.
- Serialised by `Signature.to_bytes()` (~0.7 KB: 128 + up to 64 uint32 and a
  header) and `Signature.from_bytes()`.

Verification (`is_near_duplicate`, thresholds in `Thresholds`), all of:
- both texts have at least `MIN_SHINGLES` (150) shingles; shorter ones (title
  only, cabinet summary stubs) are left to the exact hash;
- numbers: at most `NUMBERS_MISSING_MAX` (5%) of one side's sampled numbers are
  absent from the other, in the better direction, so a copy with an added header
  (more numbers) or a trimmed ending (fewer) passes;
- text: estimated Jaccard >= `JACCARD_MIN` (0.9), or estimated containment of
  the smaller shingle set in the larger >= `CONTAINMENT_MIN` (0.95) with a size
  ratio >= `LENGTH_RATIO_MIN` (0.5) when the new item is the smaller (trimmed
  ending), >= `GROWN_RATIO_MIN` (0.8) when it is the larger (extra header or
  footer lines). A much larger new item containing a stored one is a follow-up,
  not a copy (corpus ids 7123 and 7165: a progress report that repeats the
  previous visit's text at twice the length).
The module constants are the defaults of `Thresholds`; config can build one
(keys `min_shingles`, `jaccard_min`, `containment_min`, `length_ratio_min`,
`grown_ratio_min`, `numbers_missing_max`) and pass it to `classify`.
`SHINGLE_CHARS`, `NUM_BINS`, `BAND_ROWS` and `NUMBERS_KEPT` define stored data:
changing them means recomputing every stored signature and band key.

LSH (`band_keys`): 32 bands of 4 minima; two texts share at least one key with
probability 1 - (1 - J**4)**32: 0.9997 at J = 0.8, 0.87 at J = 0.5. Keys are
signed 64-bit ints (blake2b of band number and values) for a SQLite table
`(band_key INTEGER, item_id INTEGER, PRIMARY KEY (band_key, item_id)) WITHOUT
ROWID`; all-empty bands get no key. Look-up: the ids sharing any of the item's
keys, with their stored signatures, are `near_candidates`.

Why hand-written and not datasketch: datasketch needs numpy and scipy (~215 MB,
~470 ms import), 2.2 ms per article at 128 permutations and ~265 MB of index
per 100k items. Measured here (`python3 benchmarks/dedup_quality.py`, 22,242
thaigov articles, shared 2-core machine, CPU time, medians of 5 runs):
- signature ~0.9 ms after `content_hash` of the same text (shared, cached
  normalisation), ~1.2 ms on its own; lookup + verify ~0.11 ms (1.0 candidate
  per lookup on average, 75 at most);
- per 100k items: 32 band rows per item, ~57 MB for the band table and ~63 MB of
  signature BLOBs in SQLite;
- 2,000 articles edited 9 ways, looked up among all 22,242: no false merge;
  missed 0.3-0.9% per single edit (title prefix, credit line, header line added
  or removed, re-wrapping, NBSP/zero-width noise; the misses are texts under
  `MIN_SHINGLES`), 2.7% for all of those at once, 11.6% for a dropped last
  paragraph, 55% for everything at once plus a dropped last paragraph;
- every article against all others: 1,051 merged pairs (the corpus republishes
  ministry releases under a COVID-19 category); 1,004 confirmed by a slower
  independent check, the other 47 read by hand: same-day rewrites of one
  release, and a few grey cases listed below.

Known limits:
- Merged, arguably wrongly: one text re-issued unchanged days or weeks later
  (corpus 13669/14093, 15 days; 26432/27227, a month); a speech merged into
  the same-day report that quotes most of it (25037/25038); short and long
  versions of one event report (10055/10058); a yearly or weekly release
  reused with at most 5% of its figures changed (e.g. only the year, when the
  new year already appears in the old text).
- Kept apart by `JACCARD_MIN` 0.9 only: roadshow releases reused per city with
  no figure changed (corpus 14680/15901, 16207/16531 had J ~0.82 and merged
  at 0.8).
- Missed: copies trimmed to under half (ratio rule) or trimmed *and* given
  extra header lines (neither Jaccard nor containment is high enough); copies
  whose figures were re-typed (`1.5 ล้าน` vs `1,500,000`); texts under 150
  characters; rewritten or translated copies; about 13% of pairs at Jaccard 0.5
  are never proposed by LSH.
- The estimates are noisy (standard error ~0.035 at J = 0.8 with 128 bins), so
  pairs right at a threshold go either way.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from monitor.models import Item
from monitor.thai import normalize_text

# Data-defining constants: stored signatures and band keys depend on them.
SHINGLE_CHARS = 8
NUM_BINS = 128
BAND_ROWS = 4
NUMBERS_KEPT = 64
EMPTY_BIN = 0xFFFFFFFF

# Verification thresholds (defaults of `Thresholds`): safe to change at any time.
MIN_SHINGLES = 150
JACCARD_MIN = 0.9
CONTAINMENT_MIN = 0.95
LENGTH_RATIO_MIN = 0.5
GROWN_RATIO_MIN = 0.8
NUMBERS_MISSING_MAX = 0.05

_CREDIT_LINE = re.compile(r"^(ที่มา|แหล่งที่มา|source)\s*[:：]", re.IGNORECASE)
# Spacing and punctuation move freely between copies of one text.
_NOT_TEXT = re.compile(r"[\s\"'“”‘’«».,:;!?()\[\]{}*\-–—/\\|<>_=+#~`…•·]+")
# A line with no letters: the page-view counter, a row of `*`, a bare number.
_NO_LETTERS = re.compile(r"^[\W\d_]*$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_DIGITS = re.compile(r"\d+")
_MIX = 0x9E3779B1  # odd 32-bit constant (golden ratio): spreads CRC-32's bits
_MASK32 = 0xFFFFFFFF
_BIN_BITS = NUM_BINS.bit_length() - 1
_HEADER = struct.Struct("<BHHI")  # format version, bins, numbers, size
_VERSION = 1


@dataclass(frozen=True)
class Thresholds:
    """Verification thresholds; config may build one (`[dedup]` keys of the same names)."""

    min_shingles: int = MIN_SHINGLES
    jaccard_min: float = JACCARD_MIN
    containment_min: float = CONTAINMENT_MIN
    length_ratio_min: float = LENGTH_RATIO_MIN
    grown_ratio_min: float = GROWN_RATIO_MIN
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


def content_hash(title: str, body: str) -> str:
    """Hash of the normalised body (title when the body is empty)."""
    lines = _normalised_lines(body or title)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Signature:
    """An item's text in a few hundred bytes: MinHash minima, set size, number hashes."""

    mins: tuple[int, ...]
    size: int
    numbers: tuple[int, ...] = ()

    def to_bytes(self) -> bytes:
        """Pack for a SQLite BLOB (4 bytes per value, ~0.6 KB for an article)."""
        header = _HEADER.pack(_VERSION, len(self.mins), len(self.numbers), self.size)
        values = self.mins + self.numbers
        return header + struct.pack(f"<{len(values)}I", *values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Unpack what `to_bytes` made; ValueError on anything else."""
        try:
            version, bins, count, size = _HEADER.unpack_from(data)
            values = struct.unpack_from(f"<{bins + count}I", data, _HEADER.size)
        except struct.error as exc:
            raise ValueError(f"not a dedup signature: {exc}") from None
        if version != _VERSION or len(data) != _HEADER.size + 4 * (bins + count):
            raise ValueError(f"not a version {_VERSION} dedup signature")
        return cls(values[:bins], size, values[bins:])


def _kept_lines(title: str, body: str) -> list[str]:
    return [line for line in _normalised_lines(body or title) if not _NO_LETTERS.match(line)]


def shingle_text(title: str, body: str) -> str:
    """The character stream that is shingled (for inspection and tests)."""
    return _NOT_TEXT.sub("", "".join(_kept_lines(title, body)))


def _numbers(lines: list[str]) -> tuple[int, ...]:
    """Hashes of the distinct integers in the text, smallest `NUMBERS_KEPT` (a bottom-k sample)."""
    values = {int(n) for n in _DIGITS.findall(_THOUSANDS.sub("", "\n".join(lines)))}
    return tuple(sorted(zlib.crc32(str(n).encode()) for n in values)[:NUMBERS_KEPT])


def signature(title: str, body: str) -> Signature:
    """Sign the normalised body (the title when the body is empty)."""
    lines = _kept_lines(title, body)
    text = _NOT_TEXT.sub("", "".join(lines))
    data = text.encode("utf-32-le")
    width = 4 * SHINGLE_CHARS
    shingles = {data[i : i + width] for i in range(0, max(len(data) - width, 0) + 1, 4)}
    shingles.discard(b"")
    mins = [EMPTY_BIN] * NUM_BINS
    low = NUM_BINS - 1
    for crc in map(zlib.crc32, shingles):
        mixed = (crc * _MIX) & _MASK32
        value = mixed >> _BIN_BITS
        if value < mins[mixed & low]:
            mins[mixed & low] = value
    return Signature(tuple(mins), len(shingles), _numbers(lines))


def band_keys(sig: Signature) -> list[int]:
    """LSH keys to index and look up: one signed 64-bit int per non-empty band."""
    keys = []
    for start in range(0, len(sig.mins), BAND_ROWS):
        band = sig.mins[start : start + BAND_ROWS]
        if all(v == EMPTY_BIN for v in band):
            continue  # short texts: all-empty bands would collide with each other
        packed = struct.pack(f"<H{len(band)}I", start, *band)
        digest = hashlib.blake2b(packed, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets (bins empty in both skipped)."""
    same = used = 0
    for x, y in zip(a.mins, b.mins, strict=True):
        if x != y:
            used += 1
        elif x != EMPTY_BIN:
            used += 1
            same += 1
    return same / used if used else 0.0


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller shingle set that lies in the larger."""
    smaller = min(a.size, b.size)
    if not smaller:
        return 0.0
    j = similarity(a, b)
    return min(1.0, j / (1 + j) * (a.size + b.size) / smaller)


def numbers_missing(a: Signature, b: Signature) -> float:
    """Share of one side's numbers absent from the other, in the direction where it is lower."""
    x, y = set(a.numbers), set(b.numbers)
    full = [s for s in (a.numbers, b.numbers) if len(s) >= NUMBERS_KEPT]
    if full:  # bottom-k samples: compare only hashes both samples are complete up to
        limit = min(s[-1] for s in full)
        x = {v for v in x if v <= limit}
        y = {v for v in y if v <= limit}
    if not x or not y:
        return 0.0
    return min(len(x - y) / len(x), len(y - x) / len(y))


def is_near_duplicate(
    a: Signature, b: Signature, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> bool:
    """Whether the new item `a` is a copy of the stored item `b` (rules: module docstring).

    Symmetric except for the containment rule: a smaller `a` (trimmed copy) may
    be half of `b`, a larger `a` (extra header lines) only `GROWN_RATIO_MIN`
    bigger, so a newer follow-up that quotes `b` whole is not a copy.
    """
    t = thresholds
    if min(a.size, b.size) < t.min_shingles:
        return False
    if numbers_missing(a, b) > t.numbers_missing_max:
        return False
    if similarity(a, b) >= t.jaccard_min:
        return True
    # A larger new item may only add a few header or footer lines.
    floor = t.length_ratio_min if a.size <= b.size else t.grown_ratio_min
    ratio = min(a.size, b.size) / max(a.size, b.size)
    return ratio >= floor and containment(a, b) >= t.containment_min


def best_near_duplicate(
    sig: Signature,
    candidates: Sequence[tuple[int, Signature]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> int | None:
    """The id of the most similar verified candidate (lowest id on a tie), or None."""
    best: tuple[float, int] | None = None
    for item_id, other in candidates:
        if is_near_duplicate(sig, other, thresholds):
            key = (similarity(sig, other), -item_id)
            if best is None or key > best:
                best = key
    return None if best is None else -best[1]


@dataclass(frozen=True)
class Verdict:
    """`new`, `known` (same URL) or `duplicate` (same content elsewhere) and the stored id."""

    kind: str
    item_id: int | None = None


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
        found = best_near_duplicate(sig, near_candidates, thresholds)
        if found is not None:
            return Verdict("duplicate", found)
    return Verdict("new")
