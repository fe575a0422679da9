"""Canonical form of article URLs, shared by extraction and deduplication. Pure.

Rules: lower-case scheme and host, `http` made `https` only in the key used for
comparison (`url_key`), default ports dropped, fragment dropped, tracking and
cache-busting parameters dropped (`utm_*`, `fbclid`, `gclid`, `random`, ...),
remaining parameters sorted, trailing slash dropped except for the root path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
             "random", "rand", "_", "cache", "cb", "ref", "ref_src"}  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact(text: str) -> str:
    """`text` with the credentials of every URL in it (`user:pass@`) replaced by `***@`:
    a source URL may carry a login, and errors reach logs, status and the archive."""
    return _USERINFO.sub("***@", text) if "@" in text else text


@lru_cache(maxsize=1024)  # a page's URLs are looked up several times each (0.2 ms per item)
def canonical_url(url: str) -> str:
    """Return `url` without noise that does not change which page it names."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(query), ""))


@lru_cache(maxsize=1024)
def url_key(url: str) -> str:
    """Comparison key: the canonical URL with `http` and `https` made the same."""
    canonical = canonical_url(url)
    return "https" + canonical[4:] if canonical.startswith("http:") else canonical
