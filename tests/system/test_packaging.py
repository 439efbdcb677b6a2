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


@pytest.mark.slow
def test_an_installed_wheel_finds_its_web_files_corpus_and_evaluation_sets(tmp_path: Path) -> None:
    """The wheel built from the tracked files, unpacked as pip installs it and imported from there
    (not from this checkout): code of every stage, templates, static files, corpus and evaluation sets."""
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    installed = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = """
import assistant, assistant.cli, assistant.web.app
from assistant.config import Settings
s = Settings()
print(assistant.__file__)
print((s.web_dir / "templates" / "base.html").is_file(), (s.web_dir / "static" / "app.js").is_file())
print(len(list(s.corpus_dir.glob("*.md"))), (s.eval_dir / "blind" / "fragen.jsonl").is_file())
"""
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(installed), "HOME": str(tmp_path)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    assert out[0] == str(installed / "assistant" / "__init__.py")
    assert out[1] == "True True"
    corpus_files, eval_found = out[2].split()
    assert int(corpus_files) == len(list((ROOT / "corpus").glob("*.md"))) > 0 and eval_found == "True"
