#!/usr/bin/env python3
"""`make lint`: no module of the apps imports another module's _private names (import-linter cannot see names).

A shared helper is a public name in the module that owns it. Tests and migrations may reach in; app code may not.
Prints each offence as path:line and exits 1 when there is one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

APPS = ("core", "audit", "accounts", "clusters", "evictions", "rollouts", "notifications", "config")
SKIP = {"tests", "migrations", "__pycache__"}


def module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_of(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def offences(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if SKIP & set(path.relative_to(root).parts) or path.name.startswith("test_"):
                continue
            module = module_of(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom):
                    continue
                source = source_of(node, module, path.name == "__init__.py")
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and source != module:
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {alias.name} from {source}")
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    found = offences(root)
    for line in found:
        print(line)
    print(f"private-name imports: {len(found)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
