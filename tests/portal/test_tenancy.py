import pytest
from django.http import Http404
from django.urls import reverse

from tenancy.choices import Role
from tenancy.models import Brand, Membership, TerritoryArea, Utility
from tenancy.selectors import get_for_utility
from tests import factories

pytestmark = pytest.mark.django_db


def test_no_utility_means_no_rows(utility_a):
    factories.brand(utility_a)
    assert Brand.objects.for_utility(None).count() == 0
    assert Brand.objects.filter(name__isnull=False).for_utility(None).count() == 0
    assert Utility.objects.for_utility(None).count() == 0
    assert list(Utility.objects.for_utility(utility_a)) == [utility_a]


def test_scope_refuses_models_that_are_not_tenant_owned(utility_a):
    from django.contrib.auth.models import User

    with pytest.raises(AttributeError):
        User.objects.all().for_utility(utility_a)
    with pytest.raises(TypeError):
        get_for_utility(User.objects.all(), utility=utility_a, pk=1)


def test_foreign_object_is_a_404_like_a_missing_one(utility_a, utility_b):
    mine = factories.brand(utility_a)
    theirs = factories.brand(utility_b)
    assert get_for_utility(Brand.objects.all(), utility=utility_a, pk=mine.pk) == mine
    with pytest.raises(Http404) as foreign:
        get_for_utility(Brand.objects.all(), utility=utility_a, pk=theirs.pk)
    with pytest.raises(Http404) as missing:
        get_for_utility(Brand.objects.all(), utility=utility_a, pk=10**9)
    assert str(foreign.value) == str(missing.value)


def test_territory_covers_state_and_zip_prefix(utility_a):
    TerritoryArea.objects.create(utility=utility_a, state="OR", zip_prefix="97")
    TerritoryArea.objects.create(utility=utility_a, state="WA", zip_prefix="")
    assert utility_a.serves(state="or", zip_code="97201")
    assert utility_a.serves(state="WA", zip_code="99999")
    assert not utility_a.serves(state="OR", zip_code="98101")
    assert not utility_a.serves(state="ID", zip_code="97201")


def test_membership_role_is_constrained_in_the_database(utility_a):
    from django.db import IntegrityError, transaction

    person = factories.user()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(utility=utility_a, user=person, role="emperor")


def test_user_with_several_memberships_switches_utility(client, utility_a, utility_b):
    person = factories.member(utility_a, Role.OPERATOR)
    Membership.objects.create(utility=utility_b, user=person, role=Role.ANALYST)
    client.force_login(person)
    home = client.get(reverse("portal:home"))
    assert home.context["active_utility"] == utility_a
    assert b'name="utility"' in home.content  # the switcher is shown

    response = client.post(reverse("portal:switch-utility"), {"utility": utility_b.pk})
    assert response.status_code == 302
    home = client.get(reverse("portal:home"))
    assert home.context["active_utility"] == utility_b
    assert home.context["active_membership"].role == Role.ANALYST


def test_switching_to_a_foreign_utility_changes_nothing(client, utility_a, utility_b, manager_a):
    client.force_login(manager_a)
    client.post(reverse("portal:switch-utility"), {"utility": utility_b.pk})
    assert client.get(reverse("portal:home")).context["active_utility"] == utility_a
    client.post(reverse("portal:switch-utility"), {"utility": "not-a-number"})
    assert client.get(reverse("portal:home")).context["active_utility"] == utility_a


def test_switch_redirect_stays_on_this_site(client, utility_a, manager_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("portal:switch-utility"),
        {"utility": utility_a.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_analyst_reads_but_cannot_write(client, utility_a):
    analyst = factories.member(utility_a, Role.ANALYST)
    brand = factories.brand(utility_a)
    client.force_login(analyst)
    url = reverse("portal:brand-update", args=[brand.pk])
    # The edit form is a write: a read-only analyst neither opens nor submits it (issue 19).
    assert client.get(url).status_code == 403
    assert client.get(reverse("portal:brand-list")).status_code == 200
    assert client.post(url, {"name": "Renamed", "states": "OR"}).status_code == 403
    brand.refresh_from_db()
    assert brand.name != "Renamed"


def test_manager_edits_a_brand_of_their_utility(client_a, utility_a):
    brand = factories.brand(utility_a)
    url = reverse("portal:brand-update", args=[brand.pk])
    response = client_a.post(url, {"name": "Alpha North", "states": "OR,WA"})
    assert response.status_code == 302
    brand.refresh_from_db()
    assert brand.name == "Alpha North"


def test_manager_adds_territory_and_duplicates_are_refused(client_a, utility_a):
    url = reverse("portal:territory-create")
    assert client_a.post(url, {"state": "or", "zip_prefix": "97"}).status_code == 302
    again = client_a.post(url, {"state": "OR", "zip_prefix": "97"})
    assert again.status_code == 200
    assert "already part of the territory" in again.content.decode()
    assert TerritoryArea.objects.for_utility(utility_a).count() == 1
    bad = client_a.post(url, {"state": "Oregon", "zip_prefix": "9x"})
    assert bad.status_code == 200
    assert TerritoryArea.objects.for_utility(utility_a).count() == 1


def test_user_without_membership_sees_no_utility(client, utility_a):
    stranger = factories.user()
    client.force_login(stranger)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert b"not a member of any utility" in response.content
    assert client.get(reverse("portal:brand-list")).status_code == 403


def test_anonymous_users_are_sent_to_login(client, db):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
