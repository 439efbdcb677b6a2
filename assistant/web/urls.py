"""Every address the app serves and builds, in one place: each route is declared from these names, and
citations, templates and the API get their links from here."""

from __future__ import annotations

from urllib.parse import quote

from ..records import Citation, Passage

__all__ = [
    "ANSWER_ROUTE",
    "ANSWER_STREAM",
    "CONVERSATION",
    "CONVERSATION_ROUTE",
    "DELETE_ROUTE",
    "DOCS",
    "FEEDBACK_ROUTE",
    "HOME",
    "OPENAPI",
    "PRIVACY",
    "STATIC",
    "API",
    "API_ASK",
    "API_CONVERSATION_ROUTE",
    "API_CONVERSATIONS",
    "API_FEEDBACK",
    "API_HEALTH",
    "ADMIN",
    "ADMIN_AUDIT",
    "ADMIN_BUILD",
    "ADMIN_DOCUMENT",
    "ADMIN_LOGIN",
    "ADMIN_LOGOUT",
    "ADMIN_API",
    "ADMIN_API_BUILDS",
    "ADMIN_API_BUILD_EVENTS_ROUTE",
    "ADMIN_API_BUILD_ROUTE",
    "ADMIN_API_DOCUMENT_ROUTE",
    "ADMIN_API_DOCUMENTS",
    "ADMIN_BUILD_ROUTE",
    "ADMIN_DELETE_ROUTE",
    "ADMIN_DOCUMENT_ROUTE",
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
    "SOURCE_FILE_ROUTE",
    "SOURCE_VIEW",
    "SOURCE_VIEW_ROUTE",
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
#: Their routes: the key is the rest of the path (a source in a folder has a ``/`` in its key).
SOURCE_FILE_ROUTE = f"{SOURCE_FILES}/{{key:path}}"
SOURCE_VIEW_ROUTE = f"{SOURCE_VIEW}/{{key:path}}"


#: The chat's start page, a conversation (``/gespraech/<id>``), the stream of a first answer's model text,
#: the API documentation and the privacy notice.
HOME = "/"
CONVERSATION = "/gespraech"
ANSWER_STREAM = f"{CONVERSATION}/antwort"
DOCS = "/docs"
PRIVACY = "/datenschutz"
#: The vendored scripts, styles and icons; the OpenAPI schema the API documentation reads.
STATIC = "/static"
OPENAPI = "/openapi.json"

#: The routes of a conversation's page, the stream of a stored turn's model answer, a turn's feedback
#: and the deletion (the functions below build their addresses).
CONVERSATION_ROUTE = f"{CONVERSATION}/{{conversation}}"
ANSWER_ROUTE = f"{CONVERSATION_ROUTE}/{{number}}/antwort"
FEEDBACK_ROUTE = f"{CONVERSATION_ROUTE}/{{number}}/rueckmeldung"
DELETE_ROUTE = f"{CONVERSATION_ROUTE}/loeschen"


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


#: The routes of one uploaded document, its deletion, and one build's progress page.
ADMIN_DOCUMENT_ROUTE = f"{ADMIN_DOCUMENT}/{{name}}"
ADMIN_DELETE_ROUTE = f"{ADMIN_DOCUMENT_ROUTE}/loeschen"
ADMIN_BUILD_ROUTE = f"{ADMIN_BUILD}/{{build_id}}"


def admin_document_url(name: str) -> str:
    """How an uploaded document was read ("So wurde gelesen")."""
    return f"{ADMIN_DOCUMENT}/{quote(name, safe='')}"


def admin_delete_url(name: str) -> str:
    return f"{admin_document_url(name)}/loeschen"


def admin_build_url(build_id: str) -> str:
    """A build's progress page."""
    return f"{ADMIN_BUILD}/{quote(build_id, safe='')}"


#: The JSON API (every address under it is answered in JSON): questions, feedback, the service's
#: status, and deleting a conversation.
API = "/api"
API_ASK = f"{API}/ask"
API_FEEDBACK = f"{API}/feedback"
API_HEALTH = f"{API}/health"
API_CONVERSATIONS = f"{API}/conversations"
API_CONVERSATION_ROUTE = f"{API_CONVERSATIONS}/{{conversation}}"

#: The operator area's JSON API: documents and builds.
ADMIN_API = f"{API}/admin"
ADMIN_API_DOCUMENTS = f"{ADMIN_API}/documents"
ADMIN_API_BUILDS = f"{ADMIN_API}/builds"
#: The routes of one uploaded document, one build's state and its progress stream.
ADMIN_API_DOCUMENT_ROUTE = f"{ADMIN_API_DOCUMENTS}/{{name}}"
ADMIN_API_BUILD_ROUTE = f"{ADMIN_API_BUILDS}/{{build_id}}"
ADMIN_API_BUILD_EVENTS_ROUTE = f"{ADMIN_API_BUILD_ROUTE}/events"


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
