"""Frozen records that flow one way through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ListingRules:
    """CSS selectors that find article links on a listing page.

    `container` (optional) picks the first element that holds the links, for
    layouts where only the first of several similar boxes is the news list.
    """

    links: str
    next_page: str = ""
    container: str = ""


@dataclass(frozen=True)
class ArticleRules:
    """CSS selectors and clean-up rules for an article page."""

    title: str = "title"
    title_strip_prefix: str = ""
    date: str = ""
    body: str = ""
    category: str = ""
    drop_lines: tuple[str, ...] = ()
    stop_at: tuple[str, ...] = ()  # the body ends before the first line matching one


@dataclass(frozen=True)
class Source:
    """One watched site section: a feed or a listing page."""

    name: str
    kind: str  # "rss", "html" or "sitemap"
    url: str
    preset: str = ""
    interval_minutes: float = 30.0
    max_pages: int = 1
    max_items: int = 100
    url_pattern: str = ""
    listing: ListingRules | None = None
    article: ArticleRules = ArticleRules()
    fetch_articles: bool = True
    allowed_hosts: tuple[str, ...] = ()  # hosts besides its own it may fetch (a CDN)
    revisit_hours: float = 48.0  # recent pages fetched again for edits this long; 0: never
    allow_private_addresses: bool = False  # private/loopback targets though the site is public


@dataclass(frozen=True)
class Fetched:
    """A decoded HTTP answer; `not_modified` means a 304 with no body."""

    url: str
    final_url: str
    status: int
    text: str = ""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    not_modified: bool = False
    encoding: str = ""
    problems: tuple[str, ...] = ()  # what was odd about the answer (a charset ignored)


@dataclass(frozen=True)
class Entry:
    """A link found on a listing or in a feed, with whatever the feed already says."""

    url: str
    title: str = ""
    date_text: str = ""
    body: str = ""


@dataclass(frozen=True)
class Item:
    """One extracted article, ready to be deduplicated, matched and stored."""

    url: str
    source: str
    title: str
    body: str
    published_at: str | None  # UTC ISO-8601, or None when no date could be read
    category: str = ""
    content_hash: str = ""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermHit:
    """A matched term: where it was found, how often, and a snippet to show."""

    term: str
    field: str  # "title", "lead" or "body"
    count: int
    snippet: str


@dataclass(frozen=True)
class TopicResult:
    """The verdict of one topic on one item."""

    topic: str
    score: float
    matched: bool
    hits: tuple[TermHit, ...] = ()
    vetoed_by: str = ""
    related: bool = False  # below the alert threshold, above the related one: digests only


@dataclass(frozen=True)
class Match:
    """Verdicts of every topic on one item."""

    topics: tuple[TopicResult, ...] = ()

    @property
    def matched_topics(self) -> tuple[str, ...]:
        return tuple(t.topic for t in self.topics if t.matched)

    @property
    def related_topics(self) -> tuple[str, ...]:
        return tuple(t.topic for t in self.topics if t.related)

    @property
    def verdicts(self) -> str:
        """`matched,topics|related,topics`: what `Store.items_for_rematch` reads back of a
        stored match, so a rematch sees whether either tier changed."""
        return f"{','.join(self.matched_topics)}|{','.join(self.related_topics)}"


@dataclass(frozen=True)
class SourceReport:
    """What one source did in one run."""

    source: str
    found: int = 0
    new: int = 0
    matched: int = 0
    duplicates: int = 0
    revised: int = 0  # known pages whose text changed
    not_modified: bool = False
    failed: int = 0  # entries whose page could not be fetched or read (tried again next run)
    error: str = ""
    skipped: str = ""
    problems: tuple[str, ...] = ()
    seconds: float = 0.0
    new_item_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """The outcome of one outbox row."""

    item_id: int
    channel: str
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class RunReport:
    """Everything one cycle did, for the summary and the exit status."""

    sources: tuple[SourceReport, ...] = ()
    deliveries: tuple[Delivery, ...] = field(default_factory=tuple)

    @property
    def failed_sources(self) -> tuple[SourceReport, ...]:
        return tuple(s for s in self.sources if s.error or s.skipped or s.failed)
