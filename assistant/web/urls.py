"""Every address the app builds, in one place: the routes of the source files and the source view are
declared from these prefixes, and citations, templates and the API get their links from here."""

from __future__ import annotations

from urllib.parse import quote

from ..records import Citation, Passage

__all__ = [
    "ADMIN",
    "ADMIN_AUDIT",
    "ADMIN_BUILD",
    "ADMIN_DOCUMENT",
    "ADMIN_LOGIN",
    "ADMIN_LOGOUT",
    "admin_build_url",
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
