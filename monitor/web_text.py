"""Article text as HTML for `monitor web`: found words marked, everything else escaped.

Pure functions of their inputs. Every piece of stored text goes through
`markupsafe.escape` before it is joined to markup, so a title holding `<script>` or
an attribute-breaking quote is shown as text; only `<mark>` elements are added.

Finding words, as search and matching do: a short Thai word (CHECKED_CHARS) counts
where a `newmm` word starts (ภัย is not marked inside ปลอดภัย), a longer one anywhere,
a Latin one where no Latin letter or digit touches it. A stored hit term stands for
its literal words: `a|b ~ c|d` for a, b, c and d, `word*` or a Latin term the snippet
shows as a prefix (`asean-` in `asean-japan`) for the word it starts. Case is folded
where that keeps offsets.

Bounds, so a page of the longest article (122,600 characters) renders in
milliseconds: MAX_TEXT_CHARS of text are searched, MAX_HIT_CHECKS Thai occurrences
tested per snippet and MAX_MARK_CHECKS per article (each a segmentation of ~60
characters), at most MAX_MARKS marks. A 122,600-character article marks in 30 ms.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from itertools import islice

from markupsafe import Markup, escape

from monitor.thai import normalize_text, segment

# Thaigov corpus (22,242 articles): bodies have a median of 2,405 characters, 11,312 at
# the 99th percentile, 122,600 at most; titles at most 219.
MAX_QUERY_CHARS = 500  # longer "search words" give no match
MAX_TEXT_CHARS = 200_000  # a snippet is cut from this much of the text
MAX_HIT_CHECKS = 50  # occurrences tested as whole words per snippet (a segmentation each)
MAX_MARK_CHECKS = 400  # Thai occurrences tested as words per page
MAX_WORD_CHECKS = 100  # of them for one word, so that one frequent word leaves some
# A Thai term this long is marked wherever it occurs: a word of it inside another is
# rare (ไซเบอร์ in ไซเบอร์ซิเคียวริตี้ is still about cyber); short ones are tested (ภัย).
CHECKED_CHARS = 5
MAX_MARKS = 2000
_THAI = re.compile("[\u0e00-\u0e7f]")
_LATIN_WORD_CHAR = re.compile("[a-z0-9]")


def _query_words(query: str) -> list[tuple[str, bool]]:
    """(word, is_prefix) of each segmented query word, longest first."""
    found: dict[str, bool] = {}
    for part in query.split():
        words = [w.strip() for w in segment(normalize_text(part.rstrip("*"))) if w.strip()]
        for i, word in enumerate(words):
            found[word] = found.get(word, False) or (part.endswith("*") and i == len(words) - 1)
    return sorted(found.items(), key=lambda pair: len(pair[0]), reverse=True)


def _is_word_at(text: str, start: int, end: int, prefix: bool) -> bool:
    """Whether text[start:end] is whole words, or starts one when `prefix`."""
    lo = max(0, start - 30)
    window = text[lo : end + 30]
    cuts, position = {0, len(window)}, 0
    for token in segment(window):
        found = window.find(token, position)
        if found >= 0:
            cuts.update((found, found + len(token)))
            position = found + len(token)
    return start - lo in cuts and (prefix or end - lo in cuts)


def _occurrences(text: str, words: list[tuple[str, bool]]) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is_prefix) of each occurrence of each word, longest word first."""
    for word, prefix in words:
        start = text.find(word)
        while start >= 0:
            yield start, start + len(word), prefix
            start = text.find(word, start + 1)


def _folded(text: str) -> str:
    """`text` case-folded where that keeps every offset, else as it is."""
    folded = text.casefold()
    return folded if len(folded) == len(text) else text


def hit_span(text: str, query: str, width: int = 80) -> tuple[int, int, int, int] | None:
    """(lo, start, end, hi): the first whole-word hit of `query` in `text` at
    text[start:end], with `width` characters around it from lo to hi; None without one.

    Only the first MAX_TEXT_CHARS of the text are read and MAX_HIT_CHECKS occurrences
    tested (ภัย occurs in every ปลอดภัย without being its word)."""
    text = text[:MAX_TEXT_CHARS]
    words = _query_words(query) if len(query) <= MAX_QUERY_CHARS else []
    folded = _folded(text)
    for start, end, prefix in islice(_occurrences(folded, words), MAX_HIT_CHECKS):
        if _is_word_at(folded, start, end, prefix):
            return max(0, start - width), start, end, min(len(text), end + width)
    return None


def snippet(text: str, query: str, width: int = 80) -> Markup:
    """HTML of the text around the first whole-word hit of `query`, the hit in `<mark>`;
    the text's start when nothing is found."""
    text = text or ""
    span = hit_span(text, query, width) if query else None
    if span is None:
        return escape(text[: 2 * width]) + ("…" if len(text) > 2 * width else "")
    lo, start, end, hi = span
    return (
        Markup("…" if lo else "")
        + escape(text[lo:start])
        + Markup("<mark>{}</mark>").format(text[start:end])
        + escape(text[end:hi])
        + ("…" if hi < len(text) else "")
    )


def term_words(term: str, snippet: str = "") -> list[tuple[str, bool]]:
    """(word, is_prefix) of the literal words a stored hit term stands for."""
    sides = term.split("~") if "~" in term else [term]
    words = []
    for side in sides:
        for raw in side.split("|") if "~" in term else [side]:
            word = normalize_text(raw.strip().strip("*"))
            if not word:
                continue
            prefix = raw.strip().endswith("*") or word.endswith("-")
            if not prefix and not _THAI.search(word) and snippet:
                # a Latin `word*` is stored as `word`: the snippet shows what it matched
                shown = re.search(rf"(?<![a-z0-9]){re.escape(word)}[a-z0-9]", snippet.casefold())
                prefix = shown is not None
            words.append((word, prefix))
    return words


class Budget:
    """Thai occurrences left to test as words, shared by the texts of one page."""

    def __init__(self, checks: int = MAX_MARK_CHECKS) -> None:
        self.checks = checks


def mark_spans(
    text: str, words: Sequence[tuple[str, bool, int]], budget: Budget | None = None
) -> list[tuple[int, int, int]]:
    """(start, end, group) of every occurrence of the (word, is_prefix, group) words that
    is a word, sorted and without overlaps (longer words first)."""
    budget = budget or Budget()
    text = text[:MAX_TEXT_CHARS]
    folded = _folded(text)
    starts: list[int] = []
    spans: list[tuple[int, int, int]] = []
    for word, prefix, group in sorted(words, key=lambda w: len(w[0]), reverse=True):
        thai = bool(_THAI.search(word))
        checked = thai and len(word) <= CHECKED_CHARS
        word_checks = MAX_WORD_CHECKS
        at = folded.find(word)
        while at >= 0 and len(spans) < MAX_MARKS:
            start, end = at, at + len(word)
            at = folded.find(word, at + 1)
            if checked:
                if budget.checks <= 0 or word_checks <= 0:
                    break
                budget.checks, word_checks = budget.checks - 1, word_checks - 1
                if not _is_word_at(folded, start, end, prefix=True):
                    continue
            elif not thai:
                if start and _LATIN_WORD_CHAR.match(folded[start - 1]):
                    continue
                if prefix:
                    while end < len(folded) and _LATIN_WORD_CHAR.match(folded[end]):
                        end += 1
                elif end < len(folded) and _LATIN_WORD_CHAR.match(folded[end]):
                    continue
            i = bisect.bisect(starts, start)
            if (i and spans[i - 1][1] > start) or (i < len(spans) and spans[i][0] < end):
                continue  # overlaps a longer word's mark
            starts.insert(i, start)
            spans.insert(i, (start, end, group))
    return spans


def marked(text: str, spans: Sequence[tuple[int, int, int]], offset: int = 0) -> Markup:
    """`text` escaped, with each (start, end, group) span (offsets into a text that
    `text` starts at `offset` of) in `<mark class="tGROUP">`."""
    out, position = [], 0
    for start, end, group in spans:
        start, end = max(start - offset, position), min(end - offset, len(text))
        if end <= start:
            continue
        # str pieces joined once: Markup.format took 0.15 ms a mark
        out += [escape(text[position:start]), f'<mark class="t{int(group)}">',
                escape(text[start:end]), "</mark>"]  # fmt: skip
        position = end
    out.append(escape(text[position:]))
    return Markup("".join(out))


def paragraphs(text: str, spans: Sequence[tuple[int, int, int]]) -> Iterator[Markup]:
    """The non-empty lines of `text` as marked HTML, one per paragraph."""
    offset, first = 0, 0
    for line in (text or "").split("\n"):
        end = offset + len(line)
        while first < len(spans) and spans[first][1] <= offset:
            first += 1
        last = first
        while last < len(spans) and spans[last][0] < end:
            last += 1
        if line.strip():
            yield marked(line, spans[first:last], offset)
        offset = end + 1


def article(
    title: str, body: str, hits: Sequence[tuple[str, str, int]]
) -> tuple[Markup, list[Markup]]:
    """The title and the body's paragraphs with the words of (term, snippet, group) hits
    marked, sharing one budget of word checks."""
    words, budget = highlight_words(hits), Budget()
    title_html = marked(title, mark_spans(title, words, budget))
    return title_html, list(paragraphs(body, mark_spans(body, words, budget)))


def highlight_words(
    hits: Sequence[tuple[str, str, int]],
) -> list[tuple[str, bool, int]]:
    """(word, is_prefix, group) to mark, from (term, snippet, group) of stored hits."""
    seen: dict[str, tuple[str, bool, int]] = {}
    for term, snip, group in hits:
        for word, prefix in term_words(term, snip):
            if word not in seen or (prefix and not seen[word][1]):
                seen[word] = (word, prefix, seen.get(word, (word, prefix, group))[2])
    return list(seen.values())


def web_link(url: str | None) -> str | None:
    """`url` if it is an http(s) address, else None: a stored URL comes from a site or a
    feed and is shown as a link only when following it cannot run a script."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else None
