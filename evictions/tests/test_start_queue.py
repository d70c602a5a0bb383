"""Drains that start on a cluster while another drain's pods wait on the same budget queue behind them: a pod of a
budget in use waits its turn (the budget watcher sends it when the budget has room) instead of spending an eviction on
a certain 429. The scale benchmark found most of its 429s there: each drain planned as if it were alone. Against
kubesim over HTTPS."""

from __future__ import annotations

import pytest

from clusters.models import Cluster
from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services.requests import RequestInput, request_create, request_start
from kubesim import Simulator
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    with Simulator(scenario="demo") as sim:
        registered = register_sim(sim, name="demo")
        Cluster.objects.filter(pk=registered.pk).update(max_concurrent_drains=2)
        registered.refresh_from_db()
        yield registered


def drain(cluster, user, node: str) -> EvictionRequest:
    request = request_create(
        actor=user,
        data=RequestInput(
            cluster=cluster,
            kind="drain",
            reason=f"move off {node}",
            node=node,
            options=DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True),
        ),
    )
    request_start(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.RUNNING, request.status_reason
    return request


def web_pods(request: EvictionRequest) -> list[PodEviction]:
    return list(request.pods.filter(name__startswith="web-").order_by("status", "name"))


def test_a_pod_whose_budget_another_drain_is_using_waits_its_turn_and_says_behind_which(cluster, rita):
    first = drain(cluster, rita, "node-2")  # two web pods: web-pdb allows one disruption
    assert [p.status for p in web_pods(first)] == [PodStatus.BLOCKED, PodStatus.PENDING]  # its own turn, in-plan
    assert {p.budget for p in web_pods(first)} == {"shop/web-pdb"}

    second = drain(cluster, rita, "node-1")
    (web,) = web_pods(second)
    assert (web.status, web.budget, web.blocking_pdb) == (PodStatus.BLOCKED, "shop/web-pdb", "shop/web-pdb")
    assert web.note == f"Waiting for its turn: shop/web-pdb is in use by request #{first.pk}, whose pods go first."
    assert (
        web.blocked_since is not None and web.next_attempt_at > web.blocked_since
    )  # the fallback, should the watch fail
    # A budget the first drain does not use: that pod goes at once.
    search = second.pods.get(name__startswith="search-")
    assert (search.status, search.budget) == (PodStatus.PENDING, "search/search-pdb")


def test_a_budget_is_free_again_for_a_new_drain_once_the_other_drains_pods_have_gone(cluster, rita):
    first = drain(cluster, rita, "node-2")
    first.pods.filter(status__in=[PodStatus.PENDING, PodStatus.BLOCKED]).update(status=PodStatus.EVICTED)
    second = drain(cluster, rita, "node-1")
    (web,) = web_pods(second)
    assert web.status == PodStatus.PENDING  # nobody ahead of it: tried at once
