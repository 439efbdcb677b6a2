"""The frozen records that travel through the pipeline (Citation, Passage, Hit, Answer) and their storage
round trip (``to_record``/``from_record``). Addresses and response shapes belong to the web layer
(``assistant.web.urls``, ``assistant.web.api``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "AnswerSentence",
    "Citation",
    "EvidenceQuote",
    "GeneratedSentence",
    "Hit",
    "Passage",
]


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a passage stands: document title, chapter, section and, for paged sources, the page.

    ``page`` is the 1-based physical page number; ``page_label`` the label printed on the page
    (e.g. "iv" or "12") where the PDF defines one. ``ocr`` marks text read by text recognition from
    a scanned page, which may hold misread characters.
    """

    document: str
    chapter: str = ""
    section: str = ""
    page: int | None = None
    page_label: str | None = None
    source: str = ""  # the source file, relative to the folder it was read from
    ocr: bool = False

    @property
    def label(self) -> str:
        """Human-readable form: "Aufgabenspektrum › Aktivierung, S. 12", for recognised text
        "Aufgabenspektrum › Aktivierung, S. 12 (Texterkennung)"."""
        parts = [p for p in (self.chapter, self.section) if p]
        text = " › ".join(parts) if parts else self.document
        shown_page = self.page_label or (str(self.page) if self.page is not None else None)
        where = f"{text}, S. {shown_page}" if shown_page else text
        return f"{where} (Texterkennung)" if self.ocr else where

    def to_record(self) -> dict[str, Any]:
        """The stored form; ``ocr`` only where set, so a release of text sources is stored as before
        (and an older version of the assistant can still load it)."""
        record = asdict(self)
        if not self.ocr:
            del record["ocr"]
        return record


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrievable piece of a document with a stable id derived from its source and content."""

    id: str
    text: str
    citation: Citation

    @property
    def heading(self) -> str:
        """The passage's nearest heading: its section, else its chapter ("" for neither)."""
        return self.citation.section or self.citation.chapter

    @property
    def embedding_text(self) -> str:
        """What gets embedded: the section heading (or chapter) first, because headings name the topic
        in the words people ask with ("Wer entscheidet über den Verfügungsfonds?")."""
        return f"{self.heading}. {self.text}" if self.heading else self.text

    def sentence_in_context(self, sentence: str) -> str:
        """One of the passage's sentences as the short answer's model reads it: after the heading, which
        names the topic a sentence on its own often leaves out ("Die Länder setzen die Förderung … um."
        under "Aufgabenteilung in der Städtebauförderung"). First sentences that answer, on the fitting
        half of the second blind set: 26 of 61 without the heading, 29 with it."""
        return f"{self.heading}: {sentence}" if self.heading else sentence

    @property
    def quotation(self) -> str:
        """The passage as a quotation with its source, for "Zitat kopieren"."""
        text = " ".join(self.text.split())
        citation = self.citation
        where = citation.label if citation.label != citation.document else ""
        return f"„{text}“ ({citation.document}{', ' + where if where else ''})"

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "citation": self.citation.to_record()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Passage:
        # A record without "ocr" (every release before text recognition) reads as ocr=False.
        return cls(id=record["id"], text=record["text"], citation=Citation(**record["citation"]))


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage found for a question: ``score`` ranks (the fused score in hybrid search), ``dense``
    is the cosine similarity and ``lexical`` the BM25 score behind it; ``row`` finds its stored
    sentence vectors."""

    passage: Passage
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    row: int = -1  # the passage's row in its release (-1: not known)


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    """A sentence quoted from a passage for the short answer; ``marker`` is the passage's number."""

    text: str
    passage_id: str
    marker: int


@dataclass(frozen=True, slots=True)
class EvidenceQuote:
    """Where a generated sentence's evidence stands: passage ``marker`` (1-based, as the model was
    given it), its id, and the evidence's character offsets in the passage's text."""

    marker: int
    passage_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class GeneratedSentence:
    """A sentence of the language model's answer: its citation markers (passage numbers, 1-based),
    whether the cited passages support it, ``support`` (the share of its content words found in its
    evidence), the ``evidence`` (the one or two sentences of a cited passage that say it, or the
    closest ones when it is not verified) and, when not verified, the ``reason``."""

    text: str
    markers: tuple[int, ...]
    verified: bool
    support: float = 0.0
    evidence: tuple[EvidenceQuote, ...] = ()
    reason: str | None = None

    def evidence_span(self, marker: int) -> tuple[int, int] | None:
        """Where the evidence stands in passage ``marker`` (first start, last end), if it is there."""
        quotes = [q for q in self.evidence if q.marker == marker]
        return (quotes[0].start, quotes[-1].end) if quotes else None


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything shown for one question: the JSON API, the web chat and the CLI all render this object."""

    question: str
    hits: tuple[Hit, ...]
    no_match: bool
    message: str | None
    model: str
    build_id: str
    history: tuple[str, ...] = field(default_factory=tuple)
    searched: str = ""  # what was searched for: the question, plus words borrowed from earlier turns
    sentences: tuple[AnswerSentence, ...] = ()  # the extractive short answer
    highlights: tuple[tuple[str, ...], ...] = ()  # per hit: the words that matched the question
    generated: tuple[GeneratedSentence, ...] = ()  # the language model's answer, checked (when configured)
    notice: str | None = None  # why the generated answer is not shown (the Kurzantwort stands instead)
    # With no match: the nearest sections the sources do cover (not an answer; offered as links).
    related: tuple[Passage, ...] = ()

    @property
    def shown_generated(self) -> tuple[GeneratedSentence, ...]:
        """The generated sentences the chat shows: the verified ones."""
        return tuple(s for s in self.generated if s.verified)

    def highlights_for(self, position: int) -> tuple[str, ...]:
        return self.highlights[position] if position < len(self.highlights) else ()

    def to_record(self) -> dict[str, Any]:
        """Everything needed to show this answer again exactly as it was (stored with a conversation)."""
        return {
            "question": self.question,
            "hits": [
                {"passage": h.passage.to_record(), "score": h.score, "dense": h.dense, "lexical": h.lexical}
                for h in self.hits
            ],
            "no_match": self.no_match,
            "message": self.message,
            "model": self.model,
            "build_id": self.build_id,
            "history": list(self.history),
            "searched": self.searched,
            "sentences": [asdict(s) for s in self.sentences],
            "highlights": [list(h) for h in self.highlights],
            "generated": [
                {
                    "text": s.text,
                    "markers": list(s.markers),
                    "verified": s.verified,
                    "support": s.support,
                    "evidence": [asdict(e) for e in s.evidence],
                    "reason": s.reason,
                }
                for s in self.generated
            ],
            "notice": self.notice,
            "related": [p.to_record() for p in self.related],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Answer:
        return cls(
            question=record["question"],
            hits=tuple(
                Hit(
                    passage=Passage.from_record(h["passage"]),
                    score=h["score"],
                    dense=h.get("dense", 0.0),
                    lexical=h.get("lexical", 0.0),
                )
                for h in record["hits"]
            ),
            no_match=record["no_match"],
            message=record["message"],
            model=record["model"],
            build_id=record["build_id"],
            history=tuple(record.get("history", ())),
            searched=record.get("searched", ""),
            sentences=tuple(AnswerSentence(**s) for s in record.get("sentences", ())),
            highlights=tuple(tuple(h) for h in record.get("highlights", ())),
            generated=tuple(
                GeneratedSentence(
                    text=s["text"],
                    markers=tuple(s["markers"]),
                    verified=s["verified"],
                    support=s.get("support", 0.0),
                    evidence=tuple(EvidenceQuote(**e) for e in s.get("evidence", ())),
                    reason=s.get("reason"),
                )
                for s in record.get("generated", ())
            ),
            notice=record.get("notice"),
            related=tuple(Passage.from_record(p) for p in record.get("related", ())),
        )
