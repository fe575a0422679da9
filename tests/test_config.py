"""A bad config stops start-up with one line naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from tests.conftest import CONFIG, write_config

GOOD_SOURCE = """
[sources.feed]
kind = "rss"
url = "http://127.0.0.1:1/feed"
"""


def test_shipped_configs_load():
    default = load_settings(CONFIG / "monitor.toml", env={})
    demo = load_settings(CONFIG / "demo.toml", env={})

    assert {"thaigov-news", "thaicert", "asean-org"} <= {s.name for s in default.sources}
    assert {t.name for t in default.rules.topics} == {"cybersecurity", "asean"}
    assert demo.demo is not None and demo.channels[0].kind == "email"


def test_proxy_and_ca_bundle_come_from_the_environment():
    env = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": ".go.th", "PATH": "/bin",
           "REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"}  # fmt: skip

    fetch = load_settings(CONFIG / "monitor.toml", env=env).fetch

    assert fetch.proxies == (("https", "http://proxy:3128"), ("no", ".go.th"))
    assert fetch.ca_bundle == "/etc/ssl/corp.pem"


@pytest.mark.parametrize(
    ("sources", "key", "expected"),
    [
        (GOOD_SOURCE.replace('"rss"', '"ftp"'), "sources.feed.kind", "one of rss, html"),
        (GOOD_SOURCE.replace('"http://127.0.0.1:1/feed"', '"feed.xml"'), "sources.feed.url", "URL"),
        (GOOD_SOURCE + "interval_minutes = 'often'\n", "sources.feed.interval_minutes", "number"),
        (GOOD_SOURCE + "max_pages = 0\n", "sources.feed.max_pages", "from 1 to 10000"),
        (GOOD_SOURCE + "interval_minutes = 1e9\n", "sources.feed.interval_minutes", "to 10080"),
        (
            GOOD_SOURCE + "url_pattern = '^(\\\\d+,?)+$'\n",
            "sources.feed.url_pattern",
            "without a repeat inside a repeat",
        ),
        (
            GOOD_SOURCE + "allowed_hosts = ['cdn.example/x']\n",
            "sources.feed.allowed_hosts",
            "host names",
        ),
        (GOOD_SOURCE + "max_items = 1_000_000\n", "sources.feed.max_items", "to 100000"),
        (GOOD_SOURCE + "enabled = 'yes'\n", "sources.feed.enabled", "true or false"),
        (GOOD_SOURCE + "colour = 'red'\n", "sources.feed.colour", "known key"),
        (GOOD_SOURCE + "preset = 'nope'\n", "sources.feed.preset", "preset"),
        ('[sources.x]\npreset = "thaigov-legacy"\n', "sources.x.url", "missing"),
        (GOOD_SOURCE + "max_pages = 2.5\n", "sources.feed.max_pages", "an integer"),
        ("this is = not toml [", "(syntax)", "valid TOML"),
    ],
)
def test_bad_values_name_file_key_and_expectation(
    tmp_path: Path, sources: str, key: str, expected: str
):
    path = write_config(tmp_path, sources)

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_secret_names_the_environment_variable(tmp_path: Path):
    extra = '[channels.chat]\nkind = "apprise"\nurl_env = "MONITOR_TEST_CHAT_URL"\n'
    path = write_config(tmp_path, GOOD_SOURCE, extra=extra)

    with pytest.raises(ConfigError, match="channels.chat.url_env: environment variable "
                       "MONITOR_TEST_CHAT_URL to be set"):  # fmt: skip
        load_settings(path, env={}, need_secrets=True)
    settings = load_settings(path, env={"MONITOR_TEST_CHAT_URL": "json://127.0.0.1:1/x"})
    assert settings.channels[0].url == "json://127.0.0.1:1/x"


def test_a_secret_typed_where_its_variable_name_goes_is_not_echoed(tmp_path: Path):
    token = "123456:AAF-bot-token/with+chars"
    extra = f'[channels.chat]\nkind = "apprise"\nurl_env = "{token}"\n'
    path = write_config(tmp_path, GOOD_SOURCE, extra=extra)

    with pytest.raises(ConfigError, match="not the secret itself") as caught:
        load_settings(path, env={})
    assert token not in str(caught.value)


def test_smtp_login_without_tls_is_refused_unless_allowed(tmp_path: Path):
    extra = (
        '[channels.mail]\nkind = "email"\nhost = "127.0.0.1"\nport = 25\nusername = "u"\n'
        'password_env = "P"\nsender = "m@localhost"\nrecipients = ["a@localhost"]\n'
    )
    path = write_config(tmp_path, GOOD_SOURCE, extra=extra)

    with pytest.raises(ConfigError, match="channels.mail.tls: .*in clear"):
        load_settings(path, env={"P": "pw"})
    path = write_config(tmp_path, GOOD_SOURCE, extra=extra + "allow_plain_login = true\n")
    assert load_settings(path, env={"P": "pw"}).channels[0].password == "pw"


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="an existing TOML file"):
        load_settings(tmp_path / "nope.toml")


def test_channel_topic_must_exist(tmp_path: Path):
    extra = '[channels.c]\nkind = "apprise"\nurl_env = "U"\ntopics = ["sports"]\n'
    with pytest.raises(ConfigError, match="channels.c.topics: topic names"):
        load_settings(write_config(tmp_path, GOOD_SOURCE, extra=extra), env={"U": "json://h/x"})


def test_malformed_co_occurrence_term_names_the_term(tmp_path: Path):
    topics = tmp_path / "bad-topics.toml"
    topics.write_text(
        '[topics.scams]\nthreshold = 1\n[topics.scams.terms]\n"หลอกลวง ~ " = 2\n',
        encoding="utf-8",
    )
    path = write_config(tmp_path, GOOD_SOURCE)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(str(CONFIG / "topics.toml"), str(topics)), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"terms\.'หลอกลวง ~ ': a term, or 'a\|b ~ c\|d'"):
        load_settings(path, env={})
