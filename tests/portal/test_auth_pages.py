import re

import pytest
from django.core import mail
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_login_then_home_then_logout(client, utility_a, manager_a):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    response = client.post(
        reverse("login"), {"username": "pm@alpha.test", "password": factories.PASSWORD}
    )
    assert response.status_code == 302
    home = client.get(reverse("portal:home"))
    assert b"Alpha Power" in home.content
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("portal:home")).status_code == 302


def test_wrong_password_is_explained(client, manager_a):
    response = client.post(reverse("login"), {"username": "pm@alpha.test", "password": "nope"})
    assert response.status_code == 200
    assert b"do not match" in response.content


def test_password_reset_sends_a_working_link(client, manager_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("password_reset"), {"email": "pm@alpha.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-much-better-pass-42", "new_password2": "a-much-better-pass-42"},
    )
    assert done.status_code == 302
    manager_a.refresh_from_db()
    assert manager_a.check_password("a-much-better-pass-42")
