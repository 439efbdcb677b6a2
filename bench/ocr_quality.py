"""How well scanned PDFs are read: character error rate (CER) of text recognition on real PDF pages.

    .venv/bin/python bench/ocr_quality.py [--dpi 300] [--pages 2] [--page-offset 0] [--dump DIR]
        [COLLECTION_DIR]

For each PDF of the real-PDF collection (``tests/data/pdf-collection.json``, fetched and made by
``tests/data/fetch-pdf-collection.sh`` into ``.cache/pdf-collection/``) a few body pages (at 30 %,
50 %, 70 % … of the document) are rendered with PDFium at ``--dpi`` and written as image-only PDFs,
once clean and once as a poor scan (grey noise, specks, a 0.8° skew, JPEG). Each is read by the PDF
reader as a build reads it (so through OCRmyPDF and Tesseract's German model), and compared with
the same pages' text layer read by the same reader: the truth is the original's own text.

CER = Levenshtein distance / length of the reference, whitespace collapsed, summed over all pages:
the text as a build would index it, so a misread character and a paragraph put in another place both
count. The columns "located" give the errors of each paragraph of the reference where it best matches
in the recognised page, which leaves reading order aside and measures recognition alone. The issue's
targets: ≤ 2 % clean, ≤ 5 % noisy.
Needs ``apt-get install ocrmypdf tesseract-ocr-deu``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.ingest.documents import Document  # noqa: E402
from assistant.ingest.readers import ocr  # noqa: E402
from assistant.ingest.readers.pdf import read_pdf  # noqa: E402

MANIFEST = ROOT / "tests" / "data" / "pdf-collection.json"
COLLECTION = ROOT / ".cache" / "pdf-collection"
TARGET_CLEAN, TARGET_NOISY = 0.02, 0.05
SKEW_DEGREES = 0.8
NOISE_SIGMA = 18.0  # grey levels (of 255) of Gaussian noise
SPECKS = 0.001  # share of pixels flipped to black or white
JPEG_QUALITY = 70
SEED = 26  # the number: the same noise every run


def squash(text: str) -> str:
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance, reference length) after collapsing whitespace."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = squash(reference), squash(hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def located_errors(blocks: list[str], hypothesis: str) -> int:
    """Edit distance of each reference paragraph to where it best matches in the recognised page,
    summed: what recognition got wrong, apart from reading order (a paragraph the layout puts
    elsewhere costs twice its length in ``cer``, nothing here)."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    hyp = squash(hypothesis)
    total = 0
    for block in blocks:
        ref = squash(block)
        found = fuzz.partial_ratio_alignment(ref, hyp) if ref and hyp else None
        total += Levenshtein.distance(ref, hyp[found.dest_start : found.dest_end]) if found else len(ref)
    return total


def pick_pages(count: int, per_document: int, offset: int = 0) -> list[int]:
    """``per_document`` pages (1-based) spread over the body of a ``count``-page document, each moved
    on by ``offset`` pages (wrapping round at the end): offset 0 gives the tuning pages, offset 1 the
    report pages, which for ``per_document`` 2 share none with them (the 4-page documents included)."""
    if count <= per_document:
        chosen = list(range(1, count + 1))
    else:
        spread = (
            [0.3 + 0.4 * i / (per_document - 1) for i in range(per_document)] if per_document > 1 else [0.5]
        )
        chosen = sorted({min(count, max(1, round(f * count))) for f in spread})
    return sorted({(page - 1 + offset) % count + 1 for page in chosen})


def text_subset(source: Path, pages: list[int], target: Path) -> Path:
    """The given pages of a PDF, text layer and all, as a PDF of their own."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(source)
    out = pdfium.PdfDocument.new()
    try:
        out.import_pages(src, [p - 1 for p in pages])
        out.save(target)
    finally:
        out.close()
        src.close()
    return target


def scan(source: Path, pages: list[int], target: Path, *, dpi: int = 300, noisy: bool = False) -> Path:
    """The given pages of a PDF rendered to images and written as an image-only PDF (a scan), clean
    or as a poor scan (noise, specks, a small skew, JPEG)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(source)
    try:
        images = [pdf[p - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for p in pages]
    finally:
        pdf.close()
    if noisy:
        images = [_degrade(image, n) for n, image in enumerate(images)]
    images[0].save(
        target, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:], quality=JPEG_QUALITY
    )
    return target


def _degrade(image, number: int):  # type: ignore[no-untyped-def]
    """A poor scan of a clean page image: skew, grey noise and specks (deterministic per page)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(SEED + number)
    skewed = image.rotate(SKEW_DEGREES, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
    pixels = np.asarray(skewed, dtype=np.float32)
    pixels = pixels + rng.normal(0.0, NOISE_SIGMA, pixels.shape)
    specks = rng.random(pixels.shape)
    pixels[specks < SPECKS / 2] = 0.0
    pixels[specks > 1 - SPECKS / 2] = 255.0
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def page_blocks(document: Document) -> dict[int, list[str]]:
    blocks: dict[int, list[str]] = {}
    for block in document.blocks:
        if block.page is not None:
            blocks.setdefault(block.page, []).append(block.text)
    return blocks


def page_texts(document: Document) -> dict[int, str]:
    return {page: " ".join(parts) for page, parts in page_blocks(document).items()}


@dataclass
class Measured:
    name: str
    pages: int
    chars: int
    clean: int  # edit distance summed over the pages
    noisy: int
    clean_located: int  # each reference paragraph against where it best matches (reading order aside)
    noisy_located: int
    seconds: float
    all_marked: bool  # every recognised block carried the OCR flag

    def rate(self, distance: int) -> float:
        return distance / self.chars if self.chars else 0.0


def measure(
    source: Path, pages: list[int], work: Path, *, dpi: int = 300, dump: Path | None = None
) -> Measured:
    """Clean and noisy CER of text recognition on ``pages`` of ``source``; with ``dump`` the reference
    and recognised text of each page are written there (one paragraph a line) for diffing."""
    name = source.name
    reference = page_blocks(read_pdf(text_subset(source, pages, work / f"{name}.text.pdf"), name))
    started = time.perf_counter()
    read: dict[bool, Document] = {}
    for noisy in (False, True):
        target = work / f"{name}.{'noisy' if noisy else 'clean'}.pdf"
        image_only = scan(source, pages, target, dpi=dpi, noisy=noisy)
        read[noisy] = read_pdf(image_only, name)
    seconds = time.perf_counter() - started
    ordered = {False: 0, True: 0}
    located = {False: 0, True: 0}
    chars = 0
    for number in range(1, len(pages) + 1):
        truth = reference.get(number, [])
        for noisy, document in read.items():
            text = page_texts(document).get(number, "")
            ordered[noisy] += cer(" ".join(truth), text)[0]
            located[noisy] += located_errors(truth, text)
        chars += len(squash(" ".join(truth)))
        if dump is not None:
            stem = f"{name}.p{pages[number - 1]}"
            (dump / f"{stem}.ref.txt").write_text("\n".join(truth) + "\n", encoding="utf-8")
            for noisy, document in read.items():
                text = "\n".join(page_blocks(document).get(number, [])) + "\n"
                (dump / f"{stem}.{'noisy' if noisy else 'clean'}.txt").write_text(text, encoding="utf-8")
    marked = all(b.ocr for document in read.values() for b in document.blocks)
    return Measured(
        name, len(pages), chars, ordered[False], ordered[True], located[False], located[True],
        seconds, marked,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("collection", nargs="?", type=Path, default=COLLECTION)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--pages", type=int, default=2, help="pages per document")
    parser.add_argument(
        "--page-offset", type=int, default=0,
        help="move each chosen page on by this many: 0 = tuning pages, 1 = report pages",
    )  # fmt: skip
    parser.add_argument(
        "--unseen", action="store_true",
        help="leave out pages a smaller offset chooses (offset 2 --unseen: the pages never looked at)",
    )  # fmt: skip
    parser.add_argument("--dump", type=Path, help="write each page's reference and recognised text here")
    parser.add_argument(
        "--cache", type=Path,
        help="keep the recognised copies here and reuse them (for work on the layout: s/page then "
        "no longer measures recognition)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if ocr.engine() is None:
        print("ocrmypdf und tesseract-ocr-deu fehlen: apt-get install ocrmypdf tesseract-ocr-deu")
        return 2
    documents = json.loads(MANIFEST.read_text(encoding="utf-8"))["documents"]
    results: list[Measured] = []
    import pypdfium2 as pdfium

    kind = "tuning" if args.page_offset == 0 else "report"
    print(f"page offset {args.page_offset} ({kind} pages{', unseen only' if args.unseen else ''})")
    print(f"| document ({args.dpi} dpi) | pages | characters | CER clean | CER noisy | located clean "
          "| located noisy | s/page |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="ocr-quality-") as folder:
        for entry in documents:
            source = args.collection / entry["file"]
            if not source.is_file():
                print(f"| {entry['file']} | fehlt: tests/data/fetch-pdf-collection.sh | | | | | | |")
                continue
            count = len(pdfium.PdfDocument(source))
            chosen = pick_pages(count, args.pages, args.page_offset)
            if args.unseen:
                seen = {
                    p for offset in range(args.page_offset) for p in pick_pages(count, args.pages, offset)
                }
                chosen = [p for p in chosen if p not in seen]
                if not chosen:
                    continue
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
            with ocr.options(args.cache):
                result = measure(source, chosen, Path(folder), dpi=args.dpi, dump=args.dump)
            results.append(result)
            print(
                f"| {result.name} | {result.pages} | {result.chars} | {result.rate(result.clean):.2%} "
                f"| {result.rate(result.noisy):.2%} | {result.rate(result.clean_located):.2%} "
                f"| {result.rate(result.noisy_located):.2%} | {result.seconds / (2 * result.pages):.1f} |",
                flush=True,
            )
    chars = sum(r.chars for r in results)
    clean, noisy = sum(r.clean for r in results), sum(r.noisy for r in results)
    clean_located = sum(r.clean_located for r in results)
    noisy_located = sum(r.noisy_located for r in results)
    pages = sum(r.pages for r in results)
    seconds = sum(r.seconds for r in results)
    if chars:
        print(
            f"| **all** | {pages} | {chars} | **{clean / chars:.2%}** | **{noisy / chars:.2%}** "
            f"| **{clean_located / chars:.2%}** | **{noisy_located / chars:.2%}** "
            f"| {seconds / (2 * pages):.1f} |"
        )
        print(f"targets: clean ≤ {TARGET_CLEAN:.0%}, noisy ≤ {TARGET_NOISY:.0%}; "
              f"every recognised passage marked: {all(r.all_marked for r in results)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
