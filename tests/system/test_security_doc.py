"""SECURITY.md names a test for every promise, and every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`((?:tests|bench)/[\w/]+\.py)(?:::(\w+))?`")


def promises() -> list[str]:
    """The rows of SECURITY.md's promise tables (header and separator rows left out)."""
    rows = [
        line
        for line in (ROOT / "SECURITY.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("|")
    ]
    return [row for row in rows if not row.startswith(("| Promise", "| ---"))]


def test_every_promise_names_a_test_or_script() -> None:
    rows = promises()
    assert len(rows) >= 20
    unproved = [row[:80] for row in rows if not REFERENCE.search(row.rsplit("|", 2)[-2])]
    assert not unproved


def test_every_named_test_exists() -> None:
    missing = []
    for file, name in REFERENCE.findall((ROOT / "SECURITY.md").read_text(encoding="utf-8")):
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
            continue
        if name:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            if name not in defined:
                missing.append(f"{file}::{name}")
    assert not missing
