"""Build the offline demo snapshot of legacy www.thaigov.go.th pages.

The pages are built from the public-domain PyThaiNLP thaigov corpus (daily news and
government announcements are not copyrighted under Thai Copyright Act s.7) and from the
seed release (thaigov article 23673), laid out in the legacy thaigov layout
(``/news/contents/details/<id>`` article pages, ``/news/contents/category/1?per_page=N``
listing pages), plus a small RSS feed imitating the asean.dla.go.th republisher.

The output is deterministic (fixed random seed, sorted output), so rerunning it gives the
same bytes.  Rerun from the repository root with::

    python tools/build_snapshot.py --shared ../shared --out demo/snapshot

Output: ``details/<id>.html``, ``listing/page-<n>.html``, ``rss/dla-asean.xml``,
``manifest.json`` (route -> file and content type) and ``expected.json`` (what an
extractor should get out of each article page and the feed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import html
import json
import random
import re
import sys
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

SEED = 7
SEED_ID = 23673
SEED_DATE_TEXT = "วันจันทร์ที่ 7 ตุลาคม 2562"
SEED_CATEGORY = "ด้านเศรษฐกิจ"
CREDIT_LINE = "ที่มา:รัฐบาลไทย"
TITLE_PREFIX = "รัฐบาลไทย-ข่าวทำเนียบรัฐบาล-"
LISTING_ROUTE = "/news/contents/category/1"
FEED_ROUTE = "/rss/dla-asean.xml"
FEED_LINK = "https://asean.dla.go.th/public/news.do?nid={nid}"
PER_PAGE = 10
N_KEYWORD = 8
N_RANDOM_BEFORE = 20
N_RANDOM_AFTER = 4
MIN_BODY, MAX_BODY = 800, 6000
INDENT = "&nbsp; &nbsp; &nbsp; &nbsp; &nbsp; "
HTML_UTF8 = "text/html; charset=utf-8"
BKK = dt.timezone(dt.timedelta(hours=7))

THAI_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        [
            "มกราคม",
            "กุมภาพันธ์",
            "มีนาคม",
            "เมษายน",
            "พฤษภาคม",
            "มิถุนายน",
            "กรกฎาคม",
            "สิงหาคม",
            "กันยายน",
            "ตุลาคม",
            "พฤศจิกายน",
            "ธันวาคม",
        ]
    )
}
DATE_RE = re.compile(r"(\d{1,2}) (\S+) (\d{4})$")
CYBER_RE = re.compile(r"ไซเบอร์|cyber", re.IGNORECASE)
ASEAN_RE = re.compile(r"อาเซียน|asean", re.IGNORECASE)
STARS_RE = re.compile(r"^\*+$")
JUNK_RE = re.compile(r"^\d+$|^p\.p\d|[{};]\s*$")
EDGE_JUNK = "\u200b\ufeff"
# Characters outside windows-874 (or awkward in it) and their ASCII stand-ins.
CP874_FIXES = {
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u200b": "",
    "\ufeff": "",
}

NAVBAR = [
    ("/", "หน้าหลัก"),
    ("/news/contents/category/1", "ข่าวทำเนียบรัฐบาล"),
    ("/news/contents/category/2", "ข่าวกระทรวง"),
    ("/news/contents/category/3", "ภารกิจนายกรัฐมนตรี"),
    ("/news/contents/category/4", "สรุปข่าวการประชุม ครม."),
    ("/news/contents/category/5", "ภาพกิจกรรม"),
    ("/news/contents/category/6", "ติดต่อเรา"),
]
FOOTER = "สำนักเลขาธิการนายกรัฐมนตรี ทำเนียบรัฐบาล ถนนพิษณุโลก เขตดุสิต กรุงเทพฯ 10300"


@dataclass(frozen=True)
class Article:
    """One article as it will appear on its page."""

    id: int
    title: str
    date_text: str
    category: str
    paragraphs: tuple[str, ...]
    kind: str  # "seed", "keyword", "random" or "feed"

    @property
    def date(self) -> dt.date:
        return parse_thai_date(self.date_text)

    @property
    def route(self) -> str:
        return f"/news/contents/details/{self.id}"


def parse_thai_date(text: str) -> dt.date:
    """Parse ``วันจันทร์ที่ 7 ตุลาคม 2562`` (Buddhist era) into a Gregorian date."""
    m = DATE_RE.search(text)
    if not m:
        raise ValueError(f"unparseable date line: {text!r}")
    return dt.date(int(m.group(3)) - 543, THAI_MONTHS[m.group(2)], int(m.group(1)))


def clean_line(line: str) -> str:
    """Strip whitespace, including non-breaking and zero-width spaces, from both ends."""
    return line.strip().strip(EDGE_JUNK).strip()


def corpus_paragraphs(row: dict) -> list[str]:
    """Body lines minus the date line, the repeated title and star rows; blanks skipped.

    Many corpus bodies already end with a row of ``*``; the page template adds its own.
    """
    lines = row["body"].split("\n")
    if lines and clean_line(lines[0]) == clean_line(row["date_text"]):
        lines = lines[1:]
    title = clean_line(row["title"])
    out: list[str] = []
    for line in lines:
        text = clean_line(line)
        if text and text != title and not STARS_RE.match(text):
            out.append(text)
    return out


def from_row(row: dict, kind: str) -> Article:
    return Article(
        id=int(row["id"]),
        title=clean_line(row["title"]),
        date_text=row["date_text"].strip(),
        category=row["category"].strip(),
        paragraphs=tuple(corpus_paragraphs(row)),
        kind=kind,
    )


def load_seed(path: Path) -> tuple[str, list[str]]:
    """Return the seed headline and all its non-empty lines (credit line included)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return lines[0], lines[1:]


def is_clean(row: dict) -> bool:
    """Usable as a fixture: plain title, title repeated in the body, no confusing lines."""
    title = clean_line(row["title"])
    if not title or "\u200b" in title or "\ufeff" in title:
        return False
    if not MIN_BODY <= len(row["body"]) <= MAX_BODY:
        return False
    lines = row["body"].split("\n")
    if len(lines) < 3 or clean_line(lines[0]) != clean_line(row["date_text"]):
        return False
    if clean_line(lines[1]) != title:
        return False
    paras = corpus_paragraphs(row)
    return len(paras) >= 2 and not any(JUNK_RE.search(p) for p in paras)


def is_keyword(row: dict) -> bool:
    text = row["title"] + "\n" + row["body"]
    return bool(CYBER_RE.search(text) or ASEAN_RE.search(row["title"]))


def mentions_any(row: dict) -> bool:
    text = row["title"] + "\n" + row["body"]
    return bool(CYBER_RE.search(text) or ASEAN_RE.search(text))


def key(article: Article) -> tuple[dt.date, int]:
    return (article.date, article.id)


def select(rows: list[dict], seed: Article) -> tuple[list[Article], list[Article]]:
    """Pick the 32 listing articles and the 4 extra feed articles."""
    rng = random.Random(SEED)
    seed_key = key(seed)
    year_start = dt.date(2019, 1, 1)
    cyber_start = dt.date(2018, 7, 1)
    recent_start = dt.date(2019, 9, 1)
    after_end = dt.date(2019, 10, 31)
    clean = sorted((r for r in rows if is_clean(r)), key=lambda r: int(r["id"]))

    def rkey(row: dict) -> tuple[dt.date, int]:
        return (parse_thai_date(row["date_text"]), int(row["id"]))

    before = [r for r in clean if rkey(r) < seed_key]
    after = [r for r in clean if seed_key < rkey(r) and rkey(r)[0] <= after_end]

    # Keyword articles: four about cyber (cyber in the title first, then by how often it
    # is mentioned, 2562 preferred) and the four most recent 2562 ones with ASEAN in the title.
    def cyber_rank(row: dict) -> tuple[bool, bool, int, tuple[dt.date, int]]:
        text = row["title"] + "\n" + row["body"]
        in_title = bool(CYBER_RE.search(row["title"]))
        return (in_title, rkey(row)[0] >= year_start, len(CYBER_RE.findall(text)), rkey(row))

    cyber_pool = [r for r in before if rkey(r)[0] >= cyber_start and is_keyword(r)]
    cyber_pool = [r for r in cyber_pool if CYBER_RE.search(r["title"] + "\n" + r["body"])]
    cyber = sorted(cyber_pool, key=cyber_rank, reverse=True)[: N_KEYWORD // 2]
    asean = [
        r
        for r in reversed(before)
        if rkey(r)[0] >= year_start and ASEAN_RE.search(r["title"]) and r not in cyber
    ]
    keyword_rows = cyber + asean[: N_KEYWORD - len(cyber)]
    used = {int(r["id"]) for r in keyword_rows}

    plain_before = [r for r in before if rkey(r)[0] >= recent_start and not mentions_any(r)]
    plain_after = [r for r in after if not mentions_any(r)]
    random_rows = rng.sample(plain_before, N_RANDOM_BEFORE) + rng.sample(
        plain_after, N_RANDOM_AFTER
    )
    used |= {int(r["id"]) for r in random_rows}

    # Feed extras: two ASEAN items and two unrelated ones, none of them in the listing.
    feed_asean = [
        r
        for r in before
        if rkey(r)[0] >= recent_start
        and ASEAN_RE.search(r["title"] + r["body"])
        and not CYBER_RE.search(r["title"] + r["body"])
        and int(r["id"]) not in used
    ]
    feed_plain = [r for r in plain_before if int(r["id"]) not in used]
    feed_rows = rng.sample(feed_asean, 2) + rng.sample(feed_plain, 2)

    listing = [from_row(r, "keyword") for r in keyword_rows]
    listing += [from_row(r, "random") for r in random_rows]
    listing.append(seed)
    listing.sort(key=key, reverse=True)
    feed = sorted((from_row(r, "feed") for r in feed_rows), key=key, reverse=True)
    return listing, feed


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def navbar() -> str:
    links = "\n".join(f'<li><a href="{href}">{esc(label)}</a></li>' for href, label in NAVBAR)
    return f'<div class="navbar"><ul class="nav navbar-nav">\n{links}\n</ul></div>'


def head(title: str, cp874: bool = False) -> str:
    meta = (
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-874">'
        if cp874
        else '<meta charset="utf-8">'
    )
    return (
        '<!DOCTYPE html>\n<html lang="th"><head>'
        f"{meta}<title>{esc(title)}</title>\n"
        '<link rel="stylesheet" href="/assets/site.css"></head>\n<body>\n'
    )


def tail() -> str:
    return f'<div class="footer">{esc(FOOTER)}</div>\n</body></html>\n'


def article_page(a: Article, view_count: int, latest: list[Article], cp874: bool) -> str:
    paras = "\n".join(f"<p>{INDENT}{esc(p)}</p>" for p in a.paragraphs)
    side = "\n".join(
        f'<li><a href="{o.route}">{esc(o.title)}</a></li>' for o in latest if o.id != a.id
    )
    return (
        head(TITLE_PREFIX + a.title, cp874)
        + navbar()
        + '\n<div class="container"><div class="row">\n<div class="col-md-9">\n'
        + '<div class="headtitle"><span class="Circular headtitle-2 font_level6 color2'
        + f' col-xs-9 remove-xs">{esc(a.category)}</span></div>\n'
        + '<div class="border-normal clearfix">\n'
        + f"<p>{esc(a.date_text)}</p>\n<p>{view_count}</p>\n<h4>{esc(a.title)}</h4>\n"
        + paras
        + "\n<p>**************************</p>\n"
        + '<a href="#" class="print">พิมพ์</a>\n</div></div>\n'
        + '<div class="col-md-3 sidebar"><h5>ข่าวล่าสุด</h5><ul>\n'
        + side
        + "\n</ul></div>\n</div></div>\n"
        + tail()
    )


def page_route(page: int) -> str:
    return LISTING_ROUTE if page == 1 else f"{LISTING_ROUTE}?per_page={(page - 1) * PER_PAGE}"


def listing_page(page: int, n_pages: int, items: list[Article], popular: list[Article]) -> str:
    rows = "\n".join(
        f'<div class="row"><div class="col-xs-12"><a href="{a.route}">{esc(a.title)}</a>'
        f'<span class="date">{esc(a.date_text)}</span></div></div>'
        for a in items
    )
    pop = "\n".join(
        f'<div class="row"><div class="col-xs-12"><a href="{a.route}">{esc(a.title)}</a>'
        "</div></div>"
        for a in popular
    )
    pager = [
        f'<li><a href="{esc(page_route(k))}" data-ci-pagination-page="{k}">{k}</a></li>'
        for k in range(1, n_pages + 1)
    ]
    if page < n_pages:
        pager.append(
            f'<li><a href="{esc(page_route(page + 1))}" data-ci-pagination-page="{page + 1}"'
            ' rel="next">&gt;</a></li>'
        )
    return (
        head("รัฐบาลไทย-ข่าวทำเนียบรัฐบาล")
        + navbar()
        + '\n<div class="container"><div class="row"><div class="col-md-12">\n'
        + '<div class="panel panel-default"><div class="panel-heading">ข่าวทำเนียบรัฐบาล</div>\n'
        + f'<div class="panel-body">\n{rows}\n</div></div>\n'
        + '<div class="panel panel-default"><div class="panel-heading">ข่าวยอดนิยม</div>\n'
        + f'<div class="panel-body">\n{pop}\n</div></div>\n'
        + '<ul class="pagination color2 pagination-sm">\n'
        + "\n".join(pager)
        + "\n</ul>\n</div></div></div>\n"
        + tail()
    )


def rss_item(title: str, link: str, when: dt.datetime, paragraphs: list[str]) -> str:
    text = "\n\n".join(paragraphs)
    return (
        "<item>\n"
        f"<title>{esc(title)}</title>\n<link>{esc(link)}</link>\n"
        f'<guid isPermaLink="true">{esc(link)}</guid>\n'
        f"<pubDate>{format_datetime(when)}</pubDate>\n"
        f"<description>{esc(text)}</description>\n"
        "</item>"
    )


def feed_xml(seed_title: str, seed_lines: list[str], extras: list[Article]) -> tuple[str, list]:
    items = [
        rss_item(
            seed_title,
            FEED_LINK.format(nid=4821),
            dt.datetime(2019, 10, 8, 9, 30, tzinfo=BKK),
            seed_lines,
        )
    ]
    titles = [seed_title]
    for i, a in enumerate(extras):
        when = dt.datetime.combine(a.date, dt.time(14 - i, 15), tzinfo=BKK) + dt.timedelta(days=1)
        link = FEED_LINK.format(nid=4820 - 3 * i)
        items.append(rss_item(a.title, link, when, [*a.paragraphs, CREDIT_LINE]))
        titles.append(a.title)
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
        "<title>ศูนย์ข้อมูลอาเซียน (สำเนาตัวอย่าง)</title>\n"
        "<link>https://asean.dla.go.th/</link>\n"
        "<description>ข่าวอาเซียนที่เผยแพร่ซ้ำจากหน่วยงานรัฐ (สำเนาตัวอย่างสำหรับสาธิต)</description>\n"
        "<language>th</language>\n" + "\n".join(items) + "\n</channel>\n</rss>\n"
    )
    return xml, titles


def fix_cp874(text: str) -> str:
    """Replace curly quotes, dashes and zero-width characters by ASCII stand-ins."""
    for bad, good in CP874_FIXES.items():
        text = text.replace(bad, good)
    return text


def to_cp874(article: Article) -> Article:
    fix = fix_cp874
    return Article(
        id=article.id,
        title=fix(article.title),
        date_text=fix(article.date_text),
        category=fix(article.category),
        paragraphs=tuple(fix(p) for p in article.paragraphs),
        kind=article.kind,
    )


def encodable_cp874(article: Article) -> bool:
    a = to_cp874(article)
    try:
        "\n".join([a.title, a.category, *a.paragraphs]).encode("cp874")
    except UnicodeEncodeError:
        return False
    return True


def expected_entry(a: Article) -> dict:
    return {
        "route": a.route,
        "title": a.title,
        "date_text": a.date_text,
        "category": a.category,
        "first_paragraph_start": a.paragraphs[0].lstrip()[:40],
        "last_paragraph_end": a.paragraphs[-1].strip()[-40:],
    }


def build(shared: Path, out: Path) -> dict:
    seed_title, seed_lines = load_seed(shared / "seeds" / "000_44e3d97cc96530dd.txt")
    if seed_lines[-1] != CREDIT_LINE:
        raise SystemExit(f"seed does not end with {CREDIT_LINE!r}")
    seed = Article(
        SEED_ID, seed_title, SEED_DATE_TEXT, SEED_CATEGORY, tuple(seed_lines[:-1]), "seed"
    )
    with gzip.open(shared / "corpus" / "thaigov-articles.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    listing, feed_extras = select(rows, seed)

    pages = [listing[i : i + PER_PAGE] for i in range(0, len(listing), PER_PAGE)]
    if seed not in pages[0]:
        raise SystemExit("seed is not on the first listing page")
    cp874_article = next(a for a in pages[1] if a.kind == "random" and encodable_cp874(a))

    routes: dict[str, dict[str, str]] = {}
    files: dict[str, bytes] = {}
    expected_articles = []
    latest = listing[:6]
    for a in sorted(listing, key=lambda x: x.id):
        views = random.Random(f"{SEED}-views-{a.id}").randint(100, 9999)
        rel = f"details/{a.id}.html"
        if a.id == cp874_article.id:
            a = to_cp874(a)
            files[rel] = fix_cp874(article_page(a, views, latest, cp874=True)).encode("cp874")
            routes[a.route] = {"file": rel, "content_type": "text/html"}
        else:
            files[rel] = article_page(a, views, latest, cp874=False).encode("utf-8")
            routes[a.route] = {"file": rel, "content_type": HTML_UTF8}
        expected_articles.append(expected_entry(a))

    shuffled = random.Random(SEED).sample(listing, len(listing))
    for n, items in enumerate(pages, start=1):
        popular = [a for a in shuffled if a not in items][:5]
        rel = f"listing/page-{n}.html"
        files[rel] = listing_page(n, len(pages), items, popular).encode("utf-8")
        routes[page_route(n)] = {"file": rel, "content_type": HTML_UTF8}

    xml, feed_titles = feed_xml(seed_title, seed_lines, feed_extras)
    files["rss/dla-asean.xml"] = xml.encode("utf-8")
    routes[FEED_ROUTE] = {
        "file": "rss/dla-asean.xml",
        "content_type": "application/rss+xml; charset=utf-8",
    }

    manifest = {
        "note": "Pages built by tools/build_snapshot.py from the public-domain PyThaiNLP"
        " thaigov corpus and the seed release; layout imitates legacy www.thaigov.go.th.",
        "routes": dict(sorted(routes.items())),
    }
    expected = {
        "articles": sorted(expected_articles, key=lambda e: e["route"]),
        "listing_order": [a.route for a in listing],
        "cp874_route": cp874_article.route,
        "feed": {"route": FEED_ROUTE, "item_titles": feed_titles},
    }
    files["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    files["expected.json"] = (json.dumps(expected, ensure_ascii=False, indent=2) + "\n").encode()

    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {"listing": listing, "feed": feed_extras, "cp874": cp874_article, "files": files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("demo/snapshot"))
    args = parser.parse_args(argv)
    result = build(args.shared, args.out)
    files: dict[str, bytes] = result["files"]
    print(f"routes: {len(files) - 2}, total bytes: {sum(map(len, files.values()))}")
    print(f"seed route: /news/contents/details/{SEED_ID}")
    print(f"cp874 route: {result['cp874'].route}")
    for a in result["listing"]:
        print(f"  {a.kind:8} {a.id} {a.date_text} {a.title[:50]}")
    for a in result["feed"]:
        print(f"  feed     {a.id} {a.date_text} {a.title[:50]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
