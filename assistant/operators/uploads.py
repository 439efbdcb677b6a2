"""Accepting a document an operator uploads: its name, its size, what it really is, and whether it can
be read, each refused with a German message before anything is stored.

A file is written to a private staging folder first, checked, then moved into the upload folder in
one rename, so the folder never holds a half-written or unchecked file. Reading happens in a child
process (``sandbox``) with limits on memory, CPU time and file size and a wall-clock timeout: a
decompression bomb or a 10,000-page PDF costs that process, not the server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import UploadRefused
from ..ingest.readers import SUPPORTED_SUFFIXES
from .store import Operator, OperatorStore, UploadRecord, fold_name

__all__ = [
    "check_name",
    "check_type",
    "read_in_sandbox",
    "remove_upload",
    "shown_name",
    "store_upload",
]

MAX_NAME = 120
_FORBIDDEN = set('/\\:*?"<>|')
#: Windows device names: a file called so cannot be copied to a Windows share.
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_SUFFIXES = ", ".join(sorted(SUPPORTED_SUFFIXES))
MAX_SANDBOX_OUTPUT = 4 * 1024 * 1024
#: A DOCX (a ZIP) may unpack to at most this many times the upload limit, in at most this many parts.
ZIP_EXPANSION = 20
ZIP_ENTRIES = 10_000
_BINARY_MAGIC = (
    *(b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"MZ"),
    *(b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"\xd0\xcf\x11\xe0"),
)


def check_name(raw: str) -> str:
    """The upload's file name as stored, or UploadRefused: no folders, no control or invisible
    formatting characters (such as a right-to-left override that disguises ``exe.pdf``), no
    leading dot, a supported suffix, at most ``MAX_NAME`` characters. Normalised to NFC."""
    name = unicodedata.normalize("NFC", raw or "").strip()
    if not name:
        raise UploadRefused(422, "Die Datei hat keinen Namen.")
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name.split("/"):
        raise UploadRefused(
            422, f"Der Dateiname „{shown_name(name)}“ enthält Ordnerangaben; bitte nur den Namen."
        )
    bad = [
        c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") or c in _FORBIDDEN
    ]
    if bad:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        raise UploadRefused(
            422, f"Der Dateiname enthält unzulässige oder unsichtbare Zeichen ({codes}); bitte umbenennen."
        )
    if name.startswith("."):
        raise UploadRefused(422, "Der Dateiname darf nicht mit einem Punkt beginnen.")
    if len(name) > MAX_NAME:
        raise UploadRefused(422, f"Der Dateiname ist länger als {MAX_NAME} Zeichen; bitte kürzen.")
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UploadRefused(
            415, f"„{shown_name(name)}“: dieser Dateityp wird nicht unterstützt (möglich sind {_SUFFIXES})."
        )
    if stem.rstrip(" .").lower() in _DEVICES or name != name.rstrip(" ."):
        raise UploadRefused(422, f"„{shown_name(name)}“ ist als Dateiname nicht möglich; bitte umbenennen.")
    return name


def shown_name(name: str) -> str:
    """A name as quoted back: printable characters only, shortened."""
    visible = "".join(c if c.isprintable() else "�" for c in name)
    return visible if len(visible) <= 80 else visible[:79] + "…"


def check_type(file: Path, name: str, limit: int) -> None:
    """UploadRefused (415) when the content is not what the name's suffix says; for DOCX also when the
    ZIP would unpack to more than ``ZIP_EXPANSION`` × ``limit`` bytes or ``ZIP_ENTRIES`` parts."""
    suffix = Path(name).suffix.lower()
    with file.open("rb") as handle:
        head = handle.read(1024)
    if suffix == ".pdf":
        if b"%PDF-" not in head:
            raise UploadRefused(
                415, f"„{shown_name(name)}“ ist keine PDF-Datei, obwohl der Name auf .pdf endet."
            )
    elif suffix == ".docx":
        _check_docx(file, name, limit)
    else:
        with file.open("rb") as handle:
            sample = handle.read(64 * 1024)
        if head.startswith(_BINARY_MAGIC) or b"\x00" in sample:
            kind = {".md": "Markdown", ".markdown": "Markdown", ".txt": "Text"}.get(suffix, "HTML")
            raise UploadRefused(
                415,
                f"„{shown_name(name)}“ ist keine {kind}-Datei, sondern binär, "
                f"obwohl der Name auf {suffix} endet.",
            )


def _check_docx(file: Path, name: str, limit: int) -> None:
    not_docx = UploadRefused(
        415, f"„{shown_name(name)}“ ist keine Word-Datei (DOCX), obwohl der Name auf .docx endet."
    )
    if not zipfile.is_zipfile(file):
        raise not_docx
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
            if len(entries) > ZIP_ENTRIES:
                raise UploadRefused(
                    415, f"„{shown_name(name)}“ besteht aus zu vielen Teilen ({len(entries)})."
                )
            names = {entry.filename for entry in entries}
            if "[Content_Types].xml" not in names or "word/document.xml" not in names:
                raise not_docx
            if any(entry.flag_bits & 0x1 for entry in entries):
                raise UploadRefused(
                    422, f"„{shown_name(name)}“ ist verschlüsselt – bitte ohne Kennwort speichern."
                )
            unpacked = sum(entry.file_size for entry in entries)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise not_docx from exc
    if unpacked > ZIP_EXPANSION * limit:
        raise UploadRefused(
            413,
            f"„{shown_name(name)}“ entpackt sich auf {unpacked // 2**20} MB – mehr als erlaubt "
            "(eine Dekompressionsbombe?).",
        )


def read_in_sandbox(file: Path, settings: Settings) -> dict[str, Any]:
    """How the file reads, from a child process with bounded memory, CPU time and output (see module
    doc); UploadRefused with the reader's German reason when it cannot be used."""
    command = [
        sys.executable,
        "-m",
        "assistant.operators.sandbox",
        str(file),
        file.name,
        str(settings.max_pdf_pages),
        str(settings.ocr_cache_dir.resolve()),  # a scan's recognised copy, for the next build to reuse
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["OMP_NUM_THREADS"] = "1"
    # The child limits itself before it reads anything (``sandbox.limit``): a preexec_fn could
    # deadlock in a server with threads.
    env["QM_SANDBOX_MEMORY"] = str(settings.read_memory_mb * 2**20)
    env["QM_SANDBOX_CPU"] = str(int(settings.read_timeout) + 5)
    try:
        done = subprocess.run(  # noqa: S603 - our own module, arguments are not a shell line
            command,
            capture_output=True,
            timeout=settings.read_timeout,
            env=env,
            cwd=file.parent,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise UploadRefused(
            422,
            f"„{shown_name(file.name)}“ ließ sich nicht in {settings.read_timeout:.0f} s lesen "
            "und wurde abgelehnt.",
        ) from exc
    output = done.stdout[:MAX_SANDBOX_OUTPUT]
    try:
        result = json.loads(output.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        result = None
    if not isinstance(result, dict) or not ("report" in result or "error" in result):
        raise UploadRefused(
            422,
            f"„{shown_name(file.name)}“ ließ sich nicht lesen: Das Lesen brauchte zu viel Speicher oder "
            "brach ab (beschädigte Datei oder Dekompressionsbombe?).",
        )
    if "error" in result:
        raise UploadRefused(422, str(result["error"]))
    report: dict[str, Any] = result["report"]
    if not report.get("passages"):
        raise UploadRefused(422, f"„{shown_name(file.name)}“ enthält keinen lesbaren Text.")
    return report


@dataclass(frozen=True)
class Incoming:
    """An uploaded file as the web layer received it: its name and where its bytes are spooled."""

    filename: str
    path: Path


def store_upload(
    incoming: Incoming, settings: Settings, store: OperatorStore, operator: Operator, taken: set[str]
) -> UploadRecord:
    """Check and store one upload; UploadRefused (nothing stored) when any check fails.

    ``taken``: the folded names of the sources the served release already has (the corpus), so an
    upload cannot shadow one."""
    name = check_name(incoming.filename)
    limit = settings.max_upload_mb * 2**20
    size = incoming.path.stat().st_size
    if size == 0:
        raise UploadRefused(422, f"„{shown_name(name)}“ ist leer.")
    if size > limit:
        raise UploadRefused(413, f"„{shown_name(name)}“ ist größer als {settings.max_upload_mb} MB.")
    folded = fold_name(name)
    target_dir = settings.upload_dir
    if folded in taken or store.upload_name_taken(name):
        raise UploadRefused(409, _duplicate(name))
    check_type(incoming.path, name, limit)
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".eingang-", dir=target_dir))
    try:
        staged = staging / name
        shutil.copyfile(incoming.path, staged)
        report = read_in_sandbox(staged, settings)
        record = UploadRecord(
            name=name,
            added_by=operator.name,
            added=time.time(),
            size=size,
            sha256=_sha256(staged),
            report=report,
        )
        if (target_dir / name).exists() or not store.add_upload(record):
            raise UploadRefused(409, _duplicate(name))
        os.replace(staged, target_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    store.audit(operator.name, "hochgeladen", name)
    return record


def _duplicate(name: str) -> str:
    return (
        f"„{shown_name(name)}“ gibt es schon (Groß-/Kleinschreibung zählt nicht). Bitte die vorhandene Datei "
        "erst löschen oder die neue umbenennen."
    )


def remove_upload(name: str, settings: Settings, store: OperatorStore, operator: Operator) -> bool:
    """Delete an uploaded file and its record; False when no upload has that name."""
    if store.upload(name) is None:
        return False
    (settings.upload_dir / name).unlink(missing_ok=True)
    store.remove_upload(name)
    store.audit(operator.name, "gelöscht", name)
    return True


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
