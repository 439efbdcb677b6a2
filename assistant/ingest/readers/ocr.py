"""Text recognition for scanned PDF pages: OCRmyPDF with Tesseract's German model, run as a subprocess.

The engine is optional (Debian: ``apt-get install ocrmypdf tesseract-ocr-deu``); ``engine()`` finds
it once per ``PATH``. ``recognised`` hands OCRmyPDF the pages without a text layer and yields a copy of
the PDF in which those pages carry Tesseract's invisible text over their image; the PDF reader lays
that text out like any other (``readers.pdf``). The run is bounded: a time limit that grows with the
page count up to a hard cap (the whole process group is killed past it), a per-page limit for
Tesseract, and only the tail of OCRmyPDF's messages is kept. Every failure is a one-line German
``DocumentError``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ...errors import DocumentError
from .pdflines import Run

__all__ = [
    "INSTALL_HINT",
    "LANGUAGE",
    "MAX_SECONDS",
    "Marks",
    "engine",
    "in_leader",
    "marks",
    "noise",
    "options",
    "read_pages",
    "recognised",
    "steady_sizes",
    "time_limit",
]

_Page = TypeVar("_Page")

LANGUAGE = "deu"
INSTALL_HINT = "Texterkennung: Pakete ocrmypdf und tesseract-ocr-deu installieren"
# Measured with bench/ocr_quality.py: 2–5 s a page at 300 dpi (up to 9 s on a busy machine). The limit
# leaves several times that and stops a pathological file from holding a build for long.
START_SECONDS = 60
SECONDS_PER_PAGE = 30
MAX_SECONDS = 1800
PAGE_SECONDS = 120  # Tesseract's limit on one page; past it the page stays without text
JOBS = 4  # pages OCR'd at once: a build machine's other work goes on beside it
_TAIL = 4096  # bytes of OCRmyPDF's messages kept for the error line


def time_limit(pages: int) -> int:
    """Seconds an OCR run over ``pages`` pages may take."""
    return min(MAX_SECONDS, START_SECONDS + SECONDS_PER_PAGE * pages)


def engine() -> str | None:
    """The ``ocrmypdf`` executable when it and Tesseract's German model are installed, else None."""
    # Looked up per PATH (which is also what finds the executables), each PATH asked once.
    return _detect(os.environ.get("PATH", os.defpath))


@lru_cache(maxsize=8)
def _detect(path: str) -> str | None:
    ocrmypdf, tesseract = shutil.which("ocrmypdf", path=path), shutil.which("tesseract", path=path)
    if not ocrmypdf or not tesseract:
        return None
    try:
        listed = subprocess.run(
            [tesseract, "--list-langs"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # Tesseract 4 prints the list to stderr, 5 to stdout; the first line names the folder.
    languages = {line.strip() for line in (listed.stdout + "\n" + listed.stderr).splitlines()}
    return ocrmypdf if LANGUAGE in languages else None


#: Where recognised copies are kept (a build sets it: ``<index_dir>/cache/ocr``), and whether the engine
#: may run here. The web app's source view reads scanned PDFs with ``recognise=False``: a visitor's
#: click reads the copy the build made, and never starts minutes of recognition in the server.
_CACHE: ContextVar[Path | None] = ContextVar("ocr_cache", default=None)
_RECOGNISE: ContextVar[bool] = ContextVar("ocr_recognise", default=True)
CACHE_KEEP = 200  # recognised copies kept, newest first


@contextmanager
def options(cache: Path | None, *, recognise: bool = True) -> Iterator[None]:
    """Within the block, recognised copies are kept in (and read from) ``cache``; with
    ``recognise=False`` the engine is not run, and scanned pages without a kept copy stay unread."""
    cache_token, recognise_token = _CACHE.set(cache), _RECOGNISE.set(recognise)
    try:
        yield
    finally:
        _CACHE.reset(cache_token)
        _RECOGNISE.reset(recognise_token)


def _cached_copy(file: Path, pages: Sequence[int]) -> Path | None:
    folder = _CACHE.get()
    if folder is None:
        return None
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"|{LANGUAGE}|{','.join(str(p) for p in sorted(set(pages)))}".encode())
    return folder / f"{digest.hexdigest()}.pdf"


def _keep(copy: Path, kept: Path) -> None:
    """Keep a recognised copy for later reads; a cache that cannot be written is only a lost saving."""
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(".part")
        shutil.copyfile(copy, partial)
        os.replace(partial, kept)
        older = sorted(kept.parent.glob("*.pdf"), key=lambda f: f.stat().st_mtime, reverse=True)
        for stale in older[CACHE_KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def read_pages(
    file: Path, source: str, pages: Sequence[int], read: Callable[[Any], _Page]
) -> dict[int, _Page]:
    """``read`` applied to each of ``pages`` (1-based) of the OCR'd copy of ``file``, by page number:
    a kept copy where there is one (see ``options``), else one the engine makes now (when it may run
    and is installed; else nothing)."""
    kept = _cached_copy(file, pages)
    if kept is not None and kept.is_file():
        os.utime(kept)  # recently used: pruned last
        return _read_copy(kept, source, pages, read)
    if not _RECOGNISE.get() or engine() is None:
        return {}
    with recognised(file, source, pages) as copy:
        if kept is not None:
            _keep(copy, kept)
        return _read_copy(copy, source, pages, read)


def _read_copy(
    copy: Path, source: str, pages: Sequence[int], read: Callable[[Any], _Page]
) -> dict[int, _Page]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(copy)
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"{source}: Texterkennung fehlgeschlagen (Ergebnis nicht lesbar)") from exc
    try:
        if max(pages) > len(pdf):
            raise DocumentError(f"{source}: Texterkennung fehlgeschlagen (Seiten fehlen im Ergebnis)")
        return {number: read(pdf[number - 1]) for number in pages}
    finally:
        pdf.close()


Rect = tuple[float, float, float, float]  # left, bottom, right, top in PDF points

# A word of nothing but dots is what Tesseract makes of specks or a box's shaded edge (". . ."); a bar
# on a frame's side is that side. Elsewhere a bar stays: tables and command output use it.
_DOTS = re.compile(r"[.·]+")
_BARS = re.compile(r"[|¦!lI\[\]]+")
FRAME_DPI = 150  # the page image is looked at this fine for frames: a hairline stays one dark pixel
_DARK = 170  # grey levels below this are ink (a box's light fill is about 235)
_MIN_SIDE = 0.4  # inches: shorter lines are letters or rules, not a frame's sides
LEADER_DOTS = 5  # evenly spaced specks in a row that make a dot leader
LEADER_GAP = 0.25  # inches: the widest spacing of a leader's dots (groff spaces them 0.17 in)
RULE_LENGTH = 1.0  # inches: a vertical line this long outside a frame is a column rule
_RULE_WIDTH = 6.0  # points: a rectangle no wider is a rule, not a frame


def noise(word: str, box: Rect, frames: Sequence[Rect]) -> bool:
    """Whether a recognised word (``box`` as ``frames``: left, bottom, right, top) is a speck or a
    frame's side rather than text: a word of dots, a bar on a frame's left or right side, or any
    word that a frame's top or bottom side runs through (text stands inside a box or outside it)."""
    if _DOTS.fullmatch(word):
        return True
    x0, y0, x1, y1 = box
    margin = 0.25 * (y1 - y0)
    for left, bottom, right, top in frames:
        if x1 < left - 4 or x0 > right + 4 or y1 < bottom - 2 or y0 > top + 2:
            continue
        if _BARS.fullmatch(word) and any(x0 - 4 <= side <= x1 + 4 for side in (left, right)):
            return True
        if right - left > _RULE_WIDTH and any(y0 + margin < side < y1 - margin for side in (bottom, top)):
            return True
    return False


@dataclass(frozen=True)
class Marks:
    """What a scanned page's image shows besides its letters, in PDF points: ``frames`` ruled round
    boxes and tables, followed by column rules as rectangles a few points wide, and dot leaders
    (``leaders``: the area above a row of evenly spaced dots)."""

    frames: list[Rect]
    leaders: list[Rect]


def marks(page: Any) -> Marks:
    """The frames, rules and dot leaders in a scanned page's image (one rendering for all)."""
    import numpy as np

    width, height = page.get_size()
    scale = FRAME_DPI / 72
    dark = np.asarray(page.render(scale=scale, grayscale=True).to_pil().convert("L")) < _DARK
    return Marks(_frames(dark, scale, height), _leaders(dark, scale, height))


def _frames(dark: Any, scale: float, height: float) -> list[Rect]:
    """Rectangles ruled round boxes (or tables) in a scanned page's image, in PDF points: a scan has
    no drawn rectangles for the layout to see, and without them a box beside the text is read into
    its lines. Found as long straight dark lines whose four sides close round an area; column rules
    follow (``_rules``)."""
    import numpy as np
    from scipy import ndimage

    side = int(_MIN_SIDE * FRAME_DPI)
    across = ndimage.binary_opening(dark, structure=np.ones((1, side), bool))
    down = ndimage.binary_opening(dark, structure=np.ones((side, 1), bool))
    labels, _ = ndimage.label(ndimage.binary_dilation(across | down), structure=np.ones((3, 3), bool))
    found: list[Rect] = []
    for rows, cols in ndimage.find_objects(labels):
        r0, r1, c0, c1 = rows.start, rows.stop, cols.start, cols.stop
        if r1 - r0 < side or c1 - c0 < side:
            continue
        edge = 3  # pixels: a side may stand a little in from the outline's box
        closed = min(
            across[r0 : r0 + edge, c0:c1].any(axis=0).mean(),
            across[r1 - edge : r1, c0:c1].any(axis=0).mean(),
            down[r0:r1, c0 : c0 + edge].any(axis=1).mean(),
            down[r0:r1, c1 - edge : c1].any(axis=1).mean(),
        )
        if closed > 0.8:
            found.append((c0 / scale, height - r1 / scale, c1 / scale, height - r0 / scale))
    return found + _rules(dark, scale, height, found)


def _rules(dark: Any, scale: float, height: float, frames: list[Rect]) -> list[Rect]:
    """Vertical rules between columns (long thin dark lines outside any frame) as rectangles a few
    pixels wide: under noise Tesseract reads a rule as a column of "|", which joins the columns'
    lines into one; ``noise`` drops a bar on a rule as on a frame's side. A pixel belongs to a line
    when most pixels above and below it (0.4 in) are ink: a poor scan's hairline is broken here and
    there, which a strict opening would not survive."""
    import numpy as np
    from scipy import ndimage

    side = int(_MIN_SIDE * FRAME_DPI)
    down = ndimage.uniform_filter1d(dark.astype(np.float32), size=side, axis=0) >= 0.7
    labels, _ = ndimage.label(ndimage.binary_dilation(down, structure=np.ones((5, 3), bool)))
    found: list[Rect] = []
    for rows, cols in ndimage.find_objects(labels):
        trimmed = int(0.3 * side)  # the running mean cuts this much off either end of a line
        r0, r1, c0, c1 = max(0, rows.start - trimmed), rows.stop + trimmed, cols.start, cols.stop
        if r1 - r0 < RULE_LENGTH * FRAME_DPI or c1 - c0 > _RULE_WIDTH / 72 * FRAME_DPI:
            continue
        rect = (c0 / scale, height - r1 / scale, c1 / scale, height - r0 / scale)
        length = rect[3] - rect[1]
        if not any(  # a frame's own side (its ends may stick out by what the running mean added)
            min(abs(rect[0] - f[0]), abs(rect[2] - f[2])) <= 3
            and min(f[3], rect[3]) - max(f[1], rect[1]) > 0.5 * length
            for f in frames
        ):  # (a rule inside a frame, between a table's columns, is a rule)
            found.append(rect)
    return found


def _leaders(dark: Any, scale: float, height: float) -> list[Rect]:
    """Dot leaders (contents lists, indexes, forms): at least ``LEADER_DOTS`` specks of ink in a row,
    evenly spaced. Tesseract reads them as letters and digits ("222cseeeenenn 1"), which hides a
    contents or index page from the layout; the reader turns them back into dots (``in_leader``).
    Each leader is returned as the area from just below its dots to a line's height above them."""
    import numpy as np
    from scipy import ndimage

    labels, _ = ndimage.label(dark, structure=np.ones((3, 3), bool))
    small = 1.5 / 72 * FRAME_DPI  # a dot is at most 1.5 pt across
    dots = sorted(
        ((c.start + c.stop) / 2, (r.start + r.stop) / 2)
        for r, c in ndimage.find_objects(labels)
        if r.stop - r.start <= small and c.stop - c.start <= small
    )
    reach = LEADER_GAP * FRAME_DPI
    chains: list[list[tuple[float, float]]] = []
    open_chains: list[list[tuple[float, float]]] = []
    for x, y in dots:  # left to right: each dot continues the nearest chain it fits, or starts one
        open_chains = [c for c in open_chains if x - c[-1][0] <= reach]
        best: list[tuple[float, float]] | None = None
        for chain in open_chains:
            gap = x - chain[-1][0]
            if gap < 2 or abs(y - chain[-1][1]) > 1.5:
                continue
            if len(chain) > 1 and abs(gap - (chain[-1][0] - chain[-2][0])) > 2:
                continue  # not evenly spaced
            if best is None or gap < x - best[-1][0]:
                best = chain
        if best is not None:
            best.append((x, y))
        else:
            chain = [(x, y)]
            chains.append(chain)
            open_chains.append(chain)
    found: list[Rect] = []
    for chain in chains:
        if len(chain) >= LEADER_DOTS:
            (x0, y0), (x1, y1) = chain[0], chain[-1]
            gap = (x1 - x0) / (len(chain) - 1)
            base = height - max(y0, y1) / scale  # the dots' height on the page, in points
            found.append(((x0 - gap / 2) / scale, base - 2.0, (x1 + gap / 2) / scale, base + 8.0))
    return found


def in_leader(box: Rect, leaders: Sequence[Rect]) -> bool:
    """Whether a character's box (left, bottom, right, top) stands on a dot leader."""
    x = (box[0] + box[2]) / 2
    y = (box[1] + box[3]) / 2
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in leaders)


def steady_sizes(runs: list[Run]) -> list[Run]:
    """Recognised text with one font size for the body of the page.

    Tesseract gives each line a whole-point size from the line's height, so one paragraph's lines
    come out at 10, 11 and 12 pt (capitals with umlauts stand taller) and the layout would split it
    into blocks, some taken for headings. Sizes within 13 % of the page's median (by characters) are
    set to it; larger type (headings) and small print (footnotes) keep theirs."""
    sized = sorted((run.size, len(run.text)) for run in runs if run.size > 0)
    if not sized:
        return runs
    half, seen = sum(n for _, n in sized) / 2, 0
    median = sized[-1][0]
    for size, n in sized:
        seen += n
        if seen >= half:
            median = size
            break
    for run in runs:
        if run.size > 0 and 1 / 1.13 <= run.size / median <= 1.13:
            run.size = median
            run.y0, run.y1 = run.base - 0.22 * median, run.base + 0.72 * median  # as pdf._runs places them
    return runs


@contextmanager
def recognised(file: Path, source: str, pages: Sequence[int]) -> Iterator[Path]:
    """A temporary copy of ``file`` whose ``pages`` (1-based) carry recognised text; the other pages
    are left as they are. DocumentError when the engine fails, is missing or runs out of time."""
    executable = engine()
    if executable is None:
        raise DocumentError(f"{source}: keine Textebene (gescannt?); {INSTALL_HINT}")
    limit = time_limit(len(pages))
    with tempfile.TemporaryDirectory(prefix="qm-ocr-") as folder:
        work = Path(folder)
        output, log = work / "ocr.pdf", work / "ocrmypdf.log"
        args = [
            executable,
            "--skip-text",  # a page with text keeps it, should the page choice ever include one
            # A skewed scan puts one line's words on different baselines, which the layout cannot
            # join into lines: measured on a 0.8° skew, CER 49 % without, 8 % with (bench/ocr_quality.py).
            "--deskew",
            "--pages", ",".join(str(p) for p in sorted(set(pages))),
            "-l", LANGUAGE,
            "--jobs", str(max(1, min(JOBS, os.cpu_count() or 1))),
            "--output-type", "pdf",  # no PDF/A conversion: the copy is read once and thrown away
            "--optimize", "0",
            "--tesseract-timeout", str(PAGE_SECONDS),
            "--quiet",
            "--", str(file), str(output),
        ]  # fmt: skip
        # OCRmyPDF and Tesseract keep their scratch files under TMPDIR: here, so none outlive the run.
        environment = {**os.environ, "TMPDIR": folder}
        with open(log, "wb") as messages:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=messages,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=environment,
                start_new_session=True,  # its own process group: a timeout ends Tesseract and Ghostscript too
            )
            try:
                code = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise DocumentError(
                    f"{source}: Texterkennung nach {limit} s abgebrochen ({len(pages)} Seiten)"
                ) from None
            except BaseException:
                _kill_group(process)
                raise
        if code != 0 or not output.is_file():
            raise DocumentError(f"{source}: Texterkennung fehlgeschlagen ({_reason(code, log)})")
        yield output


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


# OCRmyPDF's exit codes (ocrmypdf.exceptions.ExitCode) a user can act on.
_EXIT_REASONS = {
    3: "fehlendes Hilfsprogramm",
    5: "Datei nicht lesbar",
    8: "verschlüsselt",
}


def _reason(code: int, log: Path) -> str:
    """One line on why OCRmyPDF failed: its exit code's meaning or its last message."""
    with open(log, "rb") as handle:
        handle.seek(max(0, log.stat().st_size - _TAIL))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
    last = re.sub(r"\s+", " ", lines[-1])[:160] if lines else ""
    known = _EXIT_REASONS.get(code)
    parts = [p for p in (known, last) if p]
    return f"ocrmypdf {code}" + (f": {'; '.join(parts)}" if parts else "")
