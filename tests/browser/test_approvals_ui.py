"""Approvals in a real browser, against kubesim and a real Celery worker: a requester submits a drain on a cluster
that needs one approval, sees it wait (and no Approve button of her own), an approver in a second browser decides
from the inbox with the stored plan in front of him, and the requester's page goes on to run the drain."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from evictions.models import Approval, ApprovalPolicy, EvictionRequest, RequestStatus
from kubesim import Simulator
from tests.browser.conftest import checked_page
from tests.kubesim_cluster import register_sim
from tests.worker import celery_worker

# The live server and the worker each use their own connection, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(150)]

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    created = register_sim(sim, name="demo")
    assert created.reachable
    ApprovalPolicy.objects.create(cluster=created, required_approvals=1)
    return created


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    """Another person's browser: its own context and cookies, held to the same standard as `page`."""
    with checked_page(browser) as tab:
        yield tab


def test_drain_waits_for_another_persons_approval_then_runs(
    page, second_page, live_server, login, rita, adam, password, cluster
):
    # rita, a requester, asks for a drain through the form.
    login(page, live_server, rita, password)
    page.goto(f"{live_server.url}/requests/new/")
    page.get_by_label("Cluster", exact=True).select_option(label="demo")
    page.get_by_role("radio", name="Drain a node").check()
    expect(page.locator("#node-options option[value='node-2']")).to_have_count(1)
    page.get_by_label("Node", exact=True).fill("node-2")
    page.get_by_label("Ignore DaemonSet-managed pods").check()
    page.get_by_label("Delete emptyDir data").check()
    page.get_by_label("Force: also pods without a controller").check()
    page.get_by_label("Reason", exact=True).fill("kernel upgrade")
    expect(page.get_by_role("radio", name=re.compile("As soon as approved"))).to_be_checked()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    request = EvictionRequest.objects.get()
    assert request.status == RequestStatus.AWAITING_APPROVAL

    # Her page says it waits, for what, and offers her no vote on her own request.
    expect(page.locator("#request-status")).to_have_text("Awaiting approval")
    state = page.locator("#approval-state")
    expect(state).to_contain_text("0 of 1 approval(s); needs 1 more.")
    expect(state).to_contain_text("You cannot approve your own request")
    expect(page.locator("#stored-plan")).to_contain_text("shop/web-6d4b9c7f5d")
    expect(page.get_by_role("button", name="Approve request")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject request")).to_have_count(0)
    page.get_by_role("link", name="Approvals").click()
    expect(page.locator("#not-approver")).to_be_visible()
    expect(page.locator("#my-waiting")).to_contain_text("drain node node-2")
    expect(page.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    page.goto(f"{live_server.url}/requests/{request.pk}/")

    # adam, an approver, decides in his own browser, with the stored plan and budget check in front of him.
    login(second_page, live_server, adam, password)
    second_page.get_by_role("link", name="Approvals").click()
    card = second_page.locator(f"#approval-{request.pk}")
    expect(card).to_contain_text("drain node node-2")
    expect(card).to_contain_text("kernel upgrade")
    expect(card).to_contain_text("rita")
    plan = card.locator(f"#plan-{request.pk}-pods")
    expect(plan).to_contain_text("shop/web-6d4b9c7f5d")
    expect(plan).to_contain_text("waits for replacements")

    with celery_worker():
        card.get_by_label("Comment (optional)").fill("go ahead, low traffic")
        card.get_by_role("button", name=f"Approve #{request.pk}").click()
        expect(second_page.get_by_role("status").first).to_have_text(f"You approved request #{request.pk}.")
        expect(second_page.locator("#inbox-empty")).to_be_visible()

        # rita's page, refreshing itself, shows the decision and the drain under way, then done.
        status = page.locator("#request-status")
        expect(status).to_have_text(re.compile("Scheduled|Running|Succeeded"), timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#approval-votes")).to_contain_text("go ahead, low traffic", timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#approval-votes")).to_contain_text("adam")
        expect(status).to_have_text("Succeeded", timeout=RUN_TIMEOUT_MS)
    vote = Approval.objects.get(request=request)
    assert (vote.approver, vote.decision) == (adam, "approve")
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED and request.approved_at is not None
