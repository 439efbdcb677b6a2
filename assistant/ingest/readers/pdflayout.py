"""Page layout of a PDF: its lines grouped into blocks of a kind, in reading order.

The reader works on PDFium's words, each placed on the page. Per page:

1. **Lines** (``pdflines``): words on one baseline form a row, cut into lines at gutters.
2. **Furniture and contents** (``pdfmarks``): running heads, footers and page numbers, and runs of
   table-of-contents entries, are marked; contents entries can name chapters where the PDF has no
   outline.
3. **Blocks** (here): lines join the block directly above them when they overlap it horizontally,
   have a similar font size, lie in the same drawn frame and follow within a normal line pitch.
   Blocks outside the body frame (the x-range where the document's long lines stand) are margin
   notes; blocks in a drawn frame are boxes; small print under the text that opens with a note mark
   is footnotes; larger text is headings; "Abbildung 3 …" opens a caption.
4. **Order** (here): body blocks are read by a recursive XY cut (columns left to right, stretches
   split by full-width blocks top to bottom); margin notes follow the block they stand beside,
   footnotes close the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median

from .pdflines import Line, PageLines, Rect, Run, column_edges, page_lines, page_rows
from .pdfmarks import (
    TocEntry,
    body_frames,
    body_size,
    mark_contents,
    mark_furniture,
    mark_index,
    mark_numbered_contents,
)

__all__ = ["KEPT_KINDS", "PageLayout", "Region", "analyse"]

# Kinds of blocks; these become passages. "furniture", "contents", "index" and "mark" are only shown by
# inspect.
KEPT_KINDS = ("body", "heading", "margin", "box", "footnote", "caption")

_CAPTION = re.compile(r"^(?:Abbildung|Abb\.|Tabelle|Tab\.|Grafik|Übersicht|Figure|Fig\.|Table)\s*\d", re.I)
_MARK = re.compile(r"^(?:\d{1,3}|[*†‡§a-z])$")
_FOOTNOTE_START = re.compile(r"^(?:\d{1,3}|[*†‡§])\s*\S")


@dataclass(slots=True)
class Region:
    """A block of lines of one kind."""

    kind: str
    lines: list[Line]
    paragraphs: list[list[Line]] = field(default_factory=list)
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0

    def __post_init__(self) -> None:
        first = self.lines[0]
        self.x0, self.y0, self.x1, self.y1 = first.x0, first.y0, first.x1, first.y1
        for line in self.lines[1:]:
            self._grow(line)

    def add(self, line: Line) -> None:
        self.lines.append(line)
        self._grow(line)

    def _grow(self, line: Line) -> None:
        self.x0, self.y0 = min(self.x0, line.x0), min(self.y0, line.y0)
        self.x1, self.y1 = max(self.x1, line.x1), max(self.y1, line.y1)

    @property
    def size(self) -> float:
        return median(ln.size for ln in self.lines)


@dataclass(slots=True)
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    regions: list[Region]  # in reading order, every kind
    toc: list[TocEntry]


def analyse(pages: Iterable[tuple[float, float, list[Run], list[Rect]]]) -> list[PageLayout]:
    """Lay out every page of a document: (width, height, runs, drawn rectangles) per page."""
    raw = list(pages)
    frame = body_frames(raw)
    grouped = [page_rows(runs) for _, _, runs, _ in raw]
    edges = column_edges(grouped)
    laid = [
        page_lines(width, height, runs, rects, rows, edges)
        for (width, height, runs, rects), rows in zip(raw, grouped, strict=True)
    ]
    mark_furniture(laid)
    body_height = body_size(laid)
    out: list[PageLayout] = []
    for number, page in enumerate(laid, start=1):
        toc = mark_contents(page.lines, len(laid))
        if not toc and not mark_numbered_contents(page.lines):
            mark_index(page.lines)
        regions = _regions(page, frame[number % 2], body_height)
        out.append(PageLayout(number, page.width, page.height, _reading_order(regions, page), toc))
    return out


# -- blocks --------------------------------------------------------------------------------------


def _regions(page: PageLines, frame: tuple[float, float], body_height: float) -> list[Region]:
    left, right = frame
    tolerance = 0.5 * body_height

    def zone(line: Line) -> str:
        if line.kind:
            return line.kind
        if line.x1 <= left + tolerance or line.x0 >= right - tolerance:
            return "margin"
        return "text"

    regions: list[tuple[str, Region]] = []
    for line in sorted(page.lines, key=lambda ln: (-ln.y1, ln.x0)):
        z = zone(line)
        best: Region | None = None
        best_gap = float("inf")
        for z2, region in regions:
            last = region.lines[-1]
            if z2 != z or last.frame != line.frame:
                continue
            ratio = line.size / last.size
            if not 0.88 <= ratio <= 1.14:
                continue
            pitch = last.base - line.base
            gap = last.y0 - line.y1
            if gap < -0.4 * line.height or pitch > 1.6 * max(line.size, last.size):
                continue
            overlap = min(region.x1, line.x1) - max(region.x0, line.x0)
            if overlap < 0.3 * min(region.x1 - region.x0, line.x1 - line.x0):
                continue
            if gap < best_gap:
                best, best_gap = region, gap
        if best is None:
            regions.append((z, Region(z, [line])))
        else:
            best.add(line)
    out: list[Region] = []
    for z, region in regions:
        region.kind = _kind(z, region, body_height)
        region.paragraphs = _split_paragraphs(region)
        out.append(region)
    _mark_footnotes(out, body_height)
    return out


def _kind(zone: str, region: Region, body_height: float) -> str:
    if zone in ("furniture", "contents", "index"):
        return zone
    first = region.lines[0].text
    if len(region.lines) == 1 and _MARK.match(first.strip()) and region.size < 0.85 * body_height:
        return "mark"  # a note mark or superscript that stands alone carries no text
    if zone == "margin":
        return zone
    if region.lines[0].frame >= 0:
        return "box"
    if _CAPTION.match(first):
        return "caption"
    if region.size >= 1.15 * body_height and len(region.lines) <= 3:
        return "heading"
    return "body"


def _mark_footnotes(regions: list[Region], body_height: float) -> None:
    """Small-print blocks below all body text of the page, opening with a note mark."""
    body = [r for r in regions if r.kind == "body" and r.size >= 0.92 * body_height]
    if not body:
        return
    lowest = min(r.y0 for r in body)
    for region in regions:
        if (
            region.kind in ("body", "caption")
            and region.y1 <= lowest + 0.5 * body_height
            and region.size < 0.92 * body_height
            and _FOOTNOTE_START.match(region.lines[0].text)
        ):
            region.kind = "footnote"
    # Notes of one page stack up: a small-print block right below a footnote is a footnote too.
    for region in sorted(regions, key=lambda r: -r.y1):
        if region.kind == "body" and region.size < 0.92 * body_height and region.y1 <= lowest:
            if any(r.kind == "footnote" and r.y1 > region.y1 for r in regions):
                region.kind = "footnote"


def _split_paragraphs(region: Region) -> list[list[Line]]:
    """A block's lines cut where a line starts indented after a line that ended short."""
    left, right = region.x0, region.x1
    paragraphs: list[list[Line]] = [[]]
    previous: Line | None = None
    for line in region.lines:
        h = line.size
        if (
            previous is not None
            and line.x0 > left + 0.6 * h
            and previous.x1 < right - 2.0 * h
            and line.x0 - left < 4 * h
        ):
            paragraphs.append([])
        paragraphs[-1].append(line)
        previous = line
    return paragraphs


# -- reading order -------------------------------------------------------------------------------


def _reading_order(regions: list[Region], page: PageLines) -> list[Region]:
    flow = [r for r in regions if r.kind not in ("margin", "footnote", "furniture")]
    ordered = _xy_cut(flow, page.width)
    # Margin notes follow the block they stand beside (or the last one above them).
    for note in sorted((r for r in regions if r.kind == "margin"), key=lambda r: -r.y1):
        position = 0
        for i, region in enumerate(ordered):
            if region.kind == "margin":
                continue
            if region.y1 >= note.y1 - 0.5 * note.size or (region.y0 <= note.y1 <= region.y1):
                position = i + 1
        ordered.insert(position, note)
    ordered.extend(sorted((r for r in regions if r.kind == "footnote"), key=lambda r: -r.y1))
    furniture = [r for r in regions if r.kind == "furniture"]
    heads = [r for r in furniture if r.y0 > page.height / 2]
    feet = [r for r in furniture if r.y0 <= page.height / 2]
    return heads + ordered + feet


def _xy_cut(regions: list[Region], width: float) -> list[Region]:
    if len(regions) <= 1:
        return list(regions)
    # Columns: an x gap no block crosses.
    columns = _split_axis(regions, lambda r: (r.x0, r.x1), min_gap=3.0)
    if len(columns) > 1:
        return [r for column in columns for r in _xy_cut(column, width)]
    # Stretches: cut above and below blocks wider than half the region, or at every gap if none.
    x0, x1 = min(r.x0 for r in regions), max(r.x1 for r in regions)
    wide = [r for r in regions if r.x1 - r.x0 > 0.6 * (x1 - x0)]
    bands = _split_axis(regions, lambda r: (-r.y1, -r.y0), min_gap=0.0)
    if len(bands) > 1 and wide and len(wide) < len(regions):
        merged: list[list[Region]] = []
        for band in bands:
            has_wide = any(r in wide for r in band)
            if merged and not has_wide and not any(r in wide for r in merged[-1]):
                merged[-1].extend(band)
            else:
                merged.append(list(band))
        bands = merged
    if len(bands) > 1:
        return [r for band in bands for r in _xy_cut(band, width)]
    return sorted(regions, key=lambda r: (-r.y1, r.x0))


def _split_axis(
    regions: list[Region], span: Callable[[Region], tuple[float, float]], min_gap: float
) -> list[list[Region]]:
    """Regions grouped by gaps in their projection on one axis, in increasing order."""
    items = sorted(regions, key=lambda r: span(r)[0])
    groups: list[list[Region]] = []
    reach = float("-inf")
    for region in items:
        start, end = span(region)
        if groups and start < reach + min_gap:
            groups[-1].append(region)
            reach = max(reach, end)
        else:
            groups.append([region])
            reach = end
    return groups
