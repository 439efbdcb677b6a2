"""What a PDF's pages share: the body text's place and size, running heads and footers, contents.

- **Body frame and size**: where the document's long lines stand (odd and even pages apart, since
  two-sided layouts mirror their margins) and its most common font size.
- **Furniture**: the top- and bottom-most rows of each page are running heads or footers when their
  text recurs at the page edge on several pages (digits masked, so "Seite 3 von 40" recurs), when
  they stand where most pages' edge rows stand, set off from the text, or when they are a bare page
  number.
- **Contents**: four or more table-of-contents entries ("Titel . . . 12", "Titel     12") whose
  page numbers rise down each column; their entries can name chapters where the PDF has no outline.
- **Index** (Register): a page whose lines are mostly entries "Begriff, 12, 45–47" (or with leaders)
  whose terms run in alphabetical order, with letter headings ("A", "B") between them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .pdflines import LINE_END_HYPHEN, Line, PageLines, Rect, Run, row_groups, segments

__all__ = [
    "TocEntry",
    "body_frames",
    "body_size",
    "mark_contents",
    "mark_furniture",
    "mark_index",
    "mark_numbered_contents",
]

_PAGE_NUMBER = re.compile(
    r"^(?:(?:seite|page|s\.)\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?"
    r"(?:\s*(?:/|von|of)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_LEADER_ENTRY = re.compile(r"^(?P<title>.*?\S)\s*(?:[.·…_]\s*){3,}\s*(?P<page>\d{1,4}|[ivxlcdm]{1,7})$", re.I)
_LEADERS = re.compile(r"\s*(?:[.·…_]\s*){3,}$")
_NUMBER = re.compile(r"^(?:\d{1,4}|[ivxlcdm]{1,7})$", re.IGNORECASE)
_CONTENTS_TITLE = re.compile(
    r"^(?:inhalt|inhaltsverzeichnis|inhaltsübersicht|contents|table of contents)$", re.I
)


@dataclass(frozen=True, slots=True)
class TocEntry:
    title: str
    page_label: str
    indent: float


def body_frames(pages: list[tuple[float, float, list[Run], list[Rect]]]) -> dict[int, tuple[float, float]]:
    """The x-range of body text on odd and even pages (two-sided layouts mirror their margins)."""

    def frame_of(selected: list[tuple[float, float, list[Run], list[Rect]]]) -> tuple[float, float] | None:
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


def body_size(pages: list[PageLines]) -> float:
    weights: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            if not line.kind:
                weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 10.0


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+|\b[ivxlcdm]+\b", "#", text.strip(LINE_END_HYPHEN).strip().lower())


def _edge_rows(rows: list[list[Line]]) -> list[tuple[str, int]]:
    """Which of a page's rows are its top two and bottom two (as "head"/"foot", with their index)."""
    if len(rows) < 2:
        return []
    edges = [("head", 0), ("foot", len(rows) - 1)]
    if len(rows) >= 4:
        edges += [("head2", 1), ("foot2", len(rows) - 2)]
    return edges


def mark_furniture(pages: list[PageLines]) -> None:
    """Running heads, footers and page numbers: edge rows whose text recurs at the edge, edge rows
    standing where the edge rows of most pages stand, or bare page numbers."""
    counts: Counter[tuple[str, str]] = Counter()
    page_rows = [row_groups(page.lines) for page in pages]
    edges = [[(where, rows[i]) for where, i in _edge_rows(rows)] for rows in page_rows]
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

    def furniture(where: str, row: list[Line], gap: float, page: PageLines, rows: int) -> bool:
        # By position alone only in the page's outer eighth, set off from the text, on a page with
        # enough lines to tell a running head from a short page's first line.
        outer = _top(row) > 0.875 * page.height if where == "head" else _top(row) < 0.125 * page.height
        if (
            where in ("head", "foot")
            and outer
            and rows >= 4
            and usual(where, row)
            and gap > 0.6 * max(ln.size for ln in row)
            and not (where == "foot" and _sentence(row))
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

    for page, rows in zip(pages, page_rows, strict=True):
        done = {"head": False, "foot": False}
        for where, i in _edge_rows(rows):
            row = rows[i]
            side = where[:4]
            if where.endswith("2") and not done[side]:
                continue  # the second row counts only below (above) a head (foot) that was furniture
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


def _sentence(row: list[Line]) -> bool:
    """A row that reads as a sentence (three words or more, ending in a full stop, "!" or "?", a closing
    quote or bracket after it allowed): a footnote at the foot of a page, not a running footer, which
    names a title, a chapter or a page. (A footer that is a sentence recurs and is caught by its text.)"""
    text = " ".join(ln.text for ln in row).strip()
    return len(text.split()) >= 3 and re.search(r"[.!?][“”\"'»«)\]]?$", text) is not None


def _top(row: list[Line]) -> float:
    return max(ln.y1 for ln in row)


def mark_contents(lines: list[Line], page_count: int) -> list[TocEntry]:
    """Mark table-of-contents entries ("Titel . . . 12", "Titel      12") where a page has several
    whose page numbers run upwards; return the entries."""
    rows = row_groups(ln for ln in lines if not ln.kind)
    entries: list[tuple[TocEntry, list[Line]]] = []
    wrapped: tuple[str, float] | None = None  # a title's first line, where it runs over two
    for row in rows:
        found = len(entries)
        # A title and its page number may stand in one line with a wide gap between them.
        pieces = [(text, x0, x1, line) for line in row for text, x0, x1 in segments(line)]
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


#: A contents entry by its section number ("1.", "2.3", "2.3.1."), then its title.
_NUMBERED_ENTRY = re.compile(r"^(?P<number>\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S")
MIN_NUMBERED_ENTRIES = 6


def mark_numbered_contents(lines: list[Line]) -> bool:
    """Mark a contents list whose page numbers cannot be read (a scan's, where text recognition drops
    or garbles the number column): under a title such as "Inhaltsverzeichnis", at least
    ``MIN_NUMBERED_ENTRIES`` rows that begin with section numbers rising in order ("1.", "1.1.",
    "1.2.", "2.") and make up most rows down to the last of them. Returns whether it marked any."""
    rows = row_groups(ln for ln in lines if not ln.kind)
    texts = [" ".join(ln.text for ln in row).replace(LINE_END_HYPHEN, "-").strip() for row in rows]
    title = next((i for i, text in enumerate(texts) if _CONTENTS_TITLE.match(text)), None)
    if title is None:
        return False
    numbers: list[tuple[int, ...]] = []
    last = title
    for i in range(title + 1, len(rows)):
        match = _NUMBERED_ENTRY.match(texts[i])
        if match:
            numbers.append(tuple(int(n) for n in match["number"].split(".")))
            last = i
    if len(numbers) < MIN_NUMBERED_ENTRIES or len(numbers) < 0.5 * (last - title):
        return False
    if sum(b > a for a, b in zip(numbers, numbers[1:], strict=False)) < 0.9 * (len(numbers) - 1):
        return False
    for row in rows[title : last + 1]:
        for line in row:
            line.kind = "contents"
    return True


#: An index entry: a term, then page numbers ("12", "45–47", "12f.", "iv"), set off by a comma,
#: leaders or a wide space (here: the line's own text, gaps already joined by one space).
_INDEX_ENTRY = re.compile(
    r"^(?P<term>[^\d\s].*?)(?:,\s*|\s*(?:[.·…_]\s*){2,}|\s+)"
    r"(?P<pages>(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*[-–]\s*\d{1,4})?(?:\s*ff?\.?)?"
    r"(?:\s*[,;]\s*(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*[-–]\s*\d{1,4})?(?:\s*ff?\.?)?)*)$",
    re.IGNORECASE,
)
_LETTER_HEADING = re.compile(r"^[A-ZÄÖÜ]$|^[A-ZÄÖÜ]\s*[-–]\s*[A-ZÄÖÜ]$")
_INDEX_TITLE = re.compile(
    r"^(?:index|register|stichwortverzeichnis|sachregister|schlagwortverzeichnis|stichwörter|"
    r"namensregister|personenregister|ortsregister|sachverzeichnis)$",
    re.IGNORECASE,
)
MIN_INDEX_ENTRIES = 8


def _sort_key(term: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", term.casefold())
    return "".join(c for c in folded if c.isalnum())[:3]


def mark_index(lines: list[Line]) -> bool:
    """Mark a back-of-book index page: at least ``MIN_INDEX_ENTRIES`` entries making up most of the
    page's unmarked lines, their terms in alphabetical order down each column (an index is sorted by
    term, a table or a contents list by something else). Returns whether the page was marked."""
    free = [ln for ln in lines if not ln.kind]
    if len(free) < MIN_INDEX_ENTRIES:
        return False
    entries: list[tuple[float, str]] = []  # (column position, term)
    other = 0
    for line in free:
        text = line.text.replace(LINE_END_HYPHEN, "-").strip()
        match = _INDEX_ENTRY.match(text)
        if match and len(match["term"]) <= 80:
            entries.append((line.x0, match["term"]))
        elif not (_LETTER_HEADING.match(text) or _INDEX_TITLE.match(text)):
            other += 1  # a wrapped entry or a subentry without numbers counts against, a little
    if len(entries) < MIN_INDEX_ENTRIES or len(entries) < 0.6 * (len(entries) + other):
        return False
    # Alphabetical down each column: columns told apart by where their entries start.
    columns: dict[int, list[str]] = {}
    for x0, term in sorted(entries, key=lambda e: e[0]):
        columns.setdefault(round(x0 / 60), []).append(term)
    ordered = [line for line in sorted(free, key=lambda ln: (round(ln.x0 / 60), -ln.y1))]
    terms_in_order: list[list[str]] = []
    for column in sorted(columns):
        in_column = [ln for ln in ordered if round(ln.x0 / 60) == column]
        terms = []
        for line in in_column:
            match = _INDEX_ENTRY.match(line.text.replace(LINE_END_HYPHEN, "-").strip())
            if match:
                terms.append(_sort_key(match["term"]))
        terms_in_order.append(terms)
    pairs = [(a, b) for terms in terms_in_order for a, b in zip(terms, terms[1:], strict=False)]
    if not pairs or sum(a <= b for a, b in pairs) < 0.8 * len(pairs):
        return False
    for line in free:
        line.kind = "index"
    return True
