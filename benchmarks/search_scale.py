"""Search at scale: a large archive built from perturbed copies of the thaigov corpus.

Builds `--items N` items (default 1,000,000) into a real SQLite file through the
project's own schema (`Store(path)` applies the migrations), then times Thai and
English queries three ways in the same run:

    ranked   Store.find(query, limit=20)                          FTS5, title hits first
    newest   Store.find(query, Filters(sort="newest"), limit=20)  FTS5, newest first
    LIKE     SELECT id FROM items WHERE (title LIKE ? OR body LIKE ?) [AND ...]
             ORDER BY published_at DESC LIMIT 20                  with '%word%' per word

and reports insert throughput, the file and FTS index sizes (`dbstat`), p50/p95/max
of the per-query medians, and hit counts (FTS vs LIKE) per query: LIKE also finds a
word inside another one (`ภัย` inside `ปลอดภัย`), the word-segmented index does not.

How the archive is built: rows go into `items`, `item_urls` and `items_fts` the way
`Store.save_item` writes them, but 5,000 rows per transaction and without the outbox
and near-duplicate signature rows. Each corpus article is segmented ONCE with
`thai.segment` (in 2 processes); copies are perturbed at the token level
(title prefix changed, a few words swapped and dropped, a new URL, published_at spread
over 10 years), so the FTS text of a copy is its perturbed token list and their compound
heads (`thai.index_words`) joined with spaces, and `items.title` / `items.body` are
the same tokens rejoined with the original spacing (normalised text: NFC, Thai
digits, Latin case-folded). Copy 0 of each article is the article itself. Generating
copies runs in a second process while the main process inserts.

    python benchmarks/search_scale.py --items 100000            # quick run, temp file
    python benchmarks/search_scale.py --db /tmp/s1m.db --keep   # build 1M, keep it
    python benchmarks/search_scale.py --db /tmp/s1m.db          # reuse: queries only
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitor.store import (  # noqa: E402
    ID_MASK,
    SEARCH_KEY,
    Filters,
    Store,
    fts_query,
)
from monitor.thai import index_words, normalize_text, segment  # noqa: E402

DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = Path("corpus") / "thaigov-articles.jsonl.gz"
BATCH = 5_000
TARGET_P95_MS = 50.0
EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
SPAN_SECONDS = int(timedelta(days=3653).total_seconds())  # 10 years
SOURCES = ("thaigov", "thaigov-rss", "mdes", "ncsa", "prd", "mfa")
TITLE_PREFIXES = (
    "ข่าวด่วน:", "อัปเดต", "[ข่าวประชาสัมพันธ์]", "รายงานพิเศษ", "สรุปข่าว", "ฉบับปรับปรุง",
    "ทำเนียบรัฐบาล", "Update:", "Press release:", "ประกาศ", "ย้อนรอย", "เจาะลึก",
)  # fmt: skip

# (query, language); several words must all appear; `word*` is a prefix search.
QUERIES: tuple[tuple[str, str], ...] = (
    ("ไซเบอร์", "th"),
    ("อาเซียน", "th"),
    ("แรนซัมแวร์", "th"),
    ("ภัย", "th"),
    ("มัลแวร์", "th"),
    ("ดิจิทัล", "th"),
    ("ความมั่นคง", "th"),
    ("นายกรัฐมนตรี", "th"),
    ("ปลอดภัย", "th"),
    ("แฮกเกอร์", "th"),
    ("ความมั่นคงปลอดภัยไซเบอร์", "th"),
    ("รัฐมนตรีอาเซียน", "th"),
    ("ประชาคมอาเซียน", "th"),
    ("ภัยคุกคามทางไซเบอร์", "th"),
    ("เศรษฐกิจดิจิทัล", "th"),
    ("ข้อมูลส่วนบุคคล", "th"),
    ("ภัย ไซเบอร์", "th"),
    ("อาเซียน ความร่วมมือ", "th"),
    ("ไซเบอร์ อาเซียน", "th"),
    ("นายกรัฐมนตรี ดิจิทัล", "th"),
    ("cybersecurity", "en"),
    ("ASEAN", "en"),
    ("ransomware", "en"),
    ("cyber*", "en"),
    ("digital economy", "en"),
    ("malware", "en"),
    ("Thailand", "en"),
    ("ASEAN summit", "en"),
    ("security", "en"),
    ("data protection", "en"),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- corpus, segmented once


def _align(text: str) -> tuple[list[str], list[str]]:
    """The segmented words of `text`, and the normalised text's spacing before each word.

    The words are `segment(normalize_text(text))` split at spaces, found in order in
    the normalised text; the text between two words (usually nothing in Thai, a space
    or a newline elsewhere) is kept so the copy's `items` text can be rejoined.
    Compound heads are added when a copy is joined (`_joined`), as `search_text` adds
    them.
    """
    norm = normalize_text(text)
    words = [w for w in " ".join(segment(norm)).split(" ") if w]
    gaps: list[str] = []
    cursor = 0
    for word in words:
        at = norm.find(word, cursor)
        if at < 0:  # not a substring (should not happen): fall back to one space
            gaps.append(" " if cursor else "")
            continue
        gaps.append(norm[cursor:at])
        cursor = at + len(word)
    return words, gaps


def _segment_article(row: dict[str, Any]) -> tuple[str, list[str], list[str], list[str], list[str]]:
    title_words, title_gaps = _align(row.get("title") or "")
    body_words, body_gaps = _align(row.get("body") or "")
    return str(row["id"]), title_words, title_gaps, body_words, body_gaps


Base = tuple[str, list[str], list[str], list[str], list[str]]


def load_corpus(path: Path, processes: int) -> list[Base]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    log(f"corpus: {len(rows):,} articles; segmenting each once ({processes} processes)")
    started = time.perf_counter()
    bases: list[Base] = []
    intern = sys.intern
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        for count, (art_id, tw, tg, bw, bg) in enumerate(
            pool.imap(_segment_article, rows, chunksize=64), 1
        ):
            bases.append(
                (
                    art_id,
                    [intern(w) for w in tw],
                    [intern(g) for g in tg],
                    [intern(w) for w in bw],
                    [intern(g) for g in bg],
                )
            )
            if count % 5000 == 0:
                log(f"  segmented {count:,} ({time.perf_counter() - started:.0f} s)")
    log(f"segmented {len(bases):,} articles in {time.perf_counter() - started:.1f} s")
    return bases


# ---- perturbed copies

_BASES: list[Base] = []
_PREFIXES: list[tuple[list[str], list[str]]] = []


def _perturb(words: list[str], gaps: list[str], rng: random.Random, swaps: int, drops: int):
    words = list(words)
    gaps = list(gaps)
    n = len(words)
    for _ in range(swaps if n > 2 else 0):
        i = rng.randrange(n - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    for _ in range(drops if n > 10 else 0):
        i = rng.randrange(len(words))
        del words[i]
        del gaps[i]
    return words, gaps


def _joined(words: list[str], gaps: list[str]) -> tuple[str, str]:
    """(items text, FTS text) of a word list: the FTS text is what `search_text` gives,
    the words, then the heads of their derivational compounds (`thai.index_words`)."""
    raw = "".join([g + w for g, w in zip(gaps, words, strict=True)])
    return raw, " ".join(index_words(words))


def make_batch(start: int, stop: int, seed: int) -> list[tuple[Any, ...]]:
    """Rows for item ids start+1 .. stop: (id, url, title, body, fts_title, fts_body,
    published_at, source, content_hash)."""
    rng = random.Random(seed * 1_000_003 + start)
    n_base = len(_BASES)
    rows = []
    for index in range(start, stop):
        copy, base = divmod(index, n_base)
        art_id, tw, tg, bw, bg = _BASES[base]
        if copy == 0:
            title_words, title_gaps, body_words, body_gaps = tw, tg, bw, bg
            url = f"https://www.thaigov.go.th/news/contents/details/{art_id}"
        else:
            prefix_words, prefix_gaps = _PREFIXES[rng.randrange(len(_PREFIXES))]
            title_words, title_gaps = _perturb(tw, tg, rng, 1, 0)
            title_words = prefix_words + title_words
            title_gaps = prefix_gaps + [" "] + title_gaps[1:] if title_gaps else prefix_gaps
            body_words, body_gaps = _perturb(bw, bg, rng, 3, 3)
            url = f"https://copy{copy}.news.example.go.th/contents/{art_id}-{copy}"
        title, fts_title = _joined(title_words, title_gaps)
        body, fts_body = _joined(body_words, body_gaps)
        when = EPOCH + timedelta(seconds=rng.randrange(SPAN_SECONDS))
        rows.append(
            (
                index + 1,
                url,
                title,
                body,
                fts_title,
                fts_body,
                when.isoformat().replace("+00:00", "Z"),
                SOURCES[index % len(SOURCES)],
                hashlib.sha1(fts_body.encode()).hexdigest(),
            )
        )
    return rows


def _make_batch_job(args: tuple[int, int, int]) -> list[tuple[Any, ...]]:
    return make_batch(*args)


def build(store: Store, bases: list[Base], items: int, seed: int) -> dict[str, float]:
    """Insert `items` perturbed copies; return timings."""
    global _BASES, _PREFIXES
    _BASES = bases
    _PREFIXES = [_align(p) for p in TITLE_PREFIXES]
    conn: sqlite3.Connection = store.db.conn
    conn.execute("PRAGMA cache_size = -262144")  # 256 MB page cache for this connection
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    jobs = [(s, min(s + BATCH, items), seed) for s in range(0, items, BATCH)]
    insert_seconds = 0.0
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")  # workers inherit _BASES
    done = 0
    with ctx.Pool(1) as pool:
        for rows in pool.imap(_make_batch_job, jobs):
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO items (id, url, url_key, source, title, body, published_at, "
                "category, content_hash, first_seen_at, matched_topics, match, problems) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, '', '[]', '[]')",
                [(r[0], r[1], r[1], r[7], r[2], r[3], r[6], r[8], now) for r in rows],
            )
            conn.executemany(
                "INSERT INTO item_urls (url_key, url, item_id, source, first_seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r[1], r[1], r[0], r[7], now) for r in rows],
            )
            # Keyed as Store.save_item keys them: SEARCH_KEY reads the stored row's date.
            conn.executemany(
                f"INSERT INTO items_fts (rowid, title, body) SELECT {SEARCH_KEY}, ?, ? "
                "FROM items WHERE id = ?",
                [(r[4], r[5], r[0]) for r in rows],
            )
            conn.executemany(
                f"INSERT INTO titles_fts (rowid, title) SELECT {SEARCH_KEY}, ? FROM items "
                "WHERE id = ?",
                [(r[4], r[0]) for r in rows],
            )
            conn.execute("COMMIT")
            insert_seconds += time.perf_counter() - t0
            done += len(rows)
            if done % 50_000 == 0 or done == items:
                elapsed = time.perf_counter() - started
                log(
                    f"  inserted {done:,}/{items:,} ({elapsed:.0f} s, {done / elapsed:,.0f} "
                    f"items/s, SQLite {done / insert_seconds:,.0f} items/s)"
                )
    return {"wall": time.perf_counter() - started, "sqlite": insert_seconds}


# ---- sizes


def sizes(store: Store) -> tuple[int, dict[str, int], str]:
    """File size (with WAL), bytes per table/index, and how they were measured."""
    file_bytes = sum(
        p.stat().st_size for p in (store.path, Path(f"{store.path}-wal")) if p.exists()
    )
    conn = store.db.conn
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
        return file_bytes, {name: int(size) for name, size in rows}, "dbstat"
    except sqlite3.OperationalError:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        total = conn.execute("PRAGMA page_count").fetchone()[0] * page
        return file_bytes, {"(all pages)": total}, "page_count (no dbstat)"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


# ---- queries


def like_sql(query: str) -> tuple[str, list[str]]:
    """The naive baseline: every word (quotes and a trailing * stripped) as '%word%'."""
    words = [w.strip('"').rstrip("*") for w in query.split()]
    words = [w for w in words if w]
    where = " AND ".join("(title LIKE ? OR body LIKE ?)" for _ in words)
    params = [p for w in words for p in (f"%{w}%", f"%{w}%")]
    return f"SELECT id FROM items WHERE {where} ORDER BY published_at DESC LIMIT 20", params


def timed(fn: Callable[[], Any], runs: int, slow_seconds: float) -> tuple[float, int]:
    """Median ms of `runs` runs after one warm-up; one run only if the warm-up was slow."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    if warm > slow_seconds:
        runs = 1
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), runs


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def run_queries(store: Store, runs: int, slow_seconds: float, count_limit: int) -> list[dict]:
    conn = store.db.conn
    newest = Filters(sort="newest")
    results = []
    for query, lang in QUERIES:
        sql, params = like_sql(query)
        ranked_ms, ranked_runs = timed(
            lambda q=query: list(store.find(q, limit=20)), runs, slow_seconds
        )
        newest_ms, newest_runs = timed(
            lambda q=query: list(store.find(q, newest, limit=20)), runs, slow_seconds
        )
        like_ms, like_runs = timed(
            lambda s=sql, p=params: conn.execute(s, p).fetchall(), runs, slow_seconds
        )
        fts_hits = conn.execute(
            "SELECT count(*) FROM items_fts WHERE items_fts MATCH ? AND (rowid & ?) <= ?",
            [fts_query(query), ID_MASK, count_limit],
        ).fetchone()[0]
        where = sql.split(" WHERE ", 1)[1].split(" ORDER BY ")[0]
        like_hits = conn.execute(
            f"SELECT count(*) FROM items WHERE id <= ? AND {where}", [count_limit, *params]
        ).fetchone()[0]
        row = {
            "query": query, "lang": lang, "fts_hits": fts_hits, "like_hits": like_hits,
            "ranked_ms": ranked_ms, "newest_ms": newest_ms, "like_ms": like_ms,
            "runs": f"{ranked_runs}/{newest_runs}/{like_runs}",
        }  # fmt: skip
        results.append(row)
        log(
            f"  {query}: ranked {ranked_ms:.1f} ms, newest {newest_ms:.1f} ms, "
            f"LIKE {like_ms:.1f} ms; hits FTS {fts_hits:,} / LIKE {like_hits:,}"
        )
    return results


def _width(text: str) -> int:
    """Display width: Thai combining marks (above/below vowels, tone marks) take no column."""
    return sum(
        0 if (c == "\u0e31" or "\u0e34" <= c <= "\u0e3a" or "\u0e47" <= c <= "\u0e4e") else 1
        for c in text
    )


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def print_report(results: list[dict], items: int, count_limit: int) -> None:
    sample = "all items" if count_limit >= items else f"items 1..{count_limit:,} (sample)"
    print(f"\nPer query: median ms of the timed runs; hits counted over {sample}")
    qw = max(_width(r["query"]) for r in results) + 2
    header = _pad("query", qw) + "lang  FTS hits  LIKE hits  ranked ms  newest ms    LIKE ms  runs"
    print(header)
    print("-" * _width(header))
    for r in results:
        print(
            _pad(r["query"], qw)
            + f"{r['lang']:<4}{r['fts_hits']:>10,}{r['like_hits']:>11,}"
            + f"{r['ranked_ms']:>11.1f}{r['newest_ms']:>11.1f}{r['like_ms']:>11.1f}  {r['runs']}"
        )
    print(f"\nAcross queries (per-query medians), target p95 <= {TARGET_P95_MS:.0f} ms")
    print(f"{'method':<8}{'queries':<9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>10}  p95 target")
    for key, label in (("ranked_ms", "ranked"), ("newest_ms", "newest"), ("like_ms", "LIKE")):
        for lang, name in (("", "all"), ("th", "Thai"), ("en", "English")):
            values = [r[key] for r in results if not lang or r["lang"] == lang]
            p95 = pct(values, 95)
            verdict = "met" if p95 <= TARGET_P95_MS else "MISSED"
            print(
                f"{label:<8}{name:<9}{pct(values, 50):>9.1f}{p95:>9.1f}{max(values):>10.1f}"
                f"  {verdict}"
            )
    slowest = sorted(results, key=lambda r: max(r["ranked_ms"], r["newest_ms"]), reverse=True)[:5]
    print("\nSlowest FTS queries: " + ", ".join(
        f"{r['query']} ({max(r['ranked_ms'], r['newest_ms']):.0f} ms, {r['fts_hits']:,} hits)"
        for r in slowest
    ))  # fmt: skip
    inside = [r for r in results if r["like_hits"] > r["fts_hits"]]
    if inside:
        print(
            "LIKE finds more (substrings inside other words): "
            + ", ".join(f"{r['query']} {r['like_hits']:,} vs {r['fts_hits']:,}" for r in inside)
        )


# ---- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="archive file; reused (no build) if it has items")
    parser.add_argument("--keep", action="store_true", help="keep the built archive")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument(
        "--slow-seconds", type=float, default=2.0,
        help="a query whose warm-up takes longer is timed once, not --runs times",
    )  # fmt: skip
    parser.add_argument(
        "--count-sample", type=int, default=100_000,
        help="count hits over items 1..N only (a LIKE count scans every row)",
    )  # fmt: skip
    parser.add_argument("--processes", type=int, default=2, help="for segmentation")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    corpus = args.shared / CORPUS
    reuse = args.db is not None and args.db.exists() and args.db.stat().st_size > 0
    if not reuse and not corpus.exists():
        print(
            f"corpus not found: {corpus}\n(pass --shared DIR, the folder holding {CORPUS})",
            file=sys.stderr,
        )
        return 2

    tmpdir = None
    if args.db is None:
        tmpdir = Path(tempfile.mkdtemp(prefix="search_scale-"))
        db_path = tmpdir / "monitor.db"
    else:
        db_path = args.db
    store = Store(db_path)
    try:
        existing = store.count_items()
        timings = None
        if existing == 0:
            bases = load_corpus(corpus, args.processes)
            log(f"building {args.items:,} items into {db_path}")
            timings = build(store, bases, args.items, args.seed)
            del bases
            store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            log(f"reusing {db_path} ({existing:,} items; no build)")
        items = store.count_items()

        print(f"archive: {db_path}  items: {items:,}")
        if timings:
            print(
                f"build: {items / timings['wall']:,.0f} items/s wall "
                f"({timings['wall']:.0f} s: copies generated in a 2nd process while inserting), "
                f"{items / timings['sqlite']:,.0f} items/s in SQLite "
                f"({timings['sqlite']:.0f} s in INSERT+COMMIT, {BATCH:,} rows per transaction)"
            )
            print(
                "copies: each corpus article segmented once (thai.segment), copies perturbed "
                "at the token level (title prefix, 1 title + 3 body swaps, 3 body drops, new "
                "URL, published_at over 2015-2024)"
            )
        log("measuring sizes (dbstat)")
        file_bytes, tables, how = sizes(store)
        fts_index = sum(v for k, v in tables.items() if k in ("items_fts_data", "items_fts_idx"))
        fts_all = sum(v for k, v in tables.items() if k.startswith("items_fts"))
        items_bytes = sum(
            v for k, v in tables.items() if k == "items" or k.startswith("sqlite_autoindex_items")
        )
        print(f"file: {_mb(file_bytes)} (sizes by {how})")
        if how == "dbstat":
            print(
                f"FTS index (items_fts_data + _idx): {_mb(fts_index)}; all items_fts tables "
                f"(a content copy too in archives before m010): {_mb(fts_all)}; items table: "
                f"{_mb(items_bytes)}"
            )
            print(
                "largest: "
                + ", ".join(f"{name} {_mb(size)}" for name, size in list(tables.items())[:8])
            )
        count_limit = min(args.count_sample, items) if args.count_sample > 0 else items
        log(f"running {len(QUERIES)} queries (1 warm-up + {args.runs} runs each, 3 methods)")
        results = run_queries(store, args.runs, args.slow_seconds, count_limit)
        print_report(results, items, count_limit)
    finally:
        store.close()
        if tmpdir is not None and not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)
        elif args.keep or args.db is not None:
            print(f"\narchive kept: {db_path} (reuse with --db {db_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
