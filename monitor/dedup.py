"""Decide whether an extracted item is new, already stored, or a copy. Pure.

A government release is republished on several sites (thaigov.go.th, the
ministry's site, asean.dla.go.th with a credit line) with a new title prefix,
extra header or footer lines, re-wrapped paragraphs or a trimmed ending. Such a
copy becomes an "also published at" URL of the stored item. Two different
releases on one subject (weekly reports from one template, daily COVID-19
figures, cabinet summaries) stay two items.

Heuristics, in order:
- Same page: the canonical URL key (`urls.url_key`) is already stored -> `known`.
- Same text: the SHA-256 of the normalised body (`content_hash`: Thai
  normalisation, case, spacing; credit lines such as `ที่มา:รัฐบาลไทย` and blank
  lines removed) equals a stored item's -> `duplicate`.
- Near-duplicate: a stored item found through the LSH band keys of the item's
  `Signature` passes `is_near_duplicate` -> `duplicate` of the most similar one.

The signature (`signature(title, body)`):
- Text: the normalised body (the title when the body is empty) without credit
  lines, lines without letters (page-view counter, a row of `*`), spacing and
  punctuation, so re-wrapped or re-indented copies give the same stream.
- Shingles: every run of `SHINGLE_CHARS` characters; each hashed with CRC-32 of
  its UTF-32 bytes, then mixed by a multiplication (CRC-32 alone is linear).
- One-permutation MinHash: the mixed hash's low bits choose one of `NUM_BINS`
  bins, the minimum of the high bits per bin is kept (an empty bin holds
  `EMPTY_BIN`). One hash per shingle instead of one per shingle and permutation:
  128 classic permutations cost ~15 ms per article in pure Python, this ~1 ms.
- `size`: the number of distinct shingles, for the containment estimate.
- `numbers`: CRC-32s of the integers in the text (thousands separators dropped,
  dates split into parts), the smallest `NUMBERS_KEPT`. Template releases
  (weekly excise seizures, daily COVID-19 reports, cabinet summary stubs) share
  80-95% of their shingles with each other; their figures and dates differ.

Verification (`is_near_duplicate`), all of:
- both texts have at least `MIN_SHINGLES` shingles (short stubs: exact hash only);
- numbers: of the smaller number set, at most `NUMBERS_MISSING_MAX` (a fraction)
  is absent from the other; taken in the better direction, so a copy with an
  added header (more numbers) or a trimmed ending (fewer) passes;
- text: estimated Jaccard >= `JACCARD_MIN`, or estimated containment of the
  smaller text in the larger >= `CONTAINMENT_MIN` with a length ratio (distinct
  shingles) >= `LENGTH_RATIO_MIN` (trimmed ending, added header lines).
The thresholds are module constants a config can override (e.g. through
`dataclasses.replace`-style settings passed by the caller); `SHINGLE_CHARS`,
`NUM_BINS`, `BAND_ROWS` and `NUMBERS_KEPT` define the stored data: changing them
means recomputing every stored signature and band key.

Why hand-written and not datasketch: datasketch needs numpy and scipy (~215 MB,
~470 ms import) and took 2.2 ms per article with 128 permutations; this takes
~1 ms per article on top of the normalisation that `content_hash` already does
(cached and shared between the two), with no new dependency. Figures, measured
on the thaigov corpus by `benchmarks/dedup_quality.py`, are in the docstring of
that script and in docs/design.md.

LSH: `band_keys` cuts the 128 minima into 32 bands of 4; two texts share at
least one key with probability 1 - (1 - J**4)**32: 0.9997 at J = 0.8, 0.87 at
J = 0.5. Keys are signed 64-bit integers (blake2b of band number and values),
for a SQLite table `(band_key INTEGER, item_id INTEGER)` indexed on `band_key`.

Known limits:
- Merged wrongly: a release republished with a corrected figure stays a
  duplicate only if at most 10% of its numbers changed; a stored release fully
  quoted inside a new one that adds less than its own length again (containment
  rule); two releases of one template whose figures happen to be equal.
- Missed: copies trimmed to less than half, or rewritten (a summary, a
  translation); copies whose figures were re-typed (Thai vs Arabic digits are
  equal, `1.5 ล้าน` vs `1,500,000` are not); texts under `MIN_SHINGLES`
  characters (titles only, stubs), which only the exact hash catches; about 13%
  of pairs at Jaccard 0.5 are never proposed by LSH.
- The estimate is noisy (standard error ~0.035 at J = 0.8 with 128 bins), so
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

# Verification thresholds: safe to change without recomputing anything.
MIN_SHINGLES = 150
JACCARD_MIN = 0.8
CONTAINMENT_MIN = 0.9
LENGTH_RATIO_MIN = 0.5
NUMBERS_MISSING_MAX = 0.1

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


def is_near_duplicate(a: Signature, b: Signature) -> bool:
    """Whether `a` and `b` are one release (see the module docstring for the rules)."""
    if min(a.size, b.size) < MIN_SHINGLES:
        return False
    if numbers_missing(a, b) > NUMBERS_MISSING_MAX:
        return False
    if similarity(a, b) >= JACCARD_MIN:
        return True
    ratio = min(a.size, b.size) / max(a.size, b.size)
    return ratio >= LENGTH_RATIO_MIN and containment(a, b) >= CONTAINMENT_MIN


def best_near_duplicate(sig: Signature, candidates: Sequence[tuple[int, Signature]]) -> int | None:
    """The id of the most similar verified candidate (lowest id on a tie), or None."""
    best: tuple[float, int] | None = None
    for item_id, other in candidates:
        if is_near_duplicate(sig, other):
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
) -> Verdict:
    """Classify an item given what the store holds for its URL, its hash and its band keys.

    `near_candidates` are the stored items sharing a band key with the item's
    signature; without them (the default) only URL and exact hash are used.
    """
    if id_by_url is not None:
        return Verdict("known", id_by_url)
    if id_by_hash is not None:
        return Verdict("duplicate", id_by_hash)
    if near_candidates:
        found = best_near_duplicate(signature(item.title, item.body), near_candidates)
        if found is not None:
            return Verdict("duplicate", found)
    return Verdict("new")
