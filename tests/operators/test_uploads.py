"""Hostile uploads: each refused with a clear German message, and nothing else changed (no file in
the upload folder, no record, no audit entry); good files of every format are stored."""

from __future__ import annotations

import io
import time
import unicodedata
import zipfile
import zlib
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from assistant.config import Settings
from assistant.errors import UploadRefused
from assistant.operators import Operator, OperatorStore
from assistant.operators.db import SQLiteDatabase
from assistant.operators.uploads import Incoming, store_upload
from tests.pdfs import write_pdf

TEXT = (
    "Der Quartiersrat berät über kleine Projekte im Stadtteil. Dieses Beispiel ist fiktiv und dient "
    "nur dem Test des Hochladens."
)
ANNA = Operator("anna", "session", "t")


@pytest.fixture
def place(tmp_path: Path) -> tuple[Settings, OperatorStore]:
    settings = Settings(
        upload_dir=tmp_path / "uploads",
        database=tmp_path / "store.sqlite3",
        max_upload_mb=1,
        max_pdf_pages=500,
        read_timeout=60,
    )
    return settings, OperatorStore(SQLiteDatabase(settings.database))


def incoming(tmp_path: Path, name: str, content: bytes) -> Incoming:
    path = tmp_path / f"spool-{time.monotonic_ns()}.bin"
    path.write_bytes(content)
    return Incoming(name, path)


def text_pdf(tmp_path: Path, **options: object) -> bytes:
    path = write_pdf(tmp_path / f"p{time.monotonic_ns()}.pdf", [[TEXT[:90], TEXT[90:]]], **options)  # type: ignore[arg-type]
    return path.read_bytes()


def word_file(text: str = TEXT) -> bytes:
    document = docx.Document()
    document.add_heading("Beteiligung", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def refused(
    place: tuple[Settings, OperatorStore],
    tmp_path: Path,
    name: str,
    content: bytes,
    taken: set[str] = frozenset(),  # type: ignore[assignment]
) -> UploadRefused:
    settings, store = place
    before = sorted(p.name for p in settings.upload_dir.iterdir()) if settings.upload_dir.exists() else []
    records, audit = store.uploads(), store.audit_log()
    with pytest.raises(UploadRefused) as caught:
        store_upload(incoming(tmp_path, name, content), settings, store, ANNA, set(taken))
    after = sorted(p.name for p in settings.upload_dir.iterdir()) if settings.upload_dir.exists() else []
    assert after == before, "a refused upload must leave the folder as it was"
    assert store.uploads() == records and store.audit_log() == audit
    message = caught.value.message
    assert message and "\n" not in message, "one line, for the operator"
    assert "Traceback" not in message and "Error" not in message
    return caught.value


def test_good_files_of_each_format_are_stored_with_how_they_read(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    settings, store = place
    files = {
        "bericht.pdf": text_pdf(tmp_path),
        "protokoll.docx": word_file(),
        "notiz.md": f"# Notiz\n\n{TEXT}\n".encode(),
        "hinweis.txt": TEXT.encode("cp1252"),
        "seite.html": f"<html><body><h1>Seite</h1><p>{TEXT}</p></body></html>".encode(),
    }
    for name, content in files.items():
        record = store_upload(incoming(tmp_path, name, content), settings, store, ANNA, set())
        assert record.report["passages"] >= 1 and record.report["lines"], name
        assert (settings.upload_dir / name).read_bytes() == content
    assert [u.name for u in store.uploads()] == sorted(files)
    assert [e.action for e in store.audit_log()] == ["hochgeladen"] * len(files)
    assert store.upload("bericht.pdf").report["pages"] == 1  # type: ignore[union-attr]
    assert sorted(p.name for p in settings.upload_dir.iterdir()) == sorted(files), "no staging left behind"


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("plan.pdf", b"PK\x03\x04" + b"\x00" * 200, "keine PDF-Datei"),
        ("plan.pdf", b"<html><body>Hallo</body></html>", "keine PDF-Datei"),
        ("plan.docx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "keine Word-Datei"),
        (
            "plan.docx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
            "keine Word-Datei",
        ),  # encrypted Office
        ("notiz.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "binär"),
        ("seite.html", b"<html>\x00\x00\x00</html>", "binär"),
        ("plan.docx", b"PK\x03\x04 not really a zip", "keine Word-Datei"),
    ],
)
def test_a_wrong_type_behind_a_right_extension_is_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    refusal = refused(place, tmp_path, name, content)
    assert refusal.status == 415 and says in refusal.message


def test_a_zip_of_another_kind_named_docx_is_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    assert "keine Word-Datei" in refused(place, tmp_path, "brief.docx", out.getvalue()).message


def test_files_over_the_size_limit_and_empty_files_are_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    big = (TEXT + "\n\n").encode() * (2**20 // len(TEXT) + 10)
    refusal = refused(place, tmp_path, "gross.txt", big)
    assert refusal.status == 413 and "1 MB" in refusal.message
    assert "leer" in refused(place, tmp_path, "leer.txt", b"").message


def test_a_pdf_of_ten_thousand_pages_is_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    writer = PdfWriter()
    for _ in range(10_000):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    settings, store = place
    refusal = refused(
        (settings.model_copy(update={"max_upload_mb": 16}), store), tmp_path, "lang.pdf", out.getvalue()
    )
    assert "10000 Seiten" in refusal.message and "höchstens 500" in refusal.message


def flate_bomb_pdf(inflated_mb: int) -> bytes:
    """A one-page PDF whose content stream is small on disk and inflates to ``inflated_mb`` MB."""
    packer = zlib.compressobj(9)
    chunk = b" " * 2**20
    stream = b"".join(packer.compress(chunk) for _ in range(inflated_mb)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_a_pdf_decompression_bomb_is_refused_without_harm(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    settings, store = place
    bomb = flate_bomb_pdf(1536)  # 1.5 GB inflated, about 1.5 MB on disk
    limited = (settings.model_copy(update={"read_memory_mb": 768, "max_upload_mb": 4}), store)
    started = time.monotonic()
    refusal = refused(limited, tmp_path, "bombe.pdf", bomb)
    assert refusal.status == 422 and "bombe.pdf" in refusal.message
    assert "zu viel Speicher" in refusal.message, "refused by the reading process's memory limit"
    assert time.monotonic() - started < settings.read_timeout


def test_a_docx_decompression_bomb_is_refused(place: tuple[Settings, OperatorStore], tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        with archive.open("word/media/leer.bin", "w") as big:
            for _ in range(64):
                big.write(b"\x00" * 2**20)
    assert len(out.getvalue()) < 2**20
    refusal = refused(place, tmp_path, "bombe.docx", out.getvalue())
    assert refusal.status == 413 and "Dekompressionsbombe" in refusal.message


def test_encrypted_and_broken_files_are_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    assert "verschlüsselt" in refused(place, tmp_path, "geheim.pdf", text_pdf(tmp_path, password="x")).message
    broken = text_pdf(tmp_path)[:200] + b"\x00garbage" * 50
    assert "broken.pdf" in refused(place, tmp_path, "broken.pdf", broken).message
    whole = word_file()
    assert "kaputt.docx" in refused(place, tmp_path, "kaputt.docx", whole[: len(whole) // 2]).message
    encrypted = io.BytesIO()
    with zipfile.ZipFile(encrypted, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    raw = bytearray(encrypted.getvalue())
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag bit in every header
        start = 0
        while (at := raw.find(signature, start)) >= 0:
            flag_at = at + (6 if signature == b"PK\x03\x04" else 8)
            raw[flag_at] |= 1
            start = at + 4
    assert "verschlüsselt" in refused(place, tmp_path, "zu.docx", bytes(raw)).message


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../../etc/passwd.md", "Ordnerangaben"),
        ("unterordner/plan.md", "Ordnerangaben"),
        ("C:\\Users\\plan.md", "Ordnerangaben"),
        ("rechnung\u202etxt.md", "U+202E"),
        ("plan\u200b.md", "U+200B"),
        ("zeile\nzwei.md", "U+000A"),
        (".versteckt.md", "Punkt"),
        ("CON.txt", "nicht möglich"),
        ("plan.md.", "nicht unterstützt"),
        ("programm.exe", "nicht unterstützt"),
        ("x" * 200 + ".md", "länger als"),
        ("", "keinen Namen"),
    ],
)
def test_names_with_path_parts_or_unicode_tricks_are_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path, name: str, says: str
) -> None:
    assert says in refused(place, tmp_path, name, f"# Plan\n\n{TEXT}\n".encode()).message


def test_duplicate_names_are_refused_however_they_are_written(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    settings, store = place
    content = f"# Übersicht\n\n{TEXT}\n".encode()
    store_upload(incoming(tmp_path, "Übersicht.md", content), settings, store, ANNA, set())
    for twin in ("übersicht.md", "ÜBERSICHT.MD", unicodedata.normalize("NFD", "Übersicht.md")):
        assert refused(place, tmp_path, twin, content).status == 409
    # nor may an upload take the name of a file the corpus has
    assert refused(place, tmp_path, "Leitfaden.md", content, taken={"leitfaden.md"}).status == 409
    stored = store.upload("Übersicht.md")
    assert stored is not None and (settings.upload_dir / "Übersicht.md").read_bytes() == content


def test_a_file_that_takes_too_long_to_read_is_refused(
    place: tuple[Settings, OperatorStore], tmp_path: Path
) -> None:
    settings, store = place
    hurried = (settings.model_copy(update={"read_timeout": 0.05}), store)
    refusal = refused(hurried, tmp_path, "bericht.pdf", text_pdf(tmp_path))
    assert refusal.status == 422 and "ließ sich nicht in" in refusal.message


def test_the_sandbox_reads_a_pdf_once_for_its_view_and_its_passages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How an upload reads ("So wurde gelesen") and how many passages it gives come from one reading:
    a scan's text recognition or a long PDF's layout is not paid for twice."""
    import assistant.ingest.inspect as inspect_module
    import assistant.ingest.readers.pdf as pdf_module
    from assistant.operators.sandbox import report

    calls: list[Path] = []
    read_layout = inspect_module.read_layout

    def counted(file: Path, source: str):  # type: ignore[no-untyped-def]
        calls.append(file)
        return read_layout(file, source)

    monkeypatch.setattr(inspect_module, "read_layout", counted)
    monkeypatch.setattr(pdf_module, "read_layout", counted)  # what a build's reading calls
    path = tmp_path / "bericht.pdf"
    path.write_bytes(text_pdf(tmp_path))
    result = report(path, "bericht.pdf", max_pages=10)
    assert len(calls) == 1
    assert result["passages"] >= 1 and any("Passagen (" in line for line in result["lines"])
