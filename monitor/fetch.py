"""Fetch URLs politely and decode them to text. The only stage that speaks HTTP.

`fetch` makes one request: explicit timeouts, a descriptive User-Agent,
conditional GET (ETag / Last-Modified; a 304 yields `not_modified`), redirects
followed by hand within the source's `Reach`, a size cap enforced while
streaming, and decoding that gets Thai right: the charset of the Content-Type
header (unless it is a server's Latin-1 default contradicted by a `<meta>` tag,
or a UTF-8 claim the bytes break), else of a `<meta>` tag, else UTF-8 if the
bytes are valid UTF-8, else windows-874 (older .go.th sites serve TIS-620 with no
header). TIS-620 and ISO-8859-11 are decoded as windows-874, their superset. A
charset that is not a text encoding (rot13, base64, zlib, idna...) is ignored.

Hostile servers are expected. `timeout_seconds` bounds the whole call (connect,
headers, body, every redirect hop), and a source only reaches its `Reach`: both
are enforced by `monitor.reach`, under every connection this module opens.

`Fetcher` is what the pipeline uses: one session shared by a run's threads, with
robots.txt honoured (cached per host; unreachable robots.txt means "disallow
all", RFC 9309), one request at a time per host with a minimum delay between
them, and `Retry-After` of a 429/503 honoured until it expires.

HTTP goes through urllib3 directly (`Session`), not requests: requests cost
~0.3 ms of CPU per request on top of urllib3's ~0.15 ms (a proxy look-up in the
environment, cookie and hook machinery), and its streamed 304s closed the
connection, so an unchanged cycle reconnected to every host.
"""

from __future__ import annotations

import codecs
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import proxy_bypass_environment
from urllib.robotparser import RobotFileParser

import certifi
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.models import Fetched
from monitor.reach import (
    GUARDED_POOLS,
    InFlight,
    OutOfReach,
    Reach,
    in_flight,
    is_private_host,
)

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


_REDIRECTS = (301, 302, 303, 307, 308)
_POOLS = 100  # hosts kept connected: more than any config names
# Codecs Python knows that are no page's charset: bytes-to-bytes ones (rot13, base64,
# zlib...) are caught by `_is_text_encoding`; these pass it yet raise on ordinary
# bytes (idna, punycode, undefined), decode escapes, or are refused by browsers for
# the script they smuggle (utf-7).
_NOT_PAGE_CHARSETS = frozenset(
    {"idna", "punycode", "undefined", "raw-unicode-escape", "unicode-escape", "utf-7", "charmap"}
)


class Session:
    """Keep-alive connections shared by a run's threads: a urllib3 pool per host.

    What requests did for us is kept: its default headers, certifi's CA bundle (or
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), and the proxy of HTTP(S)_PROXY / ALL_PROXY
    unless NO_PROXY names the host (both read by config; chosen once per host by
    `proxy_for`). Direct connections are `GuardedConnection`s; through a proxy the
    peer is the proxy, whose address says nothing of the target's, so the operator's
    proxy is trusted to keep requests off private addresses.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.headers = {
            "User-Agent": settings.user_agent,
            "Accept-Encoding": urllib3.util.make_headers(accept_encoding=True)["accept-encoding"],
            "Accept": "*/*",
            "Connection": "keep-alive",
            "Accept-Language": "th,en;q=0.8",
        }
        bundle = settings.ca_bundle or certifi.where()
        where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
        self._pool_kw: dict[str, Any] = {"num_pools": _POOLS, "maxsize": 4, where: bundle,
                                         "cert_reqs": "CERT_REQUIRED"}  # fmt: skip
        self._by_proxy: dict[str, urllib3.PoolManager] = {}
        self._by_host: dict[str, urllib3.PoolManager] = {}
        self._proxies = dict(settings.proxies)
        self._lock = threading.Lock()
        self._private_sites: dict[str, bool] = {}

    def site_is_private(self, host: str) -> bool:
        """Whether a source's own site is on a private address (the demo's, the tests'):
        its requests may then reach one. Resolved once per host, when first asked."""
        if (private := self._private_sites.get(host)) is None:
            private = self._private_sites[host] = is_private_host(host)
        return private

    def open(
        self, url: str, headers: Mapping[str, str], timeout: float
    ) -> urllib3.BaseHTTPResponse:
        """Send a GET and return the response with its body still unread.

        A login in the URL (`https://user:pass@host/feed`) is sent as HTTP basic auth, as
        requests did; urllib3 alone drops it."""
        if "@" in url.partition("//")[2].partition("/")[0]:
            headers = {**headers, **_basic_auth(url)}
        return self._manager(url).urlopen(
            "GET", url, headers={**self.headers, **headers}, preload_content=False,
            redirect=False, retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )  # fmt: skip

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}".lower()
        if (manager := self._by_host.get(host)) is None:
            proxy = proxy_for(url, self._proxies)
            with self._lock:
                manager = self._by_proxy.get(proxy) or self._new_manager(proxy)
                self._by_proxy[proxy] = self._by_host[host] = manager
        return manager

    def _new_manager(self, proxy: str) -> urllib3.PoolManager:
        if not proxy:
            manager = urllib3.PoolManager(**self._pool_kw)
            manager.pool_classes_by_scheme = GUARDED_POOLS
            return manager
        parts = urlsplit(proxy)
        username, password = unquote(parts.username or ""), unquote(parts.password or "")
        if proxy.lower().startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as requests did

            return SOCKSProxyManager(proxy, username or None, password or None, **self._pool_kw)
        auth = f"{username}:{password}" if username else None
        headers = urllib3.util.make_headers(proxy_basic_auth=auth) if auth else None
        return urllib3.ProxyManager(proxy, proxy_headers=headers, **self._pool_kw)


def _basic_auth(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    login = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return urllib3.util.make_headers(basic_auth=login)


def proxy_for(url: str, proxies: Mapping[str, str]) -> str:
    """The proxy URL for `url` ("" = direct): its scheme's, else ALL_PROXY's, unless the
    host is in NO_PROXY (urllib's reading: suffixes, `*`, an optional port)."""
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme, "") or proxies.get("all", "")
    if proxy and proxy_bypass_environment(parts.netloc, proxies):
        return ""
    return proxy


def _codec(name: str) -> str | None:
    """The text codec a page's declared charset names, or None if there is none.

    A page may name any codec Python has: rot13, base64 or zlib turn bytes into
    bytes, idna or undefined raise on ordinary bytes; either stopped the whole run.
    """
    name = name.strip().strip("\"'").lower()
    name = _THAI_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL or a lone surrogate in the name
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_PAGE_CHARSETS:
        return None
    return info.name


_HEADER_CHARSET = re.compile(r"charset\s*=\s*([^\s;]+)", re.I)


def _charset_from_header(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type)
    return _codec(match.group(1)) if match else None


def refused_charset(content: bytes, content_type: str) -> str:
    """The charset a page declared that is no text encoding ("" if none): worth a
    problem on the item, since the page was read with a guessed one."""
    meta = _META_CHARSET.search(content[:4096]) or _XML_ENCODING.search(content[:4096])
    header = _HEADER_CHARSET.search(content_type)
    for name in (header.group(1) if header else "", meta.group(1).decode("ascii") if meta else ""):
        if name and _codec(name) is None:
            return name[:40]
    return ""


def _declared(content: bytes, content_type: str) -> str | None:
    head = content[:4096]
    meta = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    in_meta = _codec(meta.group(1).decode("ascii")) if meta else None
    in_header = _charset_from_header(content_type)
    if in_header in (None, "latin-1", "iso8859-1", "cp1252", "ascii"):
        return in_meta or in_header  # Latin-1 is many servers' default, not the page's
    return in_header


def decode(content: bytes, content_type: str) -> tuple[str, str]:
    """Decode a page to text; return (text, codec used). Never raises.

    A charset refused by `_codec` counts as undeclared: the codec returned is the
    one detection chose, so the caller can see the declaration was not used.
    """
    declared = _declared(content, content_type)
    if declared not in (None, "utf-8"):
        try:
            return content.decode(declared, errors="replace"), declared
        except (UnicodeError, LookupError, TypeError, ValueError):
            pass  # a text codec that still fails: detect as if undeclared
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return content.decode("cp874", errors="replace"), "cp874"


def _timed_out(url: str, settings: FetchSettings) -> FetchError:
    return FetchError(f"timed out after {settings.timeout_seconds:g} s (whole request)", url=url)


def _read_capped(
    response: urllib3.BaseHTTPResponse, url: str, settings: FetchSettings, request: InFlight
) -> bytes:
    """Read the body within the size cap and the request's deadline.

    The timeout applies to each read only, so a server trickling a byte at a time
    could hold a source for ever; `read1` returns what has arrived, so the
    deadline is checked as each piece comes in (and the watchdog shuts a socket
    that stays silent past it). A connection broken mid-body is a truncated body,
    not a failed connection.
    """
    max_bytes = settings.max_bytes
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"body of {declared} bytes is over the {max_bytes}-byte cap", url=url)
    chunks, size = [], 0
    try:
        while chunk := response.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"body is over the {max_bytes}-byte cap", url=url)
            if time.monotonic() > request.deadline:
                raise _timed_out(url, settings)
            chunks.append(chunk)
    except ReadTimeoutError:
        raise FetchError(f"timed out after {settings.timeout_seconds:g} s", url=url) from None
    except ProtocolError as exc:
        if request.expired:
            raise _timed_out(url, settings) from None
        raise FetchError(f"truncated body: {_root_cause(exc)}", url=url) from None
    if request.expired:  # shut by the watchdog: the body seemed to end there
        raise _timed_out(url, settings)
    return b"".join(chunks)


def _check(response: urllib3.BaseHTTPResponse, url: str, content: bytes) -> None:
    status = response.status
    head = content[:20000]
    if response.headers.get("cf-mitigated") == "challenge" or any(
        marker in head for marker in _CHALLENGE_MARKERS
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


def _next_hop(
    response: urllib3.BaseHTTPResponse, current: str, url: str, visited: list[str], reach: Reach
) -> str | None:
    """The redirect target if `response` is a redirect; refuse loops and leaving the reach."""
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or location is None:
        return None
    target = urljoin(current, location)
    status = response.status
    if refusal := reach.refusal(target):
        what, why = refusal
        if what == "host":
            raise FetchError(f"redirected to another host: {target}", url=url, status=status)
        raise FetchError(f"redirected outside the source's reach ({why}): {target}",
                         url=url, status=status)  # fmt: skip
    if urlsplit(current).scheme.lower() == "https" and urlsplit(target).scheme.lower() == "http":
        raise FetchError(f"redirected from https down to http: {target}", url=url, status=status)
    if target in visited or len(visited) > MAX_REDIRECTS:
        raise FetchError("redirect loop (too many redirects)", url=url)
    visited.append(target)
    return target


def _open(
    session: Session,
    url: str,
    current: str,
    headers: Mapping[str, str],
    settings: FetchSettings,
    request: InFlight,
) -> urllib3.BaseHTTPResponse:
    """Send one GET; a failure before the response is one line naming its cause."""
    timeout = settings.timeout_seconds
    left = request.deadline - time.monotonic()
    if left <= 0:
        raise _timed_out(url, settings)
    try:
        return session.open(current, headers, left)
    except OutOfReach as exc:
        raise FetchError(f"outside the source's reach: {exc}", url=url) from None
    except HTTPError as exc:
        if request.expired:  # the watchdog shut the socket: not the server's reset
            raise _timed_out(url, settings) from None
        if isinstance(exc, ReadTimeoutError | ConnectTimeoutError) and not isinstance(
            exc, NewConnectionError
        ):
            raise FetchError(f"timed out after {timeout:g} s", url=url) from None
        if isinstance(exc, NewConnectionError) and _caused_by(exc, socket.gaierror):
            reason = f"DNS lookup failed for {urlsplit(url).hostname} ({_root_cause(exc)})"
            raise FetchError(f"connection failed: {reason}", url=url) from None
        if isinstance(exc, NewConnectionError | ProtocolError | SSLError | ProxyError):
            raise FetchError(f"connection failed: {_root_cause(exc)}", url=url) from None
        raise FetchError(f"request failed: {_root_cause(exc)}", url=url) from None


def fetch(
    session: Session,
    url: str,
    settings: FetchSettings,
    etag: str = "",
    last_modified: str = "",
    reach: Reach | None = None,
) -> Fetched:
    """GET `url`, following redirects by hand so no request leaves the source's reach.

    Without `reach`, the reach is the URL's own site. `settings.timeout_seconds`
    bounds the whole call, redirects included. Raise FetchError with a one-line
    reason on any failure.
    """
    reach = reach or Reach(url)
    reach.check(url)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + settings.timeout_seconds
    with in_flight(deadline, reach, session.site_is_private) as request:
        current, visited = url, [url]
        response = _open(session, url, current, headers, settings, request)
        try:
            while (target := _next_hop(response, current, url, visited, reach)) is not None:
                response.close()  # a redirect's body is never read: drop its connection
                current = target
                response = _open(session, url, current, headers, settings, request)
            if response.status == 304:
                response.drain_conn()  # no body: the connection goes back to the pool
                content = b""
            else:
                content = _read_capped(response, url, settings, request)
        except HTTPError as exc:  # a body that cannot be decoded (bad gzip)
            response.close()
            if request.expired:
                raise _timed_out(url, settings) from None
            raise FetchError(f"request failed: {_root_cause(exc)}", url=url) from None
        except BaseException:
            response.close()  # a body left unread: the connection cannot be reused
            raise
    final_url = _as_sent(current)
    if response.status == 304:
        return Fetched(url, final_url, 304, etag=etag, last_modified=last_modified,
                       not_modified=True)  # fmt: skip
    _check(response, url, content)
    content_type = response.headers.get("Content-Type", "")
    text, encoding = decode(content, content_type)
    return Fetched(url, final_url, response.status, text=text, encoding=encoding,
                   content_type=content_type, etag=response.headers.get("ETag", ""),
                   last_modified=response.headers.get("Last-Modified", ""),
                   problems=_charset_problems(content, content_type, encoding))  # fmt: skip


@lru_cache(maxsize=1024)
def _as_sent(url: str) -> str:
    """`url` as urllib3 sent it (percent-encoded, host lower-cased): a page's final URL.

    Cached: a service asks again for each source's listing every poll, and parsing
    cost ~10 us of an unchanged poll's ~0.4 ms.
    """
    return urllib3.util.parse_url(url).url


def _charset_problems(content: bytes, content_type: str, encoding: str) -> tuple[str, ...]:
    """A problem when the page declared a charset that is no text encoding (only a page
    read with a detected codec can have one)."""
    refused = refused_charset(content, content_type) if encoding in ("utf-8", "cp874") else ""
    return (f"charset {refused!r} is not a text encoding; read as {encoding}",) if refused else ()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of an HTTP error, in one short line."""
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
        session: Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.session = session or Session(settings)
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

    def get(
        self, url: str, etag: str = "", last_modified: str = "", reach: Reach | None = None
    ) -> Fetched:
        """Fetch `url` after its reach, robots.txt and the host's delay allow it.

        Without `reach`, the reach is the URL's own site.
        """
        reach = reach or Reach(url)
        reach.check(url)  # before robots.txt: nothing at all is sent out of reach
        host = self._host(url)
        with host.lock:
            now = self._clock()
            if now < host.blocked_until:
                left = host.blocked_until - now
                raise FetchError(f"host asked us to wait (Retry-After), {left:.0f} s left", url=url)
            if self.settings.obey_robots:
                self._check_robots(host, url, reach)
            self._wait_turn(host)
            try:
                return fetch(self.session, url, self.settings, etag, last_modified, reach)
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

    def _check_robots(self, host: _Host, url: str, reach: Reach) -> None:
        if self._clock() - host.robots_read_at > self.settings.robots_cache_seconds:
            self._read_robots(host, url, reach)
        if host.robots_error:
            raise FetchError(host.robots_error, url=url)
        if host.robots is not None and not host.robots.can_fetch(self.settings.user_agent, url):
            raise FetchError("disallowed by robots.txt", url=url)

    def _read_robots(self, host: _Host, url: str, reach: Reach) -> None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        host.robots_read_at = self._clock()
        host.robots, host.robots_error = None, ""
        self._wait_turn(host)
        try:
            page = fetch(self.session, robots_url, self.settings, reach=reach)
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
