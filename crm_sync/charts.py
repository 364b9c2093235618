"""Charts drawn on the server as inline SVG: the admin works offline, with no script and no CDN.

Each function returns safe markup; every text in it is escaped, every number computed here.
"""

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

STATUS_COLOURS = {
    "Complete": "#2e7d32",
    "Queued": "#1565c0",
    "Processing": "#6a1b9a",
    "Selected": "#90a4ae",
    "Skipped": "#bdbdbd",
    "Error": "#c62828",
}
SERIES_COLOURS = {"pushed": "#2e7d32", "pulled": "#1565c0", "failed": "#c62828"}


def stacked_bar(
    counts: dict[str, int], order: list[str], *, width: int = 320, height: int = 18
) -> SafeString:
    """One horizontal bar split by status, each segment titled with its status and count."""
    total = sum(counts.values())
    if not total:
        return format_html(
            '<svg class="chart" role="img" width="{}" height="{}" aria-label="no contacts">'
            '<rect width="{}" height="{}" fill="#eee"/></svg>',
            width,
            height,
            width,
            height,
        )
    segments, x = [], 0.0
    for status in order:
        n = counts.get(status, 0)
        if not n:
            continue
        w = width * n / total
        segments.append((f"{x:.2f}", f"{w:.2f}", height, STATUS_COLOURS.get(status, "#999"), status, n))
        x += w
    label = ", ".join(f"{status} {counts[status]}" for status in order if counts.get(status))
    return format_html(
        '<svg class="chart" role="img" width="{}" height="{}" aria-label="{}">{}</svg>',
        width,
        height,
        label,
        format_html_join(
            "",
            '<rect x="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            segments,
        ),
    )


def activity_chart(series: list[dict], *, width: int = 720, height: int = 160) -> SafeString:
    """Grouped columns (pushed, pulled, failed) per bucket, with the peak on the y axis."""
    keys = list(SERIES_COLOURS)
    peak = max((point[key] for point in series for key in keys), default=0) or 1
    left, bottom, top = 40, 22, 8
    plot_w, plot_h = width - left - 4, height - bottom - top
    slot = plot_w / max(len(series), 1)
    bar = max(slot / (len(keys) + 1), 1.0)
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="10">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>',
    ]
    label_every = max(len(series) // 8, 1)
    for index, point in enumerate(series):
        x0 = left + index * slot
        for k, key in enumerate(keys):
            value = point[key]
            if not value:
                continue
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + (k + 0.5) * bar:.2f}" y="{top + plot_h - h:.2f}" width="{bar:.2f}" '
                f'height="{h:.2f}" fill="{SERIES_COLOURS[key]}"><title>{escape(point["label"])} '
                f"{key}: {value}</title></rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x0 + slot / 2:.2f}" y="{height - 6}" text-anchor="middle" font-size="10">'
                f"{escape(point['label'])}</text>"
            )
    totals = {key: sum(point[key] for point in series) for key in keys}
    aria = escape(", ".join(f"{key} {totals[key]}" for key in keys))
    # Every value interpolated above is a number computed here or escaped text.
    return mark_safe(  # noqa: S308 - numbers and escaped text only  # nosec B308 B703
        f'<svg class="chart" role="img" width="{width}" height="{height}" aria-label="{aria}">'
        + "".join(parts)
        + "</svg>"
    )
