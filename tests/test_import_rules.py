"""scripts/check_private_imports.py, which `make lint` runs: it finds a private name imported across modules, and
the apps have none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_private_imports.py"


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)


def test_a_private_name_imported_from_another_module_is_an_offence(tmp_path):
    app = tmp_path / "evictions"
    (app / "services").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "services" / "__init__.py").write_text("")
    (app / "services" / "requests.py").write_text("def _locked(pk):\n    return pk\n")
    (app / "services" / "pods.py").write_text("from evictions.services.requests import _locked\n")
    (app / "services" / "windows.py").write_text("from .requests import _locked as lock\n")
    (app / "tests").mkdir()
    (app / "tests" / "test_x.py").write_text("from evictions.services.requests import _locked\n")  # tests may
    result = run(tmp_path)
    assert result.returncode == 1
    assert "evictions/services/pods.py:1: _locked from evictions.services.requests" in result.stdout
    assert "evictions/services/windows.py:1: _locked from evictions.services.requests" in result.stdout
    assert "tests" not in result.stdout


def test_the_apps_import_no_private_name_from_another_module():
    result = run(ROOT)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("private-name imports: 0")
