"""The pages in a real headless Chromium: they render without errors, fetch nothing, their
links resolve, hostile markup stays text, the batch table sorts, and they print.

Screenshots (desktop at 1280 px, print media at 800 px) and a PDF of each scorecard are
left in ``artifacts/screenshots/`` for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from grader.report import write_reports
from grader.result import SubmissionResult

from .fixtures import HOSTILE, hostile_result

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (install the system package: apt-get install -y chromium)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (playwright==1.49.1)"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """An open page and everything it did: requests made, errors, dialogs."""

    page: Any
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if urlparse(u).scheme not in ("file", "data")]


@contextmanager
def visit(
    browser: Any, path: Path, width: int = 1280, media: str = "screen", javascript: bool = True
) -> Iterator[Visit]:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=javascript
    )
    page = context.new_page()
    seen = Visit(page)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on(
        "console",
        lambda msg: (
            msg.type in ("error", "warning") and seen.problems.append(f"{msg.type}: {msg.text}")
        ),
    )
    page.on("pageerror", lambda error: seen.problems.append(f"page error: {error}"))
    page.on(
        "dialog",
        lambda dialog: (seen.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()),
    )
    page.emulate_media(media=media)
    page.goto(path.as_uri(), wait_until="load")
    try:
        yield seen
    finally:
        context.close()


def _broken_in_page_links(page: Any) -> list[str]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('a[href^="#"]'))
                 .map(a => a.getAttribute('href'))
                 .filter(href => !document.getElementById(decodeURIComponent(href.slice(1))))"""
    )


def _overflowing(page: Any) -> list[str]:
    """Tables, figures and code blocks that stick out of the page's main column."""
    return page.evaluate(
        """() => {
            const right = document.querySelector('main').getBoundingClientRect().right + 1;
            return Array.from(document.querySelectorAll('main table, main figure, main pre, main svg'))
                .filter(e => e.getBoundingClientRect().right > right)
                .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
        }"""
    )


@pytest.mark.parametrize(
    "name",
    # Two full-page screenshots and a PDF of a 12,000-pixel page take about 5 s.
    [pytest.param("strong_but_leaky", marks=pytest.mark.slow), "markdown_answer"],
)
def test_scorecard_renders_cleanly_on_screen_and_in_print(
    browser: Any, batch_dir: Path, name: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    scorecard = batch_dir / name / "scorecard.html"
    with visit(browser, scorecard) as seen:
        page = seen.page
        page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
        assert not seen.problems and not seen.external_requests()
        assert _broken_in_page_links(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scroll
        assert _overflowing(page) == []
        assert (
            page.evaluate("getComputedStyle(document.querySelector('nav.toc')).position")
            == "sticky"
        )

    with visit(browser, scorecard, width=800, media="print") as seen:
        page = seen.page
        page.screenshot(path=str(SCREENSHOTS / f"{name}-print.png"), full_page=True)
        page.pdf(path=str(SCREENSHOTS / f"{name}.pdf"), format="A4", print_background=False)
        assert not seen.problems and not seen.external_requests()
        assert (
            page.evaluate("getComputedStyle(document.querySelector('nav.toc')).position")
            == "static"
        )
        assert page.evaluate("getComputedStyle(document.body).color") == "rgb(0, 0, 0)"
        assert (
            page.evaluate("getComputedStyle(document.querySelector('table')).breakInside")
            == "avoid"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
        assert _overflowing(page) == []
    assert (SCREENSHOTS / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_training_plots_are_drawn(browser: Any, batch_dir: Path, graded: SubmissionResult) -> None:
    with visit(browser, batch_dir / "strong_but_leaky" / "scorecard.html") as seen:
        plots = seen.page.locator("svg.curve")
        assert plots.count() == len(graded.training.runs)
        for i in range(plots.count()):
            box = plots.nth(i).bounding_box()
            assert box["width"] > 500 and box["height"] > 200
            assert plots.nth(i).locator("polyline").count() == 2
            assert (
                plots.nth(i).locator("line.ref").count() == 4
            )  # two dashed lines, two legend swatches
            assert plots.nth(i).locator("text", has_text="optimiser step").count() == 1
        dash = seen.page.evaluate(
            "getComputedStyle(document.querySelector('svg.curve line.baseline')).strokeDasharray"
        )
        assert dash not in ("none", "")


def test_a_marker_leads_to_its_finding_and_back(browser: Any, batch_dir: Path) -> None:
    with visit(browser, batch_dir / "strong_but_leaky" / "scorecard.html") as seen:
        page = seen.page
        marker = page.locator("a.marker").first
        target = marker.get_attribute("href")
        marker.click()
        assert page.evaluate("location.hash") == target
        assert page.evaluate("document.querySelector(':target').id") == target[1:]
        back = page.locator(f"{target} a[href^='#L']")
        line = back.get_attribute("href")
        back.click()
        assert page.evaluate("document.querySelector(':target').id") == line[1:]
        assert page.locator(line).is_visible()


def test_hostile_markup_stays_text_and_never_runs(
    browser: Any, graded: SubmissionResult, tmp_path: Path
) -> None:
    path = write_reports(hostile_result(graded), tmp_path, formats=("html",))["html"]
    with visit(browser, path) as seen:
        page = seen.page
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("img").count() == 0
        assert page.get_by_text(HOSTILE, exact=False).count() > 0
        assert not seen.problems and not seen.external_requests()
        # the planted <img src=x> would have requested file:///.../x had it become an element
        assert seen.requests == [path.as_uri()]


def _names(page: Any) -> list[str]:
    return page.locator("#submissions tbody tr td:first-child a").all_inner_texts()


def test_index_sorts_by_any_column_and_links_resolve(browser: Any, batch_dir: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with visit(browser, batch_dir / "index.html") as seen:
        page = seen.page
        page.screenshot(path=str(SCREENSHOTS / "index-desktop.png"), full_page=True)
        assert _names(page) == ["strong_but_leaky", "markdown_answer"]  # best first
        assert _overflowing(page) == []
        overall = page.locator("#submissions th", has_text="Overall").locator("button")
        overall.click()
        assert _names(page) == ["markdown_answer", "strong_but_leaky"]
        assert (
            page.locator("#submissions th", has_text="Overall").get_attribute("aria-sort")
            == "ascending"
        )
        overall.click()
        assert _names(page) == ["strong_but_leaky", "markdown_answer"]
        page.locator("#submissions th", has_text="Submission").locator("button").click()
        assert _names(page) == ["markdown_answer", "strong_but_leaky"]
        page.locator("#submissions th", has_text="Readability").locator("button").click()
        assert _names(page)[0] == "markdown_answer"  # not scored sorts below every score
        hrefs = page.evaluate(
            "Array.from(document.querySelectorAll('#submissions a')).map(a => a.href)"
        )
        assert hrefs and all(Path(unquote(urlparse(h).path)).is_file() for h in hrefs)
        assert not seen.problems and not seen.external_requests()


def test_index_works_without_javascript(browser: Any, batch_dir: Path) -> None:
    with visit(browser, batch_dir / "index.html", javascript=False) as seen:
        page = seen.page
        assert _names(page) == ["strong_but_leaky", "markdown_answer"]
        assert page.locator("#submissions th button").count() == 0  # headers stay plain text
        assert page.locator("#submissions th", has_text="Overall").is_visible()
        assert not seen.problems
