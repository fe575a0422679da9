"""Email over STARTTLS and implicit TLS with login, against a real aiosmtpd server."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.alert import SAMPLE_ITEM, composer_for, deliver, view
from monitor.config import load_settings
from monitor.demo import MailBox
from monitor.errors import AlertError
from tests.conftest import free_port, write_config

SOURCE = '[sources.feed]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"monitor", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield authority, path


def _server(ca: trustme.CA, mode: str) -> tuple[Controller, MailBox, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    mailbox, port = MailBox(), free_port()
    # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`; SMTPS is TLS throughout.
    options = (
        {"ssl_context": context, "auth_require_tls": False}
        if mode == "ssl"
        else {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    )
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticate,
        auth_required=True, **options,
    )  # fmt: skip
    controller.start()
    return controller, mailbox, port


def _channel(tmp_path: Path, port: int, tls: str, ca_file: Path | None, password: str):
    ca_line = f'tls_ca_file = "{ca_file}"\n' if ca_file else ""
    extra = (
        f'[channels.mail]\nkind = "email"\nhost = "127.0.0.1"\nport = {port}\ntls = "{tls}"\n'
        f'username = "monitor"\npassword_env = "TEST_SMTP_PASSWORD"\n{ca_line}'
        'sender = "monitor@localhost"\nrecipients = ["analyst@localhost"]\ntimeout_seconds = 5\n'
    )
    settings = load_settings(
        write_config(tmp_path, SOURCE, extra=extra), env={"TEST_SMTP_PASSWORD": password}
    )
    return settings, settings.channels[0]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_login_over_tls_delivers_thai_mail(tmp_path: Path, ca, tls: str):
    authority, ca_file = ca
    controller, mailbox, port = _server(authority, tls)
    try:
        settings, channel = _channel(tmp_path, port, tls, ca_file, "s3cret")
        composer = composer_for(settings)

        deliver([view(SAMPLE_ITEM, composer.labels)], channel, composer)
    finally:
        controller.stop()

    assert len(mailbox.messages) == 1
    assert "แรนซัมแวร์" in mailbox.messages[0]["Subject"]


def test_wrong_password_is_the_servers_reason(tmp_path: Path, ca):
    authority, ca_file = ca
    controller, _, port = _server(authority, "starttls")
    try:
        settings, channel = _channel(tmp_path, port, "starttls", ca_file, "wrong")
        composer = composer_for(settings)
        with pytest.raises(AlertError, match="535"):
            deliver([view(SAMPLE_ITEM, composer.labels)], channel, composer)
    finally:
        controller.stop()


def test_untrusted_certificate_is_refused(tmp_path: Path, ca):
    authority, _ = ca
    controller, mailbox, port = _server(authority, "starttls")
    try:
        settings, channel = _channel(tmp_path, port, "starttls", None, "s3cret")
        composer = composer_for(settings)
        with pytest.raises(AlertError, match="CERTIFICATE_VERIFY_FAILED"):
            deliver([view(SAMPLE_ITEM, composer.labels)], channel, composer)
    finally:
        controller.stop()
    assert mailbox.messages == []
