"""Where a request may go and how long it may take: the guard under every fetch.

A source only reaches its `Reach`: its own site (http and https, ports 80/443
interchangeable), hosts it names, and no private, loopback or link-local address
(cloud metadata at 169.254.169.254) unless its own site is on one or it says so.
`Reach.check` compares scheme, host and port without DNS; the address is checked
on the socket actually connected (`GuardedConnection`, given to urllib3's pools by
`GUARDED_POOLS`), so DNS rebinding cannot get around it. One watchdog thread shuts
the socket of a request past its deadline: a server trickling bytes cannot hold a
fetch beyond `timeout_seconds`. A request's policy travels in a thread-local set by
`in_flight`, since a run's threads share one pool of connections.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor.errors import FetchError

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host without `www.`, port) of `url`; port -1 if it is not a valid one."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        return "", "", -1
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, -1)
    except ValueError:  # out of range or not a number
        port = -1
    return scheme, (parts.hostname or "").removeprefix("www."), port


@lru_cache(maxsize=1024)
def _site(site: str) -> tuple[tuple[str, str, int], str, str]:
    """A site's origin, the prefix of URLs on it ("\\0" if none), and its raw host name.

    Most URLs checked start with their site's scheme://host/: `check` then needs no
    parsing, which costs ~2 us a URL on the hot path.
    """
    origin = _origin(site)
    if origin[0] not in DEFAULT_PORTS or not origin[1] or origin[2] < 0:
        return origin, "\0", ""
    parts = urlsplit(site)
    prefix = "\0" if parts.username is not None else f"{parts.scheme}://{parts.netloc}/"
    return origin, prefix, parts.hostname or ""


@dataclass(frozen=True)
class Reach:
    """Where one source may fetch: its own site, hosts it allows, private addresses or not.

    `check` compares scheme, host and port only (no DNS). Addresses are checked after
    DNS, on the socket actually connected (`GuardedConnection`), where a name that
    resolves one way for a check and another for the connection cannot slip by.
    """

    site: str  # the source's own URL
    allowed_hosts: tuple[str, ...] = ()  # "host" (and its subdomains, 80/443) or "host:port"
    allow_private: bool = False  # private/loopback/link-local allowed even for a public site

    def check(self, url: str) -> None:
        """Raise FetchError unless `url` is within reach."""
        if not url.startswith(_site(self.site)[1]) and (refusal := self.refusal(url)):
            raise FetchError(f"outside the source's reach: {refusal[1]}", url=url)

    def refusal(self, url: str) -> tuple[str, str] | None:
        """("scheme" | "host" | "port", why) if `url` is out of reach, else None."""
        site = _site(self.site)[0]
        scheme, host, port = site if url == self.site else _origin(url)
        if scheme not in DEFAULT_PORTS:
            return "scheme", f"scheme {scheme or '(none)'!r} is not http or https"
        if port < 0:
            return "port", "not a valid port"
        if host and host == site[1]:
            if port == site[2] or (port in (80, 443) and site[2] in (80, 443)):
                return None  # real sites redirect http to https
            return "port", f"port {port} is not the site's ({site[2]})"
        matched = False
        for entry in self.allowed_hosts:
            allowed, allowed_port = _origin("http://" + entry.strip())[1:]
            if allowed and (host == allowed or host.endswith("." + allowed)):
                matched = True
                explicit = ":" in entry.rpartition("]")[2]  # "[::1]" names no port
                if port == allowed_port or (not explicit and port in (80, 443)):
                    return None
        if matched:
            return "port", f"port {port} is not allowed for {host}"
        return "host", f"{host or '(none)'} is another host than the site's ({site[1]})"


@lru_cache(maxsize=4096)
def address_kind(ip: str) -> str:
    """Why no public source may connect to `ip` ("a loopback address"), or "" if it may."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])  # an IPv6 zone: fe80::1%eth0
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind, off_limits in (
        ("a loopback", address.is_loopback), ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast), ("an unspecified", address.is_unspecified),
        ("a reserved", address.is_reserved), ("a private", address.is_private),
        ("a non-public", not address.is_global),  # 100.64.0.0/10, carrier-grade NAT
    ):  # fmt: skip
        if off_limits:
            return f"{kind} address"
    return ""


def is_private_host(host: str) -> bool:
    """Whether `host` is, or resolves to, an address `address_kind` refuses."""
    if address_kind(host) or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM) if host else []
    except (OSError, UnicodeError):
        return False  # the connection will say what is wrong with the name
    return any(address_kind(str(info[4][0])) for info in infos)


class OutOfReach(Exception):
    """A connection's peer is out of reach. Neither an OSError nor a urllib3 error,
    so urllib3 lets it through and `_open` can say why, not "connection failed"."""


class InFlight:
    """One `fetch` call in flight: what its connections may reach and when it must end.

    Set in a thread-local for the call: a run's threads share one Session, so the
    policy cannot live on a pool or a connection.
    """

    __slots__ = ("deadline", "reach", "site_is_private", "sock", "expired")

    def __init__(
        self, deadline: float, reach: Reach, site_is_private: Callable[[str], bool]
    ) -> None:
        self.deadline, self.reach, self.site_is_private = deadline, reach, site_is_private
        self.sock: socket.socket | None = None  # the one the watchdog shuts at the deadline
        self.expired = False

    def private_ok(self) -> bool:
        """Whether private addresses are allowed: by the reach, or by the site's own address
        (asked only when a peer is private: resolving the site costs a DNS look-up)."""
        return self.reach.allow_private or self.site_is_private(_site(self.reach.site)[2])


_local = threading.local()


@contextmanager
def in_flight(
    deadline: float, reach: Reach, site_is_private: Callable[[str], bool]
) -> Iterator[InFlight]:
    """Run one request (and its redirects) under `reach` and `deadline`: the connections
    this thread opens or reuses meanwhile are checked and watched (`GuardedConnection`)."""
    request = _local.request = InFlight(deadline, reach, site_is_private)
    try:
        yield request
    finally:
        _local.request = None
        if request.sock is not None:  # only this thread sets it
            _WATCHDOG.forget(request)


class _Watchdog:
    """One daemon thread that shuts the socket of a request past its deadline.

    A socket timeout bounds each read only: a server sending one header byte a second
    held a fetch for 240 s with `timeout_seconds = 5`. Shutting the socket down makes
    the blocked recv return at once. One thread, not a Timer per request: requests
    are the hot path, and cost here a set insert and delete. The thread sleeps until
    the earliest deadline in flight (with none, until a request starts), not on a
    tick: a 50 ms tick woke the service ~120 times a minute for deadlines of seconds
    that requests of milliseconds almost never reach.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # `with` on it directly: a Condition's costs ~1 us more
        self._wake = threading.Condition(self._lock)
        self._live: set[InFlight] = set()
        self._until = math.inf  # when the thread wakes next on its own
        self._thread: threading.Thread | None = None

    def watch(self, request: InFlight, sock: socket.socket) -> None:
        """Shut `sock` down if `request` is still running at its deadline."""
        with self._lock:
            request.sock = sock
            if request.expired:
                _shut(sock)
                return
            self._live.add(request)
            if request.deadline < self._until:  # the thread would sleep past it
                self._until = request.deadline
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="fetch-watchdog",
                                                    daemon=True)  # fmt: skip
                    self._thread.start()
                self._wake.notify()

    def forget(self, request: InFlight) -> None:
        """`request` is over: its socket, back in the pool, is no longer its to shut."""
        with self._lock:
            self._live.discard(request)
            request.sock = None

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for request in [r for r in self._live if r.deadline <= now]:
                    self._live.discard(request)
                    request.expired = True
                    if request.sock is not None:
                        _shut(request.sock)
                self._until = min((r.deadline for r in self._live), default=math.inf)
                self._wake.wait(None if self._until == math.inf else self._until - now)


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown: SSLSocket's would drop its SSL object under the
    # reading thread's feet. OSError: closed already.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class GuardedConnection(HTTPConnection):
    """An HTTP connection that refuses a peer its request may not reach.

    The peer is checked right after connecting, before a byte is sent, so DNS
    rebinding gains nothing; and again when a kept-alive connection is reused, since
    another source's request (another policy) may have opened it. The socket is given
    to the watchdog, so the request's deadline covers the TLS handshake and headers.
    """

    _peer = ""
    _peer_kind = ""  # "" for a public address

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._peer = ""
        with contextlib.suppress(OSError):  # reset already: the request fails on its own
            self._peer = str(sock.getpeername()[0])
        self._peer_kind = address_kind(self._peer)
        if (request := getattr(_local, "request", None)) is not None:
            if self._peer_kind and not request.private_ok():
                sock.close()
                raise OutOfReach(f"{self._peer} is {self._peer_kind}")
            _WATCHDOG.watch(request, sock)
        return sock

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        request = getattr(_local, "request", None)
        if request is not None and self.sock is not None:  # connected already: reused
            if self._peer_kind and not request.private_ok():
                raise OutOfReach(f"{self._peer} is {self._peer_kind}")
            _WATCHDOG.watch(request, self.sock)
        super().request(method, url, *args, **kwargs)


class _GuardedHTTPSConnection(GuardedConnection, HTTPSConnection):
    """`GuardedConnection` for https."""


GUARDED_POOLS = {
    "http": type("_GuardedPool", (HTTPConnectionPool,), {"ConnectionCls": GuardedConnection}),
    "https": type("_GuardedHTTPSPool", (HTTPSConnectionPool,),
                  {"ConnectionCls": _GuardedHTTPSConnection}),
}  # fmt: skip
