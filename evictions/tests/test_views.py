"""The request pages: list filters, new request (preview against kubesim, submit, errors), the live detail page,
interventions and their permissions, and escaping of everything the cluster says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from clusters.models import Cluster
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import PodTarget
from evictions.services.requests import RequestInput, request_create, request_start
from kubesim import Simulator
from tests.factories import ClusterFactory, UserFactory
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def rita_client(rita):
    return signed_in(rita)


@pytest.fixture(scope="module")
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def fresh_sim(sim):
    sim.load_scenario("demo")  # tests that change the cluster start from the demo as written
    return sim


@pytest.fixture
def cluster(fresh_sim):
    created = register_sim(fresh_sim, name="demo")
    assert created.reachable
    return created


@pytest.fixture
def unreachable():
    # Nothing listens on port 1: the connection is refused at once.
    return ClusterFactory(name="gone", api_url="https://127.0.0.1:1")


def make_request(cluster, requester, **fields) -> EvictionRequest:
    values = {
        "kind": "drain",
        "node": "node-2",
        "reason": "kernel upgrade",
        "status": RequestStatus.RUNNING,
        "started_at": timezone.now(),
        "pods_created_at": timezone.now(),
        "deadline_at": timezone.now() + timedelta(minutes=30),
    }
    values.update(fields)
    return EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)


def make_pod(request, name, **fields) -> PodEviction:
    values = {"namespace": "shop", "uid": f"uid-{name}", "node": "node-2", "status": PodStatus.PENDING}
    values.update(fields)
    return PodEviction.objects.create(request=request, name=name, **values)


def make_attempt(pod, **fields) -> EvictionAttempt:
    values = {"at": timezone.now(), "http_status": 429, "reason": "TooManyRequests", "message": "Cannot evict pod"}
    values.update(fields)
    return EvictionAttempt.objects.create(pod=pod, **values)


def drain_form(cluster, **overrides) -> dict[str, object]:
    data: dict[str, object] = {
        "cluster": cluster.pk,
        "kind": "drain",
        "node": "node-2",
        "ignore_daemonsets": "on",
        "delete_emptydir_data": "on",
        "force": "on",
        "reason": "kernel upgrade",
        "deadline_minutes": "30",
        "targets": "",
        "action": "preview",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---- list ----------------------------------------------------------------------------------------------------------


def test_list_filters_by_cluster_status_requester_node_and_date(admin_client, alice, rita):
    prod, staging = ClusterFactory(name="prod"), ClusterFactory(name="staging")
    a = make_request(prod, rita, node="node-a")
    b = make_request(staging, alice, node="node-b", status=RequestStatus.SUCCEEDED)
    c = make_request(prod, alice, kind="pods", node="", targets=[{"namespace": "shop", "name": "web-1"}])
    EvictionRequest.objects.filter(pk=c.pk).update(created_at=timezone.now() - timedelta(days=10))
    url = reverse("requests")

    def shown(**query) -> set[int]:
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return {r.pk for r, _ in response.context["rows"]}

    assert shown() == {a.pk, b.pk, c.pk}
    assert shown(cluster=prod.pk) == {a.pk, c.pk}
    assert shown(status="succeeded") == {b.pk}
    assert shown(requester="rita") == {a.pk}
    assert shown(node="node-b") == {b.pk}
    today = timezone.now().date()
    assert shown(since=str(today - timedelta(days=1))) == {a.pk, b.pk}
    assert shown(until=str(today - timedelta(days=5))) == {c.pk}
    assert shown(cluster=prod.pk, requester="alice") == {c.pk}
    # A bad value is reported and ignored; the other filters still apply.
    response = admin_client.get(url, {"since": "not-a-date", "node": "node-a"})
    assert {r.pk for r, _ in response.context["rows"]} == {a.pk}
    assert "Enter a valid date" in response.content.decode()


def test_list_shows_progress_status_and_counts(admin_client, alice):
    request = make_request(ClusterFactory(name="prod"), alice, status=RequestStatus.NEEDS_INTERVENTION)
    make_pod(request, "web-1", status=PodStatus.EVICTED)
    make_pod(request, "web-2", status=PodStatus.BLOCKED)
    make_pod(request, "web-3", status=PodStatus.NEEDS_INTERVENTION)
    make_pod(request, "kube-proxy-x", status=PodStatus.SKIPPED)
    html = admin_client.get(reverse("requests")).content.decode()
    assert "1/3" in html
    assert "1 blocked, 1 stuck" in html
    assert "badge-red" in html and "Needs intervention" in html
    assert "drain node <code>node-2</code>" in html


def test_list_pages_by_fifty_with_a_cursor_and_keeps_the_filters(admin_client, alice):
    prod = ClusterFactory(name="prod")
    for _ in range(55):
        make_request(prod, alice)
    first = admin_client.get(reverse("requests"), {"cluster": prod.pk})
    assert len(first.context["rows"]) == 50
    cursor = first.context["page"].next_cursor
    assert f"cluster={prod.pk}&amp;cursor=" in first.content.decode()
    second = admin_client.get(reverse("requests"), {"cluster": prod.pk, "cursor": cursor})
    assert len(second.context["rows"]) == 5


def test_new_request_button_only_for_requesters(viewer_client, rita_client):
    assert "New request" not in viewer_client.get(reverse("requests")).content.decode()
    assert "New request" in rita_client.get(reverse("requests")).content.decode()


def test_list_needs_a_role(nora):
    assert signed_in(nora).get(reverse("requests")).status_code == 403
    assert Client().get(reverse("requests")).status_code == 302  # to the login page


# ---- new request ---------------------------------------------------------------------------------------------------


def test_preview_of_a_drain_renders_the_plan_and_stores_nothing(rita_client, cluster):
    response = rita_client.post(reverse("request-new"), drain_form(cluster))
    assert response.status_code == 200
    html = response.content.decode()
    plan = response.context["plan"]
    assert plan["ok"], plan["errors"]
    names = {p["name"]: p for p in plan["pods"]}
    assert names["adhoc-debug"]["disposition"] == "evict"
    assert any(n.startswith("kube-proxy") and p["disposition"] == "skip" for n, p in names.items())
    assert 'id="plan-pods"' in html
    assert "shop/web-pdb" in html  # the budget words
    assert "waits for replacements" in html  # two web pods share a budget that allows one disruption
    assert "dry run" in html.lower()
    assert 'value="node-2"' in html and 'value="kernel upgrade"' in html  # the form keeps its values
    assert EvictionRequest.objects.count() == 0


def test_preview_without_the_options_shows_kubectls_refusals_in_red(rita_client, cluster):
    form = drain_form(cluster, ignore_daemonsets=None, delete_emptydir_data=None, force=None)
    html = rita_client.post(reverse("request-new"), form).content.decode()
    assert 'id="plan-errors"' in html
    # In the form's words: the page has boxes, not the API's option names.
    assert "cannot delete DaemonSet-managed Pods (use “Ignore DaemonSet-managed pods”)" in html
    assert "cannot delete Pods that declare no controller (use “Force: also pods without a controller”)" in html
    assert "use force" not in html and "ignore_daemonsets)" not in html
    assert EvictionRequest.objects.count() == 0


def test_preview_of_a_pod_under_two_budgets_flags_the_500(rita_client, cluster):
    form = drain_form(cluster, kind="pods", node="", targets="monitoring/prometheus-0\n")
    html = rita_client.post(reverse("request-new"), form).content.decode()
    assert "more than one PDB: will fail with 500" in html
    assert "flag-red" in html
    assert EvictionRequest.objects.count() == 0


def test_submit_creates_the_request_and_redirects_to_it(rita_client, rita, cluster):
    not_before = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    form = drain_form(cluster, action="submit", not_before=not_before.strftime("%Y-%m-%dT%H:%M"))
    response = rita_client.post(reverse("request-new"), form)
    request = EvictionRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("request-detail", args=[request.pk])
    assert request.requester == rita
    assert (request.kind, request.node, request.reason) == ("drain", "node-2", "kernel upgrade")
    assert request.options["ignore_daemonsets"] and request.options["force"]
    assert request.not_before == not_before  # the form's time is read as UTC
    assert request.status == RequestStatus.SCHEDULED
    assert request.plan["pods"]


def test_submit_of_pods_by_name_and_selector(rita_client, cluster):
    form = drain_form(cluster, kind="pods", node="", action="submit", targets="payments/checkout-7f9b6c5d48-0\n")
    form["targets"] = "\n".join(["monitoring/prometheus-0", "shop app=web", ""])
    response = rita_client.post(reverse("request-new"), form)
    assert response.status_code == 302, response.context["form"].errors
    request = EvictionRequest.objects.get()
    assert request.targets == [
        {"namespace": "monitoring", "name": "prometheus-0"},
        {"namespace": "shop", "selector": "app=web"},
    ]
    assert request.options["ignore_daemonsets"] is False  # drain options are not kept for a pods request


def test_submit_refused_by_the_plan_shows_why_and_stores_nothing(rita_client, cluster):
    form = drain_form(cluster, action="submit", force=None)
    response = rita_client.post(reverse("request-new"), form)
    assert response.status_code == 200
    assert "(use “Force: also pods without a controller”)" in " ".join(response.context["form"].non_field_errors())
    assert EvictionRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ({"reason": ""}, "reason", "Say why"),
        ({"node": "Node_2!"}, "node", "A node name is lower-case"),
        ({"node": ""}, "node", "Choose the node"),
        ({"cluster": "99999"}, "cluster", "does not exist"),
        ({"deadline_minutes": "0"}, "deadline_minutes", "greater than or equal to 1"),
        ({"pod_selector": "app in ("}, "pod_selector", "label selector"),
        ({"kind": "pods", "node": "", "targets": "just-a-name"}, "targets", "Line 1"),
        ({"kind": "pods", "node": "", "targets": ""}, "targets", "Name at least one pod"),
        ({"kind": "pods", "node": "", "targets": "Shop/web-1"}, "targets", "namespace is not a valid name"),
    ],
)
def test_bad_input_shows_field_errors_keeps_values_and_stores_nothing(rita_client, override, field, words):
    cluster = ClusterFactory(name="prod")  # never contacted: the input is refused first
    for action in ("preview", "submit"):
        form = {**drain_form(cluster, action=action), **override}
        response = rita_client.post(reverse("request-new"), form)
        assert response.status_code == 200
        errors = " ".join(response.context["form"].errors.get(field, []))
        assert words in errors, response.context["form"].errors
        assert 'value="kernel upgrade"' in response.content.decode() or override.get("reason") == ""
    assert EvictionRequest.objects.count() == 0


def test_unreachable_cluster_is_a_form_error_not_a_500(rita_client, unreachable):
    for action in ("preview", "submit"):
        response = rita_client.post(reverse("request-new"), drain_form(unreachable, action=action))
        assert response.status_code == 200
        errors = " ".join(response.context["form"].errors["cluster"])
        assert "Could not read cluster gone" in errors
        assert "refused" in errors.lower()
    assert EvictionRequest.objects.count() == 0


def test_viewer_cannot_make_requests(viewer_client, cluster):
    assert viewer_client.get(reverse("request-new")).status_code == 403
    assert viewer_client.post(reverse("request-new"), drain_form(cluster, action="submit")).status_code == 403
    assert viewer_client.get(reverse("request-nodes"), {"cluster": cluster.pk}).status_code == 403
    assert EvictionRequest.objects.count() == 0


def test_node_picker_lists_the_clusters_nodes(rita_client, cluster, unreachable):
    html = rita_client.get(reverse("request-nodes"), {"cluster": cluster.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert '<datalist id="node-options">' in html
    for node in ("node-1", "node-2", "node-3"):
        assert f'<option value="{node}">' in html
    html = rita_client.get(reverse("request-nodes"), {"cluster": unreachable.pk}).content.decode()
    assert "Could not read the nodes of gone" in html
    assert rita_client.get(reverse("request-nodes")).status_code == 200  # no cluster chosen yet


def test_pod_picker_finds_live_pods_with_add_buttons(rita_client, cluster):
    html = rita_client.get(reverse("request-pods"), {"cluster": cluster.pk, "q": "prom"}).content.decode()
    assert 'data-add-target="monitoring/prometheus-0"' in html
    assert "checkout" not in html
    html = rita_client.get(reverse("request-pods"), {"cluster": cluster.pk, "q": "payments/"}).content.decode()
    assert html.count("data-add-target=") == 2
    html = rita_client.get(reverse("request-pods"), {"q": "x"}).content.decode()
    assert "Choose a cluster" in html


# ---- detail --------------------------------------------------------------------------------------------------------


def test_a_request_done_with_exceptions_shows_its_own_badge_and_what_a_person_did(admin_client, alice):
    request = make_request(
        ClusterFactory(name="prod"),
        alice,
        status="done_with_exceptions",
        status_reason="1 skipped, 2 deleted directly; 2 pod(s) evicted.",
        finished_at=timezone.now(),
    )
    make_request(ClusterFactory(name="staging"), alice, status=RequestStatus.SUCCEEDED, finished_at=timezone.now())
    for name in ("web-1", "web-2"):
        make_pod(request, name, status=PodStatus.EVICTED)
    for name in ("web-3", "web-4"):
        make_pod(request, name, status=PodStatus.DELETED)
    make_pod(request, "web-5", status=PodStatus.SKIPPED, skipped_by="olga")
    make_pod(request, "kube-proxy-x", status=PodStatus.SKIPPED)  # by the drain rules: not an exception

    html = admin_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert '<span class="badge badge-amber" id="request-status">Done with exceptions</span>' in html
    assert "1 skipped, 2 deleted directly; 2 pod(s) evicted." in html
    progress = html[html.index('id="request-progress"') :]
    progress = " ".join(strip_tags(progress[: progress.index("</dd>")]).split())
    assert progress.endswith("evicted 2 of 4, 2 deleted directly; 2 skipped (1 by a person)")

    listed = admin_client.get(reverse("requests"), {"status": "done_with_exceptions"})
    assert [r.pk for r, _ in listed.context["rows"]] == [request.pk]
    assert "Done with exceptions" in listed.content.decode()


def test_a_blocked_pods_row_shows_one_set_of_budget_numbers_with_their_time(operator_client, alice, monkeypatch):
    """The 429 said "needs 3 healthy pods and has 2"; the budget watcher then read 3 healthy of 3 (allowing none): the
    row says the budget's numbers once, as the watcher read them, with when, in the cluster's terms."""
    from clusters.kubetypes import Answer, Cause, Pdb
    from evictions.outcomes import decide
    from evictions.services import pods as pod_services

    monkeypatch.setattr(pod_services, "after_commit", lambda *args, **kwargs: None)
    request = make_request(ClusterFactory(name="prod"), alice)
    pod = make_pod(request, "search-0", namespace="search")
    token = timezone.now() + timedelta(seconds=30)
    PodEviction.objects.filter(pk=pod.pk).update(claimed_until=token)
    cause = Cause("DisruptionBudget", "The disruption budget search-pdb needs 3 healthy pods and has 2 currently")
    answer = Answer(
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", (cause,)
    )
    claimed = PodEviction.objects.select_related("request__cluster").get(pk=pod.pk)
    outcome = decide(answer, attempt=1, namespace="search")
    pod_services._record(claimed=claimed, answer=answer, outcome=outcome, at=timezone.now(), token=token)
    budget = Pdb("search", "search-pdb", "u", None, "3", None, 0, 3, 3, 3, 1, 1)  # allowed 0, healthy 3 of 3
    assert pod_services.budgets_seen(request.cluster_id, [budget]) == 1
    pod.refresh_from_db()

    html = operator_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    row = html[html.index(f'<tr id="pod-{pod.pk}"') :]
    row = " ".join(strip_tags(row[: row.index("</tr>")]).split())
    said = (
        "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 3, so evicting one would leave 2 "
        f"(as of {pod.budget_seen_at:%H:%M:%S} UTC)"
    )
    assert said in row
    assert row.count("has ") == 1, row  # no second set of numbers in the note or the last answer
    why = html[html.index('id="why-blocked"') : html.index("<h2>Pods</h2>")]
    assert said in " ".join(strip_tags(why).split())


def test_detail_shows_pods_attempt_logs_and_progress_in_bounded_queries(
    operator_client, alice, django_assert_max_num_queries
):
    request = make_request(ClusterFactory(name="prod"), alice)
    for i in range(25):
        pod = make_pod(request, f"web-{i}", status=PodStatus.EVICTED if i < 10 else PodStatus.PENDING, attempts=2)
        make_attempt(pod)
        make_attempt(pod, http_status=201, reason="", message="", outcome="terminating")
    with django_assert_max_num_queries(13):  # the pod table's ids, then the timeline's rows as plain tuples
        response = operator_client.get(reverse("request-detail", args=[request.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<progress max="25" value="10">' in html
    assert "evicted 10 of 25" in html
    assert html.count("<details") == 25
    assert "Cannot evict pod" in html
    assert 'hx-trigger="every 2s"' in html  # active: refreshes itself


def test_a_big_request_lists_the_pods_needing_attention_first_and_links_to_all(
    operator_client, alice, django_assert_max_num_queries
):
    from evictions.selectors import POD_TABLE_LIMIT

    request = make_request(ClusterFactory(name="prod"), alice)
    total = POD_TABLE_LIMIT + 20
    for i in range(total):
        status = PodStatus.NEEDS_INTERVENTION if i == total - 1 else PodStatus.EVICTED
        make_attempt(make_pod(request, f"web-{i:03d}", status=status, attempts=1))
    with django_assert_max_num_queries(14):
        html = operator_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert html.count('<tr id="pod-') == POD_TABLE_LIMIT
    first_row = html.index('<tr id="pod-')
    assert f'data-pod="shop/web-{total - 1:03d}"' in html[first_row : first_row + 80], "the stuck pod comes first"
    assert f"of {total}" in html and "?pods=all" in html
    everything = operator_client.get(reverse("request-detail", args=[request.pk]) + "?pods=all").content.decode()
    assert everything.count('<tr id="pod-') == total


def test_live_partial_refreshes_while_active_and_stops_when_finished(viewer_client, alice):
    request = make_request(ClusterFactory(name="prod"), alice)
    make_pod(request, "web-1")
    url = reverse("request-detail", args=[request.pk])
    partial = viewer_client.get(url, {"k": "running.0"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.templates[0].name == "evictions/_request_live.html"
    assert html.startswith('<div id="request-live"') and 'hx-trigger="every 2s"' in html
    assert "hx-swap-oob" not in html  # the buttons did not change
    EvictionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.SUCCEEDED, finished_at=timezone.now())
    html = viewer_client.get(url, {"k": "running.0"}, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html.split(">", 1)[0]  # finished: no more polling
    assert 'id="request-actions" class="request-actions" hx-swap-oob="true"' in html
    assert "Succeeded" in html


def test_detail_explains_a_block_from_the_cluster(viewer_client, alice, cluster, fresh_sim):
    request = make_request(cluster, alice)
    make_pod(
        request,
        "web-6d4b9c7f5d-1",
        status=PodStatus.BLOCKED,
        blocking_pdb="shop/web-pdb",
        budget_needs=2,
        budget_has=1,
        blocked_since=timezone.now() - timedelta(seconds=130),
        next_attempt_at=timezone.now() + timedelta(seconds=5),
        attempts=3,
    )
    html = viewer_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "Why is it blocked?" in html
    said = "shop/web-pdb allows 0 disruptions: it needs 2 healthy pods and has 1, 1 short"
    assert f"{said}</span> — blocked for 2m" in html
    # One set of numbers (the pod's, from its 429 or the budget watcher); the live read adds only what it sees.
    assert "healthy 3, desired 2" not in html
    assert "the next retry should go through" in html

    # One of the budget's pods turns unready: the panel names it, with its node.
    web = min((p for p in fresh_sim.state()["pods"] if p["namespace"] == "shop"), key=lambda p: p["name"])
    fresh_sim.set_pod("shop", web["name"], ready=False)
    fresh_sim.reconcile()
    cache.clear()  # the page re-reads the cluster at most every EXPLANATION_CACHE_SECONDS; skip that wait
    html = viewer_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "Not Ready behind it:" in html
    assert f"{web['name']} on {web['node']}: Running, not Ready" in html


def test_why_blocked_says_when_the_cluster_cannot_be_read(viewer_client, alice, unreachable):
    request = make_request(unreachable, alice)
    make_pod(request, "web-1", status=PodStatus.BLOCKED, blocking_pdb="shop/web-pdb", budget_needs=2, budget_has=1)
    response = viewer_client.get(reverse("request-detail", args=[request.pk]))
    assert response.status_code == 200
    assert "Could not read the cluster" in response.content.decode()


def test_unknown_request_is_404(viewer_client):
    assert viewer_client.get(reverse("request-detail", args=[424242])).status_code == 404


def test_cluster_values_are_escaped(viewer_client, alice):
    request = make_request(ClusterFactory(name="prod"), alice, status=RequestStatus.NEEDS_INTERVENTION)
    request.status_reason = "<b>boom</b>"
    request.save()
    pod = make_pod(
        request,
        "web-1",
        status=PodStatus.NEEDS_INTERVENTION,
        note="<script>alert('note')</script>",
        blocking_pdb="shop/<i>pdb</i>",
    )
    make_attempt(pod, message='<img src=x onerror="alert(1)">', reason="<u>r</u>", budget="<em>b</em>")
    html = viewer_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    for raw in ("<script>alert", "<img src=x", "<u>r</u>", "<em>b</em>", "<b>boom</b>", "<i>pdb</i>"):
        assert raw not in html
    assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_buttons_only_for_those_allowed(viewer_client, operator_client, alice):
    request = make_request(ClusterFactory(name="prod"), alice)
    make_pod(request, "web-1", status=PodStatus.BLOCKED)
    url = reverse("request-detail", args=[request.pk])
    viewer = viewer_client.get(url).content.decode()
    for words in ("Pause request", "Cancel request", "Retry now", "Delete directly", "Pause cluster"):
        assert words not in viewer
    operator = operator_client.get(url).content.decode()
    for words in ("Pause request", "Cancel request", "Extend deadline", "Retry now", "Skip", "Delete directly"):
        assert words in operator
    assert "Pause cluster prod" in operator


# ---- interventions -------------------------------------------------------------------------------------------------


@pytest.fixture
def running(alice):
    request = make_request(ClusterFactory(name="prod"), alice)
    make_pod(request, "web-1", status=PodStatus.BLOCKED, blocking_pdb="", next_attempt_at=timezone.now())
    make_pod(request, "web-2", status=PodStatus.NEEDS_INTERVENTION)
    return request


def post(client, name, pk, data=None, htmx=False):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse(name, args=[pk]), data or {}, **headers)


def test_operator_pauses_resumes_extends_and_cancels(operator_client, running):
    pk = running.pk
    response = post(operator_client, "request-pause", pk, {"reason": ""})
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.status == RequestStatus.RUNNING  # no reason, no pause
    followed = operator_client.get(response["Location"]).content.decode()
    assert "Give a reason" in followed

    response = post(operator_client, "request-pause", pk, {"reason": "investigating"}, htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="request-live"')
    assert "Request paused" in html and "Resume request" in html  # message and new buttons (out of band)
    running.refresh_from_db()
    assert running.status == RequestStatus.PAUSED

    post(operator_client, "request-resume", pk, {"reason": ""})
    running.refresh_from_db()
    assert running.status == RequestStatus.NEEDS_INTERVENTION  # resumed, and a pod still needs a person

    before = running.deadline_at
    post(operator_client, "request-extend", pk, {"minutes": "15", "reason": "owners asked"})
    running.refresh_from_db()
    assert running.deadline_at >= before + timedelta(minutes=15)

    response = post(operator_client, "request-extend", pk, {"minutes": "abc"}, htmx=True)
    assert "whole number of minutes" in response.content.decode()

    post(operator_client, "request-cancel", pk, {"reason": "not today", "uncordon": "on"})
    running.refresh_from_db()
    assert running.status == RequestStatus.CANCELLED
    assert set(running.pods.values_list("status", flat=True)) == {PodStatus.CANCELLED}

    # A finished request cannot be paused: a message, not a 500.
    response = post(operator_client, "request-pause", pk, {"reason": "late"}, htmx=True)
    assert response.status_code == 200
    assert "cannot be paused" in response.content.decode()


def test_operator_retries_and_skips_a_pod(operator_client, running):
    stuck = running.pods.get(name="web-2")
    response = post(operator_client, "pod-retry", stuck.pk, htmx=True)
    assert response.status_code == 200
    stuck.refresh_from_db()
    assert stuck.status == PodStatus.PENDING
    assert "Retrying shop/web-2 now" in response.content.decode()

    page = operator_client.get(reverse("pod-skip", args=[stuck.pk]))
    assert page.status_code == 200 and "Skip <code>shop/web-2</code>?" in page.content.decode()
    response = post(operator_client, "pod-skip", stuck.pk, {"reason": ""})
    assert response.status_code == 200
    assert "Give a reason" in " ".join(response.context["form"].errors["reason"])
    response = post(operator_client, "pod-skip", stuck.pk, {"reason": "owner moves it"})
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.status == PodStatus.SKIPPED


def test_operator_retries_every_waiting_pod_of_a_request(operator_client, running):
    stuck = running.pods.get(name="web-2")
    PodEviction.objects.filter(pk=stuck.pk).update(status=PodStatus.NEEDS_INTERVENTION, next_attempt_at=None)
    response = post(operator_client, "request-retry", running.pk, {"reason": "replacement is up"}, htmx=True)
    assert response.status_code == 200
    stuck.refresh_from_db()
    assert stuck.status == PodStatus.PENDING and stuck.next_attempt_at is not None
    assert "being tried again now" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("request-pause", {"reason": "x"}),
        ("request-resume", {}),
        ("request-cancel", {"reason": "x"}),
        ("request-extend", {"minutes": "5"}),
        ("request-retry", {}),
        ("pod-retry", {}),
        ("pod-skip", {"reason": "x"}),
        ("pod-force-delete", {"reason": "x", "confirm_name": "web-2"}),
        ("cluster-pause", {"reason": "x"}),
        ("cluster-resume", {}),
    ],
)
def test_viewer_and_requester_get_403_on_interventions(viewer_client, rita_client, running, name, data):
    stuck = running.pods.get(name="web-2")
    pk = {"request": running.pk, "pod": stuck.pk, "cluster": running.cluster_id}[name.split("-")[0]]
    for client in (viewer_client, rita_client):
        assert post(client, name, pk, data).status_code == 403
    running.refresh_from_db()
    stuck.refresh_from_db()
    assert running.status == RequestStatus.RUNNING
    assert stuck.status == PodStatus.NEEDS_INTERVENTION
    assert not Cluster.objects.get(pk=running.cluster_id).paused


def test_force_delete_needs_the_typed_name_then_deletes_through_the_cluster(operator_client, rita, cluster, fresh_sim):
    request = request_create(
        actor=rita,
        data=RequestInput(
            cluster=cluster, kind="pods", reason="move it", targets=(PodTarget("monitoring", "prometheus-0"),)
        ),
    )
    request_start(request_id=request.pk)  # the pod rows, as the worker makes them (no worker runs here)
    pod = PodEviction.objects.get(request=request)
    url = reverse("pod-force-delete", args=[pod.pk])
    page = operator_client.get(url).content.decode()
    assert "Type <b>prometheus-0</b> to confirm" in page

    response = operator_client.post(
        url, {"confirm_name": "prometheus", "reason": "two PDBs", "grace_period_seconds": 0}
    )
    assert response.status_code == 200
    assert "Type the pod&#x27;s name (prometheus-0) to confirm." in response.content.decode()
    response = operator_client.post(url, {"confirm_name": "prometheus-0", "reason": "", "grace_period_seconds": 0})
    assert "Give a reason" in response.content.decode()
    response = operator_client.post(url, {"confirm_name": "prometheus-0", "reason": "x", "grace_period_seconds": -1})
    assert response.status_code == 200 and "greater than or equal to 0" in response.content.decode()
    pod.refresh_from_db()
    assert pod.status == PodStatus.PENDING and not pod.attempt_log.exists()
    assert any(p["name"] == "prometheus-0" and not p["terminating"] for p in fresh_sim.state()["pods"])

    response = operator_client.post(
        url, {"confirm_name": "prometheus-0", "reason": "two PDBs, agreed", "grace_period_seconds": 0}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("request-detail", args=[request.pk])
    pod.refresh_from_db()
    assert pod.status in (PodStatus.TERMINATING, PodStatus.DELETED)
    assert pod.attempt_log.get().kind == "delete"
    detail = operator_client.get(response["Location"]).content.decode()
    assert "deleted directly" in detail


def test_requester_cannot_force_delete(rita_client, running):
    stuck = running.pods.get(name="web-2")
    assert rita_client.get(reverse("pod-force-delete", args=[stuck.pk])).status_code == 403


def test_operator_pauses_and_resumes_the_cluster_and_returns_to_the_page(operator_client, running):
    back = reverse("request-detail", args=[running.pk])
    response = post(operator_client, "cluster-pause", running.cluster_id, {"reason": "incident", "next": back})
    assert response["Location"] == back
    assert Cluster.objects.get(pk=running.cluster_id).paused
    html = operator_client.get(back).content.decode()
    assert "is paused: incident" in html and "Resume cluster prod" in html

    response = post(operator_client, "cluster-resume", running.cluster_id, {"next": "https://evil.example/"})
    assert response["Location"] == reverse("cluster-detail", args=[running.cluster_id])  # no open redirect
    assert not Cluster.objects.get(pk=running.cluster_id).paused
    response = post(operator_client, "cluster-pause", running.cluster_id, {"reason": ""})
    assert not Cluster.objects.get(pk=running.cluster_id).paused


def test_requesters_see_only_what_they_may_do(rita, alice):
    request = make_request(ClusterFactory(name="prod"), alice)
    make_pod(request, "web-1", status=PodStatus.BLOCKED)
    html = signed_in(rita).get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "Retry now" not in html and "Step in" not in html
    approver = UserFactory(username="adam2", roles=["approver"])
    assert signed_in(approver).get(reverse("request-detail", args=[request.pk])).status_code == 200


def test_cluster_pause_include_for_the_cluster_page(rf, olga, vera):
    from django.template.loader import render_to_string

    cluster = ClusterFactory(name="prod")
    request = rf.get(f"/clusters/{cluster.pk}/")
    request.user = olga
    html = render_to_string("evictions/_cluster_pause.html", {"cluster": cluster}, request=request)
    assert reverse("cluster-pause", args=[cluster.pk]) in html
    assert f'name="next" value="/clusters/{cluster.pk}/"' in html
    request.user = vera
    assert render_to_string("evictions/_cluster_pause.html", {"cluster": cluster}, request=request).strip() == ""
