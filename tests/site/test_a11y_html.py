"""site/a11y.py's fixes to the written HTML, on snippets as Sphinx and Furo write them (no browser).

The browser tests (test_site.py) run axe-core on the built site; these pin each fix down so that
a change in Furo's markup that defeats one shows up here first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "site"))
from a11y import fix_page

FURO_PAGE = """<aside class="sidebar-drawer">
<div class="sidebar-tree"><p class="caption" role="heading">\
<span class="caption-text">Lectures</span></p>
<ul><li class="toctree-l1"><a class="reference internal" href="01.html">1</a></li></ul>\
</div></aside>
<article><div class="highlight"><pre><span></span>x = 1</pre></div>
<div class="output text_plain highlight-myst-ansi notranslate">\
<div class="highlight"><pre><span></span>1
</pre></div></div><p>A <code>preformatted</code> word.</p></article>
<aside class="toc-drawer"><div class="toc-tree"></div></aside>"""


def test_captions_become_level_two_headings():
    fixed = fix_page(FURO_PAGE)
    assert '<p class="caption" role="heading" aria-level="2">' in fixed
    assert 'role="heading">' not in fixed


def test_every_pre_joins_the_tab_order_and_nothing_else_does():
    fixed = fix_page(FURO_PAGE)
    assert fixed.count('<pre tabindex="0">') == FURO_PAGE.count("<pre>") == 2
    assert "<p>A <code>preformatted</code>" in fixed
    assert fixed.count("tabindex") == 2


def test_the_landmarks_get_names():
    fixed = fix_page(FURO_PAGE)
    assert '<aside class="sidebar-drawer" aria-label="Course navigation">' in fixed
    assert '<aside class="toc-drawer" aria-label="On this page">' in fixed


def test_the_search_page_gets_a_title_and_other_pages_keep_theirs():
    search = '<article role="main"><div id="search-results"></div></article>'
    assert fix_page(search).count("<h1>Search</h1>") == 1
    titled = '<article role="main"><h1>Lecture</h1><div id="search-results"></div></article>'
    assert fix_page(titled) == titled


def test_fixing_twice_changes_nothing_more():
    once = fix_page(FURO_PAGE)
    assert fix_page(once) == once
