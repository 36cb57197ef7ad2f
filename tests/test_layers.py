"""Imports point one way, down the layers of docs/ARCHITECTURE.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["patrol", "missions", "flight_logs", "telemetry", "vision", "web"]
# The composition root (the command line: patrol/cli.py and its patrol/cli_*.py command
# modules, the demo, the migration environment) wires the packages together and may import any.
COMPOSITION_ROOT = {"patrol/demo.py", "patrol/migrations/env.py"}


def _is_composition_root(rel: str) -> bool:
    return rel in COMPOSITION_ROOT or (rel.startswith("patrol/cli") and rel.count("/") == 1)


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
        if _is_composition_root(rel):
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
