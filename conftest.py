"""Shared fixtures: one user per role (alice the admin, olga the operator, rita the requester, adam the
approver, vera the viewer, nora with no role), signed-in clients and API clients."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", roles=["admin"])


@pytest.fixture
def olga(db):
    return UserFactory(username="olga", roles=["operator"])


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", roles=["requester"])


@pytest.fixture
def adam(db):
    return UserFactory(username="adam", roles=["approver"])


@pytest.fixture
def vera(db):
    return UserFactory(username="vera", roles=["viewer"])


@pytest.fixture
def nora(db):
    return UserFactory(username="nora")


@pytest.fixture
def password():
    return PASSWORD


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def admin_client(alice):
    return _signed_in(alice)


@pytest.fixture
def viewer_client(vera):
    return _signed_in(vera)


@pytest.fixture
def operator_client(olga):
    return _signed_in(olga)


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def viewer_api(vera):
    client = APIClient()
    client.force_authenticate(vera)
    return client


@pytest.fixture
def webhook():
    """A webhook receiver on 127.0.0.1 (tests/webhook.py): .url to configure, .bodies / .wait_for(n) to read,
    .respond_with(status, times=n) to make it fail."""
    from tests.webhook import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Row ids repeat from test to test; a value cached by one test must not answer the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
