"""Guessing passwords stops after five tries, per username and address, on every login door."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
OTHER_ADDRESS = "198.51.100.7"


def _login(client, password, address=ATTACKER, username="pm@alpha.test"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_six_wrong_passwords_lock_the_portal_login_even_for_the_right_password(client, manager_a):
    for _ in range(4):
        assert _login(client, "guess").status_code == 200
    assert _login(client, "guess").status_code == 429  # the fifth failure locks
    locked = _login(client, factories.PASSWORD)
    assert locked.status_code == 429
    assert b"Too many failed login attempts" in locked.content
    assert b"administrator can unlock" in locked.content
    assert "_auth_user_id" not in client.session
    # Keyed on username and address: the owner elsewhere still gets in.
    assert _login(client, factories.PASSWORD, address=OTHER_ADDRESS).status_code == 302


def test_fewer_wrong_passwords_then_the_right_one_logs_in_and_resets_the_count(client, manager_a):
    for _ in range(4):
        _login(client, "guess")
    assert _login(client, factories.PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "guess")
    assert _login(client, factories.PASSWORD).status_code == 302


def test_the_api_token_endpoint_issues_tokens_and_locks_out_guessers(manager_a):
    api = APIClient(REMOTE_ADDR=ATTACKER)
    url = reverse("api-token")
    good = api.post(url, {"username": "pm@alpha.test", "password": factories.PASSWORD})
    assert good.status_code == 200
    assert len(good.json()["token"]) == 40
    for _ in range(4):
        bad = api.post(url, {"username": "pm@alpha.test", "password": "guess"})
        assert bad.status_code == 400
    assert api.post(url, {"username": "pm@alpha.test", "password": "guess"}).status_code == 429
    locked = api.post(url, {"username": "pm@alpha.test", "password": factories.PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.json()["detail"]
    assert "token" not in locked.json()
    # The portal login shares the count: the same person at the same address is locked there.
    assert _login(Client(), factories.PASSWORD).status_code == 429


def test_a_platform_operator_unlocks_from_admin(client, manager_a):
    from axes.models import AccessAttempt

    for _ in range(5):
        _login(client, "guess")
    assert _login(client, factories.PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username="pm@alpha.test")
    operator = factories.user(is_staff=True, is_superuser=True)
    admin = type(client)()
    admin.force_login(operator)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert b"pm@alpha.test" in listing.content
    unlock = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert unlock.status_code == 302
    assert _login(client, factories.PASSWORD).status_code == 302


def test_password_reset_is_rate_limited_per_address_and_per_email(client, manager_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    url = reverse("password_reset")
    for _ in range(3):
        sent = client.post(url, {"email": "pm@alpha.test"}, REMOTE_ADDR=ATTACKER)
        assert sent.status_code == 302
    assert len(mail.outbox) == 3
    limited = client.post(url, {"email": "pm@alpha.test"}, REMOTE_ADDR=OTHER_ADDRESS)
    assert limited.status_code == 429
    assert b"Too many password reset requests" in limited.content
    assert len(mail.outbox) == 3
    # Spraying many addresses from one place is limited too.
    for n in range(7):
        client.post(url, {"email": f"nobody{n}@alpha.test"}, REMOTE_ADDR=ATTACKER)
    assert client.post(url, {"email": "x@alpha.test"}, REMOTE_ADDR=ATTACKER).status_code == 429
