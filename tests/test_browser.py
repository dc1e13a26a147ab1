"""The built book, opened in a real browser, works offline.

Headless Chromium visits every page of _build/html (of the Chinese edition in
_build/html/zh, the translated pages), served on a free localhost port, with
all non-local traffic blocked, and a page fails when:

- any request leaves localhost (Chromium's performance log lists them all);
- the console shows a JavaScript error not in HARMLESS_CONSOLE below;
- its math is not typeset by MathJax, or a mermaid diagram is not drawn as SVG;
- an image does not load, or a same-site link points to a missing file or anchor.

Screenshots of a few pages go to _build/screenshots/. Without Chromium the
test is skipped (`apt-get install chromium chromium-driver`); REQUIRE_BROWSER=1,
set by .ci/run, makes that a failure.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT
from tests.test_book import build_book_once

sys.path.insert(0, str(ROOT / "book" / "extensions"))
from editions import translated_pages  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install chromium chromium-driver"
SCREENSHOTS = ROOT / "_build" / "screenshots"

# Console messages that do not mean a broken page, each with why.
HARMLESS_CONSOLE = {
    # pydata-sphinx-theme on a reader's first visit: no light/dark choice is
    # stored yet, so it logs this and uses "auto" (follow the system setting).
    r"Got invalid theme mode: \. Resetting to auto\.": "first visit, no stored light/dark mode",
    # The ipywidgets embed bundle calls MathJax 2's `MathJax.Hub.Queue` to
    # typeset widget labels; the book runs MathJax 3, which has no `Hub`. The
    # widgets render all the same (checked below), only without math in labels.
    r"html-manager/embed-amd\.js.*reading 'Queue'": "widgets bundle calls the MathJax 2 API",
    # The same bundle resolves its icon fonts against the server's root or the
    # page's folder, never its own dist/ folder, so they 404; icons fall back
    # to system glyphs. (The requests stay on localhost: see the request check.)
    r"@jupyter-widgets/(html-manager/dist/)?[0-9a-f]+\.(woff2?|ttf|eot|svg) - Failed to load "
    r"resource: .* 404": "widget icon fonts the bundle looks for in the wrong folder",
    # sphinx-book-theme's Thebe snippet (`const THEBE_JS_URL`) runs twice on a
    # notebook page with widgets; Thebe (live code) is off in this book.
    r"Identifier 'THEBE_JS_URL' has already been declared": "theme's unused Thebe snippet, twice",
    # Chromium asks every site for /favicon.ico; the book has no favicon.
    r"/favicon\.ico - Failed to load resource: .* 404": "the browser's own favicon request",
}

# Schemes that never touch the network (chrome-untrusted: is the new-tab page's own parts).
LOCAL_SCHEMES = ("data:", "blob:", "about:", "chrome:", "chrome-untrusted:", "chrome-extension:",
                 "devtools:")


def _browser_or_skip() -> None:
    reason = None
    try:
        import selenium  # noqa: F401
    except ImportError:
        reason = "selenium is not installed (it is in requirements-lock.txt)"
    if reason is None and not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = (f"no headless Chromium at {CHROMIUM} and {CHROMEDRIVER}; "
                  f"install it with: {INSTALL}")
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


class Server:
    """A folder served over http on a free localhost port, in a thread."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def new_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                 f"--user-data-dir={profile}",
                 # Everything that is not 127.0.0.1 goes to a dead proxy and
                 # resolves to nothing: the book must not need the internet.
                 "--proxy-server=127.0.0.1:9",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.profile_dir = profile
    return driver


def _harmless(message: str) -> bool:
    return any(re.search(pattern, message) for pattern in HARMLESS_CONSOLE)


def _local(url: str, base: str) -> bool:
    return url.startswith(base) or url.startswith(LOCAL_SCHEMES)


def _wait_for(driver, script: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(script):
            return True
        time.sleep(0.2)
    return False


_IDS = re.compile(r'\s(?:id|name)="([^"]+)"')


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(_IDS.findall(path.read_text(encoding="utf-8", errors="replace")))


def check_links(hrefs: list[str], base: str, html_root: Path) -> list[str]:
    """Same-site hrefs that point to no file, or to no anchor of their page."""
    broken = []
    for href in hrefs:
        if not href.startswith(base):
            continue
        parts = urlsplit(href)
        target = html_root / unquote(parts.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"broken link {href}: no file {target.relative_to(html_root)}")
        elif parts.fragment and target.suffix == ".html" \
                and unquote(parts.fragment) not in _anchors(target):
            broken.append(f"broken link {href}: no anchor #{parts.fragment}")
    return broken


# Whether the page's font draws a character, rather than the missing-glyph box
# ("tofu") that an unassigned code point such as U+0378 always gets.
DRAWS = """
const canvas = document.createElement('canvas'); canvas.width = 64; canvas.height = 64;
const ctx = canvas.getContext('2d');
ctx.font = '48px ' + getComputedStyle(document.querySelector('main') || document.body).fontFamily;
const draw = text => { ctx.clearRect(0, 0, 64, 64); ctx.fillText(text, 4, 52);
                       return ctx.getImageData(0, 0, 64, 64).data.join(','); };
return draw(arguments[0]) !== draw('\\u0378');
"""


def draws(driver, character: str) -> bool:
    return driver.execute_script(DRAWS, character)


def audit_page(driver, url: str, base: str, html_root: Path, wait_s: float = 20.0) -> list[str]:
    """Load one page and return what is wrong with it (empty when nothing).

    Math, diagrams and widgets each get up to `wait_s` seconds to render.
    """
    driver.get_log("performance")  # forget the previous page's log
    driver.get_log("browser")
    driver.get(url)
    problems = []
    _wait_for(driver, "return document.readyState === 'complete'")

    # Math: MathJax 3 puts an mjx-container inside every element Sphinx marks as math.
    n_math = driver.execute_script("return document.querySelectorAll('.math').length")
    if n_math:
        typeset = _wait_for(driver, "return [...document.querySelectorAll('.math')]"
                                    ".every(e => e.querySelector('mjx-container'))", wait_s)
        if not typeset:
            problems.append(f"math not rendered: {n_math} .math elements, not all typeset")

    # Mermaid renders a diagram when it scrolls into view: show each, then wait for its SVG.
    n_diagrams = driver.execute_script(
        "const d = document.querySelectorAll('pre.mermaid');"
        "d.forEach(e => e.scrollIntoView()); return d.length")
    if n_diagrams and not _wait_for(
            driver, "return [...document.querySelectorAll('pre.mermaid')]"
                    ".every(e => e.hasAttribute('data-processed') && e.querySelector('svg'))",
            wait_s):
        problems.append(f"mermaid diagram not rendered to SVG ({n_diagrams} on the page)")

    # Widgets: the embed manager replaces each view's script with a rendered widget.
    n_views = driver.execute_script("return document.querySelectorAll("
                                    "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length")
    if n_views and not _wait_for(
            driver, f"return document.querySelectorAll('.jupyter-widgets').length >= {n_views}",
            wait_s):
        problems.append(f"widgets not rendered ({n_views} widget views on the page)")

    # Chinese pages: without a CJK font Chromium draws every character as an empty box.
    if driver.execute_script("return document.documentElement.lang").startswith("zh") \
            and not draws(driver, "中"):
        problems.append("Chinese text drawn as empty boxes: no CJK font (fonts-noto-cjk)")

    # Images: scroll each into view (lazy loading), then it must have pixels.
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.scrollIntoView())")
    _wait_for(driver, "return [...document.images].every(i => i.complete)", timeout=10)
    for src in driver.execute_script(
            "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.currentSrc || i.src)"):
        problems.append(f"image did not load: {src}")

    hrefs = driver.execute_script(
        "return [...document.querySelectorAll('a[href]')].map(a => a.href)")
    problems += check_links(hrefs, base, html_root)

    time.sleep(0.3)  # let late requests and console messages land in the logs
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            request_url = message["params"]["request"]["url"]
        elif message["method"] == "Network.webSocketCreated":
            request_url = message["params"]["url"]
        else:
            continue
        if not _local(request_url, base):
            problems.append(f"request left localhost: {request_url}")
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE" and not _harmless(entry["message"]):
            problems.append(f"console error: {entry['message']}")
    return problems


def pages(html_root: Path) -> list[str]:
    """Every page of the book, and of its Chinese edition the translated pages,
    as paths relative to _build/html."""
    chinese = {f"zh/{docname}.html" for docname in translated_pages(ROOT)}
    found = (p.relative_to(html_root) for p in html_root.rglob("*.html"))
    return sorted(path.as_posix() for path in found if not path.parts[0].startswith("_")
                  and (path.parts[0] != "zh" or path.as_posix() in chinese))


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    html_root = build_book_once()
    server = Server(html_root)
    driver = new_driver()
    yield driver, server.base, html_root
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)
    server.close()


SHOTS = {
    "front_page.png": ("book/index.html", None),
    "chapter1_lifecycle.png": ("book/01_foundation_models.html", "pre.mermaid"),
    "model_scale_notebook.png": ("notebooks/01_foundation_models.html", "figure"),
    "warmup_lab.png": ("labs/solutions/00_warmup.html", None),
    "zh_chapter1.png": ("zh/book/01_foundation_models.html", None),  # needs a CJK font
    "zh_chapter1_lifecycle.png": ("zh/book/01_foundation_models.html", "pre.mermaid"),
    "zh_model_scale_notebook.png": ("zh/notebooks/01_foundation_models.html", "figure"),
    "zh_warmup_lab.png": ("zh/labs/solutions/00_warmup.html", None),
}


@pytest.mark.slow
def test_every_page_works_offline_in_a_browser(browser):
    driver, base, html_root = browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots_of: dict[str, list[tuple[str, str | None]]] = {}
    for name, (page, selector) in SHOTS.items():
        shots_of.setdefault(page, []).append((name, selector))
    all_pages = pages(html_root)
    assert len(all_pages) >= 5, f"too few pages in {html_root}: {all_pages}"
    failures = {}
    for page in all_pages:
        problems = audit_page(driver, base + page, base, html_root)
        if problems:
            failures[page] = problems
        for name, selector in shots_of.get(page, []):
            driver.execute_script(
                "const e = arguments[0] && document.querySelector(arguments[0]);"
                "if (e) { e.scrollIntoView({block: 'center'}); } else { window.scrollTo(0, 0); }",
                selector)
            time.sleep(0.3)
            driver.save_screenshot(str(SCREENSHOTS / name))
    assert not failures, "pages that do not work offline:\n" + "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items())
    for name in SHOTS:
        assert (SCREENSHOTS / name).stat().st_size > 10_000, f"screenshot {name} looks empty"


@pytest.mark.slow
def test_the_checker_reports_a_page_that_loads_from_a_cdn(browser, tmp_path):
    """Put public CDN URLs back into a copy of a built page: the audit must catch them."""
    driver, _, html_root = browser
    # A mirror of the book whose chapter 1 loads mermaid and MathJax from CDNs
    # (links for everything else, so nothing is copied but that one page).
    for entry in html_root.iterdir():
        if entry.name != "book":
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "book").mkdir()
    for entry in (html_root / "book").iterdir():
        (tmp_path / "book" / entry.name).symlink_to(entry)
    page = tmp_path / "book" / "01_foundation_models.html"
    text = page.read_text(encoding="utf-8")
    local = "../_static/vendor/mermaid/mermaid.esm.min.mjs"
    assert local in text, "chapter 1 should load the vendored mermaid"
    cdn = "https://cdn.jsdelivr.net/npm/mermaid@11.12.1/dist/mermaid.esm.min.mjs"
    page.unlink()
    page.write_text(text.replace(local, cdn), encoding="utf-8")

    server = Server(tmp_path)
    try:
        problems = audit_page(driver, server.base + "book/01_foundation_models.html",
                              server.base, tmp_path, wait_s=3)
    finally:
        server.close()
    assert f"request left localhost: {cdn}" in problems, problems
    assert any(p.startswith("mermaid diagram not rendered") for p in problems), problems


@pytest.mark.slow
def test_the_font_check_tells_a_drawn_character_from_an_empty_box(browser):
    """On a Chinese page the CJK font draws 中; a code point no font has is the box."""
    driver, base, _ = browser
    driver.get(base + "zh/book/index.html")
    _wait_for(driver, "return document.readyState === 'complete'")
    assert draws(driver, "中"), "no CJK font: Chinese pages show empty boxes"
    assert draws(driver, "A")
    assert not draws(driver, "\u0379"), "the check cannot see a missing glyph"


def test_the_link_checker_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1>', encoding="utf-8")
    base = "http://127.0.0.1:1/"
    hrefs = [base + "a.html#top", base + "a.html", "https://example.org/x",
             base + "b.html", base + "a.html#nowhere"]
    assert check_links(hrefs, base, tmp_path) == [
        f"broken link {base}b.html: no file b.html",
        f"broken link {base}a.html#nowhere: no anchor #nowhere",
    ]
