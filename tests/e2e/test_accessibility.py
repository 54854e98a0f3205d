"""axe-core (the npm package, installed by bin/ensure-axe) over every page each role's
navigation reaches, plus the detail pages behind them: no serious or critical violations.

axe is injected as a script, which the portal's Content-Security-Policy rightly forbids;
this test alone opens its pages in a context that bypasses CSP (the other browser tests
keep failing on any violation)."""

import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from portal.demo import DEMO_PASSWORD
from programs.models import Event, Program
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ROLES = [
    "pm@cascadia.example",
    "operator@cascadia.example",
    "analyst@cascadia.example",
    "customer@cascadia.example",
    "engineer@voltstack.example",
    "ops@reservoir.example",
]
# Links that leave the portal's own pages (downloads, the admin, the API browser).
SKIP_PREFIXES = ("/admin/", "/api/", "/static/", "/brand/")
SKIP_SUFFIXES = (".csv", ".json", "/report/", ".html", "/logo")
RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
  });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


@pytest.fixture(scope="module")
def axe_script() -> str:
    out = subprocess.run(
        [str(ROOT / "bin" / "ensure-axe")], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.fail(f"axe-core could not be installed: {out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def _pages_of(page, base) -> list[str]:
    """Every same-origin page the role's navigation and the current page link to."""
    hrefs = page.locator("header a, nav a, main a").evaluate_all("els => els.map(a => a.href)")
    seen = []
    for href in hrefs:
        url = urlparse(href)
        if f"{url.scheme}://{url.netloc}" != base or not url.path:
            continue
        if url.path.startswith(SKIP_PREFIXES) or url.path.endswith(SKIP_SUFFIXES):
            continue
        if url.path not in seen:
            seen.append(url.path)
    return seen


def test_no_serious_or_critical_violations_on_any_page_of_any_role(
    browser, axe_script, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    program = Program.objects.real().filter(utility__slug="cascadia").first()
    event = Event.objects.filter(utility__slug="cascadia").first()
    extra = [f"/programs/{program.pk}/", "/my/events/"]
    if event is not None:
        extra.append(f"/events/{event.pk}/")
    problems: dict[str, list] = {}
    checked = 0
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        for username in ROLES:
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            queue = _pages_of(page, base)
            start = urlparse(page.url).path
            queue = [start, *[p for p in queue if p != start]]
            for path in extra:
                if path not in queue:
                    queue.append(path)
            done: set[str] = set()
            while queue and len(done) < 25:
                path = queue.pop(0)
                if path in done:
                    continue
                done.add(path)
                response = page.goto(f"{base}{path}")
                if response is None or response.status >= 400:
                    continue  # the navigation tests own status codes; axe reads pages
                if "html" not in (response.headers.get("content-type") or ""):
                    continue
                page.add_script_tag(path=axe_script)
                found = page.evaluate(RUN_AXE)
                checked += 1
                if found:
                    problems[f"{username} {path}"] = found
                for more in _pages_of(page, base):
                    if more not in done and more.count("/") <= 4:
                        queue.append(more)
            context.close()
    assert checked >= 20
    assert not problems, "\n".join(f"{where}: {found}" for where, found in problems.items())
