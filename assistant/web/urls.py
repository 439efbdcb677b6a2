"""Every address the app builds, in one place: the routes of the source files and the source view are
declared from these prefixes, and citations, templates and the API get their links from here."""

from __future__ import annotations

from urllib.parse import quote

from ..records import Citation, Passage

__all__ = [
    "ANSWER_STREAM",
    "CONVERSATION",
    "DOCS",
    "HOME",
    "PRIVACY",
    "ADMIN",
    "ADMIN_AUDIT",
    "ADMIN_BUILD",
    "ADMIN_DOCUMENT",
    "ADMIN_LOGIN",
    "ADMIN_LOGOUT",
    "ADMIN_API",
    "ADMIN_API_BUILDS",
    "ADMIN_API_DOCUMENTS",
    "admin_build_url",
    "build_events_url",
    "build_status_url",
    "answer_url",
    "conversation_url",
    "delete_url",
    "feedback_url",
    "admin_delete_url",
    "admin_document_url",
    "SOURCE_FILES",
    "SOURCE_VIEW",
    "passage_url",
    "reading_url",
    "source_file_url",
    "source_url",
    "source_view_url",
]

#: The source file itself (a PDF opens at a page with ``#page=``).
SOURCE_FILES = "/quellen"
#: A source rendered as a page, the passage named by ``?stelle=`` highlighted and scrolled to.
SOURCE_VIEW = "/ansicht"


#: The chat's start page, a conversation (``/gespraech/<id>``), the stream of a first answer's model text,
#: the API documentation and the privacy notice.
HOME = "/"
CONVERSATION = "/gespraech"
ANSWER_STREAM = f"{CONVERSATION}/antwort"
DOCS = "/docs"
PRIVACY = "/datenschutz"


def conversation_url(conversation: str, fragment: str = "") -> str:
    """A conversation's page (``fragment``: a place in it, such as ``frage3``)."""
    path = f"{CONVERSATION}/{quote(conversation, safe='')}"
    return f"{path}#{fragment}" if fragment else path


def answer_url(conversation: str, number: int) -> str:
    """Where the language model's answer to a stored turn streams from."""
    return f"{conversation_url(conversation)}/{number}/antwort"


def feedback_url(conversation: str, number: int) -> str:
    return f"{conversation_url(conversation)}/{number}/rueckmeldung"


def delete_url(conversation: str) -> str:
    """The page that confirms (GET) and carries out (POST) a conversation's deletion."""
    return f"{conversation_url(conversation)}/loeschen"


#: The operator area: documents (its start page), log in and out, one document, builds, audit log.
ADMIN = "/verwaltung"
ADMIN_LOGIN = f"{ADMIN}/anmelden"
ADMIN_LOGOUT = f"{ADMIN}/abmelden"
ADMIN_DOCUMENT = f"{ADMIN}/dokumente"
ADMIN_BUILD = f"{ADMIN}/neubau"
ADMIN_AUDIT = f"{ADMIN}/protokoll"


def admin_document_url(name: str) -> str:
    """How an uploaded document was read ("So wurde gelesen")."""
    return f"{ADMIN_DOCUMENT}/{quote(name, safe='')}"


def admin_delete_url(name: str) -> str:
    return f"{admin_document_url(name)}/loeschen"


def admin_build_url(build_id: str) -> str:
    """A build's progress page."""
    return f"{ADMIN_BUILD}/{quote(build_id, safe='')}"


#: The operator area's JSON API: documents and builds.
ADMIN_API = "/api/admin"
ADMIN_API_DOCUMENTS = f"{ADMIN_API}/documents"
ADMIN_API_BUILDS = f"{ADMIN_API}/builds"


def build_status_url(build_id: str) -> str:
    return f"{ADMIN_API_BUILDS}/{quote(build_id, safe='')}"


def build_events_url(build_id: str) -> str:
    """A build's progress as server-sent events."""
    return f"{build_status_url(build_id)}/events"


def source_file_url(source: str, page: int | None = None) -> str:
    """The source file ``source`` (a key recorded at build time), a PDF opened at ``page`` (1-based)."""
    path = f"{SOURCE_FILES}/{quote(source)}"
    return f"{path}#page={page}" if page is not None else path


def source_url(citation: Citation) -> str | None:
    """Where the app serves the cited source, opened at the page for PDFs."""
    return source_file_url(citation.source, citation.page) if citation.source else None


def source_view_url(source: str, passage_id: str = "") -> str:
    """The source view of ``source``, scrolled to the passage ``passage_id`` when one is named."""
    path = f"{SOURCE_VIEW}/{quote(source)}"
    return f"{path}?stelle={quote(passage_id)}#stelle" if passage_id else path


def passage_url(passage: Passage) -> str | None:
    """Where to check a passage: a PDF at its page, any other source as a rendered view that scrolls
    to the passage and highlights it."""
    citation = passage.citation
    if not citation.source:
        return None
    return source_url(citation) if citation.page is not None else source_view_url(citation.source, passage.id)


def reading_url(passage: Passage) -> str | None:
    """For a PDF passage: the page's text as the assistant read it, with the passage marked
    (``passage_url`` opens the PDF itself at the page). None for other sources, whose
    ``passage_url`` is that view already."""
    citation = passage.citation
    if not citation.source or citation.page is None:
        return None
    return source_view_url(citation.source, passage.id)
