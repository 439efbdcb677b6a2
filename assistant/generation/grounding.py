"""Grounded generation: the prompt that gives the model the numbered passages, and the check of every
sentence it writes against the passages it cites.

A sentence counts as verified when it carries at least one marker, every marker names a passage that
was given, and most of its content words occur in the cited passages: the share of its analysed terms
(stems and compound parts, stop words left out, as BM25 sees them) found in those passages' terms is at
least ``SUPPORT_MIN``, and it does not repeat an earlier verified sentence. Sentences that fail are
kept with ``verified=False`` (the API shows them so marked, the chat leaves them out). When fewer than
half of the sentences, or none, are verified, the generated answer is not used and the extractive
Kurzantwort stands.

What the check cannot see: a sentence recombined from a passage's own words into a different claim
passes it. Small models do that; the README says which models to run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..index.lexical import GermanAnalyzer
from ..records import GeneratedSentence, Hit
from ..text import split_sentences

__all__ = [
    "MAX_PASSAGES",
    "NOT_ANSWERED",
    "REPEAT_MIN",
    "SUPPORT_MIN",
    "check_sentences",
    "citation_grammar",
    "grounded_messages",
    "is_usable",
]

#: How many of the top passages the model sees, and how much of each (the context of small models).
MAX_PASSAGES = 4
_PASSAGE_CHARS = 1200
#: Share of a sentence's content terms that must occur in the passages it cites.
SUPPORT_MIN = 0.6
#: A sentence whose terms overlap an earlier sentence's this much (Jaccard) repeats it: not verified
#: again (small models loop; a repeated claim adds nothing and would count twice towards ``is_usable``).
REPEAT_MIN = 0.8
_MARKERS = re.compile(r"\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
_ONLY_MARKERS = re.compile(r"^(?:\s*\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]\s*[.!?]?)+$")

#: What the model is told to write when the passages do not answer the question.
NOT_ANSWERED = "Die Fundstellen beantworten diese Frage nicht."

_INSTRUCTIONS = (
    "Du bist der QM-Assistent für Fachleute des Quartiersmanagements im Programm Soziale Stadt. "
    "Beantworte die Frage ausschließlich mit Aussagen aus den nummerierten Fundstellen. "
    "Schreibe höchstens vier kurze, sachliche Sätze auf Deutsch. "
    "Setze hinter jeden Satz die Nummer der Fundstelle, auf die er sich stützt, in eckigen Klammern, "
    "zum Beispiel [2] oder [1, 3]. "
    "Erfinde nichts und füge kein Wissen von außerhalb der Fundstellen hinzu. "
    f"Wenn die Fundstellen die Frage nicht beantworten, schreibe nur: „{NOT_ANSWERED}“"
)


def grounded_messages(question: str, history: Sequence[str], hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages for the model: instructions, then the passages, earlier questions and the
    question itself."""
    blocks = []
    for number, hit in enumerate(hits[:MAX_PASSAGES], start=1):
        text = " ".join(hit.passage.text.split())
        if len(text) > _PASSAGE_CHARS:
            text = text[:_PASSAGE_CHARS].rsplit(" ", 1)[0] + " …"
        blocks.append(f"[{number}] {hit.passage.citation.label}\n{text}")
    parts = ["Fundstellen:\n\n" + "\n\n".join(blocks)]
    if history:
        earlier = "\n".join(f"- {q}" for q in history[-3:])
        parts.append(f"Frühere Fragen in diesem Gespräch:\n{earlier}")
    parts.append(f"Frage: {question}")
    return [
        {"role": "system", "content": _INSTRUCTIONS},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def citation_grammar(passages: int) -> str:
    """A GBNF grammar (llama.cpp's ``grammar`` field) under which every sentence ends with a marker
    naming one or two of the ``passages`` given, or the answer is the refusal sentence alone.

    It decides only the form: which passage a sentence cites, and whether the passage supports it,
    is still the model's choice and still checked. Small models hardly ever write markers on their
    own; the price is that sentences cannot contain '.', '!', '?', brackets or line breaks, and end
    after 160 characters (small models repeat themselves without end otherwise)."""
    if not 1 <= passages <= 9:
        raise ValueError(f"passages must be 1 to 9, not {passages}")
    marker = "[1]" if passages == 1 else f"[1-{passages}]"
    return "\n".join(
        (
            f'root ::= "{NOT_ANSWERED}" | sentence (" " sentence){{0,3}}',
            'sentence ::= [A-ZÄÖÜ0-9§"„] [^\\[\\]\\n.!?]{8,160} " [" marker (", " marker)? "]."',
            f"marker ::= {marker}",
        )
    )


def check_sentences(
    text: str, hits: Sequence[Hit], analyzer: GermanAnalyzer
) -> tuple[GeneratedSentence, ...]:
    """The generated text cut into sentences, each with its markers and whether the cited passages
    support it."""
    given = min(len(hits), MAX_PASSAGES)
    passage_terms = [set(analyzer.terms(hit.passage.embedding_text)) for hit in hits[:given]]
    sentences: list[str] = []
    for sentence in split_sentences(text):
        if sentences and _ONLY_MARKERS.match(sentence):  # "… entscheidet. [1]" split after the period
            sentences[-1] = f"{sentences[-1]} {sentence.strip()}"
        else:
            sentences.append(sentence)
    checked = []
    said: list[set[str]] = []  # the terms of each earlier verified sentence
    for sentence in sentences:
        markers = tuple(
            int(number) for group in _MARKERS.findall(sentence) for number in re.split(r"\s*[,;]\s*", group)
        )
        # "… entscheidet [2]." shown as "… entscheidet." with the marker as a link after it.
        plain = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(_MARKERS.sub(" ", sentence).split()))
        if not plain:
            continue
        valid = bool(markers) and all(1 <= m <= given for m in markers)
        terms = set(analyzer.terms(plain))
        support = 0.0
        if valid and terms:
            cited = set().union(*(passage_terms[m - 1] for m in markers))
            support = len(terms & cited) / len(terms)
        repeated = any(len(terms & earlier) >= REPEAT_MIN * len(terms | earlier) for earlier in said)
        verified = valid and bool(terms) and support >= SUPPORT_MIN and not repeated
        if verified:
            said.append(terms)
        checked.append(
            GeneratedSentence(
                text=plain,
                markers=tuple(dict.fromkeys(markers)),
                verified=verified,
                support=round(support, 3),
            )
        )
    return tuple(checked)


def is_usable(sentences: Sequence[GeneratedSentence]) -> bool:
    """Whether enough of the generated answer is verified to show it (at least half, and one)."""
    verified = sum(s.verified for s in sentences)
    return verified > 0 and verified * 2 >= len(sentences)
