"""The real kubectl against kubesim: get, cordon and a full drain, on policy/v1 and v1beta1."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kubesim import Simulator

KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (looked on PATH and /usr/bin)"),
]


def kubectl(kubeconfig: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(params=["1.30", "1.20"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path):
    with Simulator(scenario="demo", version=request.param, time_scale=10) as sim:
        yield sim, sim.write_kubeconfig(tmp_path / "kubeconfig")


def test_get_pods_all_namespaces_prints_a_table(cluster) -> None:
    _sim, kc = cluster
    result = kubectl(kc, "get", "pods", "-A")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["NAMESPACE", "NAME", "READY", "STATUS"]
    assert "prometheus-0" in result.stdout and "Completed" in result.stdout
    pdbs = kubectl(kc, "get", "pdb", "-A")
    assert pdbs.returncode == 0 and "web-pdb" in pdbs.stdout, pdbs.stderr


def test_cordon_and_uncordon(cluster) -> None:
    sim, kc = cluster
    assert kubectl(kc, "cordon", "node-3").returncode == 0
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-3"] == [True]
    assert "SchedulingDisabled" in kubectl(kc, "get", "nodes").stdout
    assert kubectl(kc, "uncordon", "node-3").returncode == 0
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-3"] == [False]


def test_drain_evicts_everything_after_pdb_pushback(cluster) -> None:
    sim, kc = cluster
    started = time.monotonic()
    result = kubectl(
        kc, "drain", "node-2", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=45s", timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node/node-2 drained" in result.stdout
    assert time.monotonic() - started < 45
    left = {p["name"] for p in sim.state()["pods"] if p["node"] == "node-2"}
    assert all(name.startswith("kube-proxy-") for name in left), left  # only the DaemonSet pod

    evictions = [r for r in sim.request_log() if r["path"].endswith("/eviction")]
    web = [r for r in evictions if "/namespaces/shop/" in r["path"]]
    blocked = [r for r in web if r["status"] == 429]
    assert blocked, "the PDB-protected web pod should have been pushed back first"
    last_blocked_path = blocked[-1]["path"]
    later = web[web.index(blocked[-1]) + 1 :]
    assert any(r["path"] == last_blocked_path and r["status"] == 201 for r in later)
    assert {r["status"] for r in evictions} <= {201, 429}
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-2"] == [True]
