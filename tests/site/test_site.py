"""The course site (`make site`) in a real browser, with the network cut off.

The site in _site/ is reused when `make site` built it after the last change to lectures/,
exercises/ or site/; otherwise it is built here (site/build.py, the lectures executed once). It is
served by http.server on 127.0.0.1 and read in Debian's Chromium through Playwright, with every
request that leaves the loopback interface aborted and recorded: a page that needs a CDN (MathJax,
widget scripts, fonts) fails the test. Screenshots land in test-artifacts/site/.
"""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import sys
import threading
import warnings
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "_site"
ARTIFACTS = REPO / "test-artifacts" / "site"
LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))
EXERCISES = sorted((REPO / "exercises").glob("*/*.ipynb"))
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _sources() -> list[Path]:
    return [*LECTURES, *EXERCISES,
            *(p for p in (REPO / "site").rglob("*.*") if "__pycache__" not in p.parts)]


def _cells(nb: Path, kind: str) -> list[str]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == kind]


def _page(nb: Path) -> str:
    """The site's URL path of a notebook."""
    return nb.relative_to(REPO).with_suffix(".html").as_posix()


@pytest.fixture(scope="module")
def site() -> Path:
    """_site/, built by `make site` after the last change to its sources, or built now."""
    index = SITE / "index.html"
    newest = max(p.stat().st_mtime for p in _sources())
    if not index.is_file() or index.stat().st_mtime < newest:
        proc = subprocess.run(
            [sys.executable, str(REPO / "site" / "build.py"), "-q"],
            check=False,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert proc.returncode == 0, f"site/build.py failed:\n{proc.stdout}\n{proc.stderr}"
    assert index.is_file()
    return SITE


@pytest.fixture(scope="module")
def server(site) -> str:
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Offline:
    """A browser context whose requests to anything but the loopback interface are aborted."""

    def __init__(self, context):
        self.context, self.blocked, self.errors = context, [], []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if urlparse(url).scheme in ("http", "https") and urlparse(url).hostname not in LOOPBACK:
            self.blocked.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    def new_page(self):
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page


@pytest.fixture
def offline(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    net = Offline(context)
    try:
        yield net
    finally:
        context.close()
    assert not net.blocked, f"the site tried to reach the network: {net.blocked}"
    assert not net.errors, f"JavaScript errors on the site: {net.errors}"


def _open(page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"


def _typeset(page) -> None:
    """Wait until MathJax has typeset the page (it is loaded from the site's own _static)."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")


PROSE_TEXT = """() => {
    const article = document.querySelector('article').cloneNode(true);
    article.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
    return article.innerText;
}"""


def test_index_lists_every_lecture_and_exercise(offline, server):
    page = offline.new_page()
    _open(page, server)
    hrefs = {
        urljoin(page.url, a)
        for a in page.eval_on_selector_all(
            ".sidebar-tree a.reference.internal", "els => els.map(e => e.getAttribute('href'))"
        )
    }
    for nb in [*LECTURES, *EXERCISES]:
        assert urljoin(server, _page(nb)) in hrefs, f"the navigation has no link to {nb.name}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index.png"))


@pytest.mark.parametrize("nb", LECTURES, ids=[nb.stem for nb in LECTURES])
def test_lecture_page_has_typeset_maths_and_every_figure(offline, server, nb):
    page = offline.new_page()
    _open(page, urljoin(server, _page(nb)))
    title = next(
        line[2:].strip()
        for src in _cells(nb, "markdown")
        for line in src.splitlines()
        if line.startswith("# ")
    )
    assert page.locator("article h1").first.inner_text().strip().startswith(title[:20])

    # maths: every math element typeset by MathJax, no TeX delimiters left in the prose
    markdown = "\n".join(_cells(nb, "markdown"))
    if "$" in markdown:
        _typeset(page)
        assert page.locator("mjx-container").count() > 0, "no maths typeset"
        untypeset = page.eval_on_selector_all(
            ".math", "els => els.filter(e => !e.querySelector('mjx-container')).length"
        )
        assert untypeset == 0, f"{untypeset} maths elements were left as TeX"
    prose = page.evaluate(PROSE_TEXT)
    assert "$$" not in prose and "\\(" not in prose and "\\[" not in prose
    assert not re.search(r"\$[^$\s][^$\n]*\$", prose), "inline $...$ left as text"

    # figures: at least one image per cell that shows a plot, every one decoded with a real size
    plotting_cells = sum("plt.show(" in src for src in _cells(nb, "code"))
    images = page.locator("article .cell_output img")
    if plotting_cells:
        assert images.count() >= plotting_cells, (
            f"{images.count()} figures for {plotting_cells} plotting cells"
        )
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        size = img.evaluate(
            "async e => { await e.decode(); return [e.naturalWidth, e.naturalHeight] }"
        )
        assert min(size) > 0, f"figure {i} did not load: {img.get_attribute('src')}"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{nb.stem}.png"))

    # no progress bar frozen at its first state (a static page cannot update a tqdm widget)
    outputs = "\n".join(page.locator("article .cell_output").all_inner_texts())
    assert not re.search(r"\b0%\|", outputs), "a progress bar at 0% on the page"

    # the lecture ran: no tracebacks, and no link still pointing at a notebook file
    assert page.locator("article .output.traceback, article .ansi-red-fg").count() == 0
    hrefs = page.eval_on_selector_all("article a[href]", "els => els.map(e => e.href)")
    assert not [h for h in hrefs if urldefrag(h)[0].endswith(".ipynb")], hrefs


def test_links_between_lectures_and_to_exercises_work(offline, server):
    """The start page's links (`01_neuron_and_single_layer.ipynb`, `../exercises/...`), clicked."""
    page = offline.new_page()
    start = urljoin(server, _page(LECTURES[0]))
    links = re.findall(r"\]\(([^)#\s]+)\.ipynb\)", "\n".join(_cells(LECTURES[0], "markdown")))
    linked = {(LECTURES[0].parent / f"{link}.ipynb").resolve() for link in links}
    assert linked == {*LECTURES[1:], *EXERCISES}, (
        "the start page links to every lecture and exercise"
    )
    for link in links:
        _open(page, start)
        page.locator(f"article a[href='{link}.html']").first.click()
        page.wait_for_load_state("load")
        expected = urljoin(start, f"{link}.html")
        assert page.url == expected, f"the link to {link}.ipynb went to {page.url}"
        assert page.locator("article h1").count() >= 1

    # every link inside every page: the target exists, and so does the section it points at
    checked: dict[str, set[str]] = {}
    for nb in [*LECTURES, *EXERCISES]:
        _open(page, urljoin(server, _page(nb)))
        for href in page.eval_on_selector_all("article a[href]", "els => els.map(e => e.href)"):
            if urlparse(href).hostname not in LOOPBACK:
                continue
            url, fragment = urldefrag(href)
            fragment = unquote(fragment)
            if url not in checked:
                response = page.request.get(url)
                assert response.ok, f"{_page(nb)} links to {href}: HTTP {response.status}"
                checked[url] = {
                    html.unescape(i) for i in re.findall(r'\bid="([^"]+)"', response.text())
                }
            assert not fragment or fragment in checked[url], (
                f"{_page(nb)} links to #{fragment}, which {url} does not have"
            )


def _solution_lines(exercise: Path) -> set[str]:
    """The lines of code between BEGIN/END SOLUTION in the exercise's source in solutions/."""
    source = REPO / "solutions" / exercise.relative_to(REPO / "exercises")
    lines, inside = set(), False
    for line in "\n".join(_cells(source, "code")).splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside and len(line.strip()) > 12:
            lines.add(line.strip())
    return lines


@pytest.mark.parametrize("nb", EXERCISES, ids=[nb.parent.name for nb in EXERCISES])
def test_exercise_page_is_the_release_without_solutions(offline, server, nb):
    page = offline.new_page()
    _open(page, urljoin(server, _page(nb)))
    text = page.locator("article").inner_text()
    stubs = sum(src.count("YOUR CODE HERE") for src in _cells(nb, "code") + _cells(nb, "markdown"))
    assert "raise NotImplementedError" in text
    assert stubs > 0 and text.count("YOUR CODE HERE") == stubs
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text
    release = "\n".join(_cells(nb, "code") + _cells(nb, "markdown"))
    secret = [line for line in _solution_lines(nb) if line not in release]
    assert secret, "the source has solution code that its release does not show"
    leaked = [line for line in secret if line in text]
    assert not leaked, f"solution code on the exercise page: {leaked[:3]}"
    # not executed: the stubs would raise NotImplementedError
    assert page.locator("article .cell_output").count() == 0
    assert "NotImplementedError" not in page.locator("article .cell_output").all_inner_texts()


def test_site_has_no_solutions_and_no_notebook_sources(site):
    assert not (site / "solutions").exists()
    assert not list(site.rglob("*.ipynb")), "the site publishes no notebook files"
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, page


def test_reads_on_a_phone(browser, server):
    """A phone-sized screen: the lecture fits the width (no sideways scrolling of the page)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    net = Offline(context)
    try:
        page = net.new_page()
        nb = next(nb for nb in LECTURES if any("plt.show(" in s for s in _cells(nb, "code")))
        _open(page, urljoin(server, _page(nb)))
        _typeset(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone's screen"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone.png"))
        assert not net.blocked and not net.errors, (net.blocked, net.errors)
    finally:
        context.close()


def test_the_network_guard_records_what_it_blocks(browser, server):
    """The guard above is not vacuous: a page asking a CDN is stopped and the request recorded."""
    context = browser.new_context()
    net = Offline(context)
    try:
        page = net.new_page()
        _open(page, server)
        page.evaluate(
            """() => new Promise(done => {
                const s = document.createElement('script');
                s.src = 'https://cdn.example.invalid/mathjax/tex-chtml.js';
                s.onerror = done; s.onload = done;
                document.head.appendChild(s);
            })"""
        )
        assert net.blocked == ["https://cdn.example.invalid/mathjax/tex-chtml.js"]
    finally:
        context.close()


# --- accessibility (WCAG 2.1 AA) ------------------------------------------------------------------

SITE_PAGES = [
    "index.html",
    "search.html",
    "genindex.html",
    *(_page(nb) for nb in LECTURES),
    *(_page(nb) for nb in EXERCISES),
]
BLOCKING = ("serious", "critical")  # axe's impact levels that fail the test


class AxeFinding(UserWarning):
    """An axe-core violation of minor or moderate impact: listed in the test output, not fatal."""


@pytest.mark.parametrize("path", SITE_PAGES)
def test_axe_finds_no_serious_or_critical_violation(offline, server, path):
    """axe-core (bundled with axe-playwright-python, injected from disk) on the typeset page.

    Its default rules cover WCAG 2.0/2.1 A and AA and the best practices; violations of serious or
    critical impact fail, the others are reported as AxeFinding warnings and saved to
    test-artifacts/site/axe/.
    """
    from axe_playwright_python.sync_playwright import Axe

    page = offline.new_page()
    _open(page, urljoin(server, path))
    if page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):
        _typeset(page)
    violations = Axe().run(page).response["violations"]
    (ARTIFACTS / "axe").mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS / "axe" / (path.replace("/", "__") + ".json")
    report.write_text(json.dumps(violations, indent=1), encoding="utf-8")

    def describe(v):
        where = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        return f"{v['impact']} {v['id']} ({v['help']}) at {len(v['nodes'])} element(s): {where}"

    for v in violations:
        if v["impact"] not in BLOCKING:
            warnings.warn(f"axe on {path}: {describe(v)}", AxeFinding, stacklevel=1)
    blocking = [describe(v) for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {path} (details in {report}):\n" + "\n".join(blocking)


def test_the_axe_check_sees_violations(offline, server):
    """Not vacuous: a page with an unnamed image and an unlabelled input fails axe."""
    from axe_playwright_python.sync_playwright import Axe

    page = offline.new_page()
    _open(page, server)
    page.evaluate(
        """() => {
            const main = document.querySelector('article');
            main.insertAdjacentHTML('beforeend', '<img src="x.png"><input type="text">');
        }"""
    )
    found = {v["id"]: v["impact"] for v in Axe().run(page).response["violations"]}
    assert found.get("image-alt") == "critical" and found.get("label") == "critical", found


def _bad_alt(alt: str | None, src: str) -> str | None:
    """Why an image's alt text does not say what the figure shows, or None if it may."""
    if alt is None or not alt.strip():
        return "no alt text"
    alt = alt.strip()
    if alt.startswith("<") or re.match(r"(?i)figure size", alt):
        return f"matplotlib's placeholder {alt!r}"
    if alt == src or re.search(r"\.(png|jpe?g|svg|gif)$", alt, re.IGNORECASE):
        return f"a file name {alt!r}"
    if len(alt.split()) < 5:
        return f"too short to say what the figure shows: {alt!r}"
    return None


def test_every_image_on_the_site_has_alt_text_that_describes_it(site):
    """Every <img> of every page: its alt says what it shows (cell metadata mystnb.image.alt).

    Without it, MyST-NB's image gets the file name as alt (Sphinx's default), which a screen reader
    reads out as a string of hex digits.
    """
    img = re.compile(r"<img\b[^>]*>")
    attr = re.compile(r'(\w+)="([^"]*)"')
    bad, count = [], 0
    for page in sorted(site.rglob("*.html")):
        for tag in img.findall(page.read_text(encoding="utf-8")):
            attrs = {k: html.unescape(v) for k, v in attr.findall(tag)}
            count += 1
            why = _bad_alt(attrs.get("alt"), attrs.get("src", ""))
            if why:
                bad.append(f"{page.relative_to(site)}: {attrs.get('src')}: {why}")
    assert count > 0, "no images on the site: the lectures' figures are missing"
    assert not bad, "figures without a description:\n" + "\n".join(bad)


def test_alt_text_check_rejects_placeholders():
    assert _bad_alt("", "a.png") and _bad_alt(None, "a.png")
    assert _bad_alt("<Figure size 640x480 with 1 Axes>", "a.png")
    assert _bad_alt("../_images/3f2a.png", "../_images/3f2a.png")
    assert _bad_alt("a plot", "a.png")
    assert _bad_alt("The sigmoid rises from 0 to 1, steepest at z = 0.", "a.png") is None


FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const s = getComputedStyle(e);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow && s.boxShadow !== 'none';
    const r = e.getBoundingClientRect();
    return {
        tag: e.tagName.toLowerCase(),
        text: (e.innerText || e.getAttribute('aria-label') || '').trim().slice(0, 40),
        href: e.getAttribute('href'),
        nav: !!e.closest('.sidebar-tree'),
        main: !!e.closest('#furo-main-content, article'),
        visible: outline || shadow,
        onscreen: r.width > 0 && r.height > 0,
    };
}"""


def test_keyboard_alone_reaches_navigation_and_content_with_visible_focus(offline, server):
    """Tab through a lecture page: the skip link comes first and leads into the lecture, Tab
    reaches every kind of target (navigation links, the lecture's links and code), each with a
    visible focus ring, and Enter on a navigation link opens that page."""
    page = offline.new_page()
    nb = LECTURES[1]
    _open(page, urljoin(server, _page(nb)))
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED)
    assert first and first["href"] == "#furo-main-content", f"first Tab stop: {first}"
    assert first["visible"] and first["onscreen"], "the skip link is not shown when focused"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    after_skip = page.evaluate(FOCUSED)
    assert after_skip and after_skip["main"], f"after 'Skip to content', Tab went to {after_skip}"

    _open(page, urljoin(server, _page(nb)))
    stops = []
    for _ in range(250):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None or (stops and stop == stops[0]):
            break
        stops.append(stop)
        if any(s["main"] for s in stops) and any(s["nav"] for s in stops) and len(stops) > 60:
            break
    nav = [s for s in stops if s["nav"]]
    main = [s for s in stops if s["main"]]
    assert len(nav) >= len(LECTURES) - 1, f"Tab reached {len(nav)} navigation links: {nav}"
    assert main, "Tab never reached the lecture's content"
    hidden = [s for s in stops if not (s["visible"] and s["onscreen"])]
    assert not hidden, f"focus not visible on: {hidden[:5]}"

    target = next(s for s in nav if s["href"] and s["href"].endswith(_page(LECTURES[2])[9:]))
    _open(page, urljoin(server, _page(nb)))
    for _ in range(stops.index(target) + 1):
        page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["href"] == target["href"]
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    assert page.url == urljoin(server, _page(LECTURES[2])), page.url
