"""The dashboard in a real browser, against kubesim and a real Celery worker: a request blocked by a budget shows up
in the "Blocked by PDBs now" panel while the page refreshes itself, and a stuck pod is retried from the dashboard."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from evictions.models import PodEviction, PodStatus
from evictions.planning import PodTarget
from evictions.services.requests import RequestInput, request_create
from kubesim import Simulator
from tests.kubesim_cluster import register_sim
from tests.worker import celery_worker

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


def test_a_budget_block_shows_live_on_the_dashboard_and_a_stuck_pod_is_retried_from_it(
    page, live_server, login, olga, alice, password, cluster, sim
):
    login(page, live_server, olga, password)  # an operator, on the dashboard
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#dash-blocked")).to_contain_text("No budget holds back a pod.")
    expect(page.locator("#dash-clusters [data-cluster='demo']")).to_contain_text("reachable")

    with celery_worker():
        # checkout: the first pod goes, its replacement never becomes Ready, so the second is blocked for good;
        # prometheus-0 has two budgets: 500, and it waits for a person at once.
        request = request_create(
            actor=alice,
            data=RequestInput(
                cluster=cluster,
                kind="pods",
                reason="move payments and prometheus off node-3",
                targets=(PodTarget("payments", selector="app=checkout"), PodTarget("monitoring", "prometheus-0")),
            ),
        )
        blocked = page.locator("#dash-blocked .dash-budget[data-pdb='payments/checkout-pdb']")
        expect(blocked).to_contain_text("demo", timeout=RUN_TIMEOUT_MS)
        expect(blocked).to_contain_text(f"#{request.pk}")
        budget_said = re.compile(r"allows \d disruptions?( now)?: it needs 1 healthy pod and has \d")
        expect(blocked).to_contain_text(budget_said, timeout=RUN_TIMEOUT_MS)
        expect(blocked).to_contain_text("not Ready", timeout=RUN_TIMEOUT_MS)  # the replacement behind it
        expect(blocked.get_by_role("link", name="payments/checkout-pdb")).to_have_attribute(
            "href", f"/clusters/{cluster.pk}/pdbs/#pdb-payments_checkout-pdb"
        )

        row = page.locator("#dash-stuck tr[data-pod='monitoring/prometheus-0']")
        expect(row).to_contain_text("More than one PodDisruptionBudget", timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#dash-clusters [data-cluster='demo'] [data-count='stuck_pods']")).to_have_text("1")
        assert page.evaluate("window.__sameDocument") is True  # the panels refreshed in place

        stuck = PodEviction.objects.get(request=request, name="prometheus-0")
        attempts = stuck.attempts
        row.get_by_role("button", name="Retry now").click()
        expect(page).to_have_url(f"{live_server.url}/")  # the operator stays on the dashboard
        expect(page.get_by_role("status").first).to_contain_text("Retrying monitoring/prometheus-0 now.")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stuck.refresh_from_db()
            if stuck.attempts > attempts and stuck.status == PodStatus.NEEDS_INTERVENTION:
                break
            time.sleep(0.3)
        assert stuck.attempts > attempts  # tried again, and (two budgets still) waits for a person again

        # From the budget link: the cluster's budgets page with the budget at zero highlighted.
        page.goto(f"{live_server.url}/clusters/{cluster.pk}/pdbs/#pdb-payments_checkout-pdb")
        budget = page.locator("#pdb-payments_checkout-pdb")
        expect(budget).to_have_class("pdb-zero")
        expect(budget).to_contain_text("not Ready")
        expect(page.locator("#budget-history")).to_contain_text("payments/checkout-pdb")
