"""Eviction requests in a real browser, against kubesim and a real Celery worker: a drain made in the UI runs to
the end while the page refreshes itself, and a stuck pod is deleted directly by typing its name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from kubesim import Simulator
from tests.kubesim_cluster import register_sim
from tests.worker import celery_worker

# The live server and the worker each use their own connection, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    created = register_sim(sim, name="demo")
    assert created.reachable
    return created


def watch_navigations(page: Page) -> list[str]:
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    return navigations


def open_new_request(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/requests/")
    page.get_by_role("link", name="New request").click()
    expect(page.get_by_role("heading", name="New eviction request")).to_be_visible()
    page.get_by_label("Cluster", exact=True).select_option(label="demo")


def test_drain_made_in_the_ui_runs_to_succeeded_while_the_page_refreshes(
    page, live_server, login, rita, password, cluster, sim
):
    login(page, live_server, rita, password)  # a requester
    open_new_request(page, live_server)
    page.get_by_role("radio", name="Drain a node").check()
    # The node picker is filled from the cluster over htmx once the cluster is chosen.
    expect(page.locator("#node-options option[value='node-2']")).to_have_count(1)
    page.get_by_label("Node", exact=True).fill("node-2")
    page.get_by_label("Ignore DaemonSet-managed pods").check()
    page.get_by_label("Delete emptyDir data").check()
    page.get_by_label("Force: also pods without a controller").check()
    page.get_by_label("Reason", exact=True).fill("kernel upgrade")

    page.get_by_role("button", name="Preview plan").click()
    plan = page.locator("#plan-pods")
    expect(plan).to_contain_text("shop/web-6d4b9c7f5d")
    expect(plan).to_contain_text("batch/adhoc-debug")
    expect(plan).to_contain_text("waits for replacements")
    expect(page.locator("#plan-errors")).to_have_count(0)
    expect(page.get_by_label("Node", exact=True)).to_have_value("node-2")  # kept for the submit
    assert EvictionRequest.objects.count() == 0

    with celery_worker():
        page.get_by_role("button", name="Submit").click()
        expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
        request = EvictionRequest.objects.get()
        assert page.url.endswith(f"/requests/{request.pk}/")
        page.evaluate("window.__sameDocument = true")
        navigations = watch_navigations(page)

        status = page.locator("#request-status")
        expect(status).to_have_text(re.compile("Scheduled|Running"))  # the drain takes seconds: seen under way
        expect(status).to_have_text("Succeeded", timeout=RUN_TIMEOUT_MS)
    total = PodEviction.objects.filter(request=request).exclude(status=PodStatus.SKIPPED).count()
    expect(page.locator("#request-progress")).to_contain_text(f"evicted {total} of {total}")
    expect(page.locator("#pod-table")).to_contain_text("Evicted")
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped the live part; no reload
    assert navigations == []
    # Finished: the page stops polling.
    expect(page.locator("#request-live[hx-trigger]")).to_have_count(0)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED
    # The web pods waited for their budget: their attempt logs show the 429s, then the 201.
    web_logs = page.locator("details", has_text="Attempt log of web-6d4b9c7f5d")
    expect(web_logs.first).to_be_visible()
    for index in range(web_logs.count()):
        web_logs.nth(index).locator("summary").click()
    expect(page.locator("details[open] table.attempts", has_text="429").first).to_be_visible()
    expect(page.locator("details[open] table.attempts", has_text="201").first).to_be_visible()


def test_stuck_pod_is_deleted_directly_by_an_operator_typing_its_name(
    page, live_server, login, alice, password, cluster, sim
):
    login(page, live_server, alice, password)  # admin: requests, and intervenes
    open_new_request(page, live_server)
    page.get_by_role("radio", name="Evict pods").check()
    page.get_by_label("Find live pods").fill("prometheus")
    page.get_by_role("button", name="Add monitoring/prometheus-0").click()
    expect(page.get_by_label("Pods", exact=True)).to_have_value("monitoring/prometheus-0\n")
    page.get_by_label("Reason", exact=True).fill("move prometheus off node-3")
    page.get_by_role("button", name="Preview plan").click()
    expect(page.locator("#plan-pods")).to_contain_text("more than one PDB: will fail with 500")

    with celery_worker():
        page.get_by_role("button", name="Submit").click()
        expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
        request = EvictionRequest.objects.get()
        expect(page.locator("#request-status")).to_have_text("Needs intervention", timeout=RUN_TIMEOUT_MS)
        row = page.locator("tr[data-pod='monitoring/prometheus-0']")
        expect(row).to_contain_text("More than one PodDisruptionBudget")
        expect(row.locator(".pod-status")).to_have_text("Needs intervention")

        row.get_by_role("link", name="Delete directly…").click()
        expect(page.get_by_role("heading", name="Delete monitoring/prometheus-0 directly")).to_be_visible()
        page.get_by_label("Type prometheus-0 to confirm").fill("prometheus")  # wrong: refused
        page.get_by_label("Grace period (seconds)").fill("0")
        page.get_by_label("Reason", exact=True).fill("two PDBs select it; agreed with the owners")
        page.get_by_role("button", name="Delete pod directly").click()
        expect(page.locator("#field-confirm_name .error")).to_contain_text("Type the pod's name (prometheus-0)")
        assert not PodEviction.objects.get(request=request).attempt_log.filter(kind="delete").exists()

        page.get_by_label("Type prometheus-0 to confirm").fill("prometheus-0")
        page.get_by_role("button", name="Delete pod directly").click()
        expect(page).to_have_url(re.compile(rf"/requests/{request.pk}/$"))
        expect(page.get_by_role("status").first).to_contain_text("deleted directly")
        expect(row.locator(".pod-status")).to_have_text("Deleted (forced)", timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#request-status")).to_have_text("Done with exceptions", timeout=RUN_TIMEOUT_MS)
    pod = PodEviction.objects.get(request=request)
    assert pod.status == PodStatus.DELETED
    assert [p for p in sim.state()["pods"] if p["name"] == "prometheus-0" and p["uid"] == pod.uid] == []


def test_operator_pauses_and_resumes_in_place_and_open_logs_survive_the_refresh(
    page, live_server, login, olga, rita, password
):
    # No cluster calls and no worker: a running request whose rows stay as they are while the page polls.
    from django.utils import timezone

    from tests.factories import ClusterFactory

    now = timezone.now()
    request = EvictionRequest.objects.create(
        cluster=ClusterFactory(name="prod"),
        requester=rita,
        kind="pods",
        reason="move it",
        targets=[{"namespace": "shop", "name": "web-1"}],
        status=RequestStatus.RUNNING,
        started_at=now,
        pods_created_at=now,
    )
    pod = PodEviction.objects.create(request=request, namespace="shop", name="web-1", uid="u1", status="pending")
    pod.attempt_log.create(at=now, http_status=429, reason="TooManyRequests", message="<b>Cannot evict</b>")

    login(page, live_server, olga, password)
    page.goto(f"{live_server.url}/requests/{request.pk}/")
    page.evaluate("window.__sameDocument = true")
    navigations = watch_navigations(page)
    page.locator(f"#log-{pod.pk} summary").click()
    expect(page.locator(f"#log-{pod.pk}")).to_have_attribute("open", "")
    with page.expect_response(re.compile(rf"/requests/{request.pk}/\?k=")):
        pass  # one refresh
    expect(page.locator(f"#log-{pod.pk}")).to_have_attribute("open", "")
    expect(page.locator(f"#log-{pod.pk}")).to_contain_text("<b>Cannot evict</b>")  # shown as text

    # The confirmation is in the page, not the browser's confirm(): a dialog would be dismissed here unseen.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_label("Reason to pause", exact=True).fill("investigating the budget")
    page.get_by_role("button", name="Pause request").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text(f"Pause request #{request.pk}? No new eviction attempts start")
    with page.expect_response(re.compile(rf"/requests/{request.pk}/\?k=")):
        pass  # a refresh while the question is open: it stays, and nothing was paused
    expect(question).to_be_visible()
    assert EvictionRequest.objects.get(pk=request.pk).status == RequestStatus.RUNNING
    question.get_by_role("button", name="No, keep it going").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    assert EvictionRequest.objects.get(pk=request.pk).status == RequestStatus.RUNNING
    page.get_by_role("button", name="Pause request").click()
    page.get_by_role("alertdialog").get_by_role("button", name=f"Yes, pause request #{request.pk}").click()
    expect(page.locator("#request-status")).to_have_text("Paused")
    expect(page.locator("#request-live")).to_contain_text("Request paused")
    expect(page.get_by_role("button", name="Resume request")).to_be_visible()  # swapped out of band
    expect(page.get_by_role("button", name="Pause request")).to_have_count(0)
    assert dialogs == []
    page.get_by_role("button", name="Resume request").click()
    expect(page.locator("#request-status")).to_have_text("Running")
    expect(page.get_by_role("button", name="Pause request")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    assert navigations == []
    request.refresh_from_db()
    assert request.status == RequestStatus.RUNNING

    page.get_by_label("Reason to cancel", exact=True).fill("wrong node")
    page.get_by_role("button", name="Cancel request").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text(f"Cancel request #{request.pk}? Waiting pods are not evicted")
    question.get_by_role("button", name=f"Yes, cancel request #{request.pk}").click()
    expect(page.locator("#request-status")).to_have_text("Cancelled")
    assert dialogs == []
