"""Bad source files: one line each naming the file and the reason; the build goes on without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.index.folder.releases import current_build_id, load_release
from tests.pdfs import write_pdf


def bad_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leer.md").write_text("")
    (folder / "nur-leerzeichen.txt").write_text("  \n\n \t\n")
    write_pdf(folder / "scan.pdf", [[], []])
    write_pdf(folder / "geheim.pdf", [["Vertraulich."]], password="geheim")
    (folder / "kaputt.pdf").write_bytes(b"%PDF-1.7\n kein PDF")
    (folder / "kaputt.docx").write_bytes(b"PK\x03\x04 kein Word")
    (folder / "gesperrt.md").write_text("# Titel\n\nGeheimer Text.\n")


@pytest.fixture
def deny_gesperrt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, where file permissions do not stop reading: simulate a locked file."""
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "gesperrt.md":
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


EXPECTED = {
    "gesperrt.md: keine Leseberechtigung",
    "geheim.pdf: verschlüsselt, bitte ohne Passwortschutz speichern",
    "kaputt.docx: keine gültige DOCX-Datei",
    "leer.md: leer",
    "nur-leerzeichen.txt: leer",
    "scan.pdf: keine Textebene (gescannt?)",
}


def test_build_reports_each_bad_file_in_one_line_and_publishes_the_rest(
    tmp_path: Path,
    fixture_corpus: Path,
    tiny_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    deny_gesperrt,
) -> None:
    extra = tmp_path / "eigene"
    bad_files(extra)
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(fixture_corpus))
    monkeypatch.setenv("ASSISTANT_MODEL", str(tiny_model))
    assert main(["--index-dir", str(tmp_path / "index"), "build", str(extra)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    skipped = {line.removeprefix("Warnung: übersprungen: ") for line in err if "übersprungen" in line}
    assert EXPECTED <= skipped
    assert any(line.startswith("kaputt.pdf: keine lesbare PDF-Datei") for line in skipped)
    assert len(skipped) == 7 and all("\n" not in line for line in err)
    release = load_release(tmp_path / "index")
    assert {p.citation.source for p in release.passages} == {"quartier.md", "verstetigung.txt"}


def test_build_where_every_file_fails_publishes_nothing_and_exits_non_zero(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, capsys, deny_gesperrt
) -> None:
    corpus = tmp_path / "nur-kaputt"
    bad_files(corpus)
    monkeypatch.setenv("ASSISTANT_MODEL", str(tiny_model))
    index = tmp_path / "index"
    assert main(["--index-dir", str(index), "build", "--corpus", str(corpus)]) == 1
    assert "nichts veröffentlicht" in capsys.readouterr().err
    assert current_build_id(index) is None


def test_failed_build_keeps_the_previous_release(
    tmp_path: Path, fixture_corpus: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL", str(tiny_model))
    index = tmp_path / "index"
    assert main(["--index-dir", str(index), "build", "--corpus", str(fixture_corpus)]) == 0
    before = current_build_id(index)
    empty = tmp_path / "leer"
    empty.mkdir()
    (empty / "leer.md").write_text("")
    assert main(["--index-dir", str(index), "build", "--corpus", str(empty)]) == 1
    assert current_build_id(index) == before and load_release(index).passages
