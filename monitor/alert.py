"""Deliver queued alerts: email over SMTP, chat through Apprise. I/O at the edge.

Rows come from the store's outbox once due (routing in `route.py` set the time).
An instant channel gets one message per item; a digest channel gets one message
for all its due items. Each message is sent, then its rows are marked `sent` in
one transaction. A failure is counted and retried with exponential backoff, and
marked `failed` after `max_attempts` (`monitor alerts retry` re-queues it).

A row records when it was queued (`created_at`), when a channel accepted it
(`sent_at`, the clock's time at that moment, not the run's start) and when its
attempts first and last failed. A failed attempt is logged at WARNING, a row
given up at ERROR. `channel_health` says which channels keep failing
(`monitor status` exits 1 for them).

Email carries `Date` and a `Message-ID` in the sender's domain (RFC 5322; spam
filters score mail without them), `List-Id` naming the bulletin so a mail rule
can file it, and `Auto-Submitted: auto-generated` so auto-replies stay away.

The one window where a restart can send twice is between a channel accepting a
message and the outbox recording it; the mark is written right after the
channel returns, so the window is one SQLite commit long.

Text comes from Jinja2 templates in `config/templates/`. What they see of an
item (`view`) holds no control characters and only http(s) URLs, so no
`javascript:` link; HTML is autoescaped, Markdown is escaped with the `md`
filter and its URLs with `mdurl`, so a hostile title cannot inject markup or
links; `@everyone` and its kin are defused in every chat message. Chat messages
are cut to the service's limit (Apprise knows it per service, LINE 5,000
characters) by dropping whole items, then if needed by cutting text before a
combining Thai mark or a link, never inside one.
"""

from __future__ import annotations

import logging
import re
import shlex
import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from monitor.config import AlertSettings, Channel, Settings
from monitor.errors import AlertError, ConfigError
from monitor.models import Delivery
from monitor.report import printable
from monitor.store import Store
from monitor.thai import BANGKOK, bangkok_time

log = logging.getLogger("monitor")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~>])")
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>~|])")
_MARKDOWN_URL_UNSAFE = re.compile(r'[\s<>()"`\[\]\\]')
_WEB_URL = re.compile(r"https?://[^\s/?#]", re.IGNORECASE)
# Discord, Slack, Mattermost and LINE notify a whole channel on these words; a longer
# word that starts with one (`@everyones`) is defused too, not worth a ping to find out.
# Slack's own form is `<!channel>` (also `<!here>`, `<!everyone>`, `<!subteam^ID>`).
_MASS_MENTION = re.compile(r"(?:@|(?<=<)!)(?=everyone|here|channel|all|subteam)", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"
_URL = re.compile(r"https?://\S+")
DEFAULT_CHAT_LIMIT = 4000
# A channel "keeps failing" (status exits 1) when a queued alert has failed this many
# times, or has been failing this long, or one was given up.
FAILING_ATTEMPTS = 3
FAILING_FOR = timedelta(minutes=30)
_LIST_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def escape_markdown(text: str) -> str:
    """Backslash-escape every Markdown control character."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def escape_markdown_title(text: str) -> str:
    """Backslash-escape what opens inline Markdown (links, emphasis, code, HTML).

    Fewer characters than `escape_markdown`: the title is never at the start of a
    line where `-`, `+`, `#` or `1.` would act, and services that show it in a
    field of its own (Discord, Slack, a JSON webhook) may show each backslash.
    """
    return _MARKDOWN_INLINE.sub(r"\\\1", text)


def markdown_url(url: str) -> str:
    """Percent-encode what would end a Markdown link or autolink early (`)`, `>`,
    space, ...), so the whole URL stays the link target and nothing after it is markup."""
    return _MARKDOWN_URL_UNSAFE.sub(lambda found: quote(found[0], safe=""), url)


def quiet_mentions(text: str) -> str:
    """Put a zero-width space after the @ of `@everyone`, `@here`, `@channel`, `@all` (and
    the ! of Slack's `<!channel>`): it reads the same but notifies nobody."""
    return _MASS_MENTION.sub(lambda found: found[0] + _ZERO_WIDTH_SPACE, text)


def web_url(url: str) -> str:
    """`url` if it is an http(s) URL, else "": a `javascript:` or `data:` URL must never
    become a link, whatever a template does with it."""
    url = printable(url, one_line=True).strip()
    return url if _WEB_URL.match(url) else ""


@lru_cache(maxsize=4)
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = escape_markdown
    env.filters["mdurl"] = markdown_url
    return env


def render(folder: Path, name: str, **context: Any) -> str:
    try:
        return _environment(folder).get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise ConfigError(str(folder / name), "(template)", f"a valid template: {exc}") from None


def _line(text: str) -> str:
    return printable(text, one_line=True)


def _not_relevant(item_id: int | None, topic: str) -> str:
    """The command that tells the monitor a wrong alert was wrong (`monitor feedback`):
    what `monitor tune --feedback` learns from. "" for an item not in the archive."""
    if item_id is None:
        return ""
    return f"monitor feedback {item_id} --topic {shlex.quote(_line(topic))} --not-relevant"


def _related(topic: dict[str, Any]) -> bool:
    """Related, not matched: only digests get such items (`route`); matches stored before
    the related tier have no such key."""
    return bool(topic.get("related"))


def view(item: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """What a template sees of a stored item: one-line text without control characters,
    and URLs that are http(s) or "" (a link elsewhere is left out of "also")."""
    shown = bangkok_time(item["published_at"])
    return {
        "id": item.get("id"),
        "title": _line(item["title"]),
        "url": web_url(item["url"]),
        "source": _line(item["source"]),
        "date": f"{shown} (Bangkok)" if shown else "unknown",
        "topics": [
            {
                "name": t["topic"],
                "label": labels.get(t["topic"], t["topic"]) + (" (related)" * _related(t)),
                "related": _related(t),
                "score": t["score"],
                "not_relevant": _not_relevant(item.get("id"), t["topic"]),
                "terms": [
                    {**h, "term": _line(h["term"]), "snippet": _line(h["snippet"])}
                    for h in t["hits"]
                ],
            }
            for t in item["match"]
            if t["matched"] or _related(t)
        ],
        "also": [
            {"url": web_url(u["url"]), "source": _line(u["source"])}
            for u in item["urls"]
            if u["url"] != item["url"] and web_url(u["url"])
        ],
    }


SAMPLE_ITEM: dict[str, Any] = {
    "title": "ตัวอย่างการแจ้งเตือน: สกมช. เตือนภัยแรนซัมแวร์ (sample alert)",
    "url": "https://www.thaigov.go.th/",
    "source": "thai-news-monitor",
    "published_at": None,
    "urls": [],
    "match": [{"topic": "cybersecurity", "matched": True, "score": 0.0,
               "hits": [{"term": "แรนซัมแวร์", "field": "title", "count": 1,
                         "snippet": "สกมช. เตือนภัยแรนซัมแวร์"}]}],
}  # fmt: skip


@dataclass(frozen=True)
class Composer:
    """Renders messages for one set of templates and topic labels."""

    templates: Path
    labels: dict[str, str]

    def subject(self, items: list[dict[str, Any]]) -> str:
        """One line without control characters: it becomes a header or a chat title."""
        text = render(self.templates, "subject.txt.j2", items=items)
        return cut(" ".join(printable(text, one_line=True).split()), 200)

    def email(
        self, items: list[dict[str, Any]], channel: Channel, now: datetime | None = None
    ) -> EmailMessage:
        """The message, dated `now` (default: the clock's time, in Bangkok)."""
        domain = sender_domain(channel.sender)
        label = _LIST_LABEL_UNSAFE.sub("-", channel.name).strip("-") or "alerts"
        message = EmailMessage()
        message["Subject"] = self.subject(items)
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.recipients)
        message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(BANGKOK))
        # No idstring: a Message-ID longer than a header line is folded (still valid).
        message["Message-ID"] = make_msgid(domain=domain)
        message["List-Id"] = (
            f"thai-news-monitor {label} alerts <{label}.thai-news-monitor.{domain}>"
        )
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(render(self.templates, "email.txt.j2", items=items), charset="utf-8")
        html = render(self.templates, "email.html.j2", items=items)
        message.add_alternative(html, subtype="html", charset="utf-8")
        return message

    def chat(self, items: list[dict[str, Any]], markdown: bool, limit: int) -> str:
        """The chat body, cut to `limit` characters by dropping items, then text."""
        name = "chat.md.j2" if markdown else "chat.txt.j2"
        for shown in range(len(items), 0, -1):
            text = render(self.templates, name, items=items[:shown], more=len(items) - shown)
            body = quiet_mentions(text)
            if len(body) <= limit:
                return body
        return cut(body, limit)

    def chat_message(
        self, items: list[dict[str, Any]], markdown: bool, limit: int
    ) -> tuple[str, str]:
        """(title, body) for Apprise, together at most `limit` characters.

        Apprise sends the title as given: Telegram, which has no title field, gets it
        in front of the body as a Markdown heading, where `[x](http://evil.example/)`
        in a headline was a live link. So a Markdown title is escaped too, keeping
        its own field on the services that have one (rather than folding it into
        the body and sending none).
        """
        title = quiet_mentions(self.subject(items))
        if markdown:
            title = escape_markdown_title(title)
        return title, self.chat(items, markdown, limit - len(title) - 1)


def sender_domain(sender: str) -> str:
    """The domain of a From address ("Monitor <m@cert.go.th>" -> "cert.go.th"), for the
    Message-ID and List-Id; "localhost" when the address has none."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip().strip("[]")
    return domain if "@" in address and domain else "localhost"


def composer_for(settings: Settings) -> Composer:
    """The composer for the configured templates and topic labels."""
    labels = {topic.name: topic.label for topic in settings.rules.topics}
    return Composer(settings.templates_dir, labels)


def cut(text: str, limit: int) -> str:
    """Shorten to `limit` characters with "…", never inside a Thai cluster or a link."""
    if limit <= 0 or len(text) <= limit:
        return text
    end = limit - 1
    while end > 0 and unicodedata.category(text[end]) == "Mn":
        end -= 1  # a Thai vowel or tone mark belongs to the letter before it
    for link in _URL.finditer(text):
        if link.start() < end < link.end():
            end = link.start()
    return text[:end].rstrip() + "…"


def send_email(message: EmailMessage, channel: Channel) -> None:
    """Send one message; raise AlertError with the server's reason on failure."""
    context = ssl.create_default_context(cafile=channel.tls_ca_file or None)
    try:
        if channel.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=channel.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds)
        with smtp:
            if channel.tls == "starttls":
                smtp.starttls(context=context)
            if channel.username:
                smtp.login(channel.username, channel.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(channel.name, f"SMTP {channel.host}:{channel.port}: {exc}") from exc


def chat_service(channel: Channel) -> tuple[bool, int]:
    """(takes Markdown, body length limit) of the Apprise service behind the URL."""
    import apprise  # 15 MB of plugins: only a service with a chat channel pays for it

    plugin = apprise.Apprise.instantiate(channel.url)
    if plugin is None:
        raise AlertError(channel.name, "the Apprise URL is not valid")
    formats = plugin.notify_format
    formats = formats if isinstance(formats, tuple) else (formats,)
    limit = channel.max_chars or plugin.body_maxlen or DEFAULT_CHAT_LIMIT
    return apprise.NotifyFormat.MARKDOWN in formats, limit


def send_chat(title: str, body: str, markdown: bool, channel: Channel) -> None:
    """Send through Apprise; raise AlertError with Apprise's own reason on failure."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(channel.url):
        raise AlertError(channel.name, "the Apprise URL is not valid")
    body_format = apprise.NotifyFormat.MARKDOWN if markdown else apprise.NotifyFormat.TEXT
    result = notifier.notify(
        body=body, title=title, body_format=body_format, timeout=channel.timeout_seconds
    )
    if not result:
        reasons = [entry.message for entry in result.logs()] or ["rejected"]
        raise AlertError(channel.name, reasons[-1])


def check_channels(settings: Settings) -> Settings:
    """The settings, if every channel can send: its secret variable set (the name of an
    unset one is given) and, for chat, a URL Apprise accepts; else raise ConfigError.

    For the commands that send, at start-up; the URL (it holds a token) is never shown."""
    settings.require_secrets()
    chats = [c for c in settings.channels if c.kind == "apprise"]
    if chats:
        import apprise  # only here and when sending: 15 MB of plugins

        apprise_log = logging.getLogger("apprise")
        level = apprise_log.level
        apprise_log.setLevel(logging.CRITICAL + 1)  # it logs a bad URL whole, token and all
        try:
            accepted = {c.name: bool(apprise.Apprise().add(c.url)) for c in chats}
        finally:
            apprise_log.setLevel(level)
        for channel in chats:
            if not accepted[channel.name]:
                raise ConfigError(
                    str(settings.path),
                    f"channels.{channel.name}.url_env",
                    f"a URL Apprise accepts in {channel.secret_env} (it does not; the URL "
                    "is not shown: it holds a token)",
                )
    return settings


def deliver(items: list[dict[str, Any]], channel: Channel, composer: Composer) -> None:
    """Send one message holding `items` on `channel`."""
    if channel.secret_missing:  # a sending command that skipped check_channels
        raise AlertError(channel.name, f"environment variable {channel.secret_env} is not set")
    if channel.kind == "email":
        send_email(composer.email(items, channel), channel)
        return
    markdown, limit = chat_service(channel)
    title, body = composer.chat_message(items, markdown, limit)
    send_chat(title, body, markdown, channel)


def _retry_delay(attempts_made: int, settings: AlertSettings) -> timedelta | None:
    if attempts_made >= settings.max_attempts:
        return None
    seconds = settings.retry_base_seconds * 2 ** (attempts_made - 1)
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


def _batches(rows: list[dict[str, Any]], channel: Channel) -> list[list[dict[str, Any]]]:
    if channel.routing.mode == "digest":
        return [rows]
    return [[row] for row in rows]


def _clock() -> datetime:
    return datetime.now(UTC)


def send_pending(
    store: Store,
    channels: Iterable[Channel],
    settings: AlertSettings,
    composer: Composer,
    now: datetime,
    clock: Callable[[], datetime] = _clock,
) -> list[Delivery]:
    """Send every due outbox row once; record each outcome before the next message.

    `now` decides what is due and when a retry will be; `clock` stamps what happened
    (a channel accepting a message, an attempt failing) at the time it happened."""
    by_name = {c.name: c for c in channels}
    due: dict[str, list[dict[str, Any]]] = {}
    # Rows of a channel removed from the config stay queued until it comes back.
    for row in store.claim_due_alerts(now, list(by_name)):
        due.setdefault(row["channel"], []).append(row)
    deliveries = []
    for name, rows in due.items():
        channel = by_name[name]
        for batch in _batches(rows, channel):
            ids = [row["id"] for row in batch]
            try:
                items = [view(store.item(row["item_id"]), composer.labels) for row in batch]
                deliver(items, channel, composer)
            except AlertError as exc:
                attempts = max(row["attempts"] for row in batch) + 1
                retry_in = _retry_delay(attempts, settings)
                store.mark_attempt_failed(ids, str(exc), retry_in, now, clock())
                _log_failure(name, ids, attempts, retry_in, str(exc))
                deliveries += [Delivery(r["item_id"], name, False, str(exc)) for r in batch]
            else:
                store.mark_sent(ids, clock())
                deliveries += [Delivery(r["item_id"], name, True) for r in batch]
    return deliveries


def _log_failure(
    channel: str, ids: list[int], attempts: int, retry_in: timedelta | None, error: str
) -> None:
    """WARNING for an attempt that will be retried, ERROR for alerts given up."""
    fields = {"channel": channel, "outbox_ids": ids, "attempts": attempts, "error": error}
    if retry_in is None:
        log.error("alert channel=%s gave up after %d attempts (monitor alerts retry): %s",
                  channel, attempts, error, extra=fields)  # fmt: skip
    else:
        log.warning("alert channel=%s attempt %d failed, retry in %ds: %s", channel, attempts,
                    retry_in.total_seconds(), error, extra=fields)  # fmt: skip


def channel_health(row: dict[str, Any], now: datetime) -> str:
    """Why a channel (a row of `Store.outbox_by_channel`) keeps failing, or "" if it does
    not: an alert given up, one queued with FAILING_ATTEMPTS failures, or failing for
    FAILING_FOR or longer."""
    if row["failed"]:
        return f"{row['failed']} alerts given up"
    if row["pending_attempts"] and row["pending_attempts"] >= FAILING_ATTEMPTS:
        return f"an alert failed {row['pending_attempts']} times"
    first = row["first_failed_at"]
    if first:
        since = now - datetime.fromisoformat(first.replace("Z", "+00:00"))
        if since >= FAILING_FOR:
            return f"failing for {int(since.total_seconds() // 60)} minutes"
    return ""
