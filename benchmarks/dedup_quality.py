"""Measure near-duplicate detection (`monitor.dedup`) on the thaigov corpus.

    python3 benchmarks/dedup_quality.py [--corpus PATH] [--limit N] [--sample N] [--runs N]

1. Signs every article and builds an in-memory LSH index (band key -> ids).
2. Corpus scale: looks every article up against all the others. The corpus has
   real duplicates of its own (thaigov republished ministry releases under a
   COVID-19 category with the ministry in brackets), so each verified hit is
   judged by an independent, slower check (`_same_release`: one contiguous
   common block covering most of the shorter text and the same figures, or
   near-identical texts with the same body figures) and the hits it disagrees
   with are printed for a human to read.
3. True duplicates: `--sample` articles edited the ways republishers do (see
   `EDITS`), each looked up against the whole index: merged into its original,
   or into another article the independent check calls the same release (the
   corpus holds copies of its own, e.g. ids 319 and 622: one cabinet summary
   posted twice), is a hit; no verified candidate is a missed merge, with the
   rule that rejected the original (`dedup.rejection`, or no LSH candidate);
   another item is a false merge. Trimmed copies are also counted by the share
   of the body's distinct 8-character runs they keep (`kept_share`): a "last
   paragraph" can be most of an article, and copies keeping under half are out
   of scope by design (`LENGTH_RATIO_MIN`; LSH proposes them with probability
   1 - (1 - r**4)**32).
4. Distinct same-topic pairs: each article's nearest unmerged neighbour by
   signature (how close distinct releases come), and consecutive members of
   title series (cabinet summaries, daily COVID-19 reports, weekly excise
   figures, radio programmes) on different dates: merged members not confirmed
   by the independent check are printed. (A merged pair is always one of the
   corpus-scale verified pairs: the same rule decides both.)
5. Timings (median of `--runs`, CPU time of this process): signature with and
   without the shared normalisation, lookup + verify; index size per 100k items
   measured in SQLite (`band_key, item_id` WITHOUT ROWID plus signature BLOBs).
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import hashlib
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import dedup  # noqa: E402
from monitor.thai import THAI_MONTHS  # noqa: E402

JUDGE_CHARS = 12_000
DEFAULT_CORPUS = Path("/work/shared/corpus/thaigov-articles.jsonl.gz")
Article = dict[str, str]


def load(path: Path, limit: int | None) -> list[Article]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


# ---- edits a republisher makes


def _lines(body: str) -> list[str]:
    return body.split("\n")


def title_prefix(a: Article, rng: random.Random) -> tuple[str, str]:
    prefix = rng.choice(["ข่าวประชาสัมพันธ์: ", "[ข่าวรัฐบาล] ", "ข่าวเด่น - "])
    lines = _lines(a["body"])
    for i, line in enumerate(lines):
        if line.strip() and line.strip() == a["title"].strip():
            lines[i] = prefix + line
            break
    else:
        lines.insert(0, prefix + a["title"])
    return prefix + a["title"], "\n".join(lines)


def credit_line(a: Article, rng: random.Random) -> tuple[str, str]:
    return a["title"], a["body"].rstrip() + "\nที่มา:รัฐบาลไทย"


def _numeric_date(date_text: str) -> str:
    m = re.search(r"(\d{1,2})\s+(\S+)\s+(\d{4})", date_text)
    if not m or m[2] not in THAI_MONTHS:
        return "วันที่ : 01/01/2563 09:00"
    return f"วันที่ : {int(m[1]):02d}/{THAI_MONTHS.index(m[2]) + 1:02d}/{m[3]} 13:41"


def header_added(a: Article, rng: random.Random) -> tuple[str, str]:
    header = f"asean.dla.go.th ข่าวประชาสัมพันธ์\n{_numeric_date(a['date_text'])}"
    return a["title"], header + "\n" + a["body"]


def header_removed(a: Article, rng: random.Random) -> tuple[str, str]:
    lines = _lines(a["body"])
    if lines and lines[0].strip() == a["date_text"].strip():
        lines = lines[1:]
    return a["title"], "\n".join(lines)


def headline_removed(a: Article, rng: random.Random) -> tuple[str, str]:
    """The repeated headline dropped from the body, the date line kept."""
    lines = [line for line in _lines(a["body"]) if line.strip() != a["title"].strip()]
    return a["title"], "\n".join(lines)


def extracted(a: Article, rng: random.Random | None = None) -> tuple[str, str]:
    """What the extractor stores for a page it knows: no date line, no repeated headline."""
    drop = {a["date_text"].strip(), a["title"].strip()}
    return a["title"], "\n".join(line for line in _lines(a["body"]) if line.strip() not in drop)


def rewrapped(a: Article, rng: random.Random) -> tuple[str, str]:
    words = " ".join(_lines(a["body"])).split(" ")
    out, width = [], 0
    for word in words:
        out.append(word)
        width += len(word) + 1
        if width > rng.randint(60, 160):
            out.append("\n")
            width = 0
    return a["title"], " ".join(out)


def _content_lines(body: str) -> list[int]:
    return [i for i, line in enumerate(_lines(body)) if re.search(r"[ก-๙A-Za-z]{3}", line)]


def trimmed(a: Article, rng: random.Random | None = None) -> tuple[str, str] | None:
    lines = _lines(a["body"])
    content = _content_lines(a["body"])
    if len(content) < 4:  # date line, headline and at least two paragraphs
        return None
    return a["title"], "\n".join(lines[: content[-1]])


def noise(a: Article, rng: random.Random) -> tuple[str, str]:
    chars = []
    for ch in a["body"]:
        if ch == " " and rng.random() < 0.5:
            ch = "\u00a0"
        chars.append(ch)
        if rng.random() < 0.01:
            chars.append("\u200b")
    return a["title"], "".join(chars) + "\n" + "*" * 40


def combined(a: Article, rng: random.Random) -> tuple[str, str]:
    title, body = title_prefix(a, rng)
    step = {"title": title, "body": body, "date_text": a["date_text"]}
    for edit in (header_added, credit_line, rewrapped, noise):
        title, body = edit(step, rng)
        step = {"title": title, "body": body, "date_text": a["date_text"]}
    return title, body + "\nพิมพ์"


def combined_trimmed(a: Article, rng: random.Random) -> tuple[str, str] | None:
    cut = trimmed(a, rng)
    if cut is None:
        return None
    return combined({"title": cut[0], "body": cut[1], "date_text": a["date_text"]}, rng)


def prefixed_trimmed(a: Article, rng: random.Random) -> tuple[str, str] | None:
    """A trimmed copy under a prefixed title, keeping the date line and the headline."""
    cut = trimmed(a, rng)
    if cut is None:
        return None
    return title_prefix({"title": cut[0], "body": cut[1], "date_text": a["date_text"]}, rng)


EDITS: dict[str, Callable[[Article, random.Random], tuple[str, str] | None]] = {
    "title_prefix": title_prefix,
    "credit_line": credit_line,
    "header_added": header_added,
    "header_removed": header_removed,
    "rewrapped": rewrapped,
    "last_paragraph_trimmed": trimmed,
    "nbsp_zero_width_noise": noise,
    "combined": combined,
    "combined_and_trimmed": combined_trimmed,
}
# Edits of the stored side too: the original as the extractor stores it (no date line,
# no repeated headline) against a copy that keeps both in its text.
ORIGINAL_EDITS: dict[str, Callable[[Article, random.Random | None], tuple[str, str]]] = {}
for _name, _edit in {
    "headline_removed": headline_removed,
    "date_and_headline_removed": extracted,
}.items():
    EDITS[_name] = _edit
for _name, _edit in {
    "vs_extracted: title_prefix": title_prefix,
    "vs_extracted: rewrapped": rewrapped,
    "vs_extracted: combined": combined,
    "vs_extracted: trimmed": trimmed,
    "vs_extracted: prefixed_trimmed": prefixed_trimmed,
    "vs_extracted: combined_trimmed": combined_trimmed,
}.items():
    EDITS[_name] = _edit
    ORIGINAL_EDITS[_name] = extracted
TRIMMED = {name for name in EDITS if "trimmed" in name}
ORDERS = ("original first", "copy first")


def kept_share(a: Article) -> float:
    """Share of the body's distinct 8-grams (spacing dropped) that its trimmed copy keeps."""
    cut = trimmed(a)
    if cut is None:
        return 1.0
    full, kept = _grams(a["body"]), _grams(cut[1])
    return len(kept & full) / max(1, len(full))


def _grams(body: str) -> set[str]:
    """Distinct 8-character runs of the body without spacing (independent of `dedup`)."""
    text = re.sub(r"\s+", "", body)
    return {text[i : i + 8] for i in range(max(len(text) - 8, 0) + 1)}


# ---- independent judgement of a pair of corpus articles


def _figures(a: Article) -> set[str]:
    return set(re.findall(r"\d+", re.sub(r"(?<=\d),(?=\d{3})", "", a["body"])))


def _body_figures(a: Article) -> set[str]:
    """Figures of the body without its date line and letterless lines (page-view counter)."""
    lines = [
        line
        for line in a["body"].split("\n")
        if line.strip() != a["date_text"].strip() and re.search(r"[^\W\d_]", line)
    ]
    return _figures({**a, "body": "\n".join(lines)})


def _same_release(a: Article, b: Article) -> bool:
    """One common block covers >= 60% of the shorter stripped text, figures (nearly) equal.

    Or the texts are near-identical (common blocks cover >= 95%) with the same body
    figures: one changed character mid-way splits the longest block in two (corpus
    28651/28656, the same release posted on two days).
    """
    # Capped: difflib is quadratic and the corpus has a 120,000-character article.
    x = dedup.shingle_text(a["title"], a["body"])[:JUDGE_CHARS]
    y = dedup.shingle_text(b["title"], b["body"])[:JUDGE_CHARS]
    if not x or not y:
        return False
    matcher = difflib.SequenceMatcher(None, x, y, autojunk=False)
    block = matcher.find_longest_match()
    fa, fb = _figures(a), _figures(b)
    missing = min(len(fa - fb), len(fb - fa))
    if block.size >= 0.6 * min(len(x), len(y)) and missing <= 2:
        return True
    covered = sum(m.size for m in matcher.get_matching_blocks())
    return covered >= 0.95 * min(len(x), len(y)) and _body_figures(a) == _body_figures(b)


# ---- index


class Index:
    def __init__(self) -> None:
        self.sigs: list[dedup.Signature] = []
        self.keys: list[list[int]] = []
        self.buckets: dict[int, list[int]] = defaultdict(list)

    def add(self, sig: dedup.Signature) -> int:
        i = len(self.sigs)
        keys = dedup.band_keys(sig)
        self.sigs.append(sig)
        self.keys.append(keys)
        for k in keys:
            self.buckets[k].append(i)
        return i

    def candidates(self, sig: dedup.Signature, exclude: int = -1) -> list[int]:
        found = {i for k in dedup.band_keys(sig) for i in self.buckets.get(k, ())}
        found.discard(exclude)
        return sorted(found)

    def lookup(self, sig: dedup.Signature, exclude: int = -1) -> int | None:
        cands = [(i, self.sigs[i]) for i in self.candidates(sig, exclude)]
        return dedup.best_near_duplicate(sig, cands)

    def replace(self, i: int, sig: dedup.Signature) -> dedup.Signature:
        """Put `sig` in slot `i` (its keys too); return the signature it replaced."""
        old = self.sigs[i]
        for k in self.keys[i]:
            self.buckets[k].remove(i)
            if not self.buckets[k]:
                del self.buckets[k]
        self.sigs[i], self.keys[i] = sig, dedup.band_keys(sig)
        for k in self.keys[i]:
            self.buckets[k].append(i)
        return old


def _cpu_us(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) / n * 1e6


def _after_hash_us(rows: list[Article]) -> float:
    """CPU µs of `signature` right after `content_hash` of the same text, as in the pipeline."""
    total = 0.0
    for r in rows:
        dedup.content_hash(r["title"], r["body"])
        start = time.process_time()
        dedup.signature(r["title"], r["body"])
        total += time.process_time() - start
    return total / len(rows) * 1e6


def sqlite_bytes_per_100k(index: Index) -> tuple[float, float]:
    """(band table, signature BLOBs) bytes per 100k items, measured in an in-memory SQLite."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE bands (band_key INTEGER, item_id INTEGER, PRIMARY KEY (band_key, item_id))"
        " WITHOUT ROWID"
    )
    db.execute("CREATE TABLE sigs (item_id INTEGER PRIMARY KEY, sig BLOB)")
    rows = [(k, i) for i, keys in enumerate(index.keys) for k in keys]
    db.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)", rows)
    db.executemany(
        "INSERT INTO sigs VALUES (?, ?)", [(i, s.to_bytes()) for i, s in enumerate(index.sigs)]
    )
    db.commit()
    sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    scale = 100_000 / max(1, len(index.sigs))
    return sizes.get("bands", 0) * scale, sizes.get("sigs", 0) * scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="use the first N articles")
    parser.add_argument("--sample", type=int, default=2000, help="articles to edit")
    parser.add_argument("--runs", type=int, default=5, help="timing runs (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=15, help="hits to print for review")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus} (pass --corpus PATH)", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    rows = load(args.corpus, args.limit)
    print(
        f"articles: {len(rows)}  (shingle {dedup.SHINGLE_CHARS} chars, {dedup.NUM_BINS} bins, "
        f"bands of {dedup.BAND_ROWS}; J>={dedup.JACCARD_MIN}, added<={dedup.ADDED_MAX}, "
        f"C>={dedup.CONTAINMENT_MIN}, kept>={dedup.LENGTH_RATIO_MIN}, "
        f"numbers missing<={dedup.NUMBERS_MISSING_MAX}, "
        f"min shingles {dedup.MIN_SHINGLES})"
    )

    started = time.perf_counter()
    index = Index()
    for row in rows:
        index.add(dedup.signature(row["title"], row["body"]))
    print(f"signed and indexed in {time.perf_counter() - started:.1f} s")

    # -- corpus scale: every article against all the others
    verified: dict[int, set[int]] = defaultdict(set)
    candidate_counts = []
    for i, sig in enumerate(index.sigs):
        cands = index.candidates(sig, exclude=i)
        candidate_counts.append(len(cands))
        for j in cands:  # i is the new item, j stored earlier (corpus order is id order)
            if j < i and dedup.is_near_duplicate(sig, index.sigs[j]):
                verified[i].add(j)
    pairs = sorted({(min(i, j), max(i, j)) for i, js in verified.items() for j in js})
    judged = {p: _same_release(rows[p[0]], rows[p[1]]) for p in pairs}
    disagreements = [p for p, same in judged.items() if not same]
    print(f"\n== corpus scale: {len(rows)} articles, each against all others")
    print(
        f"candidates per lookup: mean {statistics.mean(candidate_counts):.2f}, "
        f"max {max(candidate_counts)}"
    )
    print(
        f"verified pairs: {len(pairs)}; same release by the independent check: "
        f"{len(pairs) - len(disagreements)}; not confirmed (read below): {len(disagreements)}"
    )
    for a, b in disagreements[: args.show]:
        _show(rows[a], rows[b], index.sigs[a], index.sigs[b])
    same_release = {p for p, same in judged.items() if same}
    verified_pairs = set(pairs)

    copies_of: dict[int, set[int]] = defaultdict(set)
    for a, b in same_release:
        copies_of[a].add(b)
        copies_of[b].add(a)

    def cluster(i: int) -> set[int]:
        return {i} | copies_of[i]

    # -- true duplicates made by edits, in both arrival orders: the stored side sits in
    # the original's slot of the index (the copy itself when the copy came first)
    sample = rng.sample(range(len(rows)), min(args.sample, len(rows)))
    print(
        f"\n== edited copies of {len(sample)} articles, each looked up in the full index, "
        "in both arrival orders"
    )
    header = f"{'pairs':>7}{'merged':>8}{'missed':>8}{'missed %':>10}{'false':>7}{'other':>7}"
    print(f"{'edit':<36}" + "".join(f"{order:^47}" for order in ORDERS))
    print(f"{'':<36}" + header * len(ORDERS))
    totals = {order: Counter() for order in ORDERS}
    reasons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    missed_examples = []
    for name, edit in EDITS.items():
        c: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for i in sample:
            out = edit(rows[i], rng)
            if out is None:
                continue
            copy = dedup.signature(*out)
            make_original = ORIGINAL_EDITS.get(name)
            original = (
                dedup.signature(*make_original(rows[i], rng)) if make_original else index.sigs[i]
            )
            row_keys = [name]
            if name in TRIMMED:
                half = ">=" if kept_share(rows[i]) >= 0.5 else "<"
                row_keys.append(f"{name}, keeping {half} half")
            in_scope = name not in TRIMMED or half == ">="
            for order in ORDERS:
                stored, new = (original, copy) if order == ORDERS[0] else (copy, original)
                corpus_sig = index.replace(i, stored)
                try:
                    found = index.lookup(new)
                    if found is None:
                        outcome = "missed"
                        if i not in index.candidates(new):
                            why = "no LSH candidate"
                        else:
                            why = dedup.rejection(new, stored) or "?"
                        for row in row_keys:
                            reasons[(order, row)][why] += 1
                        missed_examples.append((order, name, i, why))
                    elif found in cluster(i):
                        outcome = "merged"
                    elif _same_release(rows[i], rows[found]):
                        outcome = "merged"  # another copy of the same release in the corpus
                        c[(order, name)]["other"] += 1
                    elif (min(i, found), max(i, found)) in verified_pairs:
                        # the original itself merges with it (corpus scale, not confirmed
                        # there: a same-day repost listed above), not a merge of the copy's own
                        outcome = "twin"
                    else:
                        outcome = "false"
                        print(
                            f"  false merge ({order}): {name} of id {rows[i]['id']} "
                            f"-> id {rows[found]['id']}"
                        )
                finally:
                    index.replace(i, corpus_sig)
                for row in row_keys:
                    c[(order, row)]["pairs"] += 1
                    c[(order, row)][outcome] += 1
                totals[order]["pairs"] += 1
                totals[order][outcome] += 1
                if in_scope:
                    totals[order]["scope pairs"] += 1
                    totals[order][f"scope {outcome}"] += 1
        rows_of = [name] + [f"{name}, keeping {h} half" for h in (">=", "<")]
        for row in rows_of:
            if (ORDERS[0], row) in c:
                label = row if row == name else "  keeping " + row.split("keeping ")[1]
                print(f"{label[:35]:<36}" + "".join(_cells(c[(o, row)]) for o in ORDERS))
    print(f"{'all':<36}" + "".join(_cells(totals[o]) for o in ORDERS))
    print("\nper arrival order, copies keeping >= half of the text (every untrimmed edit too):")
    for order in ORDERS:
        t = totals[order]
        print(
            f"  {order:<15} pairs {t['scope pairs']:>6}  missed {t['scope missed']:>4} "
            f"({100 * t['scope missed'] / max(1, t['scope pairs']):.2f}%)  "
            f"false merges {t['false']}  (into the original's unconfirmed corpus twin: "
            f"{t['twin']})"
        )
    print("missed, by the rule that rejected the pair (`dedup.rejection`, new item first):")
    for (order, row), counts in reasons.items():
        print(f"  {order}, {row}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    for order, name, i, why in missed_examples[: args.show]:
        print(
            f"  missed ({order}) {name} ({why}): id {rows[i]['id']}, "
            f"{index.sigs[i].size} shingles, {rows[i]['title'][:60]}"
        )

    # -- distinct same-topic pairs. A merged pair is always among the corpus-scale
    # verified pairs above (same rule), so these sets show how close distinct
    # releases come and which series members merge; the merged ones are printed.
    print("\n== distinct same-topic pairs")
    nearest = set()
    merged_pairs = set(pairs)
    for i, sig in enumerate(index.sigs):
        scored = [
            (dedup.similarity(sig, index.sigs[j]), j)
            for j in index.candidates(sig, exclude=i)
            if (min(i, j), max(i, j)) not in merged_pairs
        ]
        if scored:
            j = max(scored)[1]
            nearest.add((min(i, j), max(i, j)))
    sims = sorted(dedup.similarity(index.sigs[a], index.sigs[b]) for a, b in nearest)
    print(
        f"nearest unmerged neighbours: {len(sims)} pairs; estimated J >= 0.7: "
        f"{sum(s >= 0.7 for s in sims)}, >= 0.8: {sum(s >= 0.8 for s in sims)}, "
        f"max {sims[-1] if sims else 0:.3f} (held apart by the numbers or size rules)"
    )
    series = _series_pairs(rows)
    merged = [p for p in series if dedup.is_near_duplicate(index.sigs[p[1]], index.sigs[p[0]])]
    unconfirmed = [p for p in merged if p not in same_release]
    print(
        f"title series (consecutive, different dates): {len(series)} pairs, merged "
        f"{len(merged)}, of which not confirmed as one release: {len(unconfirmed)}"
    )
    for a, b in unconfirmed[: args.show]:
        _show(rows[a], rows[b], index.sigs[a], index.sigs[b])
    for label, prefix in TEMPLATES.items():
        members = [p for p in series if re.sub(r"\s+", "", rows[p[0]]["title"]).startswith(prefix)]
        together = [p for p in members if p in merged and p not in same_release]
        print(f"  {label}: {len(members)} consecutive pairs, merged unconfirmed {len(together)}")
    by_hash: dict[str, set[str]] = defaultdict(set)
    by_body: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        title = " ".join(row["title"].split())
        by_hash[dedup.content_hash(row["title"], row["body"])].add(title)
        by_body[_body_hash(row["body"])].add(title)
    print(
        "exact content hash shared by different titles: "
        f"{sum(len(t) > 1 for t in by_hash.values())} hashes "
        f"(a hash of the body alone: {sum(len(t) > 1 for t in by_body.values())})"
    )

    # -- timings
    print(f"\n== timings (CPU time, median of {args.runs} runs over 300 articles)")
    bench = [rows[i] for i in rng.sample(range(len(rows)), min(300, len(rows)))]
    cold, warm, look = [], [], []
    for _ in range(args.runs):
        dedup._normalised_lines.cache_clear()
        cold.append(
            _cpu_us(lambda: [dedup.signature(r["title"], r["body"]) for r in bench], len(bench))
        )

        warm.append(_after_hash_us(bench))
        sigs = [dedup.signature(r["title"], r["body"]) for r in bench]
        look.append(_cpu_us(lambda s=sigs: [index.lookup(x) for x in s], len(sigs)))
    print(f"signature, normalisation included:        {statistics.median(cold):8.0f} us")
    print(f"signature after content_hash (shared):    {statistics.median(warm):8.0f} us")
    print(f"lookup + verify (band keys, candidates):  {statistics.median(look):8.0f} us")
    bands, blobs = sqlite_bytes_per_100k(index)
    per_item = statistics.mean(len(k) for k in index.keys)
    print(
        f"\n== index size per 100k items: band rows {per_item:.1f}/item, "
        f"SQLite bands table {bands / 1e6:.1f} MB + signature BLOBs {blobs / 1e6:.1f} MB"
    )
    return 0


def _cells(c: Counter[str]) -> str:
    return (
        f"{c['pairs']:>7}{c['merged']:>8}{c['missed']:>8}"
        f"{100 * c['missed'] / max(1, c['pairs']):>9.2f}%{c['false']:>7}{c['other']:>7}"
    )


TEMPLATES = {  # title series from one template: must stay apart
    "cabinet summaries": "สรุปข่าวการประชุมคณะรัฐมนตรี",
    "weekly excise seizures": "ผลการปราบปราม",
    "daily COVID-19 reports": "รายงานข่าวกรณีโรคติดเชื้อ",
}


def _body_hash(body: str) -> str:
    """The content hash before it covered the title (body lines only), for comparison."""
    lines = dedup._normalised_lines(body)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _series_pairs(rows: list[Article]) -> set[tuple[int, int]]:
    """Consecutive articles whose titles start alike (a series), on different dates."""
    by_prefix: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_prefix[re.sub(r"\s+", "", row["title"])[:18]].append(i)
    out = set()
    for ids in by_prefix.values():
        for a, b in zip(ids, ids[1:], strict=False):
            if rows[a]["date_text"] != rows[b]["date_text"]:
                out.add((a, b))
    return out


def _show(a: Article, b: Article, x: dedup.Signature, y: dedup.Signature) -> None:
    print(
        f"  -- ids {a['id']} / {b['id']}: J~{dedup.similarity(x, y):.3f} "
        f"C~{dedup.containment(x, y):.3f} numbers missing {dedup.numbers_missing(x, y):.2f} "
        f"sizes {x.size}/{y.size}"
    )
    print(f"     {a['date_text']} | {a['title'][:90]}")
    print(f"     {b['date_text']} | {b['title'][:90]}")


if __name__ == "__main__":
    sys.exit(main())
