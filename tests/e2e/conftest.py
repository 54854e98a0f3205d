"""Browser tests: Debian's chromium driven by Playwright against a real ASGI server."""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Every page reports Content-Security-Policy violations to the console; a test that caused
# any fails at teardown (the policy forbids inline script and style, see portal/settings.py).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + (e.sourceFile || "inline") + ":" + e.lineNumber + " on " + document.location.href
    + " (" + (e.sample || "") + ")");
});
"""
CSP_VIOLATIONS: list[str] = []


def _watch(target):
    target.add_init_script(REPORT_CSP_VIOLATIONS)

    def on_console(message):
        text = message.text
        if text.startswith("CSP violation") or "Content Security Policy" in text:
            CSP_VIOLATIONS.append(text)

    def watch_page(page):
        page.on("console", on_console)

    if hasattr(target, "pages"):  # a context: its pages now and later
        for page in target.pages:
            watch_page(page)
        target.on("page", watch_page)
    else:
        watch_page(target)
    return target


class _CspWatchedBrowser:
    """The Playwright browser, with every new context and page watched for CSP violations."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **kwargs):
        return _watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs):
        return _watch(self._browser.new_page(**kwargs))

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With RESERVOIR_REQUIRE_BROWSER (make test, .ci/run) a skipped browser test fails."""
    report = yield
    if (
        report.skipped
        and os.environ.get("RESERVOIR_REQUIRE_BROWSER")
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"browser test skipped, which RESERVOIR_REQUIRE_BROWSER forbids: {reason}"
    return report


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    if found:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's loop must be gone before asyncio tests elsewhere run.
    if not Path(CHROMIUM).exists():
        if os.environ.get("RESERVOIR_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (RESERVOIR_REQUIRE_BROWSER is set) but missing")
        pytest.skip("Debian chromium is not installed: sudo apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # test itself are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield _CspWatchedBrowser(browser)
        browser.close()


@pytest.fixture
def screenshot(request):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, label: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
