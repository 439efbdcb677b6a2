"""Page layout of a PDF: positioned text runs grouped into lines, blocks and kinds, in reading order.

The reader works on PDFium's text rectangles (runs of text on one baseline in one font). Per page:

1. **Lines.** Runs whose vertical extents overlap form a row; a row splits into lines at a *gutter*:
   a gap that few of the nearby lines cross while text stands on both sides (the space between
   columns, or between a margin note and the body), so text from two columns or a margin is never
   one line, while a wide word space of justified text, which other lines cover, is not a cut.
2. **Furniture.** The top- and bottom-most lines of each page are running heads or footers when their
   text recurs at the page edge on several pages (digits masked, so "Seite 3 von 40" recurs), or when
   they are a bare page number there.
3. **Contents.** Runs of table-of-contents entries ("Titel . . . 12", "Titel    12") are set apart;
   their entries can name chapters where the PDF has no outline.
4. **Blocks.** Lines join the block directly above them when they overlap it horizontally, have a
   similar height, lie in the same drawn frame and follow within a normal line pitch. Blocks outside
   the body frame (the x-range where the document's long lines stand) are margin notes; blocks in a
   drawn frame are boxes; small text at the page foot is footnotes; larger text is headings.
5. **Order.** Body blocks are read by a recursive XY cut (columns left to right, stretches split by
   full-width blocks top to bottom); margin notes follow the block they stand beside, footnotes close
   the page.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median

__all__ = [
    "KEPT_KINDS",
    "LINE_END_HYPHEN",
    "Line",
    "PageLayout",
    "Region",
    "Run",
    "TocEntry",
    "analyse",
]

# PDFium marks a hyphen it found at the end of a line with this control character.
LINE_END_HYPHEN = "\x02"

# Kinds of blocks; the first six become passages, "furniture" and "contents" are only shown by inspect.
KEPT_KINDS = ("body", "heading", "margin", "box", "footnote", "caption")

_PAGE_NUMBER = re.compile(
    r"^(?:(?:seite|page|s\.)\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?"
    r"(?:\s*(?:/|von|of)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_LEADER_ENTRY = re.compile(r"^(?P<title>.*?\S)\s*(?:[.·…_]\s*){3,}\s*(?P<page>\d{1,4}|[ivxlcdm]{1,7})$", re.I)
_LEADERS = re.compile(r"\s*(?:[.·…_]\s*){3,}$")
_NUMBER = re.compile(r"^(?:\d{1,4}|[ivxlcdm]{1,7})$", re.IGNORECASE)
_CAPTION = re.compile(r"^(?:Abbildung|Abb\.|Tabelle|Tab\.|Grafik|Übersicht|Figure|Fig\.|Table)\s*\d", re.I)
_MARK = re.compile(r"^(?:\d{1,3}|[*†‡§a-z])$")
_FOOTNOTE_START = re.compile(r"^(?:\d{1,3}|[*†‡§])\s*\S")
_CONTENTS_TITLE = re.compile(
    r"^(?:inhalt|inhaltsverzeichnis|inhaltsübersicht|contents|table of contents)$", re.I
)


@dataclass(slots=True)
class Run:
    """A text rectangle from PDFium with its font size and baseline (0 where PDFium had none)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float = 0.0
    base: float = 0.0
    frame: int = -1  # the drawn frame (box) it stands in
    opens: bool = False  # nothing of its row close on its left / on its right
    closes: bool = False

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)


@dataclass(slots=True)
class Line:
    """Runs on one baseline within one column; ``kind`` is set for furniture and contents lines."""

    runs: list[Run]
    kind: str = ""
    frame: int = -1  # index of the drawn frame (box) the line stands in, -1 for none
    row: int = 0  # lines of one row share a baseline (columns side by side)
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    height: float = 0.0  # of the tallest run: a comma or a superscript alone does not make a line small
    size: float = 0.0  # font size of the run with the most text
    base: float = 0.0  # its baseline

    def __post_init__(self) -> None:
        self.x0 = min(r.x0 for r in self.runs)
        self.x1 = max(r.x1 for r in self.runs)
        self.y0 = min(r.y0 for r in self.runs)
        self.y1 = max(r.y1 for r in self.runs)
        self.height = max(r.height for r in self.runs)
        main = max(self.runs, key=lambda r: len(r.text))
        self.size = main.size or self.height
        self.base = main.base or self.y0

    @property
    def text(self) -> str:
        out = ""
        last: Run | None = None
        for run in self.runs:
            if last is None:
                out = run.text
            else:
                gap = run.x0 - last.x1
                glued = (
                    out.endswith((LINE_END_HYPHEN, " "))
                    or run.text == LINE_END_HYPHEN
                    or gap < 0.2 * max(run.size, last.size, 1.0)
                )
                out = (out + ("" if glued else " ") + run.text).replace("  ", " ")
            last = run
        return out


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


@dataclass(frozen=True, slots=True)
class TocEntry:
    title: str
    page_label: str
    indent: float


@dataclass(slots=True)
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    regions: list[Region]  # in reading order, every kind
    toc: list[TocEntry]


@dataclass(slots=True)
class _Page:
    width: float
    height: float
    lines: list[Line]
    frames: list[tuple[float, float, float, float]]


def analyse(
    pages: Iterable[tuple[float, float, list[Run], list[tuple[float, float, float, float]]]],
) -> list[PageLayout]:
    """Lay out every page of a document: (width, height, runs, drawn rectangles) per page."""
    raw = list(pages)
    frame = _body_frames(raw)
    laid: list[_Page] = []
    for width, height, runs, rects in raw:
        frames = _frames(rects, width, height)
        for run in runs:
            run.frame = _frame_of(run, frames)
        rows = _rows(runs)
        for row in rows:
            _mark_edges(row)
        neighbours = _Neighbours(runs)
        lines = []
        for number, row in enumerate(rows):
            for line in _split_row(row, neighbours):
                line.row = number
                line.frame = line.runs[0].frame
                lines.append(line)
        laid.append(_Page(width, height, lines, frames))
    _mark_furniture(laid)
    body_height = _body_height(laid)
    out: list[PageLayout] = []
    for number, page in enumerate(laid, start=1):
        toc = _mark_contents(page.lines, len(laid))
        regions = _regions(page, frame[number % 2], body_height)
        out.append(PageLayout(number, page.width, page.height, _reading_order(regions, page), toc))
    return out


# -- lines ---------------------------------------------------------------------------------------


def _rows(runs: list[Run]) -> list[list[Run]]:
    """Runs grouped by vertical overlap (a baseline), top to bottom."""
    rows: list[list[Run]] = []
    refs: list[Run] = []  # the tallest run of each row
    for run in sorted(runs, key=lambda r: -(r.y0 + r.y1)):
        for i in range(len(rows) - 1, max(len(rows) - 5, -1), -1):
            if _same_row(refs[i], run):
                rows[i].append(run)
                if run.height > refs[i].height:
                    refs[i] = run
                break
        else:
            rows.append([run])
            refs.append(run)
    return rows


def _same_row(a: Run, b: Run) -> bool:
    """One baseline; or, for a smaller run (a superscript, a note mark), standing within the other."""
    if a.size and b.size and a.base and b.base:
        if abs(a.base - b.base) <= 0.2 * max(a.size, b.size):
            return True
        if 0.8 * max(a.size, b.size) <= min(a.size, b.size):
            return False  # text of one size on another baseline: the next line, or another column's
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    small, large = (a, b) if a.height < b.height else (b, a)
    centre = (small.y0 + small.y1) / 2
    return overlap >= 0.5 * small.height or large.y0 <= centre <= large.y1


class _Neighbours:
    """The page's runs by height on the page, to ask which of them cross an x-range nearby."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = sorted(runs, key=lambda r: (r.y0 + r.y1) / 2)
        self.centres = [(r.y0 + r.y1) / 2 for r in self.runs]

    def gutter(self, row: list[Run], a: float, b: float, reach: float) -> bool:
        """Whether the gap (a, b) of a row runs on above and below it as empty space: somewhere in
        it few of the nearby lines stand (a column gutter, the space beside a margin note), unlike
        a wide word space of justified text, across which the other lines run."""
        centre = (row[0].y0 + row[0].y1) / 2
        lo, hi = bisect_left(self.centres, centre - reach), bisect_right(self.centres, centre + reach)
        members = {id(r) for r in row}
        near = [r for r in self.runs[lo:hi] if id(r) not in members and len(r.text) >= 2]
        spans = [(r.x0, r.x1) for r in near]
        if len(spans) < 3:
            return False
        # A gutter is bounded by a column's edge: other lines start where the text after the gap
        # starts, or end where the text before it ends. Rivers of justified text are not.
        starts = sum(r.opens and abs(r.x0 - b) <= 1.5 for r in near)
        ends = sum(r.closes and abs(r.x1 - a) <= 1.5 for r in near)
        if starts < 3 and ends < 3:
            return False
        x = a + 1.0
        while x < b - 1.0:
            if sum(x0 < x < x1 for x0, x1 in spans) <= 0.15 * len(spans):
                return True
            x += 2.0
        return False


def _mark_edges(row: list[Run]) -> None:
    """Which runs of a row open or close a stretch of text (no neighbour within an em)."""
    row.sort(key=lambda r: r.x0)
    for i, run in enumerate(row):
        em = run.size or run.height
        run.opens = i == 0 or run.x0 - row[i - 1].x1 > em
        run.closes = i == len(row) - 1 or row[i + 1].x0 - run.x1 > em


def _split_row(row: list[Run], neighbours: _Neighbours) -> list[Line]:
    """A row cut into lines at gutters and at very wide gaps."""
    row.sort(key=lambda r: r.x0)
    lines: list[list[Run]] = [[row[0]]]
    for run in row[1:]:
        last = lines[-1][-1]
        right = max(r.x1 for r in lines[-1])
        gap = run.x0 - right
        height = max(last.height, run.height, last.size, run.size)
        # A gap without a gutter is a wide word space of justified text, a tab or a table's next
        # cell: the same line, unless it is very wide.
        if (
            gap > 6 * height
            or run.frame != last.frame  # one side in a box, the other not
            or (gap > 0.25 * height and neighbours.gutter(row, right, run.x0, 12 * height))
        ):
            lines.append([run])
        else:
            lines[-1].append(run)
    return [Line(runs) for runs in lines]


def _frames(
    rects: list[tuple[float, float, float, float]], width: float, height: float
) -> list[tuple[float, float, float, float]]:
    """Drawn rectangles that can hold a box of text (not rules, not the whole page)."""
    frames = []
    for x0, y0, x1, y1 in rects:
        w, h = x1 - x0, y1 - y0
        if w >= 40 and h >= 18 and w * h < 0.6 * width * height:
            frames.append((x0, y0, x1, y1))
    return frames


def _frame_of(line: Line | Run, frames: list[tuple[float, float, float, float]]) -> int:
    best, area = -1, float("inf")
    for i, (x0, y0, x1, y1) in enumerate(frames):
        if x0 - 1 <= line.x0 and line.x1 <= x1 + 1 and y0 - 1 <= line.y0 and line.y1 <= y1 + 1:
            a = (x1 - x0) * (y1 - y0)
            if a < area:
                best, area = i, a
    return best


# -- document-wide measures ----------------------------------------------------------------------


def _body_frames(pages: list[tuple[float, float, list[Run], list]]) -> dict[int, tuple[float, float]]:
    """The x-range of body text on odd and even pages (two-sided layouts mirror their margins)."""

    def frame_of(selected: list[tuple[float, float, list[Run], list]]) -> tuple[float, float] | None:
        starts: list[float] = []
        ends: list[float] = []
        for width, _, runs, _ in selected:
            for run in runs:
                if run.x1 - run.x0 >= 0.2 * width and len(run.text) >= 20:
                    starts.append(run.x0)
                    ends.append(run.x1)
        if len(starts) < 8:
            return None
        starts.sort()
        ends.sort()
        return starts[len(starts) // 20], ends[len(ends) - 1 - len(ends) // 20]

    everything = frame_of(pages) or (0.0, max((p[0] for p in pages), default=0.0))
    odd = frame_of(pages[0::2]) or everything
    even = frame_of(pages[1::2]) or everything
    return {1: odd, 0: even}


def _body_height(pages: list[_Page]) -> float:
    weights: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            if not line.kind:
                weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 10.0


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+|\b[ivxlcdm]+\b", "#", text.strip(LINE_END_HYPHEN).strip().lower())


def _row_groups(lines: Iterable[Line]) -> list[list[Line]]:
    """Lines grouped by row, top to bottom, each row left to right."""
    rows: dict[int, list[Line]] = {}
    for line in lines:
        rows.setdefault(line.row, []).append(line)
    return [
        sorted(row, key=lambda ln: ln.x0)
        for row in sorted(rows.values(), key=lambda r: -max(ln.y1 for ln in r))
    ]


def _edge_lines(page: _Page) -> list[tuple[str, list[Line]]]:
    """The top two and bottom two rows of a page (as "head"/"foot" with their lines)."""
    rows = _row_groups(page.lines)
    if len(rows) < 2:
        return []
    edges = [("head", rows[0]), ("foot", rows[-1])]
    if len(rows) >= 4:
        edges += [("head2", rows[1]), ("foot2", rows[-2])]
    return edges


def _mark_furniture(pages: list[_Page]) -> None:
    """Running heads, footers and page numbers: edge rows whose text recurs at the edge, edge rows
    standing where the edge rows of most pages stand, or bare page numbers."""
    counts: Counter[tuple[str, str]] = Counter()
    edges = [_edge_lines(page) for page in pages]
    for page_edges in edges:
        counts.update({(where[:4], _furniture_key(ln.text)) for where, row in page_edges for ln in row})
    needed = 2 if len(pages) < 6 else 3
    # Where the first and last rows usually stand: a running head whose text changes with every
    # chapter still stands at the same height, apart from the text below it.
    places: Counter[tuple[str, int]] = Counter()
    for page_edges in edges:
        places.update(
            {(where, round(_top(row) / 2)) for where, row in page_edges if where in ("head", "foot")}
        )

    def usual(where: str, row: list[Line]) -> bool:
        spot = round(_top(row) / 2)
        return sum(places[(where, spot + d)] for d in (-1, 0, 1)) >= max(needed, 0.4 * len(pages))

    def furniture(where: str, row: list[Line], gap: float, page: _Page, rows: int) -> bool:
        # By position alone only in the page's outer eighth, set off from the text, on a page with
        # enough lines to tell a running head from a short page's first line.
        outer = _top(row) > 0.875 * page.height if where == "head" else _top(row) < 0.125 * page.height
        if (
            where in ("head", "foot")
            and outer
            and rows >= 4
            and usual(where, row)
            and gap > 0.6 * max(ln.size for ln in row)
        ):
            return True
        for line in row:
            text = line.text.strip(LINE_END_HYPHEN).strip()
            number = bool(_PAGE_NUMBER.match(text))
            if where.endswith("2"):
                # A second row is furniture only by its recurring words: a bare number there is more
                # likely a contents entry's or a table's.
                if not number and counts[(where[:4], _furniture_key(text))] >= needed:
                    return True
            elif number or counts[(where[:4], _furniture_key(text))] >= needed:
                return True
        return False

    for page, page_edges in zip(pages, edges, strict=True):
        rows = _row_groups(page.lines)
        done = {"head": False, "foot": False}
        for where, row in page_edges:
            side = where[:4]
            if where.endswith("2") and not done[side]:
                continue  # the second row counts only below (above) a head (foot) that was furniture
            i = rows.index(row)
            neighbour = rows[i + 1] if side == "head" and i + 1 < len(rows) else rows[i - 1] if i > 0 else row
            gap = (
                min(ln.y0 for ln in row) - _top(neighbour)
                if side == "head"
                else min(ln.y0 for ln in neighbour) - _top(row)
            )
            if furniture(where, row, gap, page, len(rows)):
                for line in row:
                    line.kind = "furniture"
                done[side] = True


def _top(row: list[Line]) -> float:
    return max(ln.y1 for ln in row)


def _segments(line: Line) -> list[tuple[str, float, float]]:
    """A line's text cut at gaps wider than two ems: (text, x0, x1) of each piece."""
    pieces: list[list[Run]] = []
    for run in line.runs:
        if pieces and run.x0 - pieces[-1][-1].x1 <= 2 * line.size:
            pieces[-1].append(run)
        else:
            pieces.append([run])
    return [(Line(piece).text, piece[0].x0, max(r.x1 for r in piece)) for piece in pieces]


def _mark_contents(lines: list[Line], page_count: int) -> list[TocEntry]:
    """Mark table-of-contents entries ("Titel . . . 12", "Titel      12") where a page has several
    whose page numbers run upwards; return the entries."""
    rows = _row_groups(ln for ln in lines if not ln.kind)
    entries: list[tuple[TocEntry, list[Line]]] = []
    wrapped: tuple[str, float] | None = None  # a title's first line, where it runs over two
    for row in rows:
        found = len(entries)
        # A title and its page number may stand in one line with a wide gap between them.
        pieces = [(text, x0, x1, line) for line in row for text, x0, x1 in _segments(line)]
        for i, (text, x0, _, line) in enumerate(pieces):
            text = text.replace(LINE_END_HYPHEN, "-").strip()
            match = _LEADER_ENTRY.match(text)
            if match:
                entries.append((TocEntry(match["title"].strip(), match["page"], x0), [line]))
            elif i > 0 and _NUMBER.match(text) and not _NUMBER.match(pieces[i - 1][0].strip()):
                title, title_x0, title_x1, title_line = pieces[i - 1]
                title = title.strip()
                leaders = _LEADERS.search(title)
                if leaders:
                    title = title[: leaders.start()].strip()
                if len(title) > 1 and (leaders or x0 - title_x1 > 2 * line.size):
                    entries.append((TocEntry(title, text, title_x0), [title_line, line]))
        if len(entries) > found and wrapped is not None:
            entry, entry_lines = entries[found]
            start, indent = wrapped
            joined = f"{start} {entry.title}" if not start.endswith("-") else start[:-1] + entry.title
            entries[found] = (TocEntry(joined, entry.page_label, min(indent, entry.indent)), entry_lines)
        opening = row[0].text.replace(LINE_END_HYPHEN, "-").strip()
        heading = bool(_CONTENTS_TITLE.match(opening))
        alone = len(entries) == found and len(row) == 1 and opening and not heading
        wrapped = (opening, row[0].x0) if alone else None
    if len(entries) < 4:
        return []
    # Page numbers of a contents list rise down each column; those of a table's number column mostly
    # do not. Columns of entries are told apart by where their numbers end (they are right-aligned).
    columns: dict[int, list[int]] = {}
    for entry, entry_lines in entries:
        if entry.page_label.isdigit():
            columns.setdefault(round(entry_lines[-1].x1 / 20), []).append(int(entry.page_label))
    pairs = [(a, b) for numbers in columns.values() for a, b in zip(numbers, numbers[1:], strict=False)]
    if pairs and sum(b >= a for a, b in pairs) < 0.7 * len(pairs):
        return []
    if any(n > page_count + 2000 for numbers in columns.values() for n in numbers):
        return []
    marked = {id(line) for _, entry_lines in entries for line in entry_lines}
    # Everything from the first entry's row to the last one's is the contents (wrapped titles, page
    # numbers set apart, leaders), and so is a title such as "Inhaltsverzeichnis" right above it.
    spans = [i for i, row in enumerate(rows) if any(id(line) in marked for line in row)]
    first, last = spans[0], spans[-1]
    if first > 0 and _CONTENTS_TITLE.match(" ".join(ln.text for ln in rows[first - 1]).strip()):
        first -= 1
    for row in rows[first : last + 1]:
        for line in row:
            line.kind = "contents"
    return [entry for entry, _ in entries]


# -- blocks --------------------------------------------------------------------------------------


def _regions(page: _Page, frame: tuple[float, float], body_height: float) -> list[Region]:
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
    if zone in ("furniture", "contents"):
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


def _reading_order(regions: list[Region], page: _Page) -> list[Region]:
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
