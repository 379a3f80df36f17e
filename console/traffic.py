"""Traffic panels of the console: the analytics series drawn as server-rendered SVG.

No JavaScript: each panel is an inclusion tag (console/templatetags/traffic.py) that
reads analytics/services.py and lays out bars in Python; the window (hour, day,
week) is a query parameter, `?traffic=day`.
"""

from dataclasses import dataclass

from analytics import services
from analytics.services import WINDOWS
from apis.models import Api
from applications.models import Application

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 160, 44, 18, 8


@dataclass
class Bar:
    x: float
    width: float
    y: float
    height: float
    error_y: float
    error_height: float
    title: str
    requests: int


def window_of(request) -> str:
    window = request.GET.get("traffic", "hour") if request is not None else "hour"
    return window if window in WINDOWS else "hour"


def chart(series: dict) -> dict:
    """Bars (requests, the error share in red) with a y axis scaled to the busiest point."""
    points = series["points"]
    peak = max((point["requests"] for point in points), default=0)
    scale = _nice_ceiling(peak)
    plot_width = WIDTH - PAD_LEFT
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_width / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        if not point["requests"]:
            continue
        height = plot_height * point["requests"] / scale
        error_height = plot_height * point["errors"] / scale
        bottom = PAD_TOP + plot_height
        p95 = f", p95 {point['p95_ms']} ms" if point["p95_ms"] is not None else ""
        bars.append(
            Bar(
                x=round(PAD_LEFT + index * slot + slot * 0.1, 2),
                width=round(max(slot * 0.8, 1), 2),
                y=round(bottom - height, 2),
                height=round(height, 2),
                error_y=round(bottom - error_height, 2),
                error_height=round(error_height, 2),
                title=f"{point['start'][:16].replace('T', ' ')} UTC: {point['requests']} calls, "
                f"{point['errors']} errors{p95}",
                requests=point["requests"],
            )
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot_left": PAD_LEFT,
        "plot_top": PAD_TOP,
        "plot_bottom": HEIGHT - PAD_BOTTOM,
        "plot_mid": PAD_TOP + plot_height / 2,
        "scale": scale,
        "half": scale / 2,
        "bars": bars,
        "step_minutes": series["step_seconds"] // 60,
        "start_label": series["start"][:16].replace("T", " ") + " UTC",
    }


def _nice_ceiling(value: int) -> int:
    """1, 2, 5 x 10^n: an axis maximum at or above `value`."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10


def panel(request, api_id: int | None = None, application_id: int | None = None) -> dict:
    window = window_of(request)
    series = services.series(window, api_id=api_id, application_id=application_id)
    context = {
        "window": window,
        "windows": list(WINDOWS),
        "series": series,
        "total": series["total"],
        "chart": chart(series),
        "refusals": series["top_refusals"],
        "scope": "api" if api_id else "application" if application_id else "all",
    }
    if application_id is None:
        rows = services.application_breakdown(window, api_id=api_id)
        names = Application.objects.in_bulk([row["application_id"] for row in rows])
        context["applications"] = [
            {**row, "application": names.get(row["application_id"])} for row in rows[:10]
        ]
    else:
        context["last_seen"] = services.last_seen([application_id]).get(application_id)
    if api_id is None and application_id is None:
        rows = services.api_breakdown(window)
        names = Api.objects.in_bulk([row["api_id"] for row in rows])
        context["apis"] = [{**row, "api": names.get(row["api_id"])} for row in rows[:10]]
    return context
