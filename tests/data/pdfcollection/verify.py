#!/usr/bin/env python3
"""Check generated PDFs against their .truth.json (pypdfium2).

    python tests/data/pdfcollection/verify.py OUTDIR [--png PNGDIR] [--page N]

For each PDF: page count, Producer, and whether every margin note, box,
footnote, caption, table cell, heading and body paragraph is found in the
extracted text (whitespace collapsed; compared once with a naive join of
hyphens at line ends and once ignoring hyphens and whitespace entirely), and
on how many pages the furniture strings occur.  With --png, renders one page
per PDF (PIL if present, else a small stdlib PNG writer).  Exit status 1 when
something is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import zlib
from pathlib import Path

import pypdfium2 as pdfium

SOFT_BREAK = "\ufffe\u00ad\x02"  # what pdfium reports for hyphens it recognises as line-end hyphens


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def naive(text: str) -> str:
    """Whitespace collapsed, hyphen at line end joined (hard and soft)."""
    text = re.sub(r"[\ufffe\u00ad\x02]\s*", "", text)
    text = re.sub(r"(\w)[-\u2010]\s*\r?\n\s*(\w)", r"\1\2", text)
    return collapse(text)


def skeleton(text: str) -> str:
    """Letters and punctuation only: no whitespace, no hyphens of any kind."""
    return re.sub(r"[\s\-\u2010\u00ad\ufffe\x02]", "", text)


def furniture_regex(s: str) -> re.Pattern:
    tokens = ["[0-9ivxlc]+".join(re.escape(p) for p in tok.split("#")) for tok in s.split()]
    return re.compile(r"\s*".join(tokens))


def write_png(path: Path, bitmap) -> None:
    try:
        bitmap.to_pil().save(path)
        return
    except Exception:
        pass
    w, h, stride = bitmap.width, bitmap.height, bitmap.stride
    buf = bytes(bitmap.buffer)
    n = bitmap.n_channels
    rows = []
    for y in range(h):
        row = buf[y * stride : y * stride + w * n]
        rgb = bytearray(w * 3)
        rgb[0::3] = row[2::n]
        rgb[1::3] = row[1::n]
        rgb[2::3] = row[0::n]
        rows.append(b"\x00" + bytes(rgb))

    def chunk(tag, data):
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + chunk(b"IEND", b"")
    )


def check(pdf_path: Path, png_dir: Path | None, page_no: int | None, verbose: bool) -> bool:
    truth = json.loads(pdf_path.with_name(pdf_path.stem + ".truth.json").read_text(encoding="utf-8"))
    doc = pdfium.PdfDocument(str(pdf_path))
    pages = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    meta = doc.get_metadata_dict()
    print(
        f"== {pdf_path.name}: {len(doc)} pages, Producer {meta.get('Producer')!r}, "
        f"Creator {meta.get('Creator')!r}"
    )
    bookmarks = [b.get_title() for b in doc.get_toc()]
    print(f"   bookmarks: {len(bookmarks)}")
    # furniture: count pages, then remove it so that paragraphs split by a page break can be found
    cleaned = list(pages)
    for s in truth["furniture"]:
        rx = furniture_regex(s)
        on = [i + 1 for i, t in enumerate(pages) if rx.search(collapse(t))]
        print(f"   furniture {s!r}: on {len(on)}/{len(pages)} pages {on}")
        cleaned = [rx.sub(" ", t) if "#" in s else t.replace(s, " ") for t in cleaned]
    if any("von" in s for s in truth["furniture"]):
        want = f"Seite 2 von {len(doc)}"
        print(f"   {want!r} present: {want in collapse(pages[1])}")
    full = "\n".join(cleaned)
    hay_naive, hay_skel = naive(full), skeleton(full)
    # text set apart from the body (notes, boxes, footnotes, captions) may interrupt a body paragraph
    # that runs over a page or past a float: take it out before looking for body paragraphs
    body_naive, body_skel = hay_naive, hay_skel
    for key in ("margin_notes", "boxes", "footnotes", "captions"):
        for item in truth.get(key) or []:
            body_naive = re.sub(r"(\d+ ?)?" + re.escape(naive(item)) + " ?", "", body_naive)
            body_skel = re.sub(r"\d*" + re.escape(skeleton(item)), "", body_skel)
    ok = True
    keys = (
        "headings",
        "toc_entries",
        "margin_notes",
        "boxes",
        "footnotes",
        "captions",
        "table_cells",
        "body",
    )
    for key in keys:
        items = truth.get(key) or []
        if not items:
            continue
        hn, hs = (body_naive, body_skel) if key == "body" else (hay_naive, hay_skel)
        n_naive = sum(naive(i) in hn for i in items)
        missing = [i for i in items if skeleton(i) not in hs]
        status = "OK" if not missing else "MISSING"
        print(
            f"   {key}: {len(items)} items, exact after naive join {n_naive}, "
            f"found ignoring hyphens/space {len(items) - len(missing)} {status}"
        )
        if verbose:
            for i in items:
                if naive(i) not in hn and i not in missing:
                    print(f"      naive miss: {i[:90]!r}")
        for i in missing:
            print(f"      missing: {i[:100]!r}")
        ok &= not missing
    hyph = sum(t.count("\ufffe") + t.count("\u00ad") + t.count("\x02") for t in pages)
    hard = len(re.findall(r"\w[-\u2010]\r?\n", "\n".join(pages)))
    print(f"   line-end hyphens: {hyph} marked soft by pdfium, {hard} hyphen+newline")
    if png_dir:
        png_dir.mkdir(parents=True, exist_ok=True)
        idx = min(len(doc), page_no or 2) - 1
        out = png_dir / f"{pdf_path.stem}-p{idx + 1}.png"
        write_png(out, doc[idx].render(scale=1))
        print(f"   rendered page {idx + 1} -> {out}")
    doc.close()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--png", type=Path)
    ap.add_argument("--page", type=int)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    ok = True
    for pdf in sorted(args.outdir.glob("*.pdf")):
        ok &= check(pdf, args.png, args.page, args.verbose)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
