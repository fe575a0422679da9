"""Decide which topics an item is about, and say why. Pure functions of (item, rules).

Method:
1. Normalise title and body (`thai.normalize_text`): NFC, zero-width characters,
   odd spaces, Thai tone-mark order, Thai digits, Latin case.
2. Find candidate hits of every term of every topic in one Aho-Corasick scan.
3. Verify each candidate: a Thai term must start and end on a `newmm` word
   boundary, computed on a window of +-40 characters around the hit only (not the
   whole article); a Latin term must not touch a Latin letter or digit on either
   side (`ASEAN-Japan` counts, `concert` does not contain `CERT`). A term written
   `word*` may continue after its end (`cyber*` matches `cybersecurity`); a term
   written `*word*` matches anywhere.
4. Drop hits inside an `ignore` phrase of the topic (`ปลอดภัยทางถนน` is road safety).
5. Score: each distinct term adds its weight times a field factor (title 3, lead 1.5,
   body 1) plus a small bonus that grows with the log of its count; a veto term
   found anywhere forces no match; `require_any` needs one of its terms.

Known false positives: a long article that mentions a strong term once in its lead
(e.g. a cabinet summary naming the Cybersecurity Act) can pass; topic names used as
geography ("ประเทศในอาเซียน") need an ignore phrase to be discounted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from monitor.models import Match, TermHit, TopicResult
from monitor.thai import normalize_text, word_boundaries

LEAD_CHARS = 500
WINDOW_CHARS = 40
SNIPPET_CHARS = 60
FIELD_FACTORS = {"title": 3.0, "lead": 1.5, "body": 1.0}
_LATIN_WORD = re.compile(r"[a-z0-9]")
_HAS_THAI = re.compile(r"[\u0e00-\u0e7f]")


@dataclass(frozen=True)
class Term:
    """One searchable term; `text` is normalised and has no `*` markers."""

    text: str
    weight: float
    prefix: bool = False
    substring: bool = False

    @property
    def thai(self) -> bool:
        return bool(_HAS_THAI.search(self.text))

    @classmethod
    def parse(cls, raw: str, weight: float) -> Term:
        """Read `word`, `word*` (prefix) or `*word*` (substring) syntax."""
        substring = raw.startswith("*") and raw.endswith("*") and len(raw) > 2
        prefix = raw.endswith("*") and not substring
        return cls(normalize_text(raw.strip("*").strip()), weight, prefix, substring)


@dataclass(frozen=True)
class Topic:
    """A topic: weighted terms, a threshold and optional any/none conditions."""

    name: str
    label: str
    threshold: float
    terms: tuple[Term, ...]
    ignore: tuple[str, ...] = ()
    veto: tuple[str, ...] = ()
    require_any: tuple[str, ...] = ()  # normalised term texts


@dataclass(frozen=True)
class Rules:
    """All topics, compiled once into one automaton."""

    topics: tuple[Topic, ...]

    @property
    def automaton(self) -> ahocorasick.Automaton:
        return _compile(self.topics)


@lru_cache(maxsize=8)
def _compile(topics: tuple[Topic, ...]) -> ahocorasick.Automaton:
    """Build one automaton over terms, ignore and veto phrases of every topic."""
    patterns: dict[str, list[tuple[str, str, Term | None]]] = {}
    for topic in topics:
        for term in topic.terms:
            patterns.setdefault(term.text, []).append((topic.name, "term", term))
        for phrase in topic.ignore:
            patterns.setdefault(normalize_text(phrase), []).append((topic.name, "ignore", None))
        for phrase in topic.veto:
            patterns.setdefault(normalize_text(phrase), []).append((topic.name, "veto", None))
    automaton = ahocorasick.Automaton()
    for text, uses in patterns.items():
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


def _verified(term: Term | None, text: str, start: int, end: int, bounds: _Boundaries) -> bool:
    """Check that a hit at text[start:end] is a whole word (or allowed partial)."""
    if term is not None and term.substring:
        return True
    prefix_ok = term is not None and term.prefix
    is_thai = term.thai if term is not None else bool(_HAS_THAI.search(text[start:end]))
    if is_thai:
        return bounds.at(start) and (prefix_ok or bounds.at(end))
    before = not _is_latin_word_char(text, start - 1)
    after = prefix_ok or not _is_latin_word_char(text, end)
    return before and after


def _snippet(text: str, start: int, end: int) -> str:
    left = max(0, start - SNIPPET_CHARS)
    right = min(len(text), end + SNIPPET_CHARS)
    return ("…" if left else "") + text[left:right].strip() + ("…" if right < len(text) else "")


@dataclass
class _Found:
    """Verified hits of one field, grouped by topic and kind."""

    terms: dict[tuple[str, str], list[tuple[int, int]]]
    ignored: dict[str, list[tuple[int, int]]]
    vetoes: dict[str, str]


def _scan(text: str, automaton: ahocorasick.Automaton) -> _Found:
    found = _Found({}, {}, {})
    if not text or len(automaton) == 0:
        return found
    bounds = _Boundaries(text)
    for last, (pattern, uses) in automaton.iter(text):
        start, end = last - len(pattern) + 1, last + 1
        for topic, kind, term in uses:
            if not _verified(term, text, start, end, bounds):
                continue
            if kind == "term":
                found.terms.setdefault((topic, pattern), []).append((start, end))
            elif kind == "ignore":
                found.ignored.setdefault(topic, []).append((start, end))
            else:
                found.vetoes.setdefault(topic, pattern)
    return found


def _outside(spans: list[tuple[int, int]], masks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [s for s in spans if not any(m0 <= s[0] and s[1] <= m1 for m0, m1 in masks)]


def _field_of(field: str, start: int) -> str:
    if field == "title":
        return "title"
    return "lead" if start < LEAD_CHARS else "body"


def _judge(topic: Topic, fields: dict[str, tuple[str, _Found]]) -> TopicResult:
    hits: list[TermHit] = []
    score = 0.0
    for term in topic.terms:
        spans: list[tuple[str, int, int]] = []
        for field, (_, found) in fields.items():
            kept = _outside(
                found.terms.get((topic.name, term.text), []), found.ignored.get(topic.name, [])
            )
            spans.extend((field, s, e) for s, e in kept)
        if not spans:
            continue
        best = max(spans, key=lambda s: FIELD_FACTORS[_field_of(s[0], s[1])])
        where = _field_of(best[0], best[1])
        score += term.weight * (FIELD_FACTORS[where] + 0.5 * math.log2(len(spans)))
        hits.append(
            TermHit(term.text, where, len(spans), _snippet(fields[best[0]][0], best[1], best[2]))
        )
    vetoed_by = next(
        (f.vetoes[topic.name] for _, f in fields.values() if topic.name in f.vetoes), ""
    )
    required = not topic.require_any or any(h.term in topic.require_any for h in hits)
    matched = score >= topic.threshold and not vetoed_by and required
    return TopicResult(topic.name, round(score, 2), matched, tuple(hits), vetoed_by)


def match(title: str, body: str, rules: Rules) -> Match:
    """Score every topic of `rules` on one article."""
    automaton = rules.automaton
    fields: dict[str, tuple[str, _Found]] = {}
    for field, raw in (("title", title), ("body", body)):
        text = normalize_text(raw)
        fields[field] = (text, _scan(text, automaton))
    return Match(tuple(_judge(topic, fields) for topic in rules.topics))
