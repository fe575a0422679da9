"""Deliver queued alerts: email over SMTP, chat through Apprise. I/O at the edge.

Rows come from the store's outbox; each is sent, then marked `sent`. A failure is
counted and retried later with exponential backoff, and marked `failed` after the
configured number of attempts. The one window where a restart can send twice is
between a channel accepting a message and the outbox recording it: the mark is
written right after the channel returns.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import apprise

from monitor.config import AlertSettings, Channel
from monitor.errors import AlertError
from monitor.models import Delivery
from monitor.store import Store
from monitor.thai import bangkok_time

SUBJECT_CHARS = 150


def _bangkok_time(published_at: str | None) -> str:
    shown = bangkok_time(published_at)
    return f"{shown} (Bangkok)" if shown else "date unknown"


def _topic_lines(item: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, int, str]]]]:
    """(topic, [(term, field, count, snippet)]) for each matched topic."""
    return [
        (t["topic"], [(h["term"], h["field"], h["count"], h["snippet"]) for h in t["hits"]])
        for t in item["match"]
        if t["matched"]
    ]


def _other_urls(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for u in item["urls"] if u["url"] != item["url"]]


def subject(item: dict[str, Any]) -> str:
    topics = ", ".join(t for t, _ in _topic_lines(item))
    text = f"[{topics}] {item['title']}"
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 1] + "…"


def plain_text(item: dict[str, Any]) -> str:
    """The alert as plain text: used for the email's text part and for chat."""
    lines = [
        item["title"],
        "",
        f"Date: {_bangkok_time(item['published_at'])}",
        f"Source: {item['source']}",
        f"Link: {item['url']}",
    ]
    for topic, hits in _topic_lines(item):
        terms = ", ".join(f"{term} ({field} ×{count})" for term, field, count, _ in hits)
        lines += ["", f"{topic}: {terms}"] + [f"  “{snip}”" for *_, snip in hits[:2]]
    if others := _other_urls(item):
        lines += ["", "Also published at:"] + [f"  {u['url']} ({u['source']})" for u in others]
    return "\n".join(lines)


def html_text(item: dict[str, Any]) -> str:
    """The alert as HTML; every piece of item text is escaped."""
    e = html.escape
    parts = [
        f'<h2><a href="{e(item["url"])}">{e(item["title"])}</a></h2>',
        f"<p>{e(_bangkok_time(item['published_at']))} · {e(item['source'])}</p>",
    ]
    for topic, hits in _topic_lines(item):
        terms = ", ".join(
            f"<b>{e(term)}</b> ({e(field)} ×{count})" for term, field, count, _ in hits
        )
        snippets = "".join(f"<blockquote>{e(snip)}</blockquote>" for *_, snip in hits[:2])
        parts.append(f"<p>{e(topic)}: {terms}</p>{snippets}")
    if others := _other_urls(item):
        links = "".join(f'<li><a href="{e(u["url"])}">{e(u["url"])}</a></li>' for u in others)
        parts.append(f"<p>Also published at:</p><ul>{links}</ul>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def email_message(item: dict[str, Any], channel: Channel) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(item)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    message["Message-ID"] = make_msgid(domain="thai-news-monitor")
    message.set_content(plain_text(item), charset="utf-8")
    message.add_alternative(html_text(item), subtype="html", charset="utf-8")
    return message


def send_email(message: EmailMessage, channel: Channel) -> None:
    """Send one message; raise AlertError with the server's reason on failure."""
    try:
        if channel.tls == "ssl":
            context = ssl.create_default_context()
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=channel.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds)
        with smtp:
            if channel.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.username:
                smtp.login(channel.username, channel.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(channel.name, f"SMTP {channel.host}:{channel.port}: {exc}") from exc


def send_chat(title: str, body: str, channel: Channel) -> None:
    """Send through Apprise; raise AlertError with Apprise's own reason on failure."""
    notifier = apprise.Apprise()
    if not notifier.add(channel.url):
        raise AlertError(channel.name, "the Apprise URL is not valid")
    result = notifier.notify(body=body, title=title, timeout=channel.timeout_seconds)
    if not result:
        reasons = [entry.message for entry in result.logs()] or ["rejected"]
        raise AlertError(channel.name, reasons[-1])


def deliver(item: dict[str, Any], channel: Channel) -> None:
    if channel.kind == "email":
        send_email(email_message(item, channel), channel)
    else:
        send_chat(subject(item), plain_text(item), channel)


def _retry_delay(attempts_made: int, settings: AlertSettings) -> timedelta | None:
    if attempts_made >= settings.max_attempts:
        return None
    seconds = settings.retry_base_seconds * 2 ** (attempts_made - 1)
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


def send_pending(
    store: Store, channels: Iterable[Channel], settings: AlertSettings, now: datetime
) -> list[Delivery]:
    """Try every due outbox row once; record each outcome before the next."""
    by_name = {c.name: c for c in channels}
    deliveries = []
    for row in list(store.due_alerts(now)):
        channel = by_name.get(row["channel"])
        if channel is None:
            continue  # channel removed or disabled in config: keep the row for later
        try:
            deliver(store.item(row["item_id"]), channel)
        except AlertError as exc:
            delay = _retry_delay(row["attempts"] + 1, settings)
            store.mark_attempt_failed(row["id"], str(exc), delay, now)
            deliveries.append(Delivery(row["item_id"], channel.name, False, str(exc)))
        else:
            store.mark_sent(row["id"], now)
            deliveries.append(Delivery(row["item_id"], channel.name, True))
    return deliveries
