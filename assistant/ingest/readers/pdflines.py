"""Lines of a PDF page: PDFium's words put on rows by baseline and cut into lines at gutters.

A row holds the words on one baseline across the whole page; it is cut into lines where a *gutter*
runs: a gap that the nearby lines leave empty and that a column's edge bounds (the space between
columns, or between a margin note and the body). A wide word space of justified text, which the
other lines run across, does not cut a line. Drawn rectangles large enough to hold text are the
frames of boxes; a line never spans a frame's edge.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "LINE_END_HYPHEN",
    "Line",
    "PageLines",
    "Rect",
    "Run",
    "column_edges",
    "page_lines",
    "page_rows",
    "row_groups",
    "segments",
]

# Stretches of text starting at one x on a page that make it a column's edge on their own: fewer are
# chance in justified text set word by word (LibreOffice Writer's columns give up to 4).
_COLUMN_EVIDENCE = 8

# PDFium marks a hyphen it found at the end of a line with this control character.
LINE_END_HYPHEN = "\x02"

Rect = tuple[float, float, float, float]


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
    text: str = ""  # the runs joined (computed once: the runs do not change after a line is made)

    def __post_init__(self) -> None:
        self.x0 = min(r.x0 for r in self.runs)
        self.x1 = max(r.x1 for r in self.runs)
        self.y0 = min(r.y0 for r in self.runs)
        self.y1 = max(r.y1 for r in self.runs)
        self.height = max(r.height for r in self.runs)
        main = max(self.runs, key=lambda r: len(r.text))
        self.size = main.size or self.height
        self.base = main.base or self.y0
        self.text = self._joined()

    def _joined(self) -> str:
        """The runs' texts, with a space where their gap is a word space."""
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
class PageLines:
    """A page's size, its lines (kinds marked later: furniture, contents) and its box frames."""

    width: float
    height: float
    lines: list[Line]
    frames: list[Rect]


def page_rows(runs: list[Run]) -> list[list[Run]]:
    """A page's runs on rows, each row sorted left to right with its runs' edges marked."""
    grouped = rows(runs)
    for row in grouped:
        _mark_edges(row)
    return grouped


def column_edges(pages: Iterable[list[list[Run]]]) -> list[float]:
    """Where a document's columns start, as its pages prove them: an x at which eight or more
    stretches of text start on one page (a table's column, the second of two text columns)."""
    edges: list[float] = []
    for grouped in pages:
        starts = sorted(_starts(grouped))
        i = 0
        while i < len(starts):
            j = bisect_right(starts, starts[i] + 1.5)
            if j - i >= _COLUMN_EVIDENCE:
                edges.append(starts[i])
                i = j
            else:
                i += 1
    return sorted(edges)


def page_lines(
    width: float,
    height: float,
    runs: list[Run],
    rects: list[Rect],
    grouped: list[list[Run]] | None = None,
    edges: Iterable[float] = (),
) -> PageLines:
    """The lines of one page from its runs (on rows: ``page_rows``) and the rectangles drawn on it;
    ``edges``: the document's column edges (``column_edges``), which other pages prove."""
    frames = _frames(rects, width, height)
    for run in runs:
        run.frame = _frame_of(run, frames)
    if grouped is None:
        grouped = page_rows(runs)
    neighbours = _Neighbours(runs, _starts(grouped), edges)
    lines = []
    for number, row in enumerate(grouped):
        for line in _split_row(row, neighbours):
            line.row = number
            line.frame = line.runs[0].frame
            lines.append(line)
    return PageLines(width, height, lines, frames)


def rows(runs: list[Run]) -> list[list[Run]]:
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

    def __init__(self, runs: list[Run], starts: Iterable[float] = (), edges: Iterable[float] = ()) -> None:
        self.runs = sorted(runs, key=lambda r: (r.y0 + r.y1) / 2)
        self.centres = [(r.y0 + r.y1) / 2 for r in self.runs]
        self.starts = sorted(starts)  # where text starts after a gap anywhere on the page
        self.edges = sorted(edges)  # the document's column edges

    def column_starts_at(self, x: float) -> int:
        """How many stretches of text on the whole page start at ``x`` (within 1.5 pt)."""
        return bisect_right(self.starts, x + 1.5) - bisect_left(self.starts, x - 1.5)

    def proven_edge(self, x: float) -> bool:
        """Whether the page shows a column's edge at ``x``: eight stretches of text or more start
        there, or three where another page of the document proves that edge (a table's last page)."""
        starts = self.column_starts_at(x)
        if starts >= _COLUMN_EVIDENCE:
            return True
        known = bisect_right(self.edges, x + 1.5) > bisect_left(self.edges, x - 1.5)
        return starts >= 3 and known

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
        # starts (or up to three ems left of it, where the text after the gap is a paragraph's
        # indented first line), or end where the text before it ends. Rivers of justified text are not.
        indent = 3.0 * reach / 12
        # (the edge must lie right of where the text before the gap ends: a margin note beside it)
        openers = [r.x0 for r in near if r.opens and max(b - indent, a + 0.5) <= r.x0 <= b + 1.5]
        # the most lines starting at one x there (a column's edge, not scattered word spaces)
        starts = max((sum(abs(x - y) <= 1.5 for y in openers) for x in openers), default=0)
        ends = sum(r.closes and abs(r.x1 - a) <= 1.5 for r in near)
        # Or the page proves the edge: a table's column, whose cells start at one x all down the page
        # while few of them stand near this row (a spreadsheet's wrapped cell beside short ones).
        proven = self.proven_edge(b)
        if starts < 3 and ends < 3 and not proven:
            return False
        if _band(spans, a, b):
            return True
        # A proven edge after a gap wider than a word space (1.25 em) needs the band empty only in the
        # lines right above and below the row, not all the way out: a table's first row stands under a
        # paragraph that runs across its columns, an example set beside its source between two.
        if not proven or b - a < 1.25 * reach / 12:
            return False
        above = sorted((r for r in near if r.y0 + r.y1 > 2 * centre), key=lambda r: r.y0 + r.y1)
        below = sorted((r for r in near if r.y0 + r.y1 < 2 * centre), key=lambda r: -(r.y0 + r.y1))
        x = a + 1.0
        while x < b - 1.0:
            if _clear(above, x) + _clear(below, x) >= 4:
                return True
            x += 2.0
        return False


def _clear(runs: list[Run], x: float) -> int:
    """How many of ``runs`` (nearest first) leave ``x`` free before the first that crosses it."""
    for i, run in enumerate(runs):
        if run.x0 < x < run.x1:
            return i
    return len(runs)


def _band(spans: list[tuple[float, float]], a: float, b: float) -> bool:
    """Whether somewhere in the gap (a, b) few of the spans (at most 15 %) stand."""
    x = a + 1.0
    while x < b - 1.0:
        if sum(x0 < x < x1 for x0, x1 in spans) <= 0.15 * len(spans):
            return True
        x += 2.0
    return False


def _starts(rows: list[list[Run]]) -> list[float]:
    """Where stretches of text start: each row's first run, and each run half an em or more after
    the one before it (rows sorted by x, see ``_mark_edges``)."""
    out = []
    for row in rows:
        for i, run in enumerate(row):
            if i == 0 or run.x0 - row[i - 1].x1 >= 0.5 * (run.size or run.height):
                out.append(run.x0)
    return out


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


def row_groups(lines: Iterable[Line]) -> list[list[Line]]:
    """Lines grouped by row, top to bottom, each row left to right."""
    rows: dict[int, list[Line]] = {}
    for line in lines:
        rows.setdefault(line.row, []).append(line)
    return [
        sorted(row, key=lambda ln: ln.x0)
        for row in sorted(rows.values(), key=lambda r: -max(ln.y1 for ln in r))
    ]


def segments(line: Line) -> list[tuple[str, float, float]]:
    """A line's text cut at gaps wider than two ems: (text, x0, x1) of each piece."""
    pieces: list[list[Run]] = []
    for run in line.runs:
        if pieces and run.x0 - pieces[-1][-1].x1 <= 2 * line.size:
            pieces[-1].append(run)
        else:
            pieces.append([run])
    return [(Line(piece).text, piece[0].x0, max(r.x1 for r in piece)) for piece in pieces]
