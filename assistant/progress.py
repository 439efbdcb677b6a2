"""How far a build has come: one callback, ``progress(phase, done, total)``, for the terminal's progress
bar (``assistant build``), the JSON lines a build started from the browser reports
(``assistant build --progress-json``) and the operator area's progress page.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["PHASES", "JsonProgress", "Progress", "TerminalProgress", "no_progress"]

#: A build's phases in order, with their German names as the progress bar and the page show them.
PHASES: dict[str, str] = {
    "starting": "Start",
    "reading": "Dokumente lesen",
    "embedding": "Passagen einbetten",
    "sentences": "Sätze einbetten",
    "publishing": "Veröffentlichen",
    "loading": "Neuen Stand laden",
}

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: ``done`` of ``total`` steps of ``phase`` (a key of ``PHASES``)."""


def no_progress(phase: str, done: int, total: int) -> None:
    """Progress nobody watches."""


class TerminalProgress:
    """One tqdm bar per phase on stderr, each labelled with the phase's German name."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.phase = ""
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total or None, desc=PHASES.get(phase, phase), file=self.stream, unit="")
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class JsonProgress:
    """Each step as one JSON line ``{"phase": …, "done": …, "total": …}`` on ``stream``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.emit({"phase": phase, "done": done, "total": total})

    def emit(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()
