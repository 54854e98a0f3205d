import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tenancy.choices import Role
from tests import factories


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and on PostgreSQL the connection pool closed before
    they are dropped (its idle connections would otherwise keep the database in use).

    Async tests reach the database through sync_to_async, which runs in asgiref's one
    thread-sensitive thread: the connection that thread holds is still checked out of the
    pool (close_pool cannot close it) until that thread closes it itself."""
    yield
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        for connection in connections.all(initialized_only=True):
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()


@pytest.fixture(autouse=True)
def _sep2_cache_clear():
    """Each test starts without the 2030.5 answers an earlier one cached in this process
    (rolled-back rows come back with the same primary keys on SQLite), and without the
    last-seen notes an earlier one left unwritten."""
    from protocol import cache, seen

    cache.clear()
    seen.ledger.clear()
    yield
    cache.clear()
    seen.ledger.clear()


@pytest.fixture
def utility_a(db):
    return factories.utility("Alpha Power", slug="alpha")


@pytest.fixture
def utility_b(db):
    return factories.utility("Bravo Electric", slug="bravo")


@pytest.fixture
def manager_a(utility_a):
    return factories.member(utility_a, Role.PROGRAM_MANAGER, email="pm@alpha.test")


@pytest.fixture
def manager_b(utility_b):
    return factories.member(utility_b, Role.PROGRAM_MANAGER, email="pm@bravo.test")


@pytest.fixture
def client_a(client, manager_a):
    client.force_login(manager_a)
    return client


def api_client_for(user) -> APIClient:
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def api_a(manager_a):
    return api_client_for(manager_a)
