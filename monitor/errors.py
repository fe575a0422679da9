"""One exception tree for the whole monitor.

    MonitorError
    ├── ConfigError      bad or missing configuration (file, key, expected)
    ├── SourceError      one source failed; the others go on
    │   ├── FetchError   network, HTTP status, size cap, bot check
    │   └── ExtractError page or feed could not be read
    ├── StoreError       the SQLite file cannot be opened or written
    ├── AlertError       a channel refused or could not be reached
    ├── QueryError       a search or lookup the user typed is not valid
    └── AlreadyRunning   another service holds the data directory

Anything that is not a MonitorError is a bug: it is logged and re-raised.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every expected failure."""


class ConfigError(MonitorError):
    """Configuration is missing or wrong; message names file, key and what was expected."""

    def __init__(self, path: str, key: str, expected: str) -> None:
        super().__init__(f"{path}: {key}: {expected}")
        self.path = path
        self.key = key
        self.expected = expected


class SourceError(MonitorError):
    """A source or one of its pages failed."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retry_after = retry_after


class FetchError(SourceError):
    """The HTTP request failed or its answer is unusable."""


class ExtractError(SourceError):
    """The page or feed was fetched but could not be read."""


class StoreError(MonitorError):
    """The SQLite store failed."""


class AlertError(MonitorError):
    """An alert channel failed to deliver."""

    def __init__(self, channel: str, message: str) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel


class QueryError(MonitorError):
    """A user query (search text, item id) is not valid."""


class AlreadyRunning(MonitorError):
    """Another `monitor serve` holds the data directory: two would poll every site twice."""
