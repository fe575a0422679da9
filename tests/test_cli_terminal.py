"""What a user sees in an 80-column terminal: tables that fit with Thai titles lined up,
Bangkok times, snippets in their own case, one-line errors, exports for analysts, and a
demo that leaves its data alone when a port is taken."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor import report
from monitor.cli import cli
from tests.conftest import SEED_TITLE, free_port, snapshot_sources, write_config
from tests.test_cli import _demo_config

WIDTH = 80
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, snapshot_url: str) -> Path:
    """The snapshot's two sites stored for real, a source that fails, and alerts queued
    for an SMTP port nobody listens on. One thread runs the sources in this order
    (`down` is on another host: on two threads, which site stored the release first
    was a race): the feed's copy first, as id 1, then the thaigov pages."""
    tmp_path = tmp_path_factory.mktemp("terminal")
    down = '[sources.down]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    thaigov, feed = snapshot_sources(snapshot_url).split("\n[sources.dla-asean]")
    sources = f"{down}\n[sources.dla-asean]{feed}\n{thaigov}"
    path = write_config(tmp_path, sources, smtp_port=free_port(), fetch="max_workers = 1\n")
    CliRunner().invoke(cli, ["run", "--once", "--quiet", "--config", str(path)])
    return path


def _call(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(config)], env={"COLUMNS": str(WIDTH)})


def _seed_id(config: Path) -> int:
    found = json.loads(_call(config, "search", "อาเซียน", "--json", "--limit", "50").output)
    return next(r["id"] for r in found if r["title"].startswith(SEED_TITLE))


def _starts(line: str) -> list[int]:
    """Display columns at which each character of `line` starts (Thai marks: none)."""
    starts, at = [], 0
    for char in line:
        width = report.display_width(char)
        if width:
            starts.append(at)
        at += width
    return starts


def _assert_aligned(table: str) -> None:
    """Every row has a space in the gap before each column the dashes line marks, and
    a character starting at each column's first display column or a space before it."""
    lines = table.splitlines()
    rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"[- ]+", line))
    columns = [m.start() for m in re.finditer(r"-+", lines[rule])]
    for line in lines[rule - 1 : rule] + lines[rule + 1 :]:
        cells = {}
        at = 0
        for char in line:
            for offset in range(report.display_width(char)):
                cells[at + offset] = (char, offset)
            at += report.display_width(char)
        for start in columns[1:]:
            assert cells.get(start - 1, (" ", 0))[0] == " ", (start, line)
            assert cells.get(start, (" ", 0))[1] == 0, ("a wide character split", line)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "ไซเบอร์"),
        ("search", "--topic", "asean", "--limit", "50"),
        ("sources",),
        ("status",),
        ("alerts",),
    ],
)
def test_tables_fit_80_columns_with_thai_titles_aligned(config: Path, args: tuple[str, ...]):
    result = _call(config, *args)

    assert result.exit_code in (0, 1), result.output  # status: 1, a source is failing
    lines = result.stdout.splitlines()
    assert lines and all(report.display_width(line) <= WIDTH for line in lines), "\n".join(
        line for line in lines if report.display_width(line) > WIDTH
    )
    table = result.stdout.split("\n\n")[0]
    _assert_aligned(table)
    assert not ISO_TIME.search(result.stdout), "times people read are Bangkok's, not ISO UTC"


def test_search_table_is_golden_at_80_columns(config: Path):
    lines = _call(config, "search", "ไซเบอร์").stdout.splitlines()

    assert lines[0] == "  id  published         source     topics               title"
    assert lines[2].startswith("   1  2019-10-08 09:30  dla-asean  cybersecurity,asean  กระทรวง")
    assert lines[2].endswith("…") and report.display_width(lines[2]) == WIDTH
    assert "  2019-03-13        thaigov    cybersecurity        " in lines[3]


def test_a_cut_cell_ends_in_an_ellipsis_and_a_thai_mark_is_not_counted():
    rows = [{"id": 1, "title": "ความมั่นคงปลอดภัยไซเบอร์" * 5, "source": "ทำเนียบรัฐบาล"}]

    text = report.table(rows, ["id", "source", "title"], width=40)

    assert all(report.display_width(line) == 40 for line in text.splitlines()[1:])
    assert text.splitlines()[2].endswith("…")
    assert report.display_width("ความมั่นคง") == 8 == len("ความมั่นคง") - 2
    assert report.clip("ความมั่นคง", 5) == "ความ…"


def test_json_stays_iso_utc(config: Path):
    found = json.loads(_call(config, "search", "ไซเบอร์", "--json").output)
    sources = json.loads(_call(config, "sources", "--json").output)["sources"]

    assert found[0]["published_at"] == "2019-10-08T02:30:00Z" and "published" not in found[0]
    assert ISO_TIME.match(next(s for s in sources if s["source"] == "thaigov")["last_success_at"])


def test_show_gives_bangkok_times_original_case_and_the_word_a_prefix_matched(config: Path):
    output = _call(config, "show", str(_seed_id(config))).output

    assert "published 2019-10-08 09:30 · source" in output
    assert not ISO_TIME.search(output), "first seen, sent: Bangkok time too"
    assert "The 4th ASEAN Ministerial" in output and "the 4th asean" not in output
    assert "ASEAN-Japan (body" in output and "asean- (" not in output


def test_sources_shows_the_reason_of_an_error_and_the_whole_url(config: Path):
    lines = _call(config, "sources").stdout.splitlines()
    row = next(line for line in lines if "down" in line)

    assert "connecti" in row  # the reason, not cut away for the URL
    assert ["down", "http://127.0.0.1:9/feed"] in [line.split() for line in lines]


@pytest.mark.parametrize(
    "args, words",
    [
        (("search", "--limit", "-1"), ["-1", "range"]),
        (("search", "--topic", "cyber"), ["unknown topic 'cyber'", "asean, cybersecurity"]),
        (("search", "--source", "nosuch"), ["unknown source 'nosuch'", "dla-asean, down"]),
        (("export", "--topic", "nosuch"), ["unknown topic 'nosuch'"]),
    ],
)
def test_a_bad_argument_is_refused_naming_what_is_known(
    config: Path, args: tuple[str, ...], words: list[str]
):
    result = _call(config, *args)

    assert result.exit_code == 2
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: Invalid value for '--") and all(w in error for w in words)
    assert "Traceback" not in result.output


def test_a_feed_of_an_unknown_topic_is_refused_naming_the_topics(config: Path):
    result = _call(config, "feed", "nosuch")

    assert result.exit_code == 2
    assert "unknown topic 'nosuch' (one of asean, cybersecurity)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [("export", "-o"), ("feed", "asean", "-o")])
def test_writing_into_a_missing_folder_is_one_line_and_exit_2(
    config: Path, tmp_path: Path, args: tuple[str, ...]
):
    target = tmp_path / "missing" / "dir" / "x"

    result = _call(config, *args, str(target))

    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: cannot write {target}: No such file or directory\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other program already listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_web_on_a_busy_port_says_so_before_serving(config: Path, listening: int):
    result = _call(config, "web", "--port", str(listening))

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{listening}: Address already in use "
        "(choose another with --port)\n"
    )
    assert "serving" not in result.output


def test_export_jsonl_nests_match_problems_and_every_url(config: Path):
    rows = [json.loads(line) for line in _call(config, "export", "--matched").stdout.splitlines()]

    seed = next(r for r in rows if r["title"].startswith(SEED_TITLE))
    assert isinstance(seed["problems"], list)
    assert {t["topic"] for t in seed["match"] if t["matched"]} == {"cybersecurity", "asean"}
    assert [u["source"] for u in seed["urls"]] == ["thaigov", "dla-asean"]
    assert seed["url"] in {u["url"] for u in seed["urls"]}
    assert all(r["urls"] for r in rows)


def test_csv_for_excel_starts_with_a_bom_and_keeps_thai(config: Path, tmp_path: Path):
    excel, plain = tmp_path / "excel.csv", tmp_path / "plain.csv"

    _call(config, "export", "--format", "csv", "--excel", "-o", str(excel))
    _call(config, "export", "--format", "csv", "-o", str(plain))

    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(excel.read_text(encoding="utf-8-sig"))))
    seed = next(r for r in rows if r["title"].startswith(SEED_TITLE))
    assert json.loads(seed["urls"])[0]["source"] == "thaigov"
    assert isinstance(json.loads(seed["match"]), list)


@pytest.mark.parametrize("key", ["http_port", "smtp_port"])
def test_demo_refuses_a_busy_port_and_keeps_its_data(tmp_path: Path, listening: int, key: str):
    config = _demo_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(rf"{key} = \d+", f"{key} = {listening}", text), encoding="utf-8")
    kept = tmp_path / "data" / "monitor.db"
    kept.parent.mkdir()
    kept.write_bytes(b"the last demo's archive")

    result = CliRunner().invoke(cli, ["demo", "--config", str(config)])

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{listening}: Address already in use: "
        f"set another demo.{key} in {config}\n"
    )
    assert kept.read_bytes() == b"the last demo's archive"


def test_alerts_take_comma_statuses_and_retry_takes_config_and_known_channels(tmp_path: Path):
    """As the README shows them: `--status pending,failed,sent`, `alerts retry --config X`;
    an unknown channel or a line without an id is one line, exit 2."""
    config = write_config(tmp_path, "")
    runner = CliRunner()
    where = ["--config", str(config)]
    listed = runner.invoke(cli, ["alerts", "--status", "pending,failed,sent", *where])
    assert listed.exit_code == 0, listed.output
    retried = runner.invoke(cli, ["alerts", "retry", *where, "--channel", "nosuch"])
    assert retried.exit_code == 2
    assert "unknown channel 'nosuch'" in retried.output
    bad = runner.invoke(cli, ["alerts", "--status", "pending,lost", *where])
    assert bad.exit_code == 2 and "lost (one of pending, sent, failed)" in bad.output
    articles = tmp_path / "a.jsonl"
    articles.write_text('{"title": "ไม่มี id"}\n', encoding="utf-8")
    matched = runner.invoke(cli, ["match", str(articles)])
    assert matched.exit_code == 2 and 'not an object with an "id"' in matched.output
