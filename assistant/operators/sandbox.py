"""Reading one uploaded file in a process of its own: ``python -m assistant.operators.sandbox FILE NAME
MAX_PAGES [OCR_CACHE]``.

This process limits itself first (``limit``: address space and CPU time from the environment the
parent (``uploads.read_in_sandbox``) set, file size, no core dumps), and the parent kills it after its
wall-clock limit, so a decompression bomb, a
pathological PDF or a parser bug costs this process and never the server. It prints one JSON object:
``{"report": {...}}`` with the format, title, pages, passages, warnings and the lines of
``assistant inspect``, or ``{"error": "<German reason>"}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MAX_LINES = 4000  # lines of the "So wurde gelesen" view kept
MAX_LINE = 400


def report(file: Path, name: str, max_pages: int) -> dict[str, Any]:
    """How ``file`` (shown as ``name``) reads: DocumentError with a German reason when it cannot be used."""
    from ..errors import DocumentError
    from ..ingest.chunking import chunk_document
    from ..ingest.inspect import Inspection

    suffix = Path(name).suffix.lower()
    pages = None
    if suffix == ".pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(file)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise DocumentError(f"{name}: verschlüsselt – bitte ohne Passwortschutz speichern") from exc
            raise DocumentError(f"{name}: keine lesbare PDF-Datei (beschädigt?)") from exc
        try:
            pages = len(pdf)
        finally:
            pdf.close()
        if pages > max_pages:
            raise DocumentError(f"{name}: {pages} Seiten – höchstens {max_pages} Seiten sind erlaubt")
        if pages == 0:
            raise DocumentError(f"{name}: die PDF-Datei hat keine Seiten")
    # Read once, for the inspect view's blocks and for the passages, cut as a build cuts them.
    copy = file.with_name(name) if file.name != name else file
    inspection = Inspection.read(copy)
    lines = [line[:MAX_LINE] for line in inspection.lines()][:MAX_LINES]
    document = inspection.document
    passages = chunk_document(document)
    ocr_pages = {p.citation.page for p in passages if getattr(p.citation, "ocr", False)}
    warnings = []
    if ocr_pages:
        warnings.append(f"gescannt: {len(ocr_pages)} Seite(n) per Texterkennung gelesen")
    return {
        "format": suffix.lstrip(".").upper(),
        "title": document.title,
        "pages": pages,
        "passages": len(passages),
        "ocr_pages": len(ocr_pages),
        "warnings": warnings,
        "lines": lines,
    }


def limit() -> None:
    """Bound this process before it reads the file: ``QM_SANDBOX_MEMORY`` bytes of address space,
    ``QM_SANDBOX_CPU`` seconds of CPU, 4 GiB a written file (text recognition's scratch), no core."""
    import os
    import resource

    memory, cpu = int(os.environ["QM_SANDBOX_MEMORY"]), int(os.environ["QM_SANDBOX_CPU"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * 2**30, 4 * 2**30))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    limit()
    from ..errors import AssistantError
    from ..ingest.readers import ocr

    file, name, max_pages = Path(argv[0]), argv[1], int(argv[2])
    cache = Path(argv[3]) if len(argv) > 3 else None  # recognised copies, for the next build to reuse
    try:
        with ocr.options(cache):
            result: dict[str, Any] = {"report": report(file, name, max_pages)}
    except AssistantError as exc:
        result = {"error": str(exc)}
    except MemoryError:
        result = {"error": f"{name}: braucht beim Lesen zu viel Speicher (eine Dekompressionsbombe?)"}
    except RecursionError:
        result = {"error": f"{name}: zu tief verschachtelt, nicht lesbar"}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
