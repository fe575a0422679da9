"""Fetch URLs politely and decode them to text. The only stage that speaks HTTP.

`fetch` makes one request: explicit timeouts, a descriptive User-Agent,
conditional GET (ETag / Last-Modified; a 304 yields `not_modified`), redirects
followed by hand within the site, a size cap enforced while streaming, and
decoding that gets Thai right: the charset of the Content-Type header (unless it
is a server's Latin-1 default contradicted by a `<meta>` tag, or a UTF-8 claim the
bytes break), else of a `<meta>` tag, else UTF-8 if the bytes are valid UTF-8,
else windows-874 (older .go.th sites serve TIS-620 with no header). TIS-620 and
ISO-8859-11 are decoded as windows-874, their superset.

`Fetcher` is what the pipeline uses: one session shared by a run's threads, with
robots.txt honoured (cached per host; unreachable robots.txt means "disallow
all", RFC 9309), one request at a time per host with a minimum delay between
them, and `Retry-After` of a 429/503 honoured until it expires.
"""

from __future__ import annotations

import codecs
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
import urllib3

from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.models import Fetched

MAX_REDIRECTS = 5
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_:.-]+)""", re.I)
_THAI_ALIASES = {
    "tis-620": "cp874",
    "tis620": "cp874",
    "iso-8859-11": "cp874",
    "windows-874": "cp874",
}
_BINARY_TYPES = ("image/", "audio/", "video/", "application/pdf", "application/octet-stream",
                 "application/zip")  # fmt: skip
_CHALLENGE_MARKERS = (
    b"cf-chl-", b"challenge-platform", b"<title>Just a moment...</title>",
    b"Attention Required! | Cloudflare", b"_Incapsula_Resource", b"captcha-delivery.com",
)  # fmt: skip


def new_session(settings: FetchSettings) -> requests.Session:
    """Make the one session a run uses, with the configured User-Agent."""
    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    session.headers["Accept-Language"] = "th,en;q=0.8"
    return session


def _codec(name: str) -> str | None:
    name = name.strip().strip("\"'").lower()
    name = _THAI_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _charset_from_header(content_type: str) -> str | None:
    match = re.search(r"charset\s*=\s*([^\s;]+)", content_type, re.I)
    return _codec(match.group(1)) if match else None


def _declared(content: bytes, content_type: str) -> str | None:
    head = content[:4096]
    meta = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    in_meta = _codec(meta.group(1).decode("ascii")) if meta else None
    in_header = _charset_from_header(content_type)
    if in_header in (None, "latin-1", "iso8859-1", "cp1252", "ascii"):
        return in_meta or in_header  # Latin-1 is many servers' default, not the page's
    return in_header


def decode(content: bytes, content_type: str) -> tuple[str, str]:
    """Decode a page to text; return (text, codec used)."""
    declared = _declared(content, content_type)
    if declared not in (None, "utf-8"):
        return content.decode(declared, errors="replace"), declared
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return content.decode("cp874", errors="replace"), "cp874"


def _same_site(a: str, b: str) -> bool:
    def host(url: str) -> str:
        return (urlsplit(url).hostname or "").removeprefix("www.")

    return host(a) == host(b)


def _read_capped(response: requests.Response, url: str, settings: FetchSettings) -> bytes:
    """Read the body within the size cap and within `timeout_seconds` in all.

    requests applies the timeout to each read only, so a server trickling a byte
    at a time could hold a source for ever; `read1` returns what has arrived, so
    the deadline is checked as each piece comes in.
    """
    max_bytes = settings.max_bytes
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"body of {declared} bytes is over the {max_bytes}-byte cap", url=url)
    deadline = time.monotonic() + settings.timeout_seconds
    chunks, size = [], 0
    while chunk := response.raw.read1(64 * 1024, decode_content=True):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"body is over the {max_bytes}-byte cap", url=url)
        if time.monotonic() > deadline:
            raise FetchError(
                f"timed out after {settings.timeout_seconds:g} s reading the body", url=url
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _check(response: requests.Response, url: str, content: bytes) -> None:
    status = response.status_code
    if response.headers.get("cf-mitigated") == "challenge" or any(
        marker in content[:20000] for marker in _CHALLENGE_MARKERS
    ):
        raise FetchError(f"bot check / challenge page (HTTP {status}); not bypassed", url=url)
    if status in (429, 503) and (wait := _retry_after(response.headers.get("Retry-After", ""))):
        raise FetchError(
            f"HTTP {status} {response.reason}; retry after {wait:.0f} s",
            url=url, status=status, retry_after=wait,
        )  # fmt: skip
    if status >= 400:
        raise FetchError(f"HTTP {status} {response.reason}", url=url, status=status)
    content_type = response.headers.get("Content-Type", "").lower()
    if content_type.startswith(_BINARY_TYPES):
        raise FetchError(f"unexpected content type {content_type!r}", url=url, status=status)


def _retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _next_hop(response: requests.Response, url: str, visited: list[str]) -> str | None:
    """The redirect target if `response` is a redirect; refuse loops and other hosts."""
    if not response.is_redirect:
        return None
    target = urljoin(response.url, response.headers["Location"])
    if not _same_site(url, target):
        raise FetchError(
            f"redirected to another host: {target}", url=url, status=response.status_code
        )
    if target in visited or len(visited) > MAX_REDIRECTS:
        raise FetchError("redirect loop (too many redirects)", url=url)
    visited.append(target)
    return target


def _get(
    session: requests.Session, url: str, settings: FetchSettings, headers: dict[str, str]
) -> tuple[requests.Response, bytes]:
    """GET with redirects followed by hand, so no request ever leaves the site."""
    visited = [url]
    current = url
    while True:
        with session.get(
            current, headers=headers, timeout=settings.timeout_seconds, stream=True,
            allow_redirects=False,
        ) as response:  # fmt: skip
            target = _next_hop(response, url, visited)
            if target is None:
                if response.status_code == 304:
                    return response, b""
                content = _read_capped(response, url, settings)
                _check(response, url, content)
                return response, content
        current = target


def fetch(
    session: requests.Session,
    url: str,
    settings: FetchSettings,
    etag: str = "",
    last_modified: str = "",
) -> Fetched:
    """GET `url`; raise FetchError with a one-line reason on any failure."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response, content = _get(session, url, settings, headers)
    except requests.Timeout:
        raise FetchError(f"timed out after {settings.timeout_seconds:g} s", url=url) from None
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError) as exc:
        raise FetchError(f"truncated body: {_root_cause(exc)}", url=url) from None
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchError(f"timed out after {settings.timeout_seconds:g} s", url=url) from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"request failed: {_root_cause(exc)}", url=url) from None
    except requests.ConnectionError as exc:
        reason = _root_cause(exc)
        if _caused_by(exc, socket.gaierror):
            reason = f"DNS lookup failed for {urlsplit(url).hostname} ({reason})"
        raise FetchError(f"connection failed: {reason}", url=url) from None
    except requests.RequestException as exc:
        raise FetchError(f"request failed: {_root_cause(exc)}", url=url) from None
    if response.status_code == 304:
        return Fetched(url, response.url, 304, etag=etag, last_modified=last_modified,
                       not_modified=True)  # fmt: skip
    content_type = response.headers.get("Content-Type", "")
    text, encoding = decode(content, content_type)
    return Fetched(
        url=url,
        final_url=response.url,
        status=response.status_code,
        text=text,
        content_type=content_type,
        etag=response.headers.get("ETag", ""),
        last_modified=response.headers.get("Last-Modified", ""),
        encoding=encoding,
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests error, in one short line."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


@dataclass
class _Host:
    """What a Fetcher knows about one host."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_request: float = float("-inf")
    blocked_until: float = float("-inf")
    robots: RobotFileParser | None = None
    robots_error: str = ""
    robots_read_at: float = float("-inf")


class Fetcher:
    """Polite fetching shared by a run's threads (or by every job of the service)."""

    def __init__(
        self,
        settings: FetchSettings,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.session = session or new_session(settings)
        self._clock, self._sleep = clock, sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def new_run(self) -> None:
        """Forget robots.txt reads that failed, so each run tries them once again."""
        with self._hosts_lock:
            for host in self._hosts.values():
                if host.robots_error:
                    host.robots_read_at = float("-inf")

    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}".lower()
        with self._hosts_lock:
            return self._hosts.setdefault(key, _Host())

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """Fetch `url` after robots.txt and the host's delay allow it."""
        host = self._host(url)
        with host.lock:
            now = self._clock()
            if now < host.blocked_until:
                left = host.blocked_until - now
                raise FetchError(f"host asked us to wait (Retry-After), {left:.0f} s left", url=url)
            if self.settings.obey_robots:
                self._check_robots(host, url)
            self._wait_turn(host)
            try:
                return fetch(self.session, url, self.settings, etag, last_modified)
            except FetchError as exc:
                if exc.retry_after:
                    host.blocked_until = self._clock() + exc.retry_after
                raise
            finally:
                host.last_request = self._clock()

    def _wait_turn(self, host: _Host) -> None:
        wait = host.last_request + self.settings.min_delay_seconds - self._clock()
        if wait > 0:
            self._sleep(wait)

    def _check_robots(self, host: _Host, url: str) -> None:
        if self._clock() - host.robots_read_at > self.settings.robots_cache_seconds:
            self._read_robots(host, url)
        if host.robots_error:
            raise FetchError(host.robots_error, url=url)
        if host.robots is not None and not host.robots.can_fetch(self.settings.user_agent, url):
            raise FetchError("disallowed by robots.txt", url=url)

    def _read_robots(self, host: _Host, url: str) -> None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        host.robots_read_at = self._clock()
        host.robots, host.robots_error = None, ""
        self._wait_turn(host)
        try:
            page = fetch(self.session, robots_url, self.settings)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return  # no robots.txt: everything allowed
            host.robots_error = (
                str(exc)  # the host itself is unreachable: say that, not "robots.txt"
                if exc.status is None
                else f"robots.txt unreachable ({exc}); not fetching (RFC 9309)"
            )
            return
        finally:
            host.last_request = self._clock()
        parser = RobotFileParser(robots_url)
        parser.parse(page.text.splitlines())
        host.robots = parser
