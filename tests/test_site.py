"""The built site, read in a real browser: headless Chromium through selenium.

`make test` builds the book first (`make book`), then runs these tests on
``_build/html``, served over HTTP from a thread (search does not work from
file://). Each chapter page must load without Sphinx error markers, show its
figures, link to its notebook in Colab, and hide exercise solutions until they
are clicked; the site search must find what chapter 2 teaches.

    python -m pytest -q -m browser tests/test_site.py
"""

import functools
import http.server
import json
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest

from book_files import toc_files
from vitcourse.config import REPOSITORY_BRANCH, REPOSITORY_URL

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
COLAB_PREFIX = "https://colab.research.google.com/github/"
REPOSITORY = REPOSITORY_URL.removeprefix("https://github.com/")
BRANCH = REPOSITORY_BRANCH
TIMEOUT = 30  # seconds: generous, the machine running the tests may be busy

# What Sphinx, docutils and myst-nb leave in a page when something went wrong.
ERROR_MARKERS = ".system-message, .problematic, .output.traceback, .output.error"



PAGES = toc_files()
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]


def notebook_title(chapter):
    """The text of the chapter's `# ` heading, without markdown markup."""
    notebook = json.loads((ROOT / f"{chapter}.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        match = re.search(r"^# +(.+?)\s*$", source, re.MULTILINE)
        if match:
            title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1))  # [text](link) -> text
            return re.sub(r"[`*_]", "", title).strip()
    return None


@pytest.fixture(scope="module")
def site():
    """The base URL of ``_build/html`` served on a free localhost port."""
    if not (HTML / "index.html").exists():
        pytest.skip(f"{HTML} has not been built: run `make book` first (`make test` does).")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with its own throwaway profile."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            pytest.fail(f"{path} is missing: `make system` installs chromium and chromium-driver.")
    profile = tempfile.TemporaryDirectory(prefix="vitcourse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile.name}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception:
        profile.cleanup()
        raise
    driver.set_page_load_timeout(TIMEOUT)
    yield driver
    driver.quit()
    profile.cleanup()


def wait(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT)


def open_page(driver, site, page):
    """Loads ``page`` (a toc entry) and waits for its article; returns the article element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    driver.get(urljoin(site, f"{page}.html"))
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "article.bd-article")))


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_without_errors(browser, site, page):
    from selenium.webdriver.common.by import By

    article = open_page(browser, site, page)
    heading = article.find_element(By.TAG_NAME, "h1").text.strip()
    assert heading, f"{page}: the page has no title"
    assert heading.split(". ", 1)[-1].rstrip("#").strip() in browser.title, (heading, browser.title)
    errors = article.find_elements(By.CSS_SELECTOR, ERROR_MARKERS)
    assert not errors, f"{page}: Sphinx or notebook errors in the page: {[e.text[:200] for e in errors]}"
    assert "Traceback (most recent call last)" not in article.text, f"{page}: a traceback is rendered"


def test_navigation_lists_every_page(browser, site):
    from selenium.webdriver.common.by import By

    open_page(browser, site, PAGES[0])
    links = browser.find_elements(By.CSS_SELECTOR, ".bd-sidebar-primary a.reference")
    targets = {link.get_attribute("href").split("#")[0] for link in links}
    for page in PAGES[1:]:
        assert urljoin(site, f"{page}.html") in targets, f"{page} is missing from the sidebar"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_title(browser, site, chapter):
    from selenium.webdriver.common.by import By

    article = open_page(browser, site, chapter)
    expected = notebook_title(chapter)
    assert expected, f"{chapter}.ipynb has no '# ' title"
    assert expected in article.find_element(By.TAG_NAME, "h1").text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_figures_load(browser, site, chapter):
    from selenium.webdriver.common.by import By

    article = open_page(browser, site, chapter)
    images = article.find_elements(By.TAG_NAME, "img")
    assert images, f"{chapter}: no figure on the page"
    for image in images:  # lazy images load once they are near the viewport
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", image)
    wait(browser).until(lambda d: all(d.execute_script("return arguments[0].complete;", i) for i in images))
    broken = [i.get_attribute("src") for i in images if not browser.execute_script("return arguments[0].naturalWidth;", i)]
    assert not broken, f"{chapter}: figures that did not load: {broken}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_opens_in_colab(browser, site, chapter):
    from selenium.webdriver.common.by import By

    open_page(browser, site, chapter)
    links = browser.find_elements(By.CSS_SELECTOR, f'a[href^="{COLAB_PREFIX}"]')
    assert len(links) == 1, f"{chapter}: expected one Colab launch link, found {len(links)}"
    expected = f"{COLAB_PREFIX}{REPOSITORY}/blob/{BRANCH}/{chapter}.ipynb"
    assert links[0].get_attribute("href") == expected
    # The link sits in the launch menu (the rocket button): it must show when the menu opens.
    menu = browser.find_element(By.CSS_SELECTOR, ".dropdown-launch-buttons button")
    menu.click()
    wait(browser).until(lambda d: links[0].is_displayed())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_exercise_solutions_hidden_until_clicked(browser, site, chapter):
    from selenium.webdriver.common.by import By

    article = open_page(browser, site, chapter)
    exercises = article.find_elements(By.CSS_SELECTOR, 'section[id^="exercise-"]')
    assert exercises, f"{chapter}: no exercise sections on the page"
    for exercise in exercises:
        name = exercise.get_attribute("id")
        # Code solutions: cells tagged solution + hide-cell. Prose solutions: {dropdown} Solution.
        toggles = exercise.find_elements(By.CSS_SELECTOR, "div.tag_solution details, details.sd-dropdown")
        assert toggles, f"{chapter}: {name} has no hidden solution"
        for details in toggles:
            content = details.find_elements(By.XPATH, "./*[not(self::summary)]")
            assert content, f"{chapter}: {name}: an empty solution toggle"
            assert not any(part.is_displayed() for part in content), f"{chapter}: {name}: solution shown before a click"
            summary = details.find_element(By.TAG_NAME, "summary")
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
            summary.click()
            wait(browser).until(lambda d: all(part.is_displayed() for part in content))


def test_search_finds_position_embedding(browser, site):
    from selenium.webdriver.common.by import By

    browser.get(urljoin(site, "search.html?q=position+embedding"))
    # Sphinx's searchtools.js adds the results one by one under the heading "Searching",
    # then renames the heading "Search Results" and writes a summary.
    # (textContent, not .text: the theme hides that heading.)
    finished = "const h = document.querySelector('#search-results h2'); return h ? h.textContent.trim() : '';"
    wait(browser).until(lambda d: d.execute_script(finished) == "Search Results")
    items = browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    assert items, "the search for 'position embedding' found nothing"
    hrefs = [a.get_attribute("href") for item in items for a in item.find_elements(By.TAG_NAME, "a")]
    chapter_02 = [page for page in CHAPTERS if Path(page).name.startswith("02_")]
    assert chapter_02, "chapter 2 is not in _toc.yml"
    assert any(f"{chapter_02[0]}.html" in href for href in hrefs), hrefs


@pytest.mark.parametrize("page", PAGES)
def test_page_names_no_source_question_by_number(browser, site, page):
    """The questions behind the course have short names (book/questions.md): no page says "seed 004".

    A command line's ``--seed 0`` is a random seed, not a question. Reads the article's whole
    text, hidden solutions and collapsed outputs included."""
    open_page(browser, site, page)
    text = browser.execute_script("return document.querySelector('article.bd-article').textContent;")
    found = [" ".join(text[max(0, m.start() - 40) : m.end() + 40].split()) for m in re.finditer(r"(?<!--)\bseeds?\s+0", text, re.I)]  # fmt: skip
    assert not found, f"{page}: names a source question by number: {found}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_its_run_notice_at_the_top(browser, site, chapter):
    """`make book` runs in smoke mode: the page says so right under its title, before any section."""
    from selenium.webdriver.common.by import By

    article = open_page(browser, site, chapter)
    notices = article.find_elements(By.CSS_SELECTOR, ".vitcourse-notice")
    assert len(notices) == 1, f"{chapter}: expected one run notice, found {len(notices)}"
    notice = notices[0]
    assert notice.is_displayed() and "Smoke mode." in notice.text and "not results" in notice.text
    first_section = article.find_element(By.TAG_NAME, "h2")
    assert browser.execute_script(
        "return arguments[0].compareDocumentPosition(arguments[1]) & Node.DOCUMENT_POSITION_FOLLOWING;",
        notice, first_section,
    ), f"{chapter}: the notice must come before the first section"
    assert "recorded" in notice.find_element(By.TAG_NAME, "a").text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_no_notebook_test_markers(browser, site, chapter):
    article = open_page(browser, site, chapter)
    assert "NBVAL" not in article.text.upper().replace("-", "_"), f"{chapter} shows an nbval marker"
