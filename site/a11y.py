"""Accessibility fixes to the HTML that Sphinx and Furo write (a Sphinx extension, see conf.py).

axe-core (tests/site/test_accessibility.py) found three things in the pages as written:

- the sidebar's captions ("Lectures", "Exercises") are ``<p role="heading">`` without the
  ``aria-level`` that the heading role requires, so screen readers cannot place them in the outline
  (critical: aria-required-attr). They become level-2 headings, under the page's title.
- code blocks and text outputs that scroll sideways cannot be scrolled with the keyboard, since a
  ``<pre>`` cannot take the focus (serious: scrollable-region-focusable). Each ``<pre>`` joins the
  tab order (``tabindex="0"``, as Docusaurus and GitHub do with code), so the arrow keys scroll it.
- the two ``<aside>`` landmarks (site navigation, this page's contents) have no names, so a
  screen reader lists two unnamed "complementary" regions (moderate: landmark-unique).
- the search page has no level-one heading (moderate: page-has-heading-one); it gets "Search".

The fixes are applied to every written page once the build has finished.
"""

from __future__ import annotations

import re
from pathlib import Path

CAPTION = re.compile(r'<p class="caption" role="heading"(?![^>]*aria-level)')
PRE = re.compile(r"<pre(?=[\s>])(?![^>]*tabindex)")
SEARCH_RESULTS = '<div id="search-results"></div>'
ASIDES = {
    '<aside class="sidebar-drawer">':
        '<aside class="sidebar-drawer" aria-label="Course navigation">',
    '<aside class="toc-drawer">': '<aside class="toc-drawer" aria-label="On this page">',
}


def fix_page(text: str) -> str:
    """The page's HTML with the fixes above applied (idempotent)."""
    text = CAPTION.sub('<p class="caption" role="heading" aria-level="2"', text)
    text = PRE.sub('<pre tabindex="0"', text)
    for old, new in ASIDES.items():
        text = text.replace(old, new)
    if "<h1" not in text:
        text = text.replace(SEARCH_RESULTS, "<h1>Search</h1>\n" + SEARCH_RESULTS)
    return text


def fix_site(outdir: Path) -> int:
    """Apply :func:`fix_page` to every HTML page under ``outdir``; return how many changed."""
    changed = 0
    for page in Path(outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = fix_page(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
            changed += 1
    return changed


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        fix_site(Path(app.outdir))


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
