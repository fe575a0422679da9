"""Time `dedup.signature` (vectorised) against the Python loop it replaced, per
article, and the cost of loading numpy (and rensa, measured as the other option).

    python3 benchmarks/signature_speed.py [--corpus PATH] [--limit N] [--runs N]

The baseline (`_old_signature`, below) computes the same signature (format 2, the
one-permutation MinHash: CRC-32 of each 8-character shingle's UTF-32 bytes, mixed by
a multiplication, minimum per bin) in a Python loop, as before numpy. It is kept
here only, to measure against. Both sign the same text (`dedup.shingle_text`) and
take the same figures and date; rows:
- shingles + MinHash: the part that changed, on the stream alone;
- signature after content_hash: the whole `signature(title, body)` right after
  `content_hash` of the same text, as the pipeline calls it (normalisation cached).
CPU time of this process (`time.process_time`), median of `--runs` passes over the
articles. Then, in fresh interpreters (median of 5): import time and resident memory
added by `import numpy`, and by rensa for comparison when it is installed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import dedup  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/thaigov-articles.jsonl.gz"
_MIX = 0x9E3779B1
_MASK32 = 0xFFFFFFFF
_BIN_BITS = dedup.NUM_BINS.bit_length() - 1


def _old_minhash(stream: str) -> tuple[tuple[int, ...], int]:
    """Format 2's minima and set size in a Python loop (`dedup._minhash`'s values)."""
    data = stream.encode("utf-32-le")
    width = 4 * dedup.SHINGLE_CHARS
    shingles = {data[i : i + width] for i in range(0, max(len(data) - width, 0) + 1, 4)}
    shingles.discard(b"")
    mins = [dedup.EMPTY_BIN] * dedup.NUM_BINS
    low = dedup.NUM_BINS - 1
    for crc in map(zlib.crc32, shingles):
        mixed = (crc * _MIX) & _MASK32
        value = mixed >> _BIN_BITS
        if value < mins[mixed & low]:
            mins[mixed & low] = value
    return tuple(mins), len(shingles)


def _old_signature(title: str, body: str) -> dedup.Signature:
    signed = dedup._signed(title, body)
    mins, size = _old_minhash(signed.stream)
    return dedup.Signature(mins, size, dedup._numbers(signed.figures), signed.date)


def load(path: Path, limit: int) -> list[dict[str, str]]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def per_item_us(works: list[Callable[[], None]], count: int, runs: int) -> list[float]:
    """Median CPU microseconds per item of each of `works` (each handles `count` items).

    The works take turns within each run, so a neighbour's load on a shared machine
    falls on all of them alike.
    """
    times: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for work, spent in zip(works, times, strict=True):
            start = time.process_time()
            work()
            spent.append((time.process_time() - start) / count * 1e6)
    return [statistics.median(spent) for spent in times]


_PROBE = """
import sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
before, start = rss(), time.perf_counter()
import {module}
print((time.perf_counter() - start) * 1000, (rss() - before) / 1024)
"""


def import_cost(module: str, runs: int = 5) -> tuple[float, float] | None:
    """Median (ms, MB of resident memory) that importing `module` adds to a fresh Python."""
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module)], capture_output=True, text=True
        )
        if done.returncode:
            return None
        ms, mb = map(float, done.stdout.split())
        results.append((ms, mb))
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=2000, help="articles to sign")
    parser.add_argument("--runs", type=int, default=5, help="passes (median)")
    args = parser.parse_args()

    rows = load(args.corpus, args.limit)
    streams = [dedup.shingle_text(r["title"], r["body"]) for r in rows]
    chars = statistics.mean(map(len, streams))
    same = sum(_old_minhash(s) == dedup._minhash(s) for s in streams)
    print(f"same minima and set size as the loop: {same} of {len(streams)}")
    print(f"articles: {len(rows)}, {chars:.0f} characters signed on average; "
          f"CPU time per article, median of {args.runs} runs")  # fmt: skip

    def minhash(sign: Callable[[str], object]) -> Callable[[], None]:
        def work() -> None:
            for stream in streams:
                sign(stream)

        return work

    def whole(sign: Callable[[str, str], object]) -> Callable[[], None]:
        def work() -> None:
            for r in rows:
                dedup.content_hash(r["title"], r["body"])
                sign(r["title"], r["body"])

        return work

    def hashing() -> None:
        for r in rows:
            dedup.content_hash(r["title"], r["body"])

    # One pass of each first: the caches and the allocator warm up for both alike.
    for work in (minhash(_old_minhash), minhash(dedup._minhash)):
        work()
    old_mh, new_mh, hash_us, old_sig, new_sig = per_item_us(
        [minhash(_old_minhash), minhash(dedup._minhash), hashing, whole(_old_signature),
         whole(dedup.signature)],
        len(rows), args.runs,
    )  # fmt: skip
    print(f"\n{'':30} {'old µs':>9} {'new µs':>9} {'saved µs':>9} {'new/old':>8}")
    for name, old_us, new_us in (
        ("shingles + MinHash", old_mh, new_mh),
        ("signature after content_hash", old_sig - hash_us, new_sig - hash_us),
    ):
        print(f"{name:30} {old_us:9.1f} {new_us:9.1f} {old_us - new_us:9.1f} "
              f"{new_us / old_us:7.2f}x")  # fmt: skip
    print(f"(content_hash itself, subtracted above: {hash_us:.1f} µs)")

    print("\nimport in a fresh interpreter (median of 5):")
    for module in ("numpy", "rensa"):
        cost = import_cost(module)
        if cost is None:
            print(f"  {module}: not installed")
        else:
            print(f"  {module}: {cost[0]:.1f} ms, +{cost[1]:.1f} MB resident")


if __name__ == "__main__":
    main()
