"""Building releases: the fallback model, atomic publishing, interrupted and failed builds."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.build import build_index
from assistant.config import Settings, bundled_dir
from assistant.embed.choice import STATIC_MODEL_NAME
from assistant.errors import BuildError, ReleaseError
from assistant.index.folder.releases import current_build_id, load_release
from assistant.service import open_assistant


def test_offline_default_model_falls_back_to_a_static_model_with_a_warning(
    tmp_path: Path, fixture_corpus: Path
) -> None:
    warnings: list[str] = []
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path, offline_model=False)
    report = build_index(settings, warn=warnings.append)
    assert report.fallback and report.model == STATIC_MODEL_NAME
    assert len(warnings) == 1 and "intfloat/multilingual-e5-small" in warnings[0]
    release = load_release(tmp_path)
    assert (release.path / "model" / "modules.json").is_file()  # the release carries its own model
    assert (
        open_assistant(settings).ask("Was ist ein Quartiersfonds?").hits[0].passage.citation.section
        == "Der Quartiersfonds"
    )


def test_explicit_model_that_cannot_load_fails_instead_of_falling_back(
    tmp_path: Path, fixture_corpus: Path
) -> None:
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path, model="intfloat/multilingual-e5-small")
    with pytest.raises(BuildError, match="Modell nicht verfügbar"):
        build_index(settings)
    assert current_build_id(tmp_path) is None
    assert not any((tmp_path / "releases").iterdir())


def test_manifest_describes_the_release(fixture_release: Settings, tiny_model: Path) -> None:
    release = load_release(fixture_release.index_dir)
    manifest = release.manifest
    assert manifest.model == str(tiny_model)
    assert manifest.passage_count == len(release.passages) == release.index.ntotal > 0
    assert manifest.dimension == release.index.d
    assert len(manifest.corpus_hash) == 64 and manifest.build_id == current_build_id(
        fixture_release.index_dir
    )
    assert manifest.facts.documents == 2 and manifest.built_at and manifest.facts.build_seconds > 0


def test_failed_build_leaves_the_served_release_untouched(
    index_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = current_build_id(index_copy.index_dir)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while embedding")

    monkeypatch.setattr("assistant.embed.models.Embedder.encode_documents", explode)
    with pytest.raises(RuntimeError):
        build_index(index_copy, full=True)  # full: the cache would spare the (crashing) encoder
    assert current_build_id(index_copy.index_dir) == before
    assert not list((index_copy.index_dir / "releases").glob(".tmp-*"))
    assert open_assistant(index_copy).ask("Was ist ein Quartiersfonds?").hits


@pytest.mark.slow
def test_killed_build_leaves_the_served_release_intact(index_copy: Settings, tmp_path: Path) -> None:
    """SIGKILL a real `assistant build` process once it has started writing, then serve as before."""
    before = current_build_id(index_copy.index_dir)
    releases = index_copy.index_dir / "releases"
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(index_copy.index_dir),
        "ASSISTANT_CORPUS_DIR": str(index_copy.corpus_dir),
        "ASSISTANT_MODEL": str(index_copy.model),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "build"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(releases.glob(".tmp-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the build finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert current_build_id(index_copy.index_dir) == before
    assistant = open_assistant(index_copy)
    assert assistant.build_id == before and assistant.ask("Was ist ein Quartiersfonds?").hits
    # The next build cleans up what the killed one left and publishes normally.
    report = build_index(index_copy)
    assert current_build_id(index_copy.index_dir) == report.build_id != before
    assert not list(releases.glob(".tmp-*"))


def test_damaged_release_is_refused_with_a_clear_message(index_copy: Settings) -> None:
    release = load_release(index_copy.index_dir)
    with open(release.path / "passages.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "x", "text": "eingeschmuggelt", "citation": {"document": "d"}}) + "\n")
    with pytest.raises(ReleaseError, match="passages.jsonl fehlt oder ist beschädigt"):
        load_release(index_copy.index_dir)


def test_build_with_no_readable_file_publishes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leer.md").write_text("")
    warnings: list[str] = []
    with pytest.raises(BuildError, match="nichts veröffentlicht"):
        build_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), warn=warnings.append)
    assert warnings == ["übersprungen: leer.md: leer"]
    assert current_build_id(tmp_path / "index") is None


def test_old_releases_are_pruned(index_copy: Settings) -> None:
    settings = index_copy.model_copy(update={"keep_releases": 2})
    for _ in range(3):
        build_index(settings)
    kept = [p for p in (settings.index_dir / "releases").iterdir() if not p.name.startswith(".")]
    assert len(kept) == 2 and current_build_id(settings.index_dir) in {p.name for p in kept}


def test_rebuild_reuses_cached_vectors_and_reembeds_only_changed_passages(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(bundled_dir("corpus"), corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", offline_model=False)  # static
    first = build_index(settings, warn=lambda _: None)
    assert first.embedded == first.passages

    unchanged = build_index(settings, warn=lambda _: None)
    assert unchanged.embedded == 0
    assert load_release(settings.index_dir).manifest.facts.model_fingerprint == first_fingerprint(
        settings, first
    )

    # One word changed in one section: the static model still fits, one passage is embedded anew.
    edited_file = corpus / "04-verstetigung.md"
    text = edited_file.read_text(encoding="utf-8")
    assert text.count("Übergangsphase") >= 1
    edited_file.write_text(text.replace("Übergangsphase", "Übergangszeit", 1), encoding="utf-8")
    edited = build_index(settings, warn=lambda _: None)
    assert edited.embedded == 1

    # The mixed vectors equal what the model gives for every passage today.
    release = load_release(settings.index_dir)
    assistant = open_assistant(settings)
    expected = assistant.searcher.embedder.encode_documents([p.embedding_text for p in release.passages])
    stored = release.index.reconstruct_n(0, release.index.ntotal)
    assert np.allclose(stored, expected, atol=1e-5)

    full = build_index(settings, warn=lambda _: None, full=True)
    assert full.embedded == full.passages


def first_fingerprint(settings: Settings, report: object) -> str:
    path = settings.index_dir / "releases" / report.build_id / "manifest.json"  # type: ignore[attr-defined]
    return json.loads(path.read_text())["model_fingerprint"]


def test_explicit_model_vectors_are_cached_too(index_copy: Settings) -> None:
    assert build_index(index_copy).embedded == 0


def test_a_second_build_of_the_same_index_waits_its_turn(index_copy: Settings) -> None:
    """While one build holds the lock, another fails at once and leaves the first one's work alone."""
    from assistant.index.staging import build_lock

    before = current_build_id(index_copy.index_dir)
    with build_lock(index_copy.index_dir):
        with pytest.raises(BuildError, match="läuft bereits ein anderer Build"):
            build_index(index_copy)
    assert current_build_id(index_copy.index_dir) == before
    assert build_index(index_copy).build_id != before  # the lock is free again
