"""`manage.py demo_setup` (run by `make run` after registering the demo cluster): an approver to try the approval
flow with, and a one-approval policy on the demo cluster; idempotent; passwords handled as the admin's."""

from __future__ import annotations

import re
import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from evictions.models import ApprovalPolicy
from evictions.services.approvals import approver_allowed, policy_for
from tests.factories import ClusterFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return ClusterFactory(name="demo")


def run(**options) -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out, **options)
    return out.getvalue()


def test_creates_an_approver_and_a_one_approval_policy_on_the_demo_cluster(demo, settings, monkeypatch):
    settings.DEBUG = True  # `make run`
    monkeypatch.delenv("DRAINBOARD_APPROVER_PASSWORD", raising=False)
    output = run()
    shown = re.search(r"Created user 'approver' with password: (\S+)", output)
    assert shown, output
    approver = get_user_model().objects.get(username="approver")
    assert approver.check_password(shown.group(1))
    assert set(approver.groups.values_list("name", flat=True)) == {"approver"}
    policy = policy_for(demo.pk)
    assert policy.cluster_id == demo.pk and policy.required_approvals == 1
    assert AuditEvent.objects.filter(action="user.create", object_id=str(approver.pk)).exists()
    assert AuditEvent.objects.filter(action="policy.update", cluster_id=demo.pk).exists()
    # The approval flow can be tried at once: the admin asks, the approver may approve.
    admin = UserFactory(username="admin", roles=["admin"])
    assert approver_allowed(approver, policy) and admin.has_perm("evictions.add_evictionrequest")


def test_run_again_changes_nothing(demo, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setenv("DRAINBOARD_APPROVER_PASSWORD", "approver-demo-password-1")
    run()
    ApprovalPolicy.objects.filter(cluster=demo).update(required_approvals=2)  # changed by someone since
    output = run()
    assert "exists; its password is unchanged" in output and "unchanged" in output.splitlines()[-1]
    assert get_user_model().objects.get(username="approver").check_password("approver-demo-password-1")
    assert policy_for(demo.pk).required_approvals == 2
    assert AuditEvent.objects.filter(action="user.create").count() == 1


def test_the_approver_password_from_the_environment_is_not_printed(demo, monkeypatch):
    monkeypatch.setenv("DRAINBOARD_APPROVER_PASSWORD", "approver-demo-password-1")
    output = run()
    assert "approver-demo-password-1" not in output and "DRAINBOARD_APPROVER_PASSWORD" in output


def test_without_debug_the_generated_password_goes_to_a_private_file(demo, settings, monkeypatch, tmp_path):
    settings.DEBUG = False
    settings.ADMIN_PASSWORD_FILE = tmp_path / "admin-password"
    monkeypatch.delenv("DRAINBOARD_APPROVER_PASSWORD", raising=False)
    output = run()
    path = tmp_path / "approver-password"
    password = path.read_text().strip()
    assert password not in output and str(path) in output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_user_model().objects.get(username="approver").check_password(password)


def test_needs_the_demo_cluster(db):
    with pytest.raises(CommandError, match="no cluster named 'demo'"):
        run()
