"""PDF reading with PDFium (pypdfium2): positioned text runs put back into reading order.

pypdf's own text extraction drops the spaces of many LaTeX-made German PDFs (measured on Debian's
German FAQ: "FolgendeSchlüsselmerkmaleunterscheiden…"), so the text comes from PDFium, which keeps
them; pypdf still supplies the printed page labels. Per page the runs are grouped into lines, lines
into columns (two-column pages are read left column first), running headers, footers and page
numbers are dropped, and line-break hyphenation is joined while real hyphens stay.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..documents import Block, Document, DocumentError, title_from_name
from ..text import normalise

__all__ = ["join_lines", "read_pdf"]

# PDFium marks a hyphen it found at the end of a line with this control character.
_LINE_END_HYPHEN = "\x02"
_HYPHENS = ("-", "\u2010", "\u00ad", _LINE_END_HYPHEN)
# After "Bundes-" these words show a suspended compound ("Bundes- und Landesmittel"), not a broken word.
_CONJUNCTIONS = frozenset({"und", "oder", "bzw", "sowie", "bis", "beziehungsweise"})
_BAND = 0.085  # top and bottom share of the page where running headers and footers live
_PAGE_NUMBER = re.compile(r"^(?:seite\s+)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?$", re.IGNORECASE)


@dataclass
class _Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)


def read_pdf(file: Path, source: str) -> Document:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(file)
    except pdfium.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason:
            raise DocumentError(f"{source}: verschlüsselt, bitte ohne Passwortschutz speichern") from exc
        raise DocumentError(f"{source}: keine lesbare PDF-Datei ({exc})") from exc
    except OSError as exc:
        raise DocumentError(f"{source}: nicht lesbar ({exc.strerror or exc})") from exc
    try:
        labels = _page_labels(file, len(pdf))
        outline = _outline(pdf)
        pages = [_page_lines(pdf[i]) for i in range(len(pdf))]
        title = normalise(pdf.get_metadata_dict().get("Title", "") or "")
    finally:
        pdf.close()

    running = _running_lines(pages)
    blocks: list[Block] = []
    for number, (lines, height) in enumerate(pages, start=1):
        body = _without_furniture(lines, height, running)
        label = labels[number - 1]
        for paragraph, top in _paragraphs(body):
            chapter, section = _place(outline, number - 1, top)
            blocks.append(
                Block(
                    paragraph,
                    chapter=chapter,
                    section=section,
                    page=number,
                    page_label=label if label and label != str(number) else None,
                )
            )
    if not blocks:
        raise DocumentError(f"{source}: keine Textebene (gescannt?)")
    return Document(title=title or title_from_name(file), source=source, blocks=tuple(blocks))


def _page_labels(file: Path, count: int) -> list[str | None]:
    """Printed page labels ("iv", "12") from the catalogue, via pypdf; None where there are none."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(file)
        if reader.is_encrypted:
            reader.decrypt("")
        labels: list[str | None] = list(reader.page_labels)
    except Exception:  # labels are a nicety: a PDF pypdf cannot parse is still read by PDFium
        labels = []
    return (labels + [None] * count)[:count]


def _outline(pdf: object) -> list[tuple[int, float, str, str]]:
    """(page index, top y, chapter, section) of the top two bookmark levels, in reading order."""
    starts: list[tuple[int, float, str, str]] = []
    chapter = ""
    try:
        for item in pdf.get_toc():  # type: ignore[attr-defined]
            dest = item.get_dest()
            index = dest.get_index() if dest else None
            if index is None or item.level > 1:
                continue
            _, view = dest.get_view()
            # A bookmark without a position points at the top of its page.
            top = float(view[1]) if len(view) >= 2 and view[1] else float("inf")
            title = normalise(item.get_title() or "")
            if item.level == 0:
                chapter = title
                starts.append((index, top, chapter, ""))
            else:
                starts.append((index, top, chapter, title))
    except Exception:  # a damaged outline costs the chapter names, not the text
        return []
    return sorted(starts, key=lambda s: (s[0], -s[1]))


def _place(outline: list[tuple[int, float, str, str]], page_index: int, top: float) -> tuple[str, str]:
    """Chapter and section of a paragraph: those of the last bookmark at or above where it starts."""
    position = bisect_right([(page, -y) for page, y, _, _ in outline], (page_index, -(top + 2.0)))
    if position == 0:
        return "", ""
    _, _, chapter, section = outline[position - 1]
    return chapter, section


def _page_lines(page: object) -> tuple[list[_Line], float]:
    """Text lines of a page in reading order, and the page height."""
    width, height = page.get_size()  # type: ignore[attr-defined]
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    runs: list[_Line] = []
    for i in range(textpage.count_rects()):
        x0, y0, x1, y1 = textpage.get_rect(i)
        raw = textpage.get_text_bounded(x0, y0, x1, y1).replace("\r\n", "\n").replace("\r", "\n")
        # A run can hold a line break of its own; join it like any other. normalise() drops control
        # characters, so the end-of-line hyphen marker is put back after it.
        text = normalise(join_lines(raw.split("\n")).replace(_LINE_END_HYPHEN, "-"))
        if raw.rstrip().endswith(_LINE_END_HYPHEN):
            text = text.rstrip("-") + _LINE_END_HYPHEN
        if text.strip(_LINE_END_HYPHEN).strip():
            runs.append(_Line(text, x0, y0, x1, y1))
    textpage.close()
    return _reading_order(_merge_runs(runs), width), height


def _merge_runs(runs: list[_Line]) -> list[_Line]:
    """Runs on one baseline with small gaps become one line; a wide gap (a column gutter) does not."""
    runs = sorted(runs, key=lambda r: (-round((r.y0 + r.y1) / 2), r.x0))
    lines: list[_Line] = []
    for run in runs:
        if lines:
            last = lines[-1]
            same_baseline = abs((last.y0 + last.y1) / 2 - (run.y0 + run.y1) / 2) < 0.5 * min(
                last.height, run.height
            )
            gap = run.x0 - last.x1
            if same_baseline and -2 < gap < 1.5 * max(last.height, run.height):
                joiner = "" if last.text.endswith(_LINE_END_HYPHEN) or gap < 0.15 * run.height else " "
                last.text = (last.text + joiner + run.text).replace("  ", " ")
                last.x1, last.y0, last.y1 = max(last.x1, run.x1), min(last.y0, run.y0), max(last.y1, run.y1)
                continue
        lines.append(_Line(run.text, run.x0, run.y0, run.x1, run.y1))
    return lines


def _reading_order(lines: list[_Line], width: float) -> list[_Line]:
    """Top to bottom; on two-column stretches, the left column before the right one."""
    middle = width / 2
    left = [ln for ln in lines if ln.x1 < middle + 0.02 * width]
    right = [ln for ln in lines if ln.x0 > middle - 0.02 * width]
    if len(left) < 4 or len(right) < 4 or min(len(left), len(right)) < 0.25 * len(lines):
        return sorted(lines, key=lambda ln: (-ln.y1, ln.x0))
    # Full-width lines (titles across both columns) split the page into stretches read one by one.
    ordered: list[_Line] = []
    stretch: list[_Line] = []
    for line in sorted(lines, key=lambda ln: -ln.y1):
        if line.x0 < middle - 0.02 * width and line.x1 > middle + 0.02 * width:
            ordered.extend(_columns(stretch, middle))
            ordered.append(line)
            stretch = []
        else:
            stretch.append(line)
    ordered.extend(_columns(stretch, middle))
    return ordered


def _columns(lines: list[_Line], middle: float) -> list[_Line]:
    left = [ln for ln in lines if (ln.x0 + ln.x1) / 2 < middle]
    right = [ln for ln in lines if (ln.x0 + ln.x1) / 2 >= middle]
    return sorted(left, key=lambda ln: -ln.y1) + sorted(right, key=lambda ln: -ln.y1)


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+|\b[ivxlcdm]+\b", "#", text.strip().lower())


def _in_band(line: _Line, height: float) -> bool:
    return line.y0 > height * (1 - _BAND) or line.y1 < height * _BAND


def _running_lines(pages: list[tuple[list[_Line], float]]) -> set[str]:
    """Texts (digits masked) that recur in the header or footer band of several pages."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines, height in pages:
        counts.update({_furniture_key(ln.text) for ln in lines if _in_band(ln, height)})
    # Chapter-specific running heads recur only on that chapter's pages, so a few pages suffice;
    # body text almost never sits in the band on several pages with the same words.
    needed = 3 if len(pages) >= 6 else 2
    return {key for key, n in counts.items() if n >= needed}


def _is_furniture(line: _Line, height: float, running: set[str]) -> bool:
    if not _in_band(line, height):
        return False
    text = line.text.strip(_LINE_END_HYPHEN).strip()
    return _furniture_key(text) in running or bool(_PAGE_NUMBER.match(text))


def _without_furniture(lines: list[_Line], height: float, running: set[str]) -> list[_Line]:
    """Drop running headers, footers and page numbers, with whatever shares their baseline in the
    band (a chapter title on the left, the current section on the right)."""
    furniture = [ln for ln in lines if _is_furniture(ln, height, running)]

    def beside_furniture(line: _Line) -> bool:
        return _in_band(line, height) and any(
            abs((f.y0 + f.y1) / 2 - (line.y0 + line.y1) / 2) < 0.6 * max(f.height, line.height)
            for f in furniture
        )

    return [ln for ln in lines if ln not in furniture and not beside_furniture(ln)]


def _paragraphs(lines: list[_Line]) -> list[tuple[str, float]]:
    """Lines joined into paragraphs, each with the top of its first line; a vertical gap or a column
    change starts a new paragraph."""
    paragraphs: list[list[str]] = []
    tops: list[float] = []
    previous: _Line | None = None
    for line in lines:
        new_paragraph = previous is None or (
            previous.y0 - line.y1 > 0.9 * line.height  # a blank line's worth of space
            or line.y1 > previous.y1 + line.height  # moved up: the next column or stretch
        )
        if new_paragraph:
            paragraphs.append([])
            tops.append(line.y1)
        paragraphs[-1].append(line.text)
        previous = line
    joined = [(join_lines(p), top) for p, top in zip(paragraphs, tops, strict=True)]
    return [(text, top) for text, top in joined if text]


def join_lines(lines: list[str]) -> str:
    """Join PDF lines: "Quartiers-|management" → "Quartiersmanagement", "EU-|Staaten" and
    "Bundes-|und Landesmittel" keep their hyphen."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        if out.endswith(_HYPHENS):
            stem = out.rstrip("".join(_HYPHENS))
            first = re.match(r"\w+", line)
            next_word = first.group(0) if first else ""
            last = re.search(r"(\w+)$", stem)
            before = last.group(1) if last else ""
            if len(before) >= 3 and next_word.lower() in _CONJUNCTIONS:
                out = f"{stem}- {line}"  # suspended compound: "Bundes- und Landesmittel"
            elif before and next_word and before[-1].islower() and next_word[0].islower():
                out = stem + line  # a word broken at the line end
            else:
                out = f"{stem}-{line}"  # a real hyphen: "EU-Staaten", "Debian-Richtlinien"
        else:
            out = f"{out} {line}"
    return out.replace(_LINE_END_HYPHEN, "-")
