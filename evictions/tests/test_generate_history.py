"""generate_history: the asked-for numbers of rows, a request with the big number of pods, and an audit chain that
verifies and continues the existing one."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count

from audit.chain import GENESIS_HASH, verify
from audit.models import AuditChainHead, AuditEvent
from audit.services import System, audit_record
from evictions.models import Approval, EvictionAttempt, EvictionRequest, PodEviction


def generate(**options: int) -> str:
    out = io.StringIO()
    call_command("generate_history", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_generates_the_numbers_asked_for_with_a_chain_that_verifies():
    from django.db import transaction

    with transaction.atomic():  # an event from before: the generated chain must continue from it
        audit_record(actor=System("test"), action="test.before")

    output = generate(requests=300, pods=3000, audit=2500, big_request=800, users=6, clusters=3)

    assert EvictionRequest.objects.count() == 300
    assert PodEviction.objects.count() == 3000
    assert AuditEvent.objects.count() == 2501
    sizes = EvictionRequest.objects.annotate(n=Count("pods")).order_by("-n").values_list("n", flat=True)
    assert sizes[0] == 800
    assert EvictionRequest.objects.values("cluster").distinct().count() == 3
    assert EvictionRequest.objects.values("status").distinct().count() >= 3
    codes = set(EvictionAttempt.objects.values_list("http_status", flat=True).distinct())
    assert {201, 429} <= codes
    assert Approval.objects.exists()
    # Every event names an object that exists, and the chain verifies from the genesis to the moved head.
    pod_ids = set(
        AuditEvent.objects.filter(object_type="evictions.podeviction").values_list("object_id", flat=True)[:200]
    )
    assert PodEviction.objects.filter(pk__in=[int(pk) for pk in pod_ids]).count() == len(pod_ids)
    result = verify(
        settings.AUDIT_HMAC_KEY, AuditEvent.objects.order_by("sequence").iterator(), start_hash=GENESIS_HASH
    )
    assert result.ok, result.problem
    assert result.checked == 2501
    head = AuditChainHead.objects.get(pk=1)
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last is not None
    assert (head.last_sequence, head.last_hash) == (last.sequence, last.hash)
    assert "audit events" in output

    # Recording after the generated history appends to the same chain.
    with transaction.atomic():
        audit_record(actor=System("test"), action="test.after")
    assert verify(
        settings.AUDIT_HMAC_KEY, AuditEvent.objects.order_by("sequence").iterator(), start_hash=GENESIS_HASH
    ).ok


@pytest.mark.django_db(transaction=True)
def test_a_second_run_adds_to_the_first():
    generate(requests=20, pods=100, audit=50, big_request=30, users=3, clusters=2)
    generate(requests=20, pods=100, audit=50, big_request=30, users=3, clusters=2, seed=7)
    assert EvictionRequest.objects.count() == 40
    assert PodEviction.objects.count() == 200
    assert AuditEvent.objects.count() == 100
    # New rows through the ORM take ids after the generated ones.
    request = EvictionRequest.objects.order_by("pk").first()
    assert request is not None
    pod = PodEviction.objects.create(request=request, namespace="x", name="y", uid="z")
    assert pod.pk > 200 - 1
