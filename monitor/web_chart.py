"""Weekly counts of matched items, drawn as inline SVG for `monitor web`'s trend page.

Pure functions: the page's SQL groups items by Bangkok week (Monday to Sunday, the
week's Monday as `YYYY-MM-DD`); this module lays the counts on a row of weeks and
draws them server-side, so the chart needs no JavaScript library and no network.
Every label is escaped (a source name comes from the config, a topic from the rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from markupsafe import Markup

# Distinguishable in colour and in grey (Okabe-Ito), then grey for "other sources".
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
OTHER_COLOUR = "#999999"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def week_of(day: date) -> date:
    """The Monday that starts `day`'s week."""
    return day - timedelta(days=day.weekday())


def weeks_until(end: date, count: int) -> list[date]:
    """The Mondays of the `count` weeks that end with `end`'s week, oldest first."""
    last = week_of(end)
    return [last - timedelta(weeks=count - 1 - i) for i in range(count)]


def series(
    rows: Iterable[tuple[str, str, int]], weeks: Sequence[date], keys: Sequence[str] = ()
) -> dict[str, list[int]]:
    """{key: count per week} from (week's Monday as ISO text, key, count) rows; `keys`
    come first and are kept with zeros, others follow in order of their total."""
    index = {week.isoformat(): i for i, week in enumerate(weeks)}
    counts: dict[str, list[int]] = {key: [0] * len(weeks) for key in keys}
    for week, key, n in rows:
        if week in index:
            counts.setdefault(key, [0] * len(weeks))[index[week]] += int(n)
    others = sorted((k for k in counts if k not in keys), key=lambda k: -sum(counts[k]))
    return {key: counts[key] for key in [*keys, *others]}


def top(counts: Mapping[str, list[int]], n: int, other: str) -> dict[str, list[int]]:
    """The `n` keys with most items, the rest summed under `other`."""
    ranked = sorted(counts, key=lambda k: -sum(counts[k]))
    kept = {key: list(counts[key]) for key in ranked[:n]}
    rest = ranked[n:]
    if rest:
        kept[other] = [sum(counts[k][i] for k in rest) for i in range(len(counts[rest[0]]))]
    return kept


def colours(keys: Sequence[str], other: str = "") -> dict[str, str]:
    return {
        key: OTHER_COLOUR if key == other else PALETTE[i % len(PALETTE)]
        for i, key in enumerate(keys)
    }


def _nice_max(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value` (and 4)."""
    top, step = 4, 1
    while top < value:
        for factor in (2, 5, 10):
            if step * factor * 4 >= value:
                return step * factor * 4
        step *= 10
        top = step * 4
    return top


def line_chart(
    weeks: Sequence[date],
    counts: Mapping[str, Sequence[int]],
    label: str,
    palette: Mapping[str, str],
    width: int = 960,
    height: int = 280,
) -> Markup:
    """An SVG line chart: one line per key, a point per week with its count as a tooltip."""
    left, right, top_pad, bottom = 44, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = max((max(values) for values in counts.values() if values), default=0)
    y_max = _nice_max(peak)
    step = plot_w / max(1, len(weeks) - 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(n: int) -> float:
        return round(top_pad + plot_h - n * plot_h / y_max, 1)

    parts = [
        Markup(
            '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'xmlns="http://www.w3.org/2000/svg" aria-label="{label}"><title>{label}</title>'
        ).format(w=width, h=height, label=label)
    ]
    for k in range(5):  # gridlines at quarters of the axis
        n = y_max * k // 4
        parts.append(
            Markup(
                '<line class="grid" x1="{l}" x2="{r}" y1="{y}" y2="{y}"/>'
                '<text class="tick" x="{tx}" y="{ty}" text-anchor="end">{n}</text>'
            ).format(l=left, r=width - right, y=y(n), tx=left - 6, ty=y(n) + 4, n=n)
        )
    last_label = -100.0
    for i, week in enumerate(weeks):  # a month's name under its first week, if it fits
        if i and week.month == weeks[i - 1].month:
            continue
        name = MONTHS[week.month - 1] + (f" {week.year}" if week.month == 1 or i == 0 else "")
        room = 7 * len(name)  # 11 px text
        if x(i) - last_label < room or x(i) + room > width:
            continue
        last_label = x(i)
        parts.append(
            Markup(
                '<line class="axis" x1="{x}" x2="{x}" y1="{b}" y2="{b2}"/>'
                '<text class="tick" x="{x}" y="{ty}">{name}</text>'
            ).format(
                x=x(i),
                b=top_pad + plot_h,
                b2=top_pad + plot_h + 4,
                ty=height - bottom + 18,
                name=name,
            )
        )
    for key, values in counts.items():
        colour = palette.get(key, OTHER_COLOUR)
        points = " ".join(f"{x(i)},{y(n)}" for i, n in enumerate(values))
        parts.append(
            Markup(
                '<polyline class="series" data-key="{k}" fill="none" stroke="{c}" '
                'stroke-width="2" points="{p}"/>'
            ).format(k=key, c=colour, p=points)
        )
        for i, n in enumerate(values):
            if n:
                parts.append(
                    Markup(
                        '<circle cx="{x}" cy="{y}" r="3" fill="{c}"><title>{k}, week of '
                        "{w}: {n}</title></circle>"
                    ).format(x=x(i), y=y(n), c=colour, k=key, w=weeks[i].isoformat(), n=n)
                )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def legend(counts: Mapping[str, Sequence[int]], palette: Mapping[str, str]) -> Markup:
    """The keys with their colour and total, as an HTML list."""
    items = [
        Markup(
            '<li><span class="swatch" style="background:{c}"></span><bdi>{k}</bdi> '
            '<span class="total">{n}</span></li>'
        ).format(c=palette.get(key, OTHER_COLOUR), k=key, n=sum(values))
        for key, values in counts.items()
    ]
    return Markup('<ul class="legend">') + Markup("").join(items) + Markup("</ul>")
