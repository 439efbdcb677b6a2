"""Builds started from the operator area: one at a time, in a child process, with progress.

``BuildRunner.start`` records a build as running (the database allows only one running build, across
all server processes) and runs ``assistant build --progress-json`` with this server's settings in a
child process, so the build's memory and CPU never stall the server. A thread reads the child's JSON
lines and writes the progress to the store (a few times a second at most), where every server
process's progress page and ``GET /api/admin/builds/{id}`` read it. A build that publishes is swapped in
by this process at once (``loaded``), the other processes follow at their next reload check. A failed
build says why and the served release stays as it was: publishing is the build's last, atomic step.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from pydantic import SecretStr

from ..config import Settings
from .store import BuildState, Operator, OperatorStore

__all__ = ["BuildRunner", "settings_env"]

log = logging.getLogger(__name__)

MAX_BUILD_SECONDS = 6 * 3600.0  # a build still running after this is stopped
MAX_LINE = 64 * 1024  # longest progress line read from the child
STALE_AFTER = 600.0  # a "running" build not heard of for this long died with its server
_UPDATE_EVERY = 0.25  # seconds between progress writes to the store
_HEARTBEAT = 30.0


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment with ``settings`` as ``ASSISTANT_*`` variables, so that a child
    process builds exactly what this server serves (also when the settings were made in code)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = json.dumps([str(v) for v in value])
        else:
            text = str(value)
        env[f"ASSISTANT_{name.upper()}"] = text
    return env


class BuildRunner:
    """Runs operator-started builds; ``loaded()`` swaps a published release in (the app's reload)."""

    def __init__(self, settings: Settings, store: OperatorStore, loaded: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.loaded = loaded
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self, operator: Operator) -> tuple[BuildState, bool]:
        """Start a build, or find the one running: (its state, whether this call started it)."""
        state, new = self.store.start_build(operator.name, stale_after=STALE_AFTER)
        if new:
            self.store.audit(operator.name, "Neubau gestartet", state.id)
            threading.Thread(target=self._run, args=(state.id, operator.name), daemon=True).start()
        return state, new

    def stop(self) -> None:
        """Stop a running child (the server is shutting down); its build is marked failed."""
        with self._lock:
            if self._child is not None and self._child.poll() is None:
                self._child.kill()

    def _run(self, build_id: str, actor: str) -> None:
        try:
            outcome, message, result = self._child_build(build_id)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the build ends recorded as failed
            log.exception("build %s failed to run", build_id)
            outcome, message, result = (
                "failed",
                f"Der Neubau ließ sich nicht starten ({type(exc).__name__}).",
                {},
            )
        if outcome == "done":
            self.store.update_build(build_id, phase="loading", done=0, total=1)
            try:
                self.loaded()
            except Exception:  # noqa: BLE001 - the release is published; other processes load it anyway
                log.exception("loading the new release %s failed here", result.get("build_id"))
        self.store.update_build(
            build_id,
            phase="loading" if outcome == "done" else None,
            done=1 if outcome == "done" else 0,
            total=1 if outcome == "done" else 0,
            state=outcome,
            message=message,
            result=result,
        )
        action = "Neubau fertig" if outcome == "done" else "Neubau fehlgeschlagen"
        self.store.audit(actor, action, f"{build_id} {result.get('build_id', '')}".strip())

    def _child_build(self, build_id: str) -> tuple[str, str, dict[str, Any]]:
        command = [sys.executable, "-m", "assistant.cli", "build", "--progress-json"]
        with tempfile.TemporaryFile() as errors:
            with self._lock:
                self._child = subprocess.Popen(  # noqa: S603 - our own module, no shell
                    command,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    stdin=subprocess.DEVNULL,
                    env=settings_env(self.settings),
                )
            child = self._child
            assert child.stdout is not None
            watchdog = threading.Timer(MAX_BUILD_SECONDS, child.kill)
            watchdog.daemon = True
            watchdog.start()
            try:
                result, error, warnings = self._follow(build_id, child.stdout)
                code = child.wait()
            finally:
                watchdog.cancel()
            if result is not None and code == 0:
                result["warnings"] = warnings
                return (
                    "done",
                    f"Fertig: {result.get('passages', 0)} Passagen aus "
                    f"{result.get('documents', 0)} Dokumenten.",
                    result,
                )
            if error:
                return "failed", f"Neubau fehlgeschlagen: {error}", {"warnings": warnings}
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
            log.error("build %s: child exited with %s: %s", build_id, code, tail[-1] if tail else "")
            reason = "abgebrochen" if code and code < 0 else f"Fehlercode {code}"
            return (
                "failed",
                f"Neubau fehlgeschlagen ({reason}); der bisherige Stand bleibt in Betrieb.",
                {"warnings": warnings},
            )

    def _follow(self, build_id: str, stream: IO[bytes]) -> tuple[dict[str, Any] | None, str, list[str]]:
        """Read the child's JSON lines until it ends: (result, error, warnings)."""
        result: dict[str, Any] | None = None
        error = ""
        warnings: list[str] = []
        written = 0.0
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                return result, error, warnings
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue  # a cut line, or something printed by a library: not progress
            if not isinstance(record, dict):
                continue
            if "warning" in record and len(warnings) < 500:
                warnings.append(str(record["warning"])[:500])
            elif "error" in record:
                error = str(record["error"])[:1000]
            elif "result" in record and isinstance(record["result"], dict):
                result = record["result"]
            elif "phase" in record:
                now = time.monotonic()
                done, total = int(record.get("done", 0)), int(record.get("total", 0))
                if now - written >= _UPDATE_EVERY or done == total or now - written >= _HEARTBEAT:
                    self.store.update_build(build_id, phase=str(record["phase"]), done=done, total=total)
                    written = now
