"""Find a listing's next page when no selector names it. Pure.

Real pagers seldom say `rel="next"`: thaigov.go.th's legacy listing (SOURCES.md) has
`<ul class="pagination color2">…<a data-ci-pagination-page="2" href="…?per_page=10">
&gt;</a>`, WordPress `a.next.page-numbers`, others a bare page number. `find_next` reads
the common shapes, in the order its docstring gives, from a parsed lxml tree; the
extractor calls it only when the source's own `next_page` selector finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urljoin, urlsplit

from lxml import etree

from monitor.urls import url_key

_LINK_TEXT = etree.XPath(
    "descendant::text()[not(ancestor::script or ancestor::style)]", smart_strings=False
)
_PAGER_MARKS = ("pagin", "pager", "page-numbers", "pagenav", "page-nav", "nav-links")
_NEXT_TEXT = re.compile(r"(?:next(?: page)?|ถัดไป|หน้าถัดไป|หน้าต่อไป)?\s*[>›»→]?")
_PAGE_PARAMS = ("page", "p", "pg", "paged", "pageno", "page_no", "pagenum", "pn")
_OFFSET_PARAMS = ("per_page", "offset", "start")
_PAGE_IN_PATH = re.compile(r"/page/(\d{1,6})/?$")
_CURRENT_MARKS = {"active", "current", "selected"}
_PLAIN_NUMBER_TAGS = ("strong", "b", "em", "span", "li")  # CodeIgniter's `<strong>3</strong>`


class _Position(NamedTuple):
    """Where a link leads in the listing: a page number (1 = first) and/or an item offset."""

    page: int | None = None
    offset: int | None = None


class _PagerLink(NamedTuple):
    url: str
    key: str
    at: _Position
    says_next: bool
    rel_next: bool
    disabled: bool


def _own_text(node: Any) -> str:
    """An element's visible text, stripped and joined by single spaces."""
    return " ".join(" ".join(_LINK_TEXT(node)).split())


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _url_position(url: str) -> _Position:
    """Page number and offset a URL names: `?page=3`, `/page/3/`, `?per_page=20`."""
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qsl(parts.query)}
    page = next((n for k in _PAGE_PARAMS if (n := _number(query.get(k))) is not None), None)
    if page is None and (m := _PAGE_IN_PATH.search(parts.path)):
        page = int(m[1])
    offset = next((n for k in _OFFSET_PARAMS if (n := _number(query.get(k))) is not None), None)
    return _Position(page, offset)


def _data_page(node: Any) -> int | None:
    """A pager's page attribute: CodeIgniter's `data-ci-pagination-page="2"`, `data-page`."""
    for name, value in node.attrib.items():
        if name.startswith("data-") and name.endswith("page") and (n := _number(value)):
            return n
    return None


def _words(node: Any, name: str) -> set[str]:
    return set((node.get(name) or "").casefold().split()) if node is not None else set()


def _is_pager(element: Any) -> bool:
    marks = f"{element.get('class') or ''} {element.get('id') or ''}".casefold()
    label = (element.get("aria-label") or "").casefold()
    return any(m in marks for m in _PAGER_MARKS) or "pag" in label or "แบ่งหน้า" in label


def _pager_of(node: Any, known: dict[Any, Any]) -> Any:
    """The pager container holding `node` (itself included), or None.

    `known` maps the elements already climbed to their answer: a listing's links
    share their ancestors, so each element is tested once, not once per link below
    it (`find_next` on the workload's listing of 145 links: 0.70 ms instead of 1.38).
    """
    climbed = []
    found = None
    for element in (node, *node.iterancestors()):
        if element in known:
            found = known[element]
            break
        climbed.append(element)
        if _is_pager(element):
            found = element
            break
    for element in climbed:
        known[element] = found
    return found


def _says_next(node: Any, text: str) -> bool:
    """Link text or label `>`, `›`, `»`, `Next`, `ถัดไป`, `หน้าถัดไป` (not `>>`: often the
    last page), or the class `next` on the link or its list item (WordPress, Bootstrap)."""
    for said in (text, node.get("aria-label"), node.get("title")):
        said = " ".join((said or "").casefold().split())
        if said and (_NEXT_TEXT.fullmatch(said) or "next page" in said or "ถัดไป" in said):
            return True
    parent = node.getparent()
    return "next" in _words(node, "class") or (
        parent is not None and parent.tag == "li" and "next" in _words(parent, "class")
    )


def _is_current(node: Any) -> bool:
    return bool(_CURRENT_MARKS & _words(node, "class")) or (
        (node.get("aria-current") or "false").casefold() != "false"
    )


def _pager_links(root: Any, base: str) -> tuple[list[_PagerLink], list[Any]]:
    """Links that belong to a pager (inside one, carrying a page attribute or rel=next),
    and the pager containers found."""
    links: list[_PagerLink] = []
    pagers: list[Any] = []
    known: dict[Any, Any] = {}
    for node in root.iter("a", "link"):
        href = (node.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:")):
            continue
        pager = _pager_of(node, known) if node.tag == "a" else None
        rel_next = "next" in _words(node, "rel")
        page = _data_page(node)
        if pager is None and page is None and not rel_next:
            continue
        if pager is not None and pager not in pagers:
            pagers.append(pager)
        url = urljoin(base, href)
        text = _own_text(node) if node.tag == "a" else ""
        at = _url_position(url)
        if page is None and pager is not None:
            page = at.page or _number(text)
        parent = node.getparent()
        disabled = any(
            "disabled" in _words(n, "class") or n.get("aria-disabled") == "true"
            for n in (node, parent)
            if n is not None
        )
        says = node.tag == "a" and pager is not None and _says_next(node, text)
        at = _Position(page or at.page, at.offset)
        links.append(_PagerLink(url, url_key(url), at, says, rel_next, disabled))
    return links, pagers


def _current(links: list[_PagerLink], pagers: list[Any], base: str, here: set[str]) -> _Position:
    """The position of the page being read: the pager's element marked active/current
    (or CodeIgniter's bare `<strong>3</strong>`), else the pager's link to this very URL,
    else the URL's own page/offset parameter; a URL with neither is the first page."""
    page = offset = None
    for pager in pagers:
        for node in pager.iter():
            if not isinstance(node.tag, str) or any(a.tag == "a" for a in node.iterancestors()):
                continue
            linked = node.tag == "a" and bool(node.get("href"))
            parent = node.getparent()
            marked = _is_current(node) or (linked and parent is not None and _is_current(parent))
            text = _own_text(node)
            plain = not linked and node.tag in _PLAIN_NUMBER_TAGS and node.find(".//a") is None
            if (marked or plain) and (n := _data_page(node) or _number(text)) is not None:
                page = page or n
    for link in links:
        if link.key in here:
            page = page or link.at.page
            offset = link.at.offset if offset is None else offset
    own = _url_position(base)
    page = page or own.page
    offset = own.offset if offset is None else offset
    if own == _Position():  # no paging parameter: the first page
        page, offset = page or 1, 0 if offset is None else offset
    return _Position(page, offset)


def find_next(root: Any, base: str, here: set[str]) -> tuple[str, str]:
    """The next page of a listing whose configured `next_page` finds none, and the rule
    that found it (("", "") when none does: the last page).

    Rules, in order; the first that finds a link wins:
    1. `rel=next`: a `<link>` or `<a>` whose rel says next.
    2. pager text: a link inside a pager (an element whose class or id holds
       `pagination`, `pager`, `page-numbers`, `nav-links`..., or whose aria-label
       holds `pag`) whose text, aria-label or title is `>`, `›`, `»`, `Next`,
       `ถัดไป`, `หน้าถัดไป`, or whose class (or its `li`'s) is `next`.
    3. page number: a pager link to page current + 1, the page number read from a
       `data-*-page` attribute (CodeIgniter's `data-ci-pagination-page`), a
       `page`/`p`/`paged`... parameter, `/page/N` or the link's text.
    4. offset: the pager link with the smallest `per_page`/`offset`/`start` parameter
       above the current one (one step on).
    The current page comes from the pager's element marked active/current (or a bare
    `<strong>3</strong>`), else the pager's link to this URL, else the URL's own
    parameter; a URL with no paging parameter is the first page. No rule takes a link
    to this same page (`urls.url_key`), a disabled one, or one whose page or offset is
    not beyond the current one (a link back); rule 2 also refuses a link that skips
    pages (`»` as "last page"). Pages visited earlier in a walk are the walker's to skip.
    """
    links, pagers = _pager_links(root, base)
    if not links:
        return "", ""
    now = _current(links, pagers, base, here)
    after = now.page + 1 if now.page is not None else None
    offsets = [link.at.offset for link in links if link.at.offset is not None]
    step = min((o for o in offsets if now.offset is not None and o > now.offset), default=None)

    def forward(link: _PagerLink) -> bool:
        page, offset = link.at
        back = (page is not None and now.page is not None and page <= now.page) or (
            offset is not None and now.offset is not None and offset <= now.offset
        )
        return link.key not in here and not link.disabled and not back

    def one_step(link: _PagerLink) -> bool:
        page, offset = link.at
        skips = (page is not None and after is not None and page != after) or (
            offset is not None and step is not None and offset != step
        )
        return not skips

    rules: list[tuple[str, Callable[[_PagerLink], bool]]] = [
        ("rel=next", lambda link: link.rel_next),
        ("pager text", lambda link: link.says_next and one_step(link)),
        ("page number", lambda link: after is not None and link.at.page == after),
        ("offset", lambda link: step is not None and link.at.offset == step),
    ]
    for name, fits in rules:
        for link in links:
            if fits(link) and forward(link):
                return link.url, name
    return "", ""
