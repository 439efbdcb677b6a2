"""What a wheel ships: every package of the code, the web files, the corpus and the evaluation sets."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    code = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "assistant").rglob("__init__.py")
    }
    assert code <= listed, sorted(code - listed)
    assert {"assistant.web.site", "assistant.corpus", "assistant.eval"} <= listed


def test_evaluation_sets_are_found_through_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (Settings().eval_dir / "praxisfragen.jsonl").is_file()
    assert (Settings().eval_dir / "blind" / "fragen.jsonl").is_file()
    monkeypatch.setenv("ASSISTANT_EVAL_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_XQUAD", str(tmp_path / "xquad.json"))
    settings = Settings()
    assert settings.eval_dir == tmp_path and settings.xquad == tmp_path / "xquad.json"
