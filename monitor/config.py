"""Read and validate the TOML configuration once, into frozen settings.

This is the only module that reads environment variables (secrets: SMTP
passwords, chat URLs with tokens). Every error names the file, the key and
what was expected. Relative paths are resolved against the config file's folder.

A channel's secret variable that is unset does not stop loading: commands that
only read the archive (search, status, web, export...) never need it. Commands
that send call `Settings.require_secrets()` (or load with `need_secrets=True`),
which names the first unset variable.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from re import _constants as _sre  # the parsed form of patterns: no public API
from re import _parser as _sre_parse
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.errors import ConfigError
from monitor.match import Rules, Term, Topic
from monitor.models import ArticleRules, ListingRules, Source
from monitor.route import Routing, parse_clock

DEFAULT_CONFIG = Path("config/monitor.toml")
MAX_BYTES_LIMIT = 200_000_000  # a page is held in memory whole, decoded and parsed
DEFAULT_USER_AGENT = (
    "thai-news-monitor/0.1 (+https://github.com/thai-news-monitor/thai-news-monitor)"
)


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = DEFAULT_USER_AGENT
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    min_delay_seconds: float = 1.0
    obey_robots: bool = True
    robots_cache_seconds: float = 24 * 3600
    max_workers: int = 4
    max_backoff_minutes: float = 360.0
    ca_bundle: str = ""  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE; "" = certifi's
    # (scheme, proxy URL) of the *_PROXY variables; scheme "no" is NO_PROXY's host list.
    proxies: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Channel:
    """An alert channel: `email` (SMTP) or `apprise` (chat URL), and its routing."""

    name: str
    kind: str
    routing: Routing = Routing()
    host: str = ""
    port: int = 0
    tls: str = "none"  # none | starttls | ssl
    tls_ca_file: str = ""  # a private CA to trust (internal mail servers); "" = system CAs
    username: str = ""  # never without TLS unless the config says allow_plain_login
    password: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    url: str = ""
    timeout_seconds: float = 20.0
    max_chars: int = 0  # 0: the limit known for the Apprise URL's service
    secret_env: str = ""  # the variable named by url_env / password_env
    secret_missing: bool = False  # that variable was unset when the config was read

    @property
    def secret_key(self) -> str:
        """The config key naming this channel's secret variable."""
        return "url_env" if self.kind == "apprise" else "password_env"


@dataclass(frozen=True)
class AlertSettings:
    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0


@dataclass(frozen=True)
class DemoSettings:
    snapshot_dir: Path
    http_port: int
    smtp_port: int


@dataclass(frozen=True)
class Settings:
    path: Path
    data_dir: Path
    fetch: FetchSettings
    sources: tuple[Source, ...]
    rules: Rules
    channels: tuple[Channel, ...]
    alerts: AlertSettings
    templates_dir: Path
    retention_days: int = 365
    presets: tuple[tuple[str, str], ...] = ()  # (name, description) of presets.toml
    demo: DemoSettings | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "monitor.db"

    def require_secrets(self) -> Settings:
        """These settings, if every enabled channel's secret variable was set; else raise
        ConfigError naming the first unset one (for the commands that send)."""
        for channel in self.channels:
            if channel.secret_missing:
                raise ConfigError(
                    str(self.path),
                    f"channels.{channel.name}.{channel.secret_key}",
                    f"environment variable {channel.secret_env} to be set",
                )
        return self

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(str(self.path), f"sources.{name}", "a configured source name")


class _Table:
    """A TOML table with typed getters that raise ConfigError naming the key."""

    def __init__(self, path: Path, prefix: str, data: Mapping[str, Any], allowed: set[str]):
        self.path, self.prefix, self.data = path, prefix, data
        for key in data:
            if key not in allowed:
                self.fail(key, f"a known key (one of {', '.join(sorted(allowed))})")

    def key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, expected: str) -> ConfigError:
        raise ConfigError(str(self.path), self.key(key), expected)

    def get(self, key: str, kind: type | tuple[type, ...], expected: str, default: Any) -> Any:
        value = self.data.get(key, default)
        if value is None and default is None:
            self.fail(key, f"{expected} (missing)")
        if isinstance(value, bool) and kind is not bool:
            self.fail(key, expected)
        if not isinstance(value, kind):
            self.fail(key, f"{expected}, got {type(value).__name__} {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        return self.get(key, str, "a string", default)

    def number(
        self, key: str, default: float | None = None, minimum: float = 0,
        maximum: float | None = None,
    ) -> float:  # fmt: skip
        value = float(self.get(key, (int, float), "a number", default))
        if not math.isfinite(value):
            self.fail(key, f"a finite number, got {value}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum:g} to {maximum:g}" if maximum is not None else f">= {minimum:g}"
            self.fail(key, f"a number {bound}, got {value:g}")
        return value

    def integer(
        self, key: str, default: int | None = None, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.get(key, int, "an integer", default)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            self.fail(key, f"an integer {bound}, got {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return self.get(key, bool, "true or false", default)

    def texts(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(key, list, "a list of strings", list(default))
        if not all(isinstance(v, str) for v in value):
            self.fail(key, "a list of strings")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value not in choices:
            self.fail(key, f"one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, key: str) -> str:
        value = self.text(key)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(key, f"an http(s) URL, got {value!r}")
        return value

    def sub(self, key: str, allowed: set[str] | None = None) -> _Table:
        """A nested table; `allowed` None accepts any key (tables of named things)."""
        value = self.get(key, dict, "a table", {})
        return _Table(self.path, self.key(key), value, set(value) if allowed is None else allowed)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", f"valid TOML: {exc}") from None


_LISTING_KEYS = {"links", "next_page", "container"}
_ARTICLE_KEYS = {
    "title", "title_strip_prefix", "date", "body", "category", "drop_lines", "stop_at",
}  # fmt: skip
_SOURCE_KEYS = {
    "kind", "url", "preset", "enabled", "interval_minutes", "max_pages", "max_items",
    "url_pattern", "fetch_articles", "listing", "article", "description", "unverified",
    "allowed_hosts", "allow_private_addresses", "revisit_hours",
}  # fmt: skip


def _merged(preset: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay a source's own keys on its preset, one level deep for sub-tables."""
    merged = dict(preset)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _nested_repeat(parsed: Any, inside_repeat: bool = False) -> bool:
    """Whether a parsed pattern repeats something that itself repeats (`(a+)+`, `(\\w*x?)*`):
    the shape whose backtracking takes exponential time on a crafted URL or line."""
    for op, arg in parsed:
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            low, high, inner = arg
            repeats = high == _sre.MAXREPEAT or high > max(low, 1)  # x{2} is not a choice
            if (repeats and inside_repeat) or _nested_repeat(inner, inside_repeat or repeats):
                return True
            continue
        if op == _sre.SUBPATTERN:
            parts = [arg[-1]]
        elif op == _sre.ATOMIC_GROUP:
            parts = [arg]
        elif op == _sre.BRANCH:
            parts = arg[1]
        else:
            continue
        if any(_nested_repeat(p, inside_repeat) for p in parts):
            return True
    return False


def _regex(table: _Table, key: str, pattern: str) -> None:
    """Check a regular expression that hostile text (page lines, URLs) will be run through."""
    try:
        parsed = _sre_parse.parse(pattern)
        re.compile(pattern)
    except re.error as exc:
        table.fail(key, f"regular expressions ({pattern!r}: {exc})")
    if _nested_repeat(list(parsed)):
        table.fail(key, f"regular expressions without a repeat inside a repeat ({pattern!r} "
                        "can take exponential time on a crafted page)")  # fmt: skip


def _pattern(table: _Table, key: str) -> str:
    pattern = table.text(key, "")
    _regex(table, key, pattern)
    return pattern


def _patterns(table: _Table, key: str) -> tuple[str, ...]:
    patterns = table.texts(key)
    for pattern in patterns:
        _regex(table, key, pattern)
    return patterns


def _hosts(table: _Table, key: str) -> tuple[str, ...]:
    """Extra hosts a source may fetch from ("cdn.example.go.th" or "host:port")."""
    hosts = table.texts(key)
    for host in hosts:
        parts = urlsplit(f"//{host}")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            table.fail(key, f'host names or "host:port", {host!r} is not one')
        if not parts.hostname or parts.path or parts.username or "/" in host:
            table.fail(key, f'host names or "host:port", {host!r} is not one')
    return tuple(h.lower() for h in hosts)


def _source(path: Path, name: str, raw: Mapping[str, Any], presets: Mapping[str, Any]) -> Source:
    own = _Table(path, f"sources.{name}", raw, _SOURCE_KEYS)
    preset_name = own.text("preset", "")
    if preset_name and preset_name not in presets:
        own.fail("preset", f"a preset defined in presets.toml ({', '.join(sorted(presets))})")
    table = _Table(
        path, f"sources.{name}", _merged(presets.get(preset_name, {}), raw), _SOURCE_KEYS
    )
    kind = table.choice("kind", ("rss", "html", "sitemap"))
    listing = None
    if kind == "html":
        lt = table.sub("listing", _LISTING_KEYS)
        listing = ListingRules(
            links=lt.text("links"),
            next_page=lt.text("next_page", ""),
            container=lt.text("container", ""),
        )
    at = table.sub("article", _ARTICLE_KEYS)
    article = ArticleRules(
        title=at.text("title", "title"),
        title_strip_prefix=at.text("title_strip_prefix", ""),
        date=at.text("date", ""),
        body=at.text("body", ""),
        category=at.text("category", ""),
        drop_lines=_patterns(at, "drop_lines"),
        stop_at=_patterns(at, "stop_at"),
    )
    return Source(
        name=name,
        kind=kind,
        url=table.url("url"),
        preset=preset_name,
        interval_minutes=table.number("interval_minutes", 30, minimum=1, maximum=7 * 24 * 60),
        max_pages=table.integer("max_pages", 1, minimum=1, maximum=10_000),
        max_items=table.integer("max_items", 100, minimum=1, maximum=100_000),
        url_pattern=_pattern(table, "url_pattern"),
        listing=listing,
        article=article,
        fetch_articles=table.flag("fetch_articles", kind != "rss"),
        allowed_hosts=_hosts(table, "allowed_hosts"),
        revisit_hours=table.number("revisit_hours", 48, maximum=24 * 30),
        allow_private_addresses=table.flag("allow_private_addresses", False),
    )


_TOPIC_KEYS = {
    "label", "threshold", "related_threshold", "terms", "ignore", "veto", "require_any",
    "require_all", "description",
}  # fmt: skip


def load_rules(path: Path) -> Rules:
    """Read topics (terms with weights, ignore/veto phrases, thresholds)."""
    root = _Table(path, "", _read_toml(path), {"topics"})
    topics_table = root.sub("topics")
    topics = []
    for name in topics_table.data:
        t = topics_table.sub(name, _TOPIC_KEYS)
        raw_terms = t.get("terms", dict, "a table of term = weight", None)
        terms = []
        for raw, weight in raw_terms.items():
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not raw.strip("*")
            ):
                t.fail(f"terms.{raw!r}", "a non-empty term with a numeric weight")
            try:
                terms.append(Term.parse(raw, float(weight)))
            except ValueError:
                t.fail(f"terms.{raw!r}", "a term, or 'a|b ~ c|d' with words on both sides")
        known = {term.text for term in terms}
        require_any = tuple(Term.parse(r, 0).text for r in t.texts("require_any"))
        for required in require_any:
            if required not in known:
                t.fail("require_any", f"terms listed in terms, {required!r} is not")
        groups = t.get("require_all", list, "a list of lists of terms", [])
        require_all = []
        for group in groups:
            if (
                not isinstance(group, list)
                or not group
                or not all(isinstance(r, str) for r in group)
            ):
                t.fail("require_all", "a list of non-empty lists of terms")
            texts = tuple(Term.parse(r, 0).text for r in group)
            for required in texts:
                if required not in known:
                    t.fail("require_all", f"terms listed in terms, {required!r} is not")
            require_all.append(texts)
        threshold = t.number("threshold")
        related = t.number("related_threshold", threshold, maximum=threshold)
        topics.append(
            Topic(
                name=name,
                label=t.text("label", name),
                threshold=threshold,
                related_threshold=related,
                terms=tuple(terms),
                ignore=t.texts("ignore"),
                veto=t.texts("veto"),
                require_any=require_any,
                require_all=tuple(require_all),
            )
        )
    if not topics:
        root.fail("topics", "at least one [topics.NAME] table")
    return Rules(tuple(topics))


_CHANNEL_KEYS = {
    "kind", "enabled", "topics", "host", "port", "tls", "username", "password_env",
    "sender", "recipients", "url_env", "timeout_seconds", "min_score", "mode", "digest",
    "tls_ca_file", "allow_plain_login",
    "digest_time", "quiet_hours", "urgent_score", "max_chars",
}  # fmt: skip


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _secret(table: _Table, key: str, env: Mapping[str, str], required: bool) -> dict[str, Any]:
    """The Channel fields of the secret held by the environment variable the key names:
    the variable's name, and its value or that it is unset (`Settings.require_secrets`
    refuses that for the commands that send; the others never read the value).

    A value that cannot be a variable's name is likely the secret itself, typed in the
    wrong place: the error says so without repeating it (errors reach logs and screens).
    """
    name = table.text(key, "")
    if not name:
        if required:
            table.fail(key, "the name of an environment variable holding the secret")
        return {}
    if not _ENV_NAME.fullmatch(name):
        table.fail(key, "the NAME of an environment variable (letters, digits, _), not the "
                        "secret itself; the value given is not shown")  # fmt: skip
    field = "url" if key == "url_env" else "password"
    return {"secret_env": name, "secret_missing": name not in env, field: env.get(name, "")}


def _clock(table: _Table, key: str, text: str) -> time:
    try:
        return parse_clock(text)
    except ValueError:
        raise table.fail(key, f"a time of day HH:MM, got {text!r}") from None


def _routing(table: _Table, topics: set[str]) -> Routing:
    wanted = table.texts("topics", tuple(sorted(topics)))
    for topic in wanted:
        if topic not in topics:
            table.fail("topics", f"topic names from the rules ({', '.join(sorted(topics))})")
    quiet = table.text("quiet_hours", "")
    quiet_start = quiet_end = None
    if quiet:
        if quiet.count("-") != 1:
            table.fail("quiet_hours", f'"HH:MM-HH:MM" (Bangkok time), got {quiet!r}')
        start, end = quiet.split("-")
        quiet_start = _clock(table, "quiet_hours", start)
        quiet_end = _clock(table, "quiet_hours", end)
    urgent = table.data.get("urgent_score")
    return Routing(
        topics=wanted,
        min_score=table.number("min_score", 0),
        mode=table.choice("mode", ("instant", "digest"), "instant"),
        digest=table.choice("digest", ("hourly", "daily"), "daily"),
        digest_time=_clock(table, "digest_time", table.text("digest_time", "08:00")),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        urgent_score=None if urgent is None else table.number("urgent_score"),
    )


def _existing_file(table: _Table, key: str) -> str:
    value = table.text(key, "")
    if not value:
        return ""
    path = (table.path.parent / Path(value).expanduser()).resolve()
    if not path.is_file():
        table.fail(key, f"an existing file, {value!r} is not one")
    return str(path)


def _channel(table: _Table, name: str, env: Mapping[str, str], topics: set[str]) -> Channel:
    kind = table.choice("kind", ("email", "apprise"))
    common = {"name": name, "kind": kind, "routing": _routing(table, topics),
              "timeout_seconds": table.number("timeout_seconds", 20, 1, maximum=600)}  # fmt: skip
    if kind == "apprise":
        return Channel(
            **common,
            **_secret(table, "url_env", env, required=True),
            max_chars=table.integer("max_chars", 0, maximum=100_000),
        )
    recipients = table.texts("recipients")
    if not recipients:
        table.fail("recipients", "a non-empty list of email addresses")
    tls = table.choice("tls", ("none", "starttls", "ssl"), "none")
    if table.text("username", "") and tls == "none" and not table.flag("allow_plain_login", False):
        table.fail("tls", '"starttls" or "ssl" with a username (the password would cross '
                          'the network in clear); or allow_plain_login = true')  # fmt: skip
    return Channel(
        **common,
        host=table.text("host"),
        port=table.integer("port", minimum=1, maximum=65535),
        tls=tls,
        tls_ca_file=_existing_file(table, "tls_ca_file"),
        username=table.text("username", ""),
        **_secret(table, "password_env", env, required=False),
        sender=table.text("sender"),
        recipients=recipients,
    )


TEMPLATES = ("subject.txt.j2", "email.txt.j2", "email.html.j2", "chat.txt.j2", "chat.md.j2")


def _templates(root: _Table, folder: Path) -> Path:
    """Check that every alert template exists and parses, so a typo fails at start-up."""
    for name in TEMPLATES:
        path = folder / name
        try:
            jinja2.Environment().parse(path.read_text(encoding="utf-8"))
        except OSError:
            root.fail("templates_dir", f"a folder holding {', '.join(TEMPLATES)} ({path} missing)")
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(str(path), f"line {exc.lineno}", f"valid Jinja2: {exc}") from None
    return folder


_ROOT_KEYS = {
    "data_dir", "topics_file", "presets_file", "templates_dir", "fetch", "sources", "channels",
    "alerts", "demo", "retention",
}  # fmt: skip


def proxies_from(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY... as (scheme, value), sorted; the
    lower-case variable wins over the upper-case one, as curl and urllib read them."""
    found: dict[str, str] = {}
    for name in sorted(env, key=str.islower):  # upper case first, lower case overrides
        if name.lower().endswith("_proxy") and env[name]:
            found[name[:-6].lower()] = env[name]
    return tuple(sorted(found.items()))


def load_settings(
    path: Path = DEFAULT_CONFIG, env: Mapping[str, str] | None = None, need_secrets: bool = False
) -> Settings:
    """Read the main config file and the files it names; raise ConfigError on any fault.

    An unset secret variable is a fault only with `need_secrets` (see the module doc)."""
    env = os.environ if env is None else env
    path = Path(path)
    root = _Table(path, "", _read_toml(path), _ROOT_KEYS)
    base = path.parent

    def resolve(value: str) -> Path:
        return (base / Path(value).expanduser()).resolve()

    rules = load_rules(resolve(root.text("topics_file", "topics.toml")))
    presets_path = resolve(root.text("presets_file", "presets.toml"))
    presets = _Table(presets_path, "", _read_toml(presets_path), {"presets"}).sub("presets").data
    for name, preset in presets.items():
        if not isinstance(preset, dict):
            raise ConfigError(str(presets_path), f"presets.{name}", "a table")
    f = root.sub("fetch", {"user_agent", "timeout_seconds", "max_bytes", "min_delay_seconds",
                           "obey_robots", "robots_cache_hours", "max_workers",
                           "max_backoff_minutes"})  # fmt: skip
    fetch = FetchSettings(
        user_agent=f.text("user_agent", DEFAULT_USER_AGENT),
        timeout_seconds=f.number("timeout_seconds", 20, minimum=0.1, maximum=600),
        max_bytes=f.integer("max_bytes", 5_000_000, minimum=1024, maximum=MAX_BYTES_LIMIT),
        min_delay_seconds=f.number("min_delay_seconds", 1.0, maximum=3600),
        obey_robots=f.flag("obey_robots", True),
        robots_cache_seconds=f.number("robots_cache_hours", 24, maximum=24 * 30) * 3600,
        max_workers=f.integer("max_workers", 4, minimum=1, maximum=64),
        max_backoff_minutes=f.number("max_backoff_minutes", 360, minimum=1, maximum=7 * 24 * 60),
        ca_bundle=env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or "",
        proxies=proxies_from(env),
    )
    sources_table = root.sub("sources")
    sources = tuple(
        _source(path, name, raw, presets)
        for name, raw in sources_table.data.items()
        if sources_table.sub(name, _SOURCE_KEYS).flag("enabled", True)
    )
    topic_names = {t.name for t in rules.topics}
    channels_table = root.sub("channels")
    channels = tuple(
        _channel(table, name, env, topic_names)
        for name in channels_table.data
        if (table := channels_table.sub(name, _CHANNEL_KEYS)).flag("enabled", True)
    )
    a = root.sub("alerts", {"max_attempts", "retry_base_seconds", "retry_max_seconds"})
    alerts = AlertSettings(
        max_attempts=a.integer("max_attempts", 8, minimum=1, maximum=1000),
        retry_base_seconds=a.number("retry_base_seconds", 60, maximum=24 * 3600),
        retry_max_seconds=a.number("retry_max_seconds", 3600, maximum=7 * 24 * 3600),
    )
    demo = None
    if "demo" in root.data:
        d = root.sub("demo", {"snapshot_dir", "http_port", "smtp_port"})
        demo = DemoSettings(
            snapshot_dir=resolve(d.text("snapshot_dir")),
            http_port=d.integer("http_port", minimum=1),
            smtp_port=d.integer("smtp_port", minimum=1),
        )
    settings = Settings(
        path=path,
        data_dir=resolve(root.text("data_dir", "../data")),
        fetch=fetch,
        sources=sources,
        rules=rules,
        channels=channels,
        alerts=alerts,
        templates_dir=_templates(root, resolve(root.text("templates_dir", "templates"))),
        presets=tuple((name, str(p.get("description", ""))) for name, p in presets.items()),
        retention_days=root.sub("retention", {"unmatched_days"}).integer(
            "unmatched_days", 365, minimum=1
        ),
        demo=demo,
    )
    return settings.require_secrets() if need_secrets else settings
