"""Imports point one way, down the layers of docs/ARCHITECTURE.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["patrol", "missions", "flight_logs", "telemetry", "vision", "web"]
# The composition root wires the packages together and may import any of them.
COMPOSITION_ROOT = {"patrol/cli.py", "patrol/cli_plan.py", "patrol/demo.py", "patrol/migrations/env.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", LAYERS)
def test_packages_import_only_layers_below(package):
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = []
    for path in sorted((REPO / package).rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in COMPOSITION_ROOT:
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if rank.get(top, -1) > rank[package]:
                upward.append(f"{rel} imports {name}")
    assert not upward


def test_missions_uses_no_mavlink_link_code():
    offending = [f"{p.relative_to(REPO)} imports {n}" for p in (REPO / "missions").rglob("*.py")
                 for n in _imports(p) if n.startswith("pymavlink") and not n.startswith("pymavlink.dialects")]
    assert not offending
