"""Hot reload: a build publishes a new release, the server notices and swaps it in whole.

``ReleaseWatcher.check`` loads a newly published release completely before anything changes;
``watch_releases`` runs it every few seconds beside the server and swaps the served assistant. Requests
already running finish on the assistant they started with.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio
import anyio.to_thread

from .config import Settings
from .errors import ModelMismatch, ReleaseError
from .index.releases import releases_for
from .service import Assistant, open_assistant

__all__ = ["ReleaseWatcher", "Serving", "watch_releases"]

log = logging.getLogger(__name__)


class Serving(Protocol):
    """Where the served assistant is kept: the web app's ``app.state``."""

    assistant: Assistant


class ReleaseWatcher:
    """Hot reload: notices when a build has published a new release and loads it for swapping in.

    ``check(served)`` is cheap while nothing changed (it reads the one-line ``CURRENT``). When
    ``CURRENT`` names another release, that release is loaded completely (checksums, index, model)
    before anything is swapped; the caller then replaces its reference, so requests already running
    finish on the release they started with. A release that cannot be loaded (damaged, or built with
    another model) is refused with one logged error and the served one is kept; it is not retried, so a
    large broken release is not checksummed again every few seconds. The next build is tried anew.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.refused: set[str] = set()  # build ids that failed to load (the log says why)

    def check(self, served: Assistant) -> Assistant | None:
        """The assistant for a newly published release, or None to keep serving ``served``."""
        build_id = releases_for(self.settings).current_build_id()
        if build_id is None or build_id == served.build_id or build_id in self.refused:
            return None
        try:
            # This very release: the id refused below is the one that failed, even if CURRENT moves on.
            fresh = open_assistant(self.settings, previous=served, build_id=build_id)
        except Exception as exc:  # noqa: BLE001 - whatever breaks a release must not stop serving
            self.refused.add(build_id)
            expected = isinstance(exc, (ReleaseError, ModelMismatch))  # a traceback only for surprises
            log.error(
                "release %s refused, still serving %s: %s",
                build_id,
                served.build_id,
                exc,
                exc_info=None if expected else exc,
            )
            return None
        log.info("swapped from release %s to %s", served.build_id, fresh.build_id)
        return fresh


async def watch_releases(state: Serving, watcher: ReleaseWatcher, interval: float) -> None:
    """Hot reload: every ``interval`` seconds, swap ``state.assistant`` (the app's state) for a newly
    published release. Loading runs in its own thread, so requests keep being answered meanwhile; each request
    took one reference to the assistant when it started (``get_assistant``) and finishes on it."""
    loader = anyio.CapacityLimiter(1)  # not one of the request threads
    while True:
        await anyio.sleep(interval)
        try:
            fresh = await anyio.to_thread.run_sync(watcher.check, state.assistant, limiter=loader)
        except Exception:  # noqa: BLE001 - CURRENT unreadable for a moment, say: serving goes on
            log.exception("checking for a new release failed; trying again in %s s", interval)
            continue
        if fresh is not None:
            state.assistant = fresh
