"""`python -m kubesim`: listens, writes a working kubeconfig, stops on SIGTERM."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_cli_serves_https_and_writes_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "var" / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "--scenario",
            "minimal",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--version",
            "1.20",
            "--time-scale",
            "5",
            "--token",
            "s3cret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("kubesim listening on https://127.0.0.1:") and f"kubeconfig={kubeconfig}" in line
        url = line.split()[3]
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "minimal"
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == url
        assert config["users"][0]["user"]["token"] == "s3cret"
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        # Verify the certificate against the CA for the name "localhost" as well as the IP.
        for host in ("127.0.0.1", "localhost"):
            ctx = ssl.create_default_context(cadata=ca)
            conn = http.client.HTTPSConnection(host, int(url.rsplit(":", 1)[1]), context=ctx, timeout=5)
            conn.request("GET", "/version", headers={"Authorization": "Bearer s3cret"})
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["gitVersion"] == "v1.20.0"
            conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_cli_rejects_unknown_scenarios(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubesim",
            "--scenario",
            "nope",
            "--port",
            "0",
            "--kubeconfig-out",
            str(tmp_path / "kc"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2 and "unknown scenario" in result.stderr
