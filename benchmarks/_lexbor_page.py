"""selectolax's Lexbor parser behind `monitor.extract`'s `_Page` protocol: a prototype
measured by `extract_speed.py` and compared by `extract_diff.py`, not used by the monitor.

`parse(html, *selectors)` reads the page with Lexbor when every selector is plain
(`plain`), else as `monitor.extract` does (lxml, or BeautifulSoup). `lexbor_reads`
patches `monitor.extract` so `extract_article` uses it.

Lexbor is an HTML5 parser: on well-formed pages (and pages cut short) it builds
libxml2's tree, but on markup that needs repair (misnested or stray tags, text in
tables, blocks in headings, nesting deeper than 255) the two trees differ, and
nothing cheap tells those pages apart before parsing them with both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from monitor import extract
from monitor.extract import _ASCII_SPACES, _HIDDEN, _WORD_LISTS, _Page

_TODAY = extract._parse  # lxml, or BeautifulSoup for the selectors only soupsieve reads
_CANONICAL = "link[rel=canonical]"
_NO_QUIRKS = "<!DOCTYPE html>"  # quirks mode would match classes and ids case-insensitively
_XPATH_SPACES = re.compile("[ \t\r\n]+")


def _words(value: str | None) -> str:
    """An attribute's value as XPath's `normalize-space` gives it."""
    return _XPATH_SPACES.sub(" ", value).strip(" ") if value else ""


# Lexbor (as browsers) compares the values of these attributes case-insensitively
# (HTML's list); cssselect, like soupsieve on BeautifulSoup's tree, does not.
_ANY_CASE = frozenset(
    ("accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked",
     "clear", "codetype", "color", "compact", "declare", "defer", "dir", "direction",
     "disabled", "enctype", "face", "frame", "hreflang", "http-equiv", "lang", "language",
     "link", "media", "method", "multiple", "nohref", "noresize", "noshade", "nowrap",
     "readonly", "rel", "rev", "rules", "scope", "scrolling", "selected", "shape", "target",
     "text", "type", "valign", "valuetype", "vlink")
)  # fmt: skip
_NAME = r"-?[A-Za-z_][A-Za-z0-9_-]*"
_ATTRIBUTE = re.compile(rf"\[({_NAME})(?:(~|\^|\$|\*)?=({_NAME}|'[^'\\]+'|\"[^\"\\]+\"))?\]")
_PARTS = rf"(?:[.#]{_NAME}|{_ATTRIBUTE.pattern})"
_COMPOUND = rf"(?:(?:{_NAME}|\*){_PARTS}*|{_PARTS}+)"
_SELECTOR = rf"{_COMPOUND}(?:(?:\s*>\s*|\s+){_COMPOUND})*"
_PLAIN = re.compile(rf"\s*{_SELECTOR}\s*(?:,\s*{_SELECTOR}\s*)*")


@lru_cache(maxsize=256)
def plain(selector: str) -> bool:
    """Whether Lexbor's CSS engine selects what cssselect's XPath does: type, class, id and
    attribute selectors with descendant and child combinators, no pseudo-classes."""
    if not _PLAIN.fullmatch(selector):
        return False
    for name, operator, _ in _ATTRIBUTE.findall(selector):
        word_list = f"@{name.lower()}" in _WORD_LISTS and operator not in ("~", "")
        if name.lower() in _ANY_CASE or word_list:
            return False
    return True


def _strings(node: Any, hidden: bool) -> list[str]:
    """Text nodes under `node` in document order; those in `_HIDDEN` elements too if
    `hidden`. A loop, not recursion: a page may nest a thousand tags."""
    out: list[str] = []
    stack = [node.last_child]
    while stack:
        if (child := stack.pop()) is None:
            continue
        stack.append(child.prev)
        if child.is_text_node:
            out.append(child.text_content)
        elif child.is_element_node and (hidden or child.tag not in _HIDDEN):
            stack.append(child.last_child)
    return out[::-1]


class _Lexbor:
    """The page as selectolax's Lexbor (an HTML5 parser) reads it, for plain selectors."""

    def __init__(self, html: str) -> None:
        self.tree = LexborHTMLParser(_NO_QUIRKS + html)
        self.root = self.tree.root

    def one(self, selector: str, scope: Any = None) -> Any:
        found = self.all(selector, scope)
        return found[0] if found else None

    def all(self, selector: str, scope: Any = None) -> list[Any]:
        if selector == _CANONICAL:
            # `[rel=canonical]` as cssselect reads it: the words of rel, not their case
            links = self.tree.css("link[rel]")
            return [n for n in links if _words(n.attrs.get("rel")) == "canonical"]
        found = (self.tree if scope is None else scope).css(selector)
        seen = {scope.mem_id} if scope is not None else set()
        return [n for n in found if n.mem_id not in seen and not seen.add(n.mem_id)]

    def text(self, node: Any = None, separator: str = "", strip: bool = False) -> str:
        node = self.root if node is None else node
        strings = _strings(node, node.tag in _HIDDEN)
        if strip:
            return separator.join(text for s in strings if (text := s.strip()))
        return separator.join(
            s if s.strip(_ASCII_SPACES) else "\n" if "\n" in s else " " for s in strings
        )

    def attr(self, node: Any, name: str) -> str | None:
        attributes = node.attributes
        return (attributes[name] or "") if name in attributes else None

    def drop(self, tags: tuple[str, ...]) -> None:
        for node in reversed(self.tree.css(",".join(tags))):  # inner ones first
            node.decompose()

    def inside(self, node: Any, tags: tuple[str, ...]) -> bool:
        while (node := node.parent) is not None:
            if node.tag in tags:
                return True
        return False


def parse(html: str, *selectors: str) -> _Page:
    """The page read by Lexbor when every selector is plain, else as `extract` reads it."""
    if all(plain(s) for s in selectors if s):
        return _Lexbor(html)
    return _TODAY(html, *selectors)


@contextmanager
def lexbor_reads() -> Iterator[None]:
    """Within the block, `extract_article` reads pages with `parse` (listings and feed
    bodies too: call only `extract_article` inside it)."""
    original = extract._parse
    extract._parse = parse
    try:
        yield
    finally:
        extract._parse = original
