"""Signing in and managing clusters in a real browser: forms, field errors, htmx swaps, roles, no leaked secrets."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from clusters import services
from clusters.models import Cluster
from tests.factories import ClusterFactory
from tests.tlsserver import TLSServer, kubernetes_routes

# The live server answers from its own thread and connection, so the data must be committed: transactional tests.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN = "browser-test-token.7f3a9c2e5d"  # distinctive, so finding it in a page means it leaked

EXEC_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443
users:
- name: u1
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
contexts:
- name: prod
  context: {cluster: c1, user: u1}
current-context: prod
"""


@pytest.fixture
def kube_server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def fill_token_form(page: Page, *, name: str, api_url: str, ca_pem: str = "", token: str = "") -> None:
    page.get_by_role("radio", name="API server URL and token").check()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("API server URL", exact=True).fill(api_url)
    page.get_by_label("CA bundle (PEM)").fill(ca_pem)
    page.get_by_label("Bearer token").fill(token)


def status_badge(page: Page):
    return page.locator("#cluster-status .badge")


def test_sign_in_rejects_a_wrong_password_then_signs_in_and_out(page, live_server, alice, password):
    login_url = f"{live_server.url}/login/"
    page.goto(login_url)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That user name and password do not match")
    expect(page).to_have_url(login_url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header .userbox")).to_contain_text("alice")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(login_url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_admin_adds_a_reachable_cluster_by_url_ca_and_token(page, live_server, login, alice, password, kube_server):
    login(page, live_server, alice, password)
    page.goto(f"{live_server.url}/clusters/")
    page.get_by_role("link", name="Add a cluster").click()
    fill_token_form(page, name="prod", api_url=kube_server.url, ca_pem=kube_server.ca_pem, token=TOKEN)
    page.get_by_role("button", name="Save").click()

    cluster = Cluster.objects.get(name="prod")
    expect(page).to_have_url(f"{live_server.url}/clusters/{cluster.pk}/")
    expect(page.get_by_role("heading", name="prod", level=1)).to_be_visible()
    expect(status_badge(page)).to_have_text("reachable")
    expect(page.locator("#cluster-status")).to_contain_text("v1.30.2")
    assert cluster.api_url == kube_server.url
    assert TOKEN not in page.content()


def test_admin_adds_a_non_kubernetes_server_and_sees_why(page, live_server, login, alice, password, kube_server):
    kube_server.routes.clear()  # every path answers 404, like a web server that is not an API server
    login(page, live_server, alice, password)
    page.goto(f"{live_server.url}/clusters/add/")
    fill_token_form(page, name="not-kube", api_url=kube_server.url, ca_pem=kube_server.ca_pem, token=TOKEN)
    page.get_by_role("button", name="Save").click()

    cluster = Cluster.objects.get(name="not-kube")
    expect(page).to_have_url(f"{live_server.url}/clusters/{cluster.pk}/")
    expect(status_badge(page)).to_have_text("unreachable")
    expect(page.locator("#cluster-error")).to_contain_text("not a Kubernetes API server")
    assert TOKEN not in page.content()


def test_bad_form_shows_errors_next_to_the_fields_and_stores_nothing(page, live_server, login, alice, password):
    login(page, live_server, alice, password)
    add_url = f"{live_server.url}/clusters/add/"
    page.goto(add_url)
    fill_token_form(page, name="bad", api_url="ftp://x", token="")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#field-api_url .error")).to_contain_text("must start with https://")
    expect(page.locator("#field-token .error")).to_contain_text("Enter the bearer token")
    expect(page).to_have_url(add_url)
    expect(page.get_by_label("API server URL", exact=True)).to_have_value("ftp://x")  # kept, to correct
    assert Cluster.objects.count() == 0


def test_kubeconfig_with_an_exec_user_is_refused_and_not_echoed(page, live_server, login, alice, password):
    login(page, live_server, alice, password)
    page.goto(f"{live_server.url}/clusters/add/")
    page.get_by_role("radio", name="kubeconfig").check()
    page.locator("#id_kubeconfig").fill(EXEC_KUBECONFIG)
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#field-kubeconfig .error")).to_contain_text("runs a program")
    expect(page.locator("#id_kubeconfig")).to_have_value("")  # a pasted kubeconfig holds secrets: not sent back
    assert Cluster.objects.count() == 0


def test_check_now_swaps_the_status_panel_in_place(page, live_server, login, alice, olga, password, kube_server):
    connection = services.connection_from_input(api_url=kube_server.url, ca_pem=kube_server.ca_pem, token=TOKEN)
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection)
    assert services.cluster_check(actor=alice, cluster=cluster).reachable

    login(page, live_server, olga, password)  # an operator may run checks
    detail_url = f"{live_server.url}/clusters/{cluster.pk}/"
    page.goto(detail_url)
    expect(status_badge(page)).to_have_text("reachable")
    page.evaluate("window.__beforeCheck = 'still here'")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))

    kube_server.routes.clear()
    with page.expect_response(re.compile(rf"/clusters/{cluster.pk}/check/$")) as answer:
        page.get_by_role("button", name="Check connectivity now").click()
    assert answer.value.status == 200
    assert answer.value.request.header_value("hx-request") == "true"

    expect(status_badge(page)).to_have_text("unreachable")
    expect(page.locator("#cluster-error")).to_contain_text("not a Kubernetes API server")
    expect(page.locator("#cluster-status")).to_have_count(1)  # outerHTML swap: replaced, not nested
    expect(page.get_by_role("button", name="Check connectivity now")).to_be_enabled()
    assert page.url == detail_url
    assert page.evaluate("window.__beforeCheck") == "still here"
    assert navigations == []


def test_viewer_sees_clusters_but_cannot_add_one(page, live_server, login, vera, password):
    ClusterFactory(name="prod")
    login(page, live_server, vera, password)
    page.goto(f"{live_server.url}/clusters/")
    expect(page.get_by_role("link", name="prod")).to_be_visible()
    expect(page.get_by_role("link", name="Add a cluster")).to_have_count(0)

    response = page.goto(f"{live_server.url}/clusters/add/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert Cluster.objects.count() == 1
