"""Decide which topics an item is about, and say why. Pure functions of (item, rules).

Method:
1. Normalise title and body (`thai.normalize_text`): NFC, zero-width characters,
   odd spaces, Thai tone-mark order, Thai digits, Latin case. Snippets are cut from
   the original text (same offsets when normalisation kept the length, else from
   the normalised text).
2. Find candidate hits of every term of every topic in one Aho-Corasick scan.
3. Verify each candidate: a Thai term must start and end on a `newmm` word
   boundary, computed on a window of +-40 characters around the hit only (not the
   whole article); a Latin term must not touch a Latin letter or digit on either
   side (`ASEAN-Japan` counts, `concert` does not contain `CERT`). A term written
   `word*` may continue after its end (`cyber*` matches `cybersecurity`); a term
   written `*word*` matches anywhere. A Thai ignore phrase needs only the end
   boundary (newmm glues `เจาะตลาด|อาเซียน`). The segmenter (`thai.word_boundaries`)
   uses pythainlp's dictionary plus the few loanwords it cannot segment
   (`thai.EXTRA_WORDS`), the same dictionary as the search index.
   Candidates that usually change nothing are verified last, only where they can
   count: sides of co-occurrence terms when the other side is near, negative
   terms when the topic has a positive hit (most articles say "online" without
   a scam word; verifying costs a segmentation).
4. Drop hits inside an `ignore` phrase of the topic (`ภูมิภาคอาเซียน` is geography),
   and nested hits: where a longer term of the same topic covers a shorter one
   (`ความมั่นคงปลอดภัยไซเบอร์` covers `ไซเบอร์`), only the longest counts; of two
   overlapping hits the one starting first (then the longer) counts. A
   co-occurrence term `a|b ~ c|d` hits where a side-one word and a side-two word
   are at most `NEAR_CHARS` apart (either order): the span between them is one
   hit, overlapping spans merge, and it does not hide the ordinary terms inside it.
5. Score, per topic (all numbers are per-term weights from the config):
   - each distinct term adds `weight * field factor` of its best place
     (title 3, lead = first 500 body characters 1.5, rest of the body 1);
   - repetition adds `weight * 0.5 * log2(count)`;
   - body hits count fully only where they cluster: the body part of the score
     uses the `CLUSTER_CHARS` window with the most positive weight (a paragraph or
     agenda item); hits outside that window add `weight * 0.5 * log2(count)` only.
     So one word in a 20-page speech stays low, while a cabinet summary with an
     ASEAN agenda item (a cluster of hits) can pass;
   - a negative weight is counter-evidence: it counts like a positive term but
     once, without the repetition part (fake news in the title of a
     technology-crime police release).
   - a body hit that is one item of an enumeration counts `LIST_FACTOR` of its place
     factor: a short bullet line next to another, `LIST_SEPARATORS` separators (commas,
     numbered items, เช่น/ได้แก่/อาทิ, และ/หรือ between spaces) or, in Thai, which
     separates items with spaces, `LIST_SHORT_CHUNKS` short space-separated chunks
     within `LIST_CHARS` on its line, or `LIST_NOUN_PHRASES` chunks that start with
     การ/ความ/ด้าน; ฯลฯ/เป็นต้น (and so on) decide alone;
     Topic words within LIST_CHARS of each other on one enumeration are one item
     ("ความมั่นคงทางไซเบอร์ ภัยไซเบอร์" among a summit's challenges): only the
     strongest counts its place factor (`_same_item`);
   - a co-occurrence term found in the body whose words the title names counts in
     the title: the title says what the article is about (a warning against
     scammers), the body how (they telephone and ask for an account number);
   - a body hit singled out by โดยเฉพาะ/especially just before it ("cooperation, in
     particular on cybersecurity": the area one side asks for) counts
     `EMPHASIS_FACTOR` times its place factor, and is never a list item;
   - the share of the article about the topic: the strongest term adds
     `weight * SHARE_FACTOR * share`, share = the part of the body's text within
     `SHARE_CHARS` of a positive hit. A short release about the topic scores
     more than the same words as one paragraph of a long speech;
   - counter-evidence covers what it contains: a negative phrase (or co-occurrence,
     `โอกาส* ~ ประธานอาเซียน`, the chairmanship as the occasion of a visit) replaces
     the positive terms inside it, so it only decides where nothing else supports
     the topic.
   `explain` gives each term's factor (what it added divided by its weight), the
   features `monitor tune` fits weights on.
   A veto phrase anywhere forces no match; `require_any` needs one of its terms;
   each `require_all` group needs one of its terms.
6. Two tiers: a score at or above the topic's threshold matches (alerts); one from
   its `related_threshold` up is "related" (stored, searchable, digests only).

Known false positives: courtesy calls that thank Thailand for its ASEAN chairmanship
in one sentence (`ประธานอาเซียน` is a strong term; only "on the occasion of" is
counter-evidence, support for the chairmanship is labelled ASEAN 1 as often as 0);
lists the enumeration test misses (items in long clauses); articles whose title names a
topic only as part of an event or company name (`CEBIT ASEAN`, a business council);
summit reports that list cybersecurity as one bullet among many challenges (two
strong terms in one sentence); online-scam warnings mentioned in passing in a
long release. Known misses: a topic in a single sentence of an article about
something else (one strong term in the body scores its weight, below the
threshold), and attacks described without any topic vocabulary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import ahocorasick

from monitor.models import Match, TermHit, TopicResult
from monitor.thai import normalize_text, word_boundaries

LEAD_CHARS = 500
WINDOW_CHARS = 40
SNIPPET_CHARS = 60
CLUSTER_CHARS = 1500
NEAR_CHARS = 60  # most characters between the two sides of an `a ~ b` term
FIELD_FACTORS = {"title": 3.0, "lead": 1.5, "body": 1.0}
REPEAT_FACTOR = 0.5
SHARE_FACTOR = 1.0  # bonus factor of the strongest term when the whole article is on topic
SHARE_CHARS = 300  # text either side of a hit that counts as about the topic
LIST_FACTOR = 0.5  # a body hit inside an enumeration counts half its place factor
LIST_CHARS = 100  # characters either side of a hit looked at for list separators
LIST_SEPARATORS = 3  # this many separators near a hit make it one item of a list
# Thai writes the items of a list apart with spaces: many short space-separated
# chunks near a hit are a list ("เช่น แนวคิดสุดโต่ง การก่อการร้าย ความมั่นคงทางไซเบอร์"),
# where prose has a space between clauses of 30-100 characters.
LIST_SHORT_CHUNKS = 6
LIST_NOUN_PHRASES = 3  # chunks starting with การ/ความ/ด้าน (nominalised items)
_NOUN_PHRASE = ("การ", "ความ", "ด้าน")
SHORT_CHUNK_CHARS = 25
# Separators of list items: commas, slashes, semicolons, numbered items (1) (2) ...),
# quoted names in a row, and the words that introduce or join the items of a list.
_LIST_SEPARATOR = re.compile(
    r"[,、;/]|(?<![\d.])\(?\d{1,2}\)|”\s*“|\s(?:และ|หรือ|ตลอดจน|รวมทั้ง|รวมถึง|and|or)\s"
    r"|ได้แก่|อาทิ|เช่น|ประกอบด้วย|ไม่ว่าจะเป็น|เป็นต้น|ฯลฯ|such as|including|etc\.|\d{1,2}\.\)"
)
# A word that introduces a list counts two separators; one that closes it ("and so on")
# is only ever written after a list, and decides alone.
_LIST_WORD_COUNTS = {"ได้แก่": 2, "อาทิ": 2, "เช่น": 2, "ประกอบด้วย": 2, "ไม่ว่าจะเป็น": 2,
                     "such as": 2, "including": 2, "เป็นต้น": 3, "ฯลฯ": 3, "etc.": 3}  # fmt: skip
# A list item singled out ("in particular cybersecurity") is the stated subject.
_EMPHASIS = re.compile(r"โดยเฉพาะ|โดยเน้น|เน้น|especially|in particular|particularly")
EMPHASIS_CHARS = 40
EMPHASIS_FACTOR = 1.5  # "in particular cybersecurity": the area one side asks for
# A bullet or numbered line; a run of short ones is a list of many items.
_BULLET = re.compile(r"\s*(?:[-•●▪○◦๐*➢]|\(?\d{1,2}[.)]|\(?[ก-ฮ][.)])")
BULLET_LINE_CHARS = 200
_LATIN_WORD = re.compile(r"[a-z0-9]")
_HAS_THAI = re.compile(r"[\u0e00-\u0e7f]")


@dataclass(frozen=True)
class Term:
    """One searchable term; `text` is normalised and has no `*` markers.

    A co-occurrence term (`a|b ~ c|d`) has no text of its own to search: `near`
    holds its two sides, each a tuple of alternative terms.
    """

    text: str
    weight: float
    prefix: bool = False
    substring: bool = False
    near: tuple[tuple[Term, ...], ...] = ()

    @property
    def thai(self) -> bool:
        return bool(_HAS_THAI.search(self.text))

    @classmethod
    def parse(cls, raw: str, weight: float) -> Term:
        """Read `word`, `word*` (prefix), `*word*` (substring) or `a|b ~ c|d` syntax."""
        if "~" in raw:
            sides = tuple(
                tuple(cls.parse(alt, weight) for alt in side.split("|") if alt.strip("* "))
                for side in raw.split("~")
            )
            if len(sides) != 2 or not all(sides):
                raise ValueError(f"{raw!r}: a co-occurrence term is 'a|b ~ c|d'")
            text = " ~ ".join("|".join(t.text + "*" * t.prefix for t in side) for side in sides)
            return cls(text, weight, near=sides)
        raw = raw.strip()
        substring = raw.startswith("*") and raw.endswith("*") and len(raw) > 2
        prefix = raw.endswith("*") and not substring
        return cls(normalize_text(raw.strip("*").strip()), weight, prefix, substring)


@dataclass(frozen=True)
class Topic:
    """A topic: weighted terms, a threshold and optional any/all/none conditions."""

    name: str
    label: str
    threshold: float
    terms: tuple[Term, ...]
    related_threshold: float | None = None  # None: no related tier
    ignore: tuple[str, ...] = ()
    veto: tuple[str, ...] = ()
    require_any: tuple[str, ...] = ()  # normalised term texts
    require_all: tuple[tuple[str, ...], ...] = ()  # groups of normalised term texts


@dataclass(frozen=True)
class Rules:
    """All topics, compiled once into one automaton."""

    topics: tuple[Topic, ...]

    # Cached on the instance: looking it up by the topics tuple hashed every term of
    # every topic on each article (a tenth of the matching time with ~200 terms).
    @cached_property
    def automaton(self) -> ahocorasick.Automaton:
        return _compile(self.topics)


def _compile(topics: tuple[Topic, ...]) -> ahocorasick.Automaton:
    """Build one automaton over terms, ignore and veto phrases of every topic."""
    patterns: dict[str, list[tuple[str, str, Term | None]]] = {}
    for topic in topics:
        for term in topic.terms:
            if not term.near:
                patterns.setdefault(term.text, []).append((topic.name, "term", term))
            for part in {p for side in term.near for p in side}:
                uses = patterns.setdefault(part.text, [])
                if (topic.name, "part", part) not in uses:
                    uses.append((topic.name, "part", part))
        for phrase in topic.ignore:
            patterns.setdefault(normalize_text(phrase), []).append((topic.name, "ignore", None))
        for phrase in topic.veto:
            patterns.setdefault(normalize_text(phrase), []).append((topic.name, "veto", None))
    automaton = ahocorasick.Automaton()
    for text, uses in patterns.items():
        if text:
            automaton.add_word(text, (text, tuple(uses)))
    automaton.make_automaton()
    return automaton


def _is_latin_word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and bool(_LATIN_WORD.match(text[index]))


class _Boundaries:
    """Word boundaries of a text, computed lazily per window around a hit."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._cache: dict[int, set[int]] = {}

    def at(self, index: int) -> bool:
        if index in (0, len(self.text)) or self.text[index - 1] == " " or self.text[index] == " ":
            return True
        window = index // WINDOW_CHARS
        if window not in self._cache:
            start = self._widen_left(window * WINDOW_CHARS - WINDOW_CHARS)
            end = self._widen_right(window * WINDOW_CHARS + 2 * WINDOW_CHARS)
            self._cache[window] = {start + b for b in word_boundaries(self.text[start:end])}
        return index in self._cache[window]

    # The segmenter must not start or stop inside a word: move a window edge to
    # the nearest space within WINDOW_CHARS, else keep it (long unspaced runs).
    def _widen_left(self, start: int) -> int:
        if start <= 0:
            return 0
        space = self.text.rfind(" ", max(0, start - WINDOW_CHARS), start)
        return space + 1 if space != -1 else start

    def _widen_right(self, end: int) -> int:
        if end >= len(self.text):
            return len(self.text)
        space = self.text.find(" ", end, end + WINDOW_CHARS)
        return space if space != -1 else end


def _verified(
    term: Term | None, text: str, start: int, end: int, bounds: _Boundaries, kind: str = "term"
) -> bool:
    """Check that a hit at text[start:end] is a whole word (or allowed partial).

    A Thai ignore phrase may begin inside a word: newmm glues the word before a
    place name to it (เจาะตลาด|อาเซียน), and the phrase must still neutralise it."""
    if term is not None and term.substring:
        return True
    prefix_ok = term is not None and term.prefix
    is_thai = term.thai if term is not None else bool(_HAS_THAI.search(text[start:end]))
    if is_thai:
        return (kind == "ignore" or bounds.at(start)) and (prefix_ok or bounds.at(end))
    before = not _is_latin_word_char(text, start - 1)
    after = prefix_ok or not _is_latin_word_char(text, end)
    return before and after


def _snippet(text: str, start: int, end: int) -> str:
    left = max(0, start - SNIPPET_CHARS)
    right = min(len(text), end + SNIPPET_CHARS)
    core = " ".join(text[left:right].split())
    return ("…" if left else "") + core + ("…" if right < len(text) else "")


@dataclass
class _Found:
    """Hits of one field, grouped by topic and kind. Co-occurrence parts and
    negative-weight terms are kept unverified (`pending`): most articles have them
    without anything they could change, and verifying costs a segmentation."""

    text: str
    bounds: _Boundaries
    terms: dict[str, list[tuple[int, int, Term]]]
    pending: dict[str, list[tuple[int, int, Term]]]
    negative: dict[str, list[tuple[int, int, Term]]]
    ignored: dict[str, list[tuple[int, int]]]
    vetoes: dict[str, str]

    def verified(self, hits: list[tuple[int, int, Term]]) -> list[tuple[int, int, Term]]:
        return [h for h in hits if _verified(h[2], self.text, h[0], h[1], self.bounds)]


def _scan(text: str, automaton: ahocorasick.Automaton) -> _Found:
    found = _Found(text, _Boundaries(text), {}, {}, {}, {}, {})
    if not text or len(automaton) == 0:
        return found
    for last, (pattern, uses) in automaton.iter(text):
        start, end = last - len(pattern) + 1, last + 1
        for topic, kind, term in uses:
            if term is not None and kind == "part":
                found.pending.setdefault(topic, []).append((start, end, term))
            elif term is not None and term.weight < 0:
                found.negative.setdefault(topic, []).append((start, end, term))
            elif not _verified(term, text, start, end, found.bounds, kind):
                continue
            elif kind == "term" and term is not None:
                found.terms.setdefault(topic, []).append((start, end, term))
            elif kind == "ignore":
                found.ignored.setdefault(topic, []).append((start, end))
            else:
                found.vetoes.setdefault(topic, pattern)
    return found


def _outside(
    hits: list[tuple[int, int, Term]], ignored: list[tuple[int, int]]
) -> list[tuple[int, int, Term]]:
    """The hits that are not inside an ignore phrase."""
    return [h for h in hits if not any(m0 <= h[0] and h[1] <= m1 for m0, m1 in ignored)]


def _kept(
    hits: list[tuple[int, int, Term]], ignored: list[tuple[int, int]]
) -> list[tuple[int, int, Term]]:
    """Drop hits inside an ignore phrase, and hits that a longer (or earlier) hit covers or
    overlaps: ความมั่นคงปลอดภัยไซเบอร์แห่งชาติ counts once, not also as ไซเบอร์แห่งชาติ."""
    hits = _outside(hits, ignored)
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    kept: list[tuple[int, int, Term]] = []
    reach = -1  # furthest end of the hits kept so far
    for hit in hits:
        if hit[0] < reach:
            continue  # inside or overlapping an earlier (or equal and longer) hit
        kept.append(hit)
        reach = max(reach, hit[1])
    return kept


@dataclass(frozen=True)
class _Hit:
    term: Term
    field: str  # title | body
    start: int
    end: int
    listed: bool = False  # one item of an enumeration (body only)
    singled: bool = False  # singled out by an emphasis word just before it (body only)

    @property
    def place(self) -> str:
        if self.field == "title":
            return "title"
        return "lead" if self.start < LEAD_CHARS else "body"


def _gap(a: tuple[int, int, Term], b: tuple[int, int, Term]) -> int | None:
    """Characters between two hits that do not overlap, or None."""
    if a[1] <= b[0] or b[1] <= a[0]:
        return max(a[0], b[0]) - min(a[1], b[1])
    return None


def _is_near(a: tuple[int, int, Term], b: tuple[int, int, Term]) -> bool:
    gap = _gap(a, b)
    return gap is not None and gap <= NEAR_CHARS


def _near_hits(
    term: Term, parts: list[tuple[int, int, Term]], found: _Found, ignored: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Spans where a word of one side of `term` is within NEAR_CHARS characters of a
    word of the other side (either order). Only words with a partner near are
    verified. Overlapping spans merge, so a sentence repeating the words counts once."""
    one = [h for h in parts if h[2] in term.near[0]]
    two = [h for h in parts if h[2] in term.near[1]]
    one, two = (
        [h for h in one if any(_is_near(h, o) for o in two)],
        [h for h in two if any(_is_near(h, o) for o in one)],
    )
    one, two = (_outside(found.verified(side), ignored) for side in (one, two))
    spans: list[tuple[int, int]] = []
    for hit in sorted(one, key=lambda h: h[:2]):
        near = [(_gap(hit, o), o) for o in two if _is_near(hit, o)]
        if not near:
            continue
        other = min(near, key=lambda n: n[0] or 0)[1]
        start, end = min(hit[0], other[0]), max(hit[1], other[1])
        if spans and start < spans[-1][1]:
            spans[-1] = (min(start, spans[-1][0]), max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _singled(text: str, start: int) -> bool:
    """Whether an emphasis word (โดยเฉพาะ, especially) comes just before `start` on its line."""
    line_start = text.rfind("\n", 0, start) + 1
    return bool(_EMPHASIS.search(text, max(line_start, start - EMPHASIS_CHARS), start))


def _listed(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is one item of an enumeration: a short bullet line next to
    another bullet line, or LIST_SEPARATORS list separators within LIST_CHARS on its line."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if line_end - line_start <= BULLET_LINE_CHARS and _BULLET.match(text, line_start):
        before = text.rfind("\n", 0, max(0, line_start - 1)) + 1
        after = line_end + 1
        if (line_start and _BULLET.match(text, before)) or (
            after < len(text) and _BULLET.match(text, after)
        ):
            return True
    window_start, window_end = max(line_start, start - LIST_CHARS), min(line_end, end + LIST_CHARS)
    chunks = text[window_start:window_end].split()[1:-1]  # the outer two may be cut
    # Only Thai chunks: English puts a space between all words. ๆ (repeat the word
    # before) is written apart but is no item: ต่าง ๆ
    short = [c for c in chunks if len(c) <= SHORT_CHUNK_CHARS and c != "ๆ" and _HAS_THAI.search(c)]
    if len(short) >= LIST_SHORT_CHUNKS:
        return True
    # noun phrases in a row, each its own chunk: "การป้องกันภัย... อาชญากรรมข้ามชาติ และ..."
    if sum(1 for c in chunks if c.startswith(_NOUN_PHRASE)) >= LIST_NOUN_PHRASES:
        return True
    separators = _LIST_SEPARATOR.finditer(text, window_start, window_end)
    counts = (
        _LIST_WORD_COUNTS.get(m.group().strip(), 1)
        for m in separators
        if m.start() < start or m.start() >= end
    )
    return sum(counts) >= LIST_SEPARATORS


def _topic_hits(topic: Topic, fields: dict[str, tuple[str, _Found]]) -> list[_Hit]:
    """Kept hits of a topic. Pending hits are verified only where they can count:
    co-occurrence words with a partner near, negative terms when a positive hit exists."""
    hits: list[_Hit] = []
    negative: list[tuple[str, tuple[int, int, Term]]] = []
    for field, (_, found) in fields.items():
        ignored = found.ignored.get(topic.name, [])
        kept = _kept(found.terms.get(topic.name, []), ignored)
        hits.extend(_Hit(term, field, s, e) for s, e, term in kept)
        pending = found.pending.get(topic.name, [])
        negative.extend((field, h) for h in found.negative.get(topic.name, []))
        for term in [t for t in topic.terms if t.near] if pending else ():
            spans = _near_hits(term, pending, found, ignored)
            hits.extend(_Hit(term, field, s, e) for s, e in spans)
    hits.extend(_titled(topic, hits, fields["title"][1]))
    if not any(h.term.weight > 0 for h in hits):
        return []
    for field, hit in negative:
        found = fields[field][1]
        for s, e, term in _kept(found.verified([hit]), found.ignored.get(topic.name, [])):
            hits.append(_Hit(term, field, s, e))
    # Counter-evidence covers what it contains: in "ในโอกาสที่ไทยเป็นประธานอาเซียน" the
    # chairmanship is the occasion of the visit, and only the occasion counts.
    counter = [h for h in hits if h.term.weight < 0]
    body = fields["body"][0]
    return [
        _placed(h, body) if h.field == "body" and h.term.weight > 0 else h
        for h in hits
        if h.term.weight < 0
        or not any(c.field == h.field and c.start <= h.start and h.end <= c.end for c in counter)
    ]


def _titled(topic: Topic, hits: list[_Hit], title: _Found) -> list[_Hit]:
    """A co-occurrence found in the body whose words the title names (either side): the
    title says what the article is about ("a warning against scammers"), the body how
    ("they call and ask for your account number"). It counts in the title."""
    found = {h.term for h in hits if h.term.near}
    in_title = {h.term for h in hits if h.field == "title"}
    parts = title.pending.get(topic.name, [])
    titled = []
    for term in found - in_title if parts else ():
        words = [p for p in parts if any(p[2] in side for side in term.near)]
        named = _outside(title.verified(words), title.ignored.get(topic.name, []))
        if named:
            titled.append(_Hit(term, "title", named[0][0], named[0][1]))
    return titled


def _placed(hit: _Hit, body: str) -> _Hit:
    """A body hit with its place in the sentence: singled out, else maybe a list item."""
    if _singled(body, hit.start):
        return _Hit(hit.term, hit.field, hit.start, hit.end, singled=True)
    if _listed(body, hit.start, hit.end):
        return _Hit(hit.term, hit.field, hit.start, hit.end, listed=True)
    return hit


def _densest(hits: list[_Hit]) -> set[int]:
    """Indexes of the body hits in the CLUSTER_CHARS window with the most positive weight,
    plus the negative-weight hits inside that window (they cannot steer its choice)."""
    body = sorted((h.start, i, h.term.weight) for i, h in enumerate(hits) if h.place == "body")
    positive = [b for b in body if b[2] > 0]
    best: tuple[float, int, int] = (0.0, 0, 0)
    left = 0
    total = 0.0
    for right, (start, _, weight) in enumerate(positive):
        total += weight
        while start - positive[left][0] > CLUSTER_CHARS:
            total -= positive[left][2]
            left += 1
        if total > best[0]:
            best = (total, left, right + 1)
    if not best[0]:
        return set()
    first, last = positive[best[1]][0], positive[best[2] - 1][0]
    return {i for start, i, _ in body if first <= start <= last}


def _same_item(hits: list[_Hit]) -> set[int]:
    """Indexes of listed body hits that share their list item with a stronger hit of the
    topic: hits within LIST_CHARS of each other on one enumeration are one item
    ("ความมั่นคงทางไซเบอร์ ภัยไซเบอร์" among a summit's challenges), which counts once."""
    listed = sorted((h.start, i) for i, h in enumerate(hits) if h.listed and h.term.weight > 0)
    groups: list[list[int]] = []
    reach = -1
    for start, i in listed:
        if groups and start - reach <= LIST_CHARS:
            groups[-1].append(i)
        else:
            groups.append([i])
        reach = max(reach, hits[i].end)
    weaker: set[int] = set()
    for group in groups:
        strongest = max(group, key=lambda i: hits[i].term.weight)
        weaker.update(i for i in group if i != strongest)
    return weaker


def _factor(hit: _Hit) -> float:
    if hit.singled:
        return FIELD_FACTORS[hit.place] * EMPHASIS_FACTOR
    return FIELD_FACTORS[hit.place] * (LIST_FACTOR if hit.listed else 1.0)


def _share(hits: list[_Hit], body: str) -> float:
    """The share of the body's text within SHARE_CHARS of a positive hit of the topic
    (a paragraph around each mention; not lines: some releases have no line breaks)."""
    spans = sorted(
        (max(0, h.start - SHARE_CHARS), min(len(body), h.end + SHARE_CHARS))
        for h in hits
        if h.field == "body" and h.term.weight > 0
    )
    covered, reach = 0, 0
    for start, end in spans:
        covered += max(0, end - max(start, reach))
        reach = max(reach, end)
    return covered / len(body) if body else 0.0


def _score(hits: list[_Hit], body: str = "") -> tuple[float, dict[str, tuple[_Hit, int, float]]]:
    """Score of a topic's hits, and per term: its best hit, its count and its factor
    (what the term adds is its weight times its factor). The strongest term also gets
    SHARE_FACTOR times the share of the article about the topic."""
    cluster = _densest(hits) - _same_item(hits)
    by_term: dict[str, list[tuple[int, _Hit]]] = {}
    for i, hit in enumerate(hits):
        by_term.setdefault(hit.term.text, []).append((i, hit))
    score = 0.0
    shown: dict[str, tuple[_Hit, int, float]] = {}
    for text, items in by_term.items():
        weight = items[0][1].term.weight
        # Counter-evidence counts once, at its best place: it says the article has
        # another subject, and saying so again does not make that subject ours less.
        repeat = REPEAT_FACTOR * math.log2(len(items)) if weight > 0 else 0.0
        counted = [h for i, h in items if h.place != "body" or i in cluster]
        if counted:
            best = max(counted, key=_factor)
            factor = _factor(best) + repeat
        else:
            best = items[0][1]
            factor = repeat
        score += weight * factor
        shown[text] = (best, len(items), factor)
    share = min(1.0, _share(hits, body)) if SHARE_FACTOR and shown else 0.0
    if share:
        text = max(shown, key=lambda t: shown[t][0].term.weight)
        best, count, factor = shown[text]
        if best.term.weight > 0:
            score += best.term.weight * SHARE_FACTOR * share
            shown[text] = (best, count, factor + SHARE_FACTOR * share)
    return score, shown


def _original_snippet(raw: str, norm: str, hit: _Hit) -> str:
    """Snippet in the original case when normalisation kept offsets, else normalised."""
    if (
        len(raw) == len(norm)
        and normalize_text(raw[hit.start : hit.end]) == norm[hit.start : hit.end]
    ):
        return _snippet(raw, hit.start, hit.end)
    return _snippet(norm, hit.start, hit.end)


def _judge(
    topic: Topic, fields: dict[str, tuple[str, _Found]], raws: dict[str, str]
) -> TopicResult:
    hits = _topic_hits(topic, fields)
    score, shown = _score(hits, fields["body"][0])
    term_hits = tuple(
        TermHit(
            text,
            best.place,
            count,
            _original_snippet(raws[best.field], fields[best.field][0], best),
        )
        for text, (best, count, _) in shown.items()
    )
    vetoed_by = _vetoed_by(topic, fields)
    allowed = not vetoed_by and _required(topic, set(shown))
    matched = allowed and score >= topic.threshold
    related = (
        allowed
        and not matched
        and topic.related_threshold is not None
        and score >= topic.related_threshold
    )
    return TopicResult(topic.name, round(score, 2), matched, term_hits, vetoed_by, related)


def _vetoed_by(topic: Topic, fields: dict[str, tuple[str, _Found]]) -> str:
    return next((f.vetoes[topic.name] for _, f in fields.values() if topic.name in f.vetoes), "")


def _required(topic: Topic, found: set[str]) -> bool:
    return (not topic.require_any or bool(found & set(topic.require_any))) and all(
        found & set(group) for group in topic.require_all
    )


def match(title: str, body: str, rules: Rules) -> Match:
    """Score every topic of `rules` on one article."""
    automaton = rules.automaton
    fields: dict[str, tuple[str, _Found]] = {}
    raws = {"title": title or "", "body": body or ""}
    for field, raw in raws.items():
        text = normalize_text(raw)
        fields[field] = (text, _scan(text, automaton))
    return Match(tuple(_judge(topic, fields, raws) for topic in rules.topics))


def explain(title: str, body: str, rules: Rules) -> dict[str, dict[str, float]]:
    """Per topic, each term found and its factor: what it added to the score divided by
    its weight. The score is the sum of weight * factor (`monitor tune` fits weights on
    these). The densest passage is chosen with the current weights. A topic that a veto
    phrase or an unmet require condition stops has no terms: no weight can match it."""
    automaton = rules.automaton
    fields: dict[str, tuple[str, _Found]] = {}
    for field, raw in (("title", title or ""), ("body", body or "")):
        text = normalize_text(raw)
        fields[field] = (text, _scan(text, automaton))
    factors = {}
    for topic in rules.topics:
        _, shown = _score(_topic_hits(topic, fields), fields["body"][0])
        blocked = _vetoed_by(topic, fields) or not _required(topic, set(shown))
        factors[topic.name] = {} if blocked else {t: f for t, (_, _, f) in shown.items()}
    return factors
