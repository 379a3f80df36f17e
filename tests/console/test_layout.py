"""The console's narrow-screen layout, checked in the stylesheet (no browser needed).

Below 900 px the sidebar column collapses into a top bar. The shell paints the
sidebar's dark colour as a 232 px background stripe; if the narrow layout keeps
that stripe, it lies under the content (issue 12).
"""

import re
from pathlib import Path

from django.conf import settings

CSS = (Path(settings.BASE_DIR) / "console/static/console/console.css").read_text()


def narrow_rules() -> dict[str, str]:
    """Selector → declarations inside `@media (max-width: 900px) { … }`."""
    start = CSS.index("@media (max-width: 900px) {")
    depth, end = 0, start
    for end in range(CSS.index("{", start), len(CSS)):
        depth += {"{": 1, "}": -1}.get(CSS[end], 0)
        if depth == 0:
            break
    block = CSS[CSS.index("{", start) + 1 : end]
    block = re.sub(r"/\*.*?\*/", "", block, flags=re.DOTALL)
    return {
        selector.strip(): " ".join(body.split())
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", block)
    }


def test_the_wide_layout_paints_a_sidebar_stripe_that_the_narrow_one_removes():
    assert "linear-gradient(to right, #161b2e 232px, transparent 232px)" in CSS
    rules = narrow_rules()
    assert "grid-template-columns: 1fr;" in rules[".shell"]
    assert "background: none;" in rules[".shell"]


def test_below_900px_the_sidebar_is_a_top_bar():
    rules = narrow_rules()
    sidebar = rules[".sidebar"]
    assert "position: static;" in sidebar and "height: auto;" in sidebar
    assert "flex-direction: row;" in sidebar and "flex-wrap: wrap;" in sidebar
    assert "flex-direction: row;" in rules[".nav"]
    assert "margin-top: 0;" in rules[".sidebar-foot"]


def test_multi_column_grids_stack_even_when_a_page_sets_its_columns_inline():
    # The inspector sets grid-template-columns in a style attribute; only !important wins.
    assert "grid-template-columns: 1fr !important;" in narrow_rules()[".stats, .grid-2, .form-grid"]


def test_pages_declare_a_device_width_viewport():
    base = (Path(settings.BASE_DIR) / "templates/console/base.html").read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in base
