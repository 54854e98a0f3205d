"""Screenshots of the portal as its users see it (issue 19's closing note): `make screenshots`.

    .venv/bin/python -m tests.e2e.screenshots [--out docs/screenshots]

On a private SQLite database under var/screenshots/ (made afresh each run, so the pictures
do not depend on what a developer's database holds): migrate, seed the demo (seed_demo),
add the completed event the browser test of issue 19 uses (tests.e2e.test_event_truth), start
the portal listener as `make run` does, and log in as each demo role in Debian's chromium
driven by Playwright. Writes full-page PNGs, 1280 px wide:

- pm-home.png: the program manager's home (KPIs).
- event-completed.png: that completed event's page (response funnel, no Cancel).
- device.png: the page of a battery that reported every 5 minutes for a day (charts).
- customer-home.png: where a customer lands after logging in: their enrollments, on the
  tenant-branded customer pages.
- customer-events.png: the customer's past events.
- vendor-checklist.png: the vendor's home with its onboarding checklist.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 900


def setup(var: Path, *, fresh: bool) -> None:
    """Django on a SQLite database in `var` (before anything imports settings)."""
    if fresh:
        shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True, exist_ok=True)
    os.environ["RESERVOIR_VAR_DIR"] = str(var)
    for name in ("DATABASE_URL", "REDIS_URL", "SEP2_PROXY_SECRET"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Playwright's sync API runs an event loop in this thread; our ORM calls stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def take(page, out: Path, name: str, url: str, *, wait_for: str | None = None) -> Path:
    response = page.goto(url)
    if response is None or response.status != 200:
        raise SystemExit(f"{url} answered {response and response.status}")
    page.wait_for_load_state("networkidle")
    if wait_for:
        page.wait_for_selector(wait_for)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
          f"{path.stat().st_size // 1024} KB, {page.title()!r}")  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "screenshots")
    parser.add_argument(
        "--reuse", action="store_true", help="the database the last run made (no reseeding)"
    )
    args = parser.parse_args()
    var = args.var.resolve()
    ids_path = var / "screenshots.json"
    fresh = not (args.reuse and ids_path.exists())
    setup(var, fresh=fresh)

    from django.core.management import call_command
    from playwright.sync_api import sync_playwright

    from tenancy.models import Utility
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.e2e.test_event_truth import completed_demo_event
    from tests.e2e.test_roles import login
    from tests.integration.servers import asgi_server, subprocess_env

    if fresh:
        print("Migrating and seeding the demo on a fresh database...", flush=True)
        call_command("migrate", "--noinput", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        call_command("seed_demo", "--quiet")
        event, battery = completed_demo_event(Utility.objects.get(slug="cascadia"))
        ids_path.write_text(json.dumps({"event": event.pk, "device": battery.pk}))
    ids = json.loads(ids_path.read_text())
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with (
        asgi_server(subprocess_env(var), var / "asgi.log") as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        shots = (
            ("pm@cascadia.example", [
                ("pm-home", "/", None),
                ("event-completed", f"/events/{ids['event']}/", ".funnel"),
                ("device", f"/devices/{ids['device']}/?window=day", "#chart-power .uplot"),
            ]),
            ("customer@cascadia.example", [
                ("customer-home", "/", None),
                ("customer-events", "/my/events/", None),
            ]),
            ("engineer@voltstack.example", [("vendor-checklist", "/vendor/", None)]),
        )  # fmt: skip
        for username, pages in shots:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            page = context.new_page()
            login(page, base, username)
            for name, path, wait_for in pages:
                take(page, out, name, f"{base}{path}", wait_for=wait_for)
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
