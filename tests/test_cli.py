"""The commands a user types: the demo, one cycle, search, show, status, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import (
    CONFIG,
    ROOT,
    SEED_TITLE,
    SNAPSHOT,
    free_port,
    snapshot_sources,
    write_config,
)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _demo_config(tmp_path: Path) -> Path:
    path = tmp_path / "demo.toml"
    text = (CONFIG / "demo.toml").read_text(encoding="utf-8")
    http, smtp = free_port(), free_port()
    text = text.replace("18931", str(http)).replace("18925", str(smtp))
    text = text.replace('"../.demo-data"', f'"{tmp_path / "data"}"')
    text = text.replace('"topics.toml"', f'"{CONFIG / "topics.toml"}"')
    text = text.replace(
        '"presets.toml"', f'"{CONFIG / "presets.toml"}"\ntemplates_dir = "{CONFIG / "templates"}"'
    )
    text = text.replace('"../demo/snapshot"', f'"{SNAPSHOT}"')
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_runs_and_its_search_command_finds_the_seed(tmp_path: Path):
    config = _demo_config(tmp_path)

    demo = _run("run_monitor.py", "--demo", "--config", str(config))

    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "thaigov" in out and "dla-asean" in out
    seed_line = next(line for line in out.splitlines() if SEED_TITLE[:40] in line and "#" in line)
    why = out.splitlines()[out.splitlines().index(seed_line) + 1]
    assert "cybersecurity" in why and "asean" in why
    assert f"Subject: [Cybersecurity, ASEAN] {SEED_TITLE}" in out
    assert "also published at https://asean.dla.go.th" in out
    command = out.strip().splitlines()[-1].split()
    assert command[:3] == ["monitor", "search", "ไซเบอร์"]

    search = _run("-m", "monitor", *command[1:])

    assert search.returncode == 0, search.stderr
    assert SEED_TITLE[:30] in search.stdout


def test_once_exits_non_zero_when_a_source_fails(tmp_path: Path, snapshot_url: str):
    broken = '[sources.down]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    config = write_config(tmp_path, broken + snapshot_sources(snapshot_url))

    result = _run("run_monitor.py", "--once", "--config", str(config))

    assert result.returncode == 1
    assert "connection failed" in result.stdout
    assert "thaigov" in result.stdout


def test_show_and_status_report_what_was_stored(tmp_path: Path, snapshot_url: str):
    config = write_config(tmp_path, snapshot_sources(snapshot_url))
    assert _run("run_monitor.py", "--once", "--config", str(config)).returncode == 0
    found = json.loads(_run("-m", "monitor", "search", "อาเซียน", "--json", "--config",
                            str(config)).stdout)  # fmt: skip
    seed = next(r for r in found if r["title"].startswith(SEED_TITLE))

    show = _run("-m", "monitor", "show", str(seed["id"]), "--config", str(config))
    status = _run("-m", "monitor", "status", "--json", "--config", str(config))

    assert "cybersecurity: MATCH" in show.stdout and "asean: MATCH" in show.stdout
    assert "also published at" in show.stdout
    assert status.returncode == 0
    assert {s["source"] for s in json.loads(status.stdout)["sources"]} == {"thaigov", "dla-asean"}


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path):
    config = write_config(tmp_path, '[sources.x]\nkind = "rss"\nurl = 5\n')

    result = _run("run_monitor.py", "--once", "--config", str(config))

    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {config}: sources.x.url: a string, got int 5"
    assert "Traceback" not in result.stderr
