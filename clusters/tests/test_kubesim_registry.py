"""The cluster registry against kubesim over real HTTPS: import its kubeconfig, check it, notice a rotated token,
and learn the eviction API version of an old cluster."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.services import System
from clusters import services
from clusters.models import Cluster
from kubesim import Simulator


@pytest.fixture
def demo():
    with Simulator(scenario="minimal") as sim:
        yield sim


@pytest.mark.django_db
def test_cluster_import_reads_kubesims_kubeconfig_and_checks_it(demo, tmp_path, capsys):
    path = tmp_path / "kubeconfig"
    demo.write_kubeconfig(path)
    call_command("cluster_import", "--kubeconfig", str(path), "--name", "sim")
    out = capsys.readouterr().out
    assert "Registered cluster 'sim'" in out and "Reachable: Kubernetes v1.30" in out
    cluster = Cluster.objects.get(name="sim")
    assert cluster.reachable is True and cluster.eviction_api_version == "policy/v1"
    assert cluster.credentials.token == demo.token
    paths = [entry["path"] for entry in demo.request_log()]
    assert {"/version", "/api/v1", "/apis"} <= set(paths)


@pytest.mark.django_db
def test_old_cluster_is_recorded_as_policy_v1beta1(tmp_path):
    with Simulator(scenario="minimal", version="1.20") as old:
        path = tmp_path / "kubeconfig"
        old.write_kubeconfig(path)
        call_command("cluster_import", "--kubeconfig", str(path), "--name", "old")
    cluster = Cluster.objects.get(name="old")
    assert cluster.server_version.startswith("v1.20") and cluster.eviction_api_version == "policy/v1beta1"


@pytest.mark.django_db
def test_rotated_token_shows_as_unauthorized_and_replace_fixes_it(demo, tmp_path):
    path = tmp_path / "kubeconfig"
    demo.write_kubeconfig(path)
    call_command("cluster_import", "--kubeconfig", str(path), "--name", "sim")
    cluster = Cluster.objects.get(name="sim")
    demo.rotate_token()
    result = services.cluster_check(actor=System("tick"), cluster=cluster)
    assert not result.reachable and result.error_kind == "unauthorized"
    demo.write_kubeconfig(path)
    call_command("cluster_import", "--kubeconfig", str(path), "--name", "sim", "--replace")
    cluster.refresh_from_db()
    assert cluster.reachable is True and cluster.last_error == ""


@pytest.mark.django_db
def test_import_of_a_missing_or_bad_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("cluster_import", "--kubeconfig", str(tmp_path / "absent"))
    bad = tmp_path / "bad"
    bad.write_text("users:\n- name: u\n  user:\n    exec: {command: sh}\n")
    with pytest.raises(CommandError, match="kubeconfig"):
        call_command("cluster_import", "--kubeconfig", str(bad))
    assert not Cluster.objects.exists()
