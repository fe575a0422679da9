"""Decide whether an extracted item is new, already stored, or a copy. Pure.

Heuristics:
- Same page: the canonical URL key (`urls.url_key`) is already stored.
- Same release elsewhere: the SHA-256 of the normalised body (Thai normalisation,
  case, spacing; credit lines such as `ที่มา:รัฐบาลไทย` and blank lines removed)
  equals a stored item's. The copy's URL is recorded as "also published at".
Known limits: a changed header or footer line, a new title prefix in the body or
a trimmed ending defeats the hash (near-duplicate detection is not done yet); an
empty body falls back to hashing the title, so two empty pages with the same
title are taken as one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from monitor.models import Item
from monitor.thai import normalize_text

_CREDIT_LINE = re.compile(r"^(ที่มา|แหล่งที่มา|source)\s*[:：]", re.IGNORECASE)


def content_hash(title: str, body: str) -> str:
    """Hash of the normalised body (title when the body is empty)."""
    lines = [
        line.strip()
        for line in normalize_text(body or title).splitlines()
        if line.strip() and not _CREDIT_LINE.match(line.strip())
    ]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """`new`, `known` (same URL) or `duplicate` (same content elsewhere) and the stored id."""

    kind: str
    item_id: int | None = None


def classify(item: Item, id_by_url: int | None, id_by_hash: int | None) -> Verdict:
    """Classify an item given what the store holds for its URL and its hash."""
    if id_by_url is not None:
        return Verdict("known", id_by_url)
    if id_by_hash is not None:
        return Verdict("duplicate", id_by_hash)
    return Verdict("new")
