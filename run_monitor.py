#!/usr/bin/env python3
"""Launch thai-news-monitor: `--demo` (offline demo), `--once` (one cycle), or a service.

A thin launcher over the `monitor` command; `monitor --help` lists every verb.
"""

from __future__ import annotations

import argparse

from monitor.cli import main


def _arguments() -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="run the offline demo")
    parser.add_argument("--once", action="store_true", help="run one cycle and exit")
    parser.add_argument("--config", help="config file (default config/monitor.toml)")
    args = parser.parse_args()
    config = ["--config", args.config] if args.config else []
    if args.demo:
        return ["demo", *config]
    return ["run", *config, *(["--once"] if args.once else [])]


if __name__ == "__main__":
    main(_arguments())
