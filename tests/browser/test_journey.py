"""The whole journey in a real browser, with a real Celery worker and kubesim over HTTPS, five people in five
browsers: an admin registers the cluster and makes it need one approval; a requester previews and submits a drain;
an approver approves from the inbox; the drain runs with budget blocks visible on the request page and the
dashboard; an operator deletes the stuck pod directly; an auditor finds all of it in history and the audit log and
downloads the CSV, whose rows are checked."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from clusters.models import Cluster
from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from kubesim import Simulator
from tests.browser.conftest import checked_page
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def person(browser: Browser, live_server, login, password) -> Iterator[Callable[..., Page]]:
    """`person(user)`: that user's own browser (context and cookies), signed in, failing the test on CSP violations,
    JavaScript errors and broken sub-resources."""
    with ExitStack() as stack:

        def open_for(user) -> Page:
            tab = stack.enter_context(checked_page(browser, accept_downloads=True))
            login(tab, live_server, user, password)
            return tab

        yield open_for


@contextmanager
def step(name: str) -> Iterator[None]:
    """Name the step of the journey in a failure's message."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"journey step '{name}': {error}") from error


def test_the_full_journey(person, live_server, sim, alice, rita, adam, olga, vera):
    base = live_server.url
    with step("an admin registers the cluster and makes it need one approval"):
        admin = person(alice)
        admin.goto(f"{base}/clusters/")
        admin.get_by_role("link", name="Add a cluster").click()
        admin.get_by_role("radio", name="API server URL and token").check()
        admin.get_by_label("Name", exact=True).fill("prod")
        admin.get_by_label("API server URL", exact=True).fill(sim.url)
        admin.get_by_label("CA bundle (PEM)").fill(sim.ca_pem)
        admin.get_by_label("Bearer token").fill(sim.token)
        admin.get_by_role("button", name="Save").click()
        expect(admin.locator("#cluster-status .badge")).to_have_text("reachable")
        assert sim.token not in admin.content()
        admin.get_by_role("link", name="Give prod its own policy").click()
        admin.get_by_label("Approvals needed").fill("1")
        admin.get_by_role("button", name="Save policy").click()
        expect(admin.locator("#policy-scope")).to_contain_text("prod has its own policy")
        cluster = Cluster.objects.get(name="prod")

    with step("a requester previews and submits a drain"):
        requester = person(rita)
        requester.goto(f"{base}/requests/new/")
        requester.get_by_label("Cluster", exact=True).select_option(label="prod")
        requester.get_by_role("radio", name="Drain a node").check()
        expect(requester.locator("#node-options option[value='node-3']")).to_have_count(1)
        requester.get_by_label("Node", exact=True).fill("node-3")
        requester.get_by_label("Ignore DaemonSet-managed pods").check()
        requester.get_by_label("Delete emptyDir data").check()
        requester.get_by_label("Force: also pods without a controller").check()
        requester.get_by_label("Reason", exact=True).fill("replace the disk of node-3")
        requester.get_by_role("button", name="Preview plan").click()
        expect(requester.locator("#plan-pods")).to_contain_text("monitoring/prometheus-0")
        expect(requester.locator("#plan-pods")).to_contain_text("payments/checkout-")
        requester.get_by_role("button", name="Submit").click()
        expect(requester).to_have_url(re.compile(r"/requests/\d+/$"))
        request = EvictionRequest.objects.get(cluster=cluster)
        expect(requester.locator("#request-status")).to_have_text("Awaiting approval")

    with celery_worker():
        with step("an approver approves from the inbox"):
            approver = person(adam)
            approver.get_by_role("link", name="Approvals").click()
            card = approver.locator(f"#approval-{request.pk}")
            expect(card).to_contain_text("replace the disk of node-3")
            card.get_by_label("Comment (optional)").fill("ok, after the backup")
            card.get_by_role("button", name=f"Approve #{request.pk}").click()
            expect(approver.get_by_role("status").first).to_have_text(f"You approved request #{request.pk}.")

        with step("the drain runs; the budget blocks show on the request page and the dashboard"):
            expect(requester.locator("#request-status")).to_have_text(
                re.compile("Running|Needs intervention"), timeout=RUN_TIMEOUT_MS
            )
            # checkout's replacements never become Ready: its budget holds the second checkout pod back.
            why = requester.get_by_role("heading", name="Why is it blocked?").locator("..")
            expect(why).to_contain_text("payments/checkout-pdb", timeout=RUN_TIMEOUT_MS)
            expect(why).to_contain_text("Not Ready behind it")
            approver.goto(f"{base}/")
            blocked = approver.locator("#dash-blocked")
            expect(blocked).to_contain_text("payments/checkout-pdb", timeout=RUN_TIMEOUT_MS)
            expect(blocked).to_contain_text(f"#{request.pk}")
            # prometheus-0 is selected by two budgets: the eviction API answers 500 and a person is needed.
            expect(approver.locator("#dash-stuck")).to_contain_text("monitoring/prometheus-0", timeout=RUN_TIMEOUT_MS)

        with step("an operator deletes the stuck pod directly"):
            operator = person(olga)
            operator.goto(f"{base}/requests/{request.pk}/")
            row = operator.locator("tr[data-pod='monitoring/prometheus-0']")
            expect(row.locator(".pod-status")).to_have_text("Needs intervention", timeout=RUN_TIMEOUT_MS)
            expect(row).to_contain_text("More than one PodDisruptionBudget")
            row.get_by_role("link", name="Delete directly…").click()
            operator.get_by_label("Type prometheus-0 to confirm").fill("prometheus-0")
            operator.get_by_label("Reason", exact=True).fill("two budgets select it; agreed with the monitoring team")
            operator.get_by_role("button", name="Delete pod directly").click()
            expect(operator.get_by_role("status").first).to_contain_text("deleted directly")
            row = operator.locator("tr[data-pod='monitoring/prometheus-0']")
            expect(row.locator(".pod-status")).to_have_text("Deleted (forced)", timeout=RUN_TIMEOUT_MS)

    assert PodEviction.objects.get(request=request, name="prometheus-0").status == PodStatus.DELETED
    assert EvictionRequest.objects.get(pk=request.pk).status != RequestStatus.AWAITING_APPROVAL

    with step("an auditor finds it all in history and the audit log, and downloads the CSV"):
        auditor = person(vera)
        auditor.goto(f"{base}/evictions/?pod=prometheus")
        found = auditor.locator("#eviction-list")
        expect(found).to_contain_text("prometheus-0")
        expect(found).to_contain_text("Deleted (forced)")
        auditor.goto(f"{base}/requests/?requester=rita&approver=adam")
        expect(auditor.locator("body")).to_contain_text("node-3")
        auditor.goto(f"{base}/audit/?cluster=prod")
        expect(auditor.locator("body")).to_contain_text("pod.force_delete")
        with auditor.expect_download() as download_info:
            auditor.locator("#export-csv").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        path = download.path()
        assert path is not None
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))

    with step("the CSV holds who did what"):
        done = {(r["actor_name"], r["action"]) for r in rows}
        for who, what in [
            ("alice", "cluster.create"),
            ("alice", "policy.update"),
            ("rita", "request.create"),
            ("adam", "request.approve"),
            ("olga", "pod.force_delete"),
        ]:
            assert (who, what) in done, f"{who} {what} missing from the CSV: {sorted(done)}"
        assert all(r["cluster_name"] == "prod" for r in rows)
        deleted = next(r for r in rows if r["action"] == "pod.force_delete")
        assert "two budgets select it" in deleted["details"]
        assert sim.token not in path.read_text(encoding="utf-8")
