"""Browser fixtures: one headless Chromium per test module (its event loop ends with the module), a fresh context
per test that fails the test on CSP violations, uncaught JavaScript errors and broken sub-resources, and a helper
that signs in through the form."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Playwright's sync API drives the browser from an asyncio event loop that stays "running" in the test thread.
# Django sees that loop and refuses ORM calls from fixtures and assertions (SynchronousOnlyOperation), although
# nothing here runs concurrently with them: the test thread is the only user of its database connection.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACTION_TIMEOUT_MS = 10_000  # for clicks, fills, navigations and `expect`: generous for CI, still fails fast
expect.set_options(timeout=ACTION_TIMEOUT_MS)

# Injected before any page script (and exempt from the page's CSP): keeps the current document's CSP violations
# so teardown can read them even when Chromium's console message about one arrives late.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline code"} on ${event.documentURI}` +
    (event.sourceFile ? ` (${event.sourceFile}:${event.lineNumber})` : "")
  );
});
"""


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not installed at {CHROMIUM} (CI installs the Debian package)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    # Debian's Chromium, never a downloaded one: there is no `playwright install` anywhere in this project.
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


def _console_problem(message: ConsoleMessage) -> str | None:
    if message.type != "error":
        return None
    # An HTTP error status is logged as "Failed to load resource"; tests assert on page statuses themselves and
    # the response listener below reports failing sub-resources with their URL.
    if message.text.startswith("Failed to load resource"):
        return None
    if "Content Security Policy" in message.text:
        return f"CSP violation: {message.text}"
    return f"console error: {message.text}"


def _response_problem(response: Response) -> str | None:
    if response.status < 400 or response.request.resource_type == "document":
        return None
    return f"{response.request.resource_type} {response.request.method} {response.url} answered {response.status}"


@contextmanager
def checked_page(browser: Browser, **context_options: object) -> Iterator[Page]:
    """A page in its own context (no cookies shared); on exit, AssertionError if the app misbehaved in it: a CSP
    violation, an uncaught JavaScript error, a console error or a failing sub-resource."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", **context_options)  # type: ignore[arg-type]
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    tab = context.new_page()
    problems: list[str] = []

    def record(problem: str | None) -> None:
        if problem:
            problems.append(problem)

    tab.on("console", lambda message: record(_console_problem(message)))
    tab.on("pageerror", lambda error: record(f"uncaught JavaScript error: {error}"))
    tab.on("response", lambda response: record(_response_problem(response)))
    yield tab
    try:
        for violation in tab.evaluate("window.__cspViolations || []"):
            record(f"CSP violation: {violation}")
    except Exception as error:  # a crashed or closed page: say so rather than hide it
        record(f"could not read the page's CSP violations: {error}")
    context.close()
    assert not problems, "the page reported problems:\n" + "\n".join(dict.fromkeys(problems))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in its own context (no cookies shared between tests); the test fails if the app misbehaved in it."""
    with checked_page(browser) as tab:
        yield tab


LoginHelper = Callable[..., None]


def _login(page: Page, live_server, user, password: str) -> None:
    """Sign in through the login form and wait for the dashboard."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


@pytest.fixture
def login() -> LoginHelper:
    """`login(page, live_server, user, password)`: sign in through the form, as a person would."""
    return _login
