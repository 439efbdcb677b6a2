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
passes it. Small models do that; docs/language-model.md says which models to run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from ..records import EvidenceQuote, GeneratedSentence, Hit
from ..text import MAX_COMPOUND_CHARS, GermanAnalyzer, split_sentences
from .evidence import EvidenceChecker, Verdict

__all__ = [
    "MAX_PASSAGES",
    "NOT_ANSWERED",
    "REPEAT_MIN",
    "check_sentences",
    "citation_grammar",
    "grounding_checker",
    "grounded_messages",
    "is_usable",
]

#: How many of the top passages the model sees, and how much of each (the context of small models).
MAX_PASSAGES = 4
_PASSAGE_CHARS = 1200
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


def grounding_checker(analyzer: GermanAnalyzer) -> EvidenceChecker:
    """The evidence checker for a release: words matched by the release's German analyser (stems and
    compound parts) and by their lemmas (simplemma), so "beschloss" meets "beschließen"."""
    import simplemma

    @lru_cache(maxsize=100_000)
    def keys(word: str) -> frozenset[str]:
        if len(word) > MAX_COMPOUND_CHARS:  # no lemma lookup or splitting for absurd "words"
            return frozenset(analyzer.word_stems(word))
        terms = set(analyzer.terms(word))
        if terms:
            base = lemma(word)
            if base != word:
                terms.update(analyzer.terms(base))
        return frozenset(terms)

    @lru_cache(maxsize=100_000)
    def lemma(word: str) -> str:
        return str(simplemma.lemmatize(word, lang="de")) if len(word) <= MAX_COMPOUND_CHARS else word

    return EvidenceChecker(keys=keys, is_stopword=analyzer.is_stopword, lemma=lemma)


def check_sentences(
    text: str,
    hits: Sequence[Hit],
    analyzer: GermanAnalyzer,
    *,
    question: str = "",
    checker: EvidenceChecker | None = None,
) -> tuple[GeneratedSentence, ...]:
    """The generated text cut into sentences, each with its markers, whether the cited passages support
    it, and the evidence: the sentence or two adjacent sentences of a cited passage that say it."""
    checker = checker or grounding_checker(analyzer)
    given = min(len(hits), MAX_PASSAGES)
    passages = [hit.passage.text for hit in hits[:given]]
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
        markers = tuple(dict.fromkeys(markers))
        if not markers:
            verdict = Verdict("ohne Fundstellennummer", (), 0.0)
        elif not all(1 <= m <= given for m in markers):
            verdict = Verdict("nennt eine Fundstelle, die nicht gegeben war", (), 0.0)
        else:
            verdict = checker.check(plain, markers, passages, question=question)
        terms = set(analyzer.terms(plain))
        repeated = any(len(terms & earlier) >= REPEAT_MIN * len(terms | earlier) for earlier in said)
        reason = verdict.reason or ("wiederholt einen früheren Satz" if repeated else None)
        if reason is None:
            said.append(terms)
        checked.append(
            GeneratedSentence(
                text=plain,
                markers=markers,
                verified=reason is None,
                support=verdict.support,
                evidence=tuple(
                    EvidenceQuote(
                        marker=span.marker,
                        passage_id=hits[span.marker - 1].passage.id,
                        start=span.start,
                        end=span.end,
                        text=span.text,
                    )
                    for span in verdict.evidence
                ),
                reason=reason,
            )
        )
    return tuple(checked)


def is_usable(sentences: Sequence[GeneratedSentence]) -> bool:
    """Whether enough of the generated answer is verified to show it (at least half, and one)."""
    verified = sum(s.verified for s in sentences)
    return verified > 0 and verified * 2 >= len(sentences)
