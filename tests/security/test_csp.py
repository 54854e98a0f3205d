"""The Content-Security-Policy is strict, and no template needs it loosened."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
# The conformance report is a self-contained file the vendor downloads and opens from disk.
STANDALONE = {"vendors/report.html"}
# HTML emails are read in mail clients, never served under our policy; many clients drop
# <style>, so their styling is inline. They must still carry no script at all.
EMAIL = "/email/"
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "inline script"),
    (re.compile(r"<style\b", re.I), "inline <style>"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\shx-on", re.I), "hx-on handler (needs eval)"),
]


def test_no_template_has_inline_script_style_or_handlers():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        rel = path.relative_to(ROOT / "templates").as_posix()
        if rel in STANDALONE:
            continue
        text = path.read_text()
        if EMAIL in f"/{rel}":
            assert "<script" not in text.lower() and "javascript:" not in text.lower(), rel
            continue
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{rel}:{line}: {what}")
    assert problems == []


@pytest.mark.django_db
def test_pages_carry_a_strict_policy(client, manager_a):
    client.force_login(manager_a)
    for url in (reverse("login"), reverse("portal:home"), reverse("portal:control-room")):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert directives["default-src"] == ["'self'"], url
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, url
        assert directives["frame-ancestors"] == ["'none'"], url
        assert directives["object-src"] == ["'none'"], url
        assert directives["script-src"][0] == "'self'", url
