"""The dashboard in a real Chromium (Playwright on Debian's build), with the network cut off.

Every request the page makes to anything but the loopback server is blocked and recorded; the
tests assert that none was attempted.  A screenshot of each page lands in
``test-artifacts/screenshots/`` (or ``$AIPATH_SCREENSHOTS``) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from aipath.web.app import create_app
from aipath.web.server import BackgroundServer, background_server
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB = "p1-tiny"
SHOTS = Path(
    os.environ.get("AIPATH_SCREENSHOTS")
    or Path(__file__).parents[2] / "test-artifacts" / "screenshots"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is not installed (apt-get install chromium); "
        "the browser tests drive Debian's Chromium",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield chromium
        chromium.close()


class Offline:
    """A page whose requests may only reach the loopback server; everything else is refused."""

    def __init__(self, browser: Any, server: BackgroundServer) -> None:
        self.server = server
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        self.page.set_default_timeout(15_000)

    def _route(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def open(self, path: str) -> Any:
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, path
        return response

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline(browser: Any, ws: Workspace) -> Iterator[Offline]:
    app = create_app(ws, watch=True, worker=False)
    with background_server(app) as server:
        tab = Offline(browser, server)
        yield tab
        tab.close()
    assert tab.blocked == [], f"the page tried to reach other hosts: {tab.blocked}"
    assert tab.errors == [], tab.errors


def test_save_a_solution_and_watch_the_verdict_turn_passed(
    offline: Offline, ws: Workspace, solve: Callable[[], Path]
) -> None:
    page = offline.page
    offline.open("/")
    page.wait_for_selector("#live[data-state='on']")
    offline.shot("home")

    page.click("#next-lab-link")
    page.wait_for_url(f"**/labs/{LAB}")
    page.wait_for_selector("#live[data-state='on']")  # the event stream is open
    assert page.inner_text("#verdict").startswith("Not checked yet.")
    page.evaluate("window.__sameDocument = true")

    solve()
    page.wait_for_selector("#verdict [data-status='passed']", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, not reloaded
    assert "passed" in page.inner_text("#lab-status")
    assert page.locator(".check-passed").count() >= 2

    page.click("#reveal-hint")
    page.wait_for_selector("#hint-list .hint")
    assert page.inner_text("#hint-list") == "Think of multiplication."
    assert page.inner_text("#hint-count") == "1/3"
    page.click("#reveal-hint")
    page.wait_for_selector("#hint-list .hint:nth-child(2)")

    page.click("#show-solution")
    page.wait_for_selector("#solution:not([hidden])")
    assert "return x * 2" in page.inner_text("#solution")
    offline.shot("lab")

    offline.open("/plan")
    page.wait_for_selector("#chart-timeline .main-svg")
    page.wait_for_selector("#chart-hours .main-svg")
    assert page.locator("#chart-timeline .bars path").count() >= 5  # one bar per phase
    offline.shot("plan")

    with open_store(ws) as store:
        assert store.hints_shown(LAB) == 2


def test_roadmap_notes_marks_and_every_other_page(offline: Offline, ws: Workspace) -> None:
    page = offline.page
    offline.open("/roadmap")
    box = page.locator("[data-note='p1.python']")
    box.locator("[data-edit-note]").click()
    box.locator("textarea").fill("Broadcasting: align shapes from the right.")
    box.locator("[data-save-note]").click()
    page.wait_for_function(
        "document.querySelector(\"[data-note='p1.python'] .note-text\").textContent"
        ".startsWith('Broadcasting')"
    )
    page.select_option("select[data-mark='p1.python']", "done")
    page.wait_for_selector("select[data-mark='p1.python'].mark-done")
    resource = page.locator("[data-mark-resource]").first
    resource.click()
    page.wait_for_selector("[data-mark-resource][data-state='pending']")
    with open_store(ws) as store:
        assert store.notes()["p1.python"] == "Broadcasting: align shapes from the right."
        assert store.marks()["p1.python"] == "done"
    offline.shot("roadmap")

    offline.open("/labs")
    assert page.locator("#lab-table tbody tr").count() == 1
    offline.shot("labs")
    offline.open("/portfolio")
    assert page.is_visible("#how-to-audit")
    offline.shot("portfolio")


def test_dark_mode_follows_the_system_setting(browser: Any, ws: Workspace) -> None:
    app = create_app(ws, watch=False, worker=False)
    with background_server(app) as server:
        backgrounds = {}
        for scheme in ("light", "dark"):
            context = browser.new_context(color_scheme=scheme)
            page = context.new_page()
            page.goto(server.url + "/labs")
            backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
            context.close()
    assert backgrounds["light"] == "rgb(246, 247, 251)"
    assert backgrounds["dark"] == "rgb(15, 17, 23)"


def test_profile_form_and_search_box(offline: Offline, ws: Workspace) -> None:
    page = offline.page
    offline.open("/")
    form = page.locator("form[data-profile]")
    form.locator("input[name='hours_per_week']").fill("12")
    form.locator("select[name='background']").select_option("developer")
    form.locator("button[type='submit']").click()
    page.wait_for_selector(".toast:has-text('profile saved')")
    with open_store(ws) as store:
        profile = store.get_profile()
    assert (
        profile is not None and profile.hours_per_week == 12 and profile.background == "developer"
    )
    page.fill(".search-box input", "fluent")
    page.press(".search-box input", "Enter")
    page.wait_for_url("**/search?q=fluent")
    assert "res.fluent-python" in page.inner_text(".search-results")
    offline.shot("search")
