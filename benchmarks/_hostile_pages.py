"""Hostile article pages for `extract_diff.py`: markup that HTML parsers read differently.

Each snippet goes into a workload article's body, its date line and its title; whole
pages (no doctype, odd doctypes, other charsets, nothing but text) come whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from _pages import WORKLOAD_ARTICLE, Page

from monitor.fetch import decode
from monitor.models import ArticleRules

DEEP = "<div>" * 300 + "ลึก" + "</div>" * 300
SNIPPETS = {
    "misnested": "<p>a<b>b<p>c</b>d</p>e<i>f<div>g</i>h</div>",
    "table text": "<table>นำ<tr><td>a</td></tr>stray<td>b</table>หลัง",
    "nested tables": "<table><tr><td><table><tr><td>ใน</td></tr></table>after</td><td>x"
    "</table><table><caption>c<tr><th>h</table>",
    "unclosed": "<p>unclosed <b>bold <i>it<span>s<ul><li>one<li>two<dl><dt>t<dd>d",
    "stray end tags": "a</span>b</p>c</br>d</td>e</tr>f</form>g</li>h</div>i",
    "closing body": "a</body>b</html>c<p>d",
    "entities": "&amp &nbsp; &nbsp &copy &#128; &#x80; &#0; &#xD800; &#1114112; &notit; &noti;"
    " &AElig &unknown; & ; &#65 &#x41 &lt&gt &amp;amp; &#x0e01; &#3585;",
    "entities in attributes": '<a href="/a?x=1&copy=2&amp;y&#0;">l</a><p title="&notit;">t</p>',
    "comments": "a<!-- c -->b<!-->c<!--->d<!-- a -- b -->e<!--x--!>f<?php echo 1 ?>g"
    "<![CDATA[h]]>i<!DOCTYPE x>j",
    "open comment": "a<!-- never closed <p>b",
    "raw text": "<script>s</script><style>t</style><template><p>u</p></template>"
    "<noscript><p>ns</p></noscript><textarea><b>ta</b></textarea><xmp><b>xmp</b></xmp>"
    "<title>in body</title><iframe><p>if</p></iframe><noembed>ne</noembed>"
    "<noframes>nf</noframes><script><!--<script>x</script>-->y</script>z",
    "plaintext": "a<plaintext><p>b</p></div>c",
    "ruby": "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby><rt>lone</rt>",
    "foreign": "<svg><title>s</title><text>t</text><foreignObject><p>f</p></foreignObject>"
    "</svg><math><mi>x</mi><mtext>y</mtext></math><svg><p>breakout</svg>",
    "huge attribute": '<p title="' + "x" * 2_000_000 + '">t</p><a href="' + "/" * 3000 + '">l</a>',
    "odd attributes": '<p title=a title=b class="c d" class=e id=1 ID=2 x=">">t</p>'
    "<a href=unquoted>u</a><a href>empty</a><p a=\"'\" b='\"'>q</p><p =x>eq</p>",
    "deep nesting": DEEP,
    "deep formatting": "<b>" * 1000 + "ตัวหนา" + "</b>" * 1000,
    "many anchors": "<a href=1>" * 50 + "x",
    "whitespace": "<p> </p><p>\n</p><p>\t</p><p>\xa0</p><p>\r\n</p><p>\f</p><p>a\rb\r\nc</p>"
    "<pre>\nfirst</pre><pre>\n\nsecond</pre><textarea>\nta</textarea><listing>\nl</listing>",
    "controls": "a\x00b\x01c\x0bd\x7fe\x85f\ufffeg\uffffh\U0010ffffi\u200bj\ufeffk",
    "forms": "<form><form><p>f</p></form></form><select><p>s<option>o</select>"
    "<button><button>b</button></button><input>text<isindex><image src=x>",
    "blocks in inline": "<a href=/x><div>block in a</div></a><span><p>p in span</p></span>"
    "<h1><h2>heading</h2></h1><p><h3>p h3</h3></p><p><table><tr><td>p table</table>",
    "lists": "<li>no list<ul><li>a<li>b<ul><li>c</ul><li>d</ul><dd>dd<dt>dt",
    "document tags": "<html lang=en><head><title>t2</title></head><body class=x>"
    "<meta charset=iso-8859-1>b<frameset>f</frameset>",
    "br": "a<br>b<br/>c</br>d<br><br>e<p>f<br></p>",
    "nobr": "<nobr>a<nobr>b</nobr>c",
}
TEMPLATE_RULES = ArticleRules(
    title="h1.title", date="div.meta", body="div.content", category="div.meta a"
)
WHOLE = {
    "no doctype": "<html><head><title>T</title></head><body><h1 class=title>H</h1>"
    "<div class=meta>1 มกราคม 2569</div><div class=content><p>A<table><tr><td>x</table>"
    "<p class=Content>c</div></body></html>",
    "quirks classes": "<h1 class=TITLE>upper</h1><h1 class=title>lower</h1>"
    "<div class=content id=X><p>x</div>",
    "html4 doctype": '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">'
    "<title>T</title><h1 class=title>H</h1><div class=content><p>a<table>b</table></div>",
    "xhtml": '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD '
    'XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head><body>'
    "<h1 class='title'>H</h1><div class='content'><p>a<br/>b</p><p/>c</div></body></html>",
    "text only": "ข่าว &amp; เนื้อหา",
    "empty": "",
    "blank": " \n ",
    "title only": "<title>T</title>",
    "before html": "text before<!-- c --><html><h1 class=title>H</h1><div class=content>b",
    "after html": "<html><body><h1 class=title>H</h1><div class=content>b</div></body></html>"
    "after<p>more",
    "two bodies": "<body><h1 class=title>H</h1><body><div class=content>b</div>",
    "head content": "<head><h1 class=title>H</h1></head><div class=content>b",
    "bom": "\ufeff<!DOCTYPE html><h1 class=title>H</h1><div class=content>b",
    "canonical": '<link rel="canonical" href="/c"><link rel=" canonical " href="/d">'
    '<link rel="Canonical" href="/e"><h1 class=title>H</h1><div class=content>b',
    "canonical case": '<link rel="Canonical" href="/e"><link rel="canonical alternate" '
    'href="/f"><link rel="canonical\f" href="/g"><h1 class=title>H</h1><div class=content>b',
    "canonical in body": '<h1 class=title>H</h1><div class=content><link rel=canonical href="/b">b',
}


def _encoded(html: str, codec: str, content_type: str) -> str:
    """The page as the monitor decodes it when a site serves it in `codec`."""
    return decode(html.encode(codec, errors="xmlcharrefreplace"), content_type)[0]


def hostile_pages(article: str) -> Iterator[Page]:
    """Hostile pages built on one workload article page (its markup as a template)."""
    url = "http://127.0.0.1/article/0/0.html"
    for name, snippet in SNIPPETS.items():
        for where, anchor in (("body", '<div class="content">'), ("date", '<div class="meta">'),
                              ("title", '<h1 class="title">')):  # fmt: skip
            text = article.replace(anchor, anchor + snippet, 1)
            yield Page(f"{name} in {where}", url, text, article=TEMPLATE_RULES)
    for name, html in WHOLE.items():
        yield Page(name, url, html, article=WORKLOAD_ARTICLE)
        yield Page(f"{name}, generic", url, html, article=ArticleRules(body="div.none"))
    thai = article.replace('<meta charset="utf-8">', "")
    for codec, content_type in (("cp874", "text/html; charset=windows-874"),
                                ("tis-620", "text/html"), ("utf-16", "text/html"),
                                ("iso-8859-1", "text/html; charset=iso-8859-1")):  # fmt: skip
        text = _encoded(thai, codec, content_type)
        yield Page(f"charset {codec}", url, text, article=WORKLOAD_ARTICLE)
        meta = thai.replace("<head>", f'<head><meta charset="{codec}">')
        text = _encoded(meta, codec, content_type)
        yield Page(f"charset {codec} with meta", url, text, article=WORKLOAD_ARTICLE)
