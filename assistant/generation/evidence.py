"""Evidence for a generated sentence: the one or two adjacent sentences of the cited passages that say
what it says, and the checks a sentence must pass against them.

A bag of words over a whole passage accepts a sentence recombined from the passage's words into another
claim: "nicht" is a stop word, "544 Maßnahmen in 965 Städten" has the same terms as "965 Maßnahmen in
544 Städten", and swapped actors share every word. So each sentence is aligned with the sentence, or
two adjacent sentences, of a cited passage that covers it best, and must agree with that evidence in

- **content**: every content word occurs there (as the same lemma or stem, or as a compound part); a
  short list of connectives is free, and up to ``slack`` words that are not nouns and stand in no
  passage given (a paraphrase's glue); a noun from another sentence or passage is never free;
- **numbers**: every number, year, amount and percentage (normalised: "15.000" = "15 000", "Mio." =
  "Millionen", "Prozent" = "%", "zwei" = "2"), each counting the same noun;
- **polarity and strength**, clause by clause: the same negation (nicht, kein, nie, ohne, kaum, nur)
  and no stronger modality (muss for kann or soll) or quantifier (immer, alle, ausschließlich, …) than
  the evidence has, nor a hedge (oft, meist, in der Regel, …) left out;
- **roles**: an actor governed by one preposition ("vom Senat", "im Einvernehmen mit dem Bezirk") is
  governed by the same one in the evidence, and for a verb both share, agent and object are the same
  (``frames``: word order, articles, prepositions, passive);
- **news**: it says something the question did not (an echo of the question is no answer).

All work is linear in the length of the text: words are analysed once, each evidence candidate is a
set lookup per word, and the candidates are the passages' sentences and their adjacent pairs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..text import split_sentences
from .frames import CLAUSE_BREAK, Frame, frames

__all__ = [
    "Analysis",
    "EvidenceChecker",
    "Span",
    "Verdict",
]

# Tokens: numbers with thousands separators ("15.000", "15 000"), decimals ("1,5") or a letter ("104b"),
# words, "%" and "§".
_TOKEN = re.compile(
    r"\d{1,3}(?:[.\u00a0\u202f ]\d{3})+(?:,\d+)?(?![\d])|\d+(?:,\d+)?(?:[a-z]\b)?"
    r"|[^\W\d_]+(?:[-'’][^\W_]+)*|%|§",
    re.UNICODE,
)

_NUMBER_WORDS = {
    "zwei": "2",
    "drei": "3",
    "vier": "4",
    "fünf": "5",
    "sechs": "6",
    "sieben": "7",
    "acht": "8",
    "neun": "9",
    "zehn": "10",
    "elf": "11",
    "zwölf": "12",
    "zwanzig": "20",
    "dreißig": "30",
    "zweimal": "2mal",
    "dreimal": "3mal",
    "viermal": "4mal",
    "hundert": "100",
    "tausend": "1000",
    "doppelt": "2",
    "hälfte": "1/2",
    "drittel": "1/3",
}  # fmt: skip  ("Viertel" is left out: mostly the neighbourhood, not a quarter)
_UNITS = {
    "mio": "mio", "million": "mio", "millionen": "mio", "mrd": "mrd", "milliarde": "mrd",
    "milliarden": "mrd", "prozent": "%", "%": "%", "tsd": "tsd",
}  # fmt: skip
_CURRENCY = frozenset({"euro", "eur", "€", "dm", "mark"})
# Nouns in fixed phrases that name nothing ("vor Ort", "in Frage", "im Einzelnen").
_IDIOMS = frozenset(
    {
        ("vor", "ort"), ("in", "frage"), ("im", "einzelnen"), ("im", "kern"), ("zum", "teil"),
        ("im", "rahmen"), ("zur", "verfügung"), ("im", "blick"), ("mit", "blick"), ("auf", "dauer"),
        ("im", "grunde"), ("in", "bezug"), ("im", "vordergrund"), ("neuesten", "stand"), ("im", "zuge"),
        ("in", "kraft"), ("in", "anspruch"), ("im", "auge"), ("zum", "beispiel"), ("im", "allgemeinen"),
    }
)  # fmt: skip
# Identifiers that a number follows ("§ 137", "Artikel 104b", "Abs. 2"): it counts nothing after it, it
# belongs to the noun before ("die Betroffenen nach § 137").
_SECTIONS = frozenset({"§", "art", "artikel", "abs", "absatz", "nr", "nummer", "ziffer", "kapitel"})

# Polarity and strength. Each word maps to its class; a sentence must agree with its evidence per class.
_NEGATION = {
    "nicht": "neg", "kein": "neg", "keine": "neg", "keinen": "neg", "keinem": "neg", "keiner": "neg",
    "keines": "neg", "nie": "neg", "niemals": "neg", "nichts": "neg", "niemand": "neg", "weder": "neg",
    "statt": "neg", "anstatt": "neg", "anstelle": "neg", "ohne": "ohne", "kaum": "kaum",
    "wenig": "kaum", "wenige": "kaum", "geringe": "kaum", "gering": "kaum", "geringem": "kaum",
    "geringen": "kaum", "geringer": "kaum", "geringes": "kaum", "nur": "nur", "lediglich": "nur",
    "allein": "nur", "erst": "erst",
}  # fmt: skip
_MODAL = {
    "muss": "muss", "müssen": "muss", "musste": "muss", "mussten": "muss", "müsse": "muss",
    "verpflichtet": "muss", "verpflichtend": "muss", "pflicht": "muss", "zwingend": "muss",
    "vorgeschrieben": "muss",
    "kann": "kann", "können": "kann", "konnte": "kann", "konnten": "kann", "könne": "kann",
    "könnten": "kann", "möglich": "kann", "ermöglicht": "kann", "lässt": "kann", "lassen": "kann",
    "darf": "darf", "dürfen": "darf", "durfte": "darf", "dürfte": "darf",
    "soll": "soll", "sollen": "soll", "sollte": "soll", "sollten": "soll", "empfiehlt": "soll",
    "empfohlen": "soll", "empfehlen": "soll",
}  # fmt: skip
_STRONG = {
    "immer": "immer", "stets": "immer", "jederzeit": "immer", "grundsätzlich": "immer",
    "ausnahmslos": "alle", "alle": "alle", "allen": "alle", "aller": "alle", "alles": "alle",
    "sämtliche": "alle", "sämtlichen": "alle", "jede": "alle", "jeder": "alle", "jedes": "alle",
    "jeden": "alle", "jedem": "alle", "überall": "alle", "ausschließlich": "nur",
    "vollständig": "ganz", "völlig": "ganz", "komplett": "ganz", "gänzlich": "ganz",
    "automatisch": "automatisch", "garantiert": "sicher", "sicher": "sicher", "zwangsläufig": "sicher",
}  # fmt: skip
_HEDGES = {
    "oft": "oft", "häufig": "oft", "vielfach": "oft", "meist": "meist", "meistens": "meist",
    "überwiegend": "meist", "mehrheitlich": "meist", "regel": "meist", "teilweise": "teils",
    "teils": "teils", "manchmal": "teils", "einige": "teils", "manche": "teils", "mehrere": "teils",
    "viele": "viele", "vielen": "viele", "zahlreiche": "viele", "vielerorts": "viele",
    "rund": "etwa", "etwa": "etwa", "ungefähr": "etwa", "circa": "etwa", "ca": "etwa", "knapp": "etwa",
    "fast": "meist", "bis": "etwa",
}  # fmt: skip
_HEDGE_CLASSES = frozenset({"oft", "meist", "teils", "viele", "etwa"})
# Which marks of the evidence a sentence may answer with (and the other way round).
_SAME = {
    "neg": {"neg", "ohne"}, "ohne": {"ohne", "neg"}, "kaum": {"kaum"}, "nur": {"nur"},
    "erst": {"erst"}, "muss": {"muss"}, "kann": {"kann", "darf"}, "darf": {"darf", "kann"},
    "soll": {"soll"}, "immer": {"immer"}, "alle": {"alle"}, "ganz": {"ganz"},
    "automatisch": {"automatisch"}, "sicher": {"sicher"},
    **{hedge: {"oft", "meist", "teils", "viele", "etwa", "kann"} for hedge in _HEDGE_CLASSES},
}  # fmt: skip
#: Marks of the evidence a sentence about the same words must keep: dropping them states more than the
#: source ("kann" -> certainty, "oft" -> always, "nicht" -> the opposite).
_KEPT = frozenset(
    {"neg", "ohne", "kaum", "nur", "erst", "kann", "soll", "darf", "oft", "meist", "teils", "viele", "etwa"}
)
_WINDOW_BEFORE, _WINDOW_AFTER = 2, 3
_MODALS = frozenset({"muss", "kann", "darf", "soll"})
# Prepositions that mark a role: the agent (von, durch), the partner (mit, zusammen mit), the one
# addressed or paid (an, für), the one something comes from (aus).
_ROLE_PREPOSITIONS = {
    "von": "von", "vom": "von", "durch": "von", "seitens": "von",
    "mit": "mit", "gemeinsam": "mit", "zusammen": "mit", "einvernehmen": "mit", "abstimmung": "mit",
    "an": "an", "am": "an", "ans": "an", "für": "für",
}  # fmt: skip
_DETERMINERS = frozenset(
    "der die das den dem des ein eine einen einem einer eines ihr ihre ihren ihrem seine seinen seinem "
    "dieser diese diesen diesem jeweilige jeweiligen zuständige zuständigen".split()
)
#: Words a faithful paraphrase may add without evidence: connectives, discourse words, pronouns and
#: generic verbs that carry no claim of their own.
CONNECTIVES = frozenset(
    """außerdem zudem dabei daher deshalb deswegen somit also folglich dazu hierfür hierbei dafür damit
    darüber davon daraus darin dadurch insbesondere vor allem zusätzlich ebenso ebenfalls sowie sowohl
    auch bzw beziehungsweise etwa zum beispiel beispielsweise z b u a dann danach anschließend zunächst
    zuerst erstens zweitens schließlich letztlich insgesamt grundlegend wesentlich wichtig zentral
    jeweils jeweilige jeweiligen dort hier so sodass damit weiterhin weiter weitere weiteren
    gilt gelten besteht bestehen darin geht gehen handelt handeln heißt heißen bedeutet bedeuten
    gibt geben gemeint nennt nennen genannt sogenannte sogenannten spricht sprechen bezeichnet
    laut gemäß nach angabe angaben sinne rahmen fall fällen bereich form art weise teil
    man sie er es ihr ihre ihren ihrem ihres sein seine seinen seinem seines dessen deren""".split()
)


# Words that are never content: connectives and the polarity and strength marks.
_NOT_CONTENT = (
    CONNECTIVES | frozenset(_NEGATION) | frozenset(_MODAL) | frozenset(_STRONG) | frozenset(_HEDGES)
)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str  # as written
    low: str  # lower case
    start: int  # character offsets in the analysed text
    end: int


@dataclass(frozen=True)
class Analysis:
    """One sentence analysed: its content words with their match keys, its numbers with the nouns they
    count, its polarity and strength marks with the words around them, and its actors' prepositions."""

    text: str
    offset: int  # where the text starts in its passage
    content: tuple[frozenset[str], ...]  # per content word: its match keys
    content_words: tuple[str, ...]
    keys: frozenset[str]  # all keys of all content words and numbers (what this text can cover)
    numbers: tuple[tuple[str, frozenset[str]], ...]  # (normalised value, keys of the noun it counts)
    marks: tuple[tuple[str, frozenset[str]], ...]  # (class, keys of the content words around it)
    roles: dict[str, set[str]] = field(default_factory=dict)  # key of an actor word -> its prepositions
    read_frames: Callable[[], tuple[Frame, ...]] = field(default=tuple, repr=False, compare=False)

    @cached_property
    def frames(self) -> tuple[Frame, ...]:
        """Per clause: who does what (agent, verbs, object). Read only when asked: most evidence
        candidates fail on their words or numbers before their roles are compared."""
        return self.read_frames()


@dataclass(frozen=True, slots=True)
class Span:
    """Evidence in one passage: the passage's number as given to the model and character offsets into
    its text."""

    marker: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one sentence: ``reason`` is None when it is supported."""

    reason: str | None
    evidence: tuple[Span, ...]  # the sentence(s) compared with; the closest ones when not supported
    support: float  # share of the sentence's content words found in the evidence

    @property
    def supported(self) -> bool:
        return self.reason is None


@dataclass
class EvidenceChecker:
    """Checks sentences against passages. ``keys`` turns one word into its match keys (stems, lemma
    stems, compound parts: the release's German analyser), ``is_stopword`` tells the words BM25 leaves
    out, ``lemma`` gives a word's lemma. The word lists and limits were chosen on the first blind set
    (eval/grounding/saetze.jsonl); the second is the test (bench/grounding.py)."""

    keys: Callable[[str], frozenset[str]]
    is_stopword: Callable[[str], bool] = lambda word: False  # noqa: E731
    lemma: Callable[[str], str] = lambda word: word  # noqa: E731
    #: Content words a sentence may have beyond its evidence (besides the connectives): nouns (the
    #: actors and things a claim is about) and other words (verbs, adjectives: often a paraphrase's glue).
    noun_slack: int = 0
    slack: int = 3
    _cache: dict[tuple[int, str], list[Analysis]] = field(default_factory=dict, repr=False)

    # -- analysis -------------------------------------------------------------------------------------

    def analyse(self, text: str, offset: int = 0) -> Analysis:
        words = [_Word(m.group(), m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        content: list[frozenset[str]] = []
        content_words: list[str] = []
        numbers: list[tuple[str, frozenset[str]]] = []
        roles: dict[str, set[str]] = {}
        placed_marks: list[tuple[str, int]] = []  # (class, number of content words before it)
        # Which clause each content word and mark stands in (a mark bears on its own clause only).
        breaks = [m.start() for m in CLAUSE_BREAK.finditer(text)]
        clause_of: list[int] = []  # per content word
        mark_clause: list[int] = []
        preposition: str | None = None
        since_preposition = 0
        for i, word in enumerate(words):
            low = word.low
            if i > 0 and (words[i - 1].low, low) in _IDIOMS:
                continue
            number = _number(word)
            if number is not None:
                if i > 0 and words[i - 1].low in _SECTIONS:
                    noun = _noun_before(words, i - 1, self._is_content)
                    unit = "§"
                else:
                    unit, noun = _unit_and_noun(words, i, self._is_content)
                counted = self.keys(noun) if noun else frozenset()
                numbers.append((number + unit, counted))
                preposition = None
                continue
            mark = _mark(words, i)
            if mark is not None:
                placed_marks.append((mark, len(content)))
                mark_clause.append(bisect.bisect(breaks, word.start))
            if low in _ROLE_PREPOSITIONS:
                preposition, since_preposition = _ROLE_PREPOSITIONS[low], 0
                continue
            if not self._is_content(low):
                if low not in _DETERMINERS:
                    since_preposition += 1
                continue
            keys = self.keys(word.text)
            if not keys:
                continue
            content.append(keys)
            content_words.append(word.text)
            clause_of.append(bisect.bisect(breaks, word.start))
            if word.text[:1].isupper() and i > 0:  # a noun: where it stands in a role
                role = preposition if preposition is not None and since_preposition <= 1 else "-"
                for key in keys:
                    roles.setdefault(key, set()).add(role)
            since_preposition += 1
        marks = tuple(
            (mark, _scope(mark, at, content, clause_of, clause))
            for (mark, at), clause in zip(placed_marks, mark_clause, strict=True)
        )
        return Analysis(
            text=text,
            offset=offset,
            content=tuple(content),
            content_words=tuple(content_words),
            keys=frozenset().union(*content, *(frozenset({"#" + n}) for n, _ in numbers)),
            numbers=tuple(numbers),
            marks=marks,
            roles=roles,
            read_frames=lambda: frames(text, self.keys, self._is_function_word, self.lemma),
        )

    def _is_function_word(self, low: str) -> bool:
        return low in _NOT_CONTENT or self.is_stopword(low)

    def _is_content(self, low: str) -> bool:
        return len(low) > 1 and low not in _ROLE_PREPOSITIONS and not self._is_function_word(low)

    def sentences_of(self, marker: int, text: str) -> list[Analysis]:
        """The analysed sentences of one passage (cached per passage text)."""
        cached = self._cache.get((marker, text))
        if cached is not None:
            return cached
        out = []
        position = 0
        for sentence in split_sentences(text):
            start = _find(text, sentence, position)
            position = start + len(sentence) if start >= 0 else position
            out.append(self.analyse(sentence, max(start, 0)))
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[(marker, text)] = out
        return out

    # -- checking -------------------------------------------------------------------------------------

    def check(
        self,
        sentence: str,
        markers: Sequence[int],
        passages: Sequence[str],
        *,
        question: str = "",
    ) -> Verdict:
        """Whether the passages named by ``markers`` (1-based into ``passages``) support ``sentence``."""
        claim = self.analyse(sentence)
        if not claim.content and not claim.numbers:
            return Verdict("sagt nichts Prüfbares", (), 0.0)
        if len(claim.content) + len(claim.numbers) < 2:
            return Verdict("kein vollständiger Satz", (), 0.0)
        if _repetitive(claim.content):
            return Verdict("wiederholt Wörter", (), 0.0)
        asked = self.analyse(question) if question else None
        candidates: list[list[tuple[int, Analysis]]] = []
        for marker in dict.fromkeys(markers):
            sentences = self.sentences_of(marker, passages[marker - 1])
            for i, one in enumerate(sentences):
                candidates.append([(marker, one)])
                if i + 1 < len(sentences):
                    candidates.append([(marker, one), (marker, sentences[i + 1])])
        if len(set(markers)) == 2:  # one sentence from each of two cited passages
            first, second = list(dict.fromkeys(markers))
            for a in self.sentences_of(first, passages[first - 1]):
                for b in self.sentences_of(second, passages[second - 1]):
                    candidates.append([(first, a), (second, b)])
        # Words of all passages given: a word the evidence lacks but another passage (or another part of
        # this one) has is no paraphrase but a claim from elsewhere (a swapped actor, a wrong marker).
        given = frozenset().union(
            *(a.keys for n, text in enumerate(passages, start=1) for a in self.sentences_of(n, text))
        )
        best: Verdict | None = None
        for parts in candidates:
            verdict = self._against(claim, parts, asked, given)
            if verdict.supported:
                if best is None or not best.supported or _better(verdict, best):
                    best = verdict
            elif best is None or (not best.supported and verdict.support > best.support):
                best = verdict
        return best or Verdict("keine Fundstelle", (), 0.0)

    def _against(
        self,
        claim: Analysis,
        parts: list[tuple[int, Analysis]],
        asked: Analysis | None,
        given: frozenset[str],
    ) -> Verdict:
        known = frozenset().union(*(p.keys for _, p in parts))
        lacking = [(w, k) for w, k in zip(claim.content_words, claim.content, strict=True) if not k & known]
        missing = [w for w, _ in lacking]
        from_elsewhere = [w for w, k in lacking if k & given and w[:1].isupper()]
        total = len(claim.content) or 1
        support = round(1 - len(missing) / total, 3)
        evidence = tuple(Span(m, p.offset, p.offset + len(p.text), p.text) for m, p in parts)

        def fail(reason: str) -> Verdict:
            return Verdict(reason, evidence, support)

        if from_elsewhere:
            return fail("Wörter aus anderen Sätzen oder Fundstellen: " + ", ".join(from_elsewhere[:5]))
        if not self._few_enough(missing):
            return fail("Wörter ohne Beleg: " + ", ".join(missing[:5]))
        if not _numbers_agree(claim, parts):
            return fail("Zahl ohne Beleg")
        reason = self._marks_disagree(claim, [p for _, p in parts])
        if reason:
            return fail(reason)
        reason = _roles_disagree(claim, [p for _, p in parts], known)
        if reason:
            return fail(reason)
        if asked is not None:
            news = [k for k in claim.content if not k & asked.keys and k & known]
            news_numbers = [n for n, _ in claim.numbers if "#" + n not in asked.keys]
            if not news and not news_numbers:
                return fail("wiederholt die Frage")
        return Verdict(None, evidence, support)

    def _few_enough(self, missing: list[str]) -> bool:
        nouns = sum(1 for w in missing if w[:1].isupper())
        return nouns <= self.noun_slack and len(missing) - nouns <= self.slack

    def _marks_disagree(self, claim: Analysis, parts: list[Analysis]) -> str | None:
        """Polarity and strength: each mark of the sentence (nicht, muss, immer, oft …) must stand in
        the evidence near the same words, and each mark of the evidence that the sentence's words
        surround (nicht, kann, oft …) must be kept."""
        there = [m for p in parts for m in p.marks]
        for mark, window in claim.marks:
            same = _SAME.get(mark, {mark})
            if not any(m in same and (w & window or not window) for m, w in there):
                return _MARK_REASONS.get(mark, "stärkere Aussage")
        said = {m for m, _ in claim.marks}
        for mark, window in there:
            if mark not in _KEPT:
                continue
            if (
                window
                and len(window & claim.keys) >= min(2, len(window))
                and not said & _SAME.get(mark, {mark})
            ):
                return _MARK_REASONS.get(mark, "stärkere Aussage") + " (in der Fundstelle eingeschränkt)"
        return None


def _repetitive(content: tuple[frozenset[str], ...]) -> bool:
    """A small model stuck in a loop ("Die Auswahl der Auswahl der Auswahl …"): a content word three
    times or more, or fewer than two thirds of a long sentence's content words different."""
    counts: dict[frozenset[str], int] = {}
    for keys in content:
        counts[keys] = counts.get(keys, 0) + 1
    return max(counts.values(), default=0) >= 3 or (len(content) >= 6 and len(counts) < 2 * len(content) / 3)


def _better(verdict: Verdict, than: Verdict) -> bool:
    """More of the sentence covered, or as much by fewer sentences."""
    return (verdict.support, -len(verdict.evidence)) > (than.support, -len(than.evidence))


def _roles_disagree(claim: Analysis, parts: list[Analysis], known: frozenset[str]) -> str | None:
    """An actor in another role than in the evidence: governed by another preposition ("vom Bezirk"
    where the evidence has "mit dem Bezirk"), or the agent of a verb whose agent in the evidence is
    someone else who is named there too ("Das Quartiersmanagement stimmt ab" where "Die
    Lenkungsgruppe stimmt ab"), or the object of a verb whose agent it is there."""
    for key, roles in claim.roles.items():
        seen = set().union(*(p.roles.get(key, set()) for p in parts))
        said = {r for r in roles if r != "-"}
        there = {r for r in seen if r != "-"}
        if said and there and not said & there:
            return "andere Rolle"
    evidence = [frame for p in parts for frame in p.frames]
    for frame in claim.frames:
        same_verb = [other for other in evidence if other.verbs & frame.verbs]
        if not same_verb:
            continue
        # Where the evidence has the same verb with the same object, its agent is the one to compare.
        same_verb = [other for other in same_verb if other.object & frame.object] or same_verb
        if frame.agent & known:
            agents = [other.agent for other in same_verb if other.agent]
            if agents and not any(agent & frame.agent for agent in agents):
                return "andere Rolle (wer handelt)"
        if frame.object & known and any(other.agent & frame.object for other in same_verb):
            if not any(other.object & frame.object for other in same_verb):
                return "andere Rolle (wer betroffen ist)"
    return None


def _find(text: str, sentence: str, start: int) -> int:
    found = text.find(sentence, start)
    if found >= 0:
        return found
    return text.find(sentence)


_MARK_REASONS = {
    "neg": "andere Verneinung", "ohne": "andere Verneinung", "kaum": "andere Verneinung",
    "nur": "andere Einschränkung", "erst": "andere Einschränkung",
    "muss": "stärkere Aussage (Modalverb)", "kann": "andere Modalität", "darf": "andere Modalität",
    "soll": "andere Modalität",
}  # fmt: skip


def _mark(words: list[_Word], i: int) -> str | None:
    """The polarity or strength class of word ``i``, if it has one ("etwa" and "bis" only before a
    number: otherwise they mean "for example" and "until"; "nur" in "nur wenig" is part of "wenig")."""
    low = words[i].low
    following = words[i + 1].low if i + 1 < len(words) else ""
    if low in ("etwa", "bis", "rund", "knapp") and not following[:1].isdigit():
        return None
    if low == "nur" and following in ("wenig", "wenige", "geringe"):
        return None
    if low == "noch" and any(w.low == "weder" for w in words[:i]):
        return "neg"  # "weder Ordnungsbehörde noch Schiedsrichter"
    if (
        low in ("lässt", "lassen")
        and following != "sich"
        and not any(w.low == "sich" for w in words[i + 1 : i + 3])
    ):
        return None
    for table in (_NEGATION, _MODAL, _STRONG, _HEDGES):
        mark = table.get(low)
        if mark is not None:
            return mark
    return None


def _scope(
    mark: str, at: int, content: list[frozenset[str]], clause_of: list[int], clause: int
) -> frozenset[str]:
    """The words a mark bears on, within its clause: for a modal verb, those around it; for a
    negation, restriction or quantifier, the next two content words ("nicht ein lokales Gremium"), or
    the two before it where it ends its clause ("… gibt es nicht")."""
    before = [k for k, c in zip(content[:at], clause_of[:at], strict=True) if c == clause]
    after = [k for k, c in zip(content[at:], clause_of[at:], strict=True) if c == clause]
    if mark in _MODALS:
        return frozenset().union(*before[-_WINDOW_BEFORE:], *after[:_WINDOW_AFTER])
    return frozenset().union(*(after[:2] or before[-2:]))


_NUMBER_COMPOUND = re.compile(
    r"(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|hundert)"
    r"(mal|fach|jährig|jährlich|monatig|monatlich|wöchig|wöchentlich|tägig|stündig)\w*"
)


def _number(word: _Word) -> str | None:
    """The normalised value of a number, a number word ("zwei") or a number compound ("dreijährigen"
    -> "3jährig"), else None."""
    if word.text[:1].isdigit():
        return re.sub(r"[.\u00a0\u202f ]", "", word.text).replace(",", ".")
    first, _, rest = word.low.partition("-")
    if rest and first in _NUMBER_WORDS:  # "Zwei-Jahres-Takt"
        return _NUMBER_WORDS[first] + "-" + rest
    compound = _NUMBER_COMPOUND.fullmatch(word.low)
    if compound:
        first = compound.group(1)
        return ("1" if first == "ein" else _NUMBER_WORDS[first]) + compound.group(2)
    return _NUMBER_WORDS.get(word.low)


def _unit_and_noun(words: list[_Word], i: int, is_content: Callable[[str], bool]) -> tuple[str, str | None]:
    """The unit after the number at ``i`` (Mio., %, …) and the noun it counts: the first noun after
    it within four words ("544 Städten", "97 Millionen Euro aus dem ESF"); for a year, the noun just
    before it ("Hamburg 1993"), as a year counts nothing."""
    unit = ""
    noun = None
    for word in words[i + 1 : i + 6]:
        low = word.low.rstrip(".")
        if low in _UNITS:
            unit = _UNITS[low]
            continue
        if low in _CURRENCY or low in ("bis", "zu", "und", "oder") or _NUMBER_WORDS.get(low):
            continue  # "zwei bis drei Jahre", "bis zu 10.000 Euro"
        if word.text[:1].isupper() and is_content(low):
            noun = word.text
            break
        if is_content(low) and not word.text[:1].isdigit():
            break  # a verb or adjective first: the number counts nothing named here
    number = words[i].text
    if not unit and number.isdigit() and len(number) == 4:
        nouns = [w.text for w in words[max(0, i - 3) : i] if w.text[:1].isupper() and is_content(w.low)]
        noun = " ".join(nouns[-2:]) or None
    return unit, noun


def _noun_before(words: list[_Word], i: int, is_content: Callable[[str], bool]) -> str | None:
    """The nearest noun before word ``i`` within five words ("Betroffenen nach § 137")."""
    for word in reversed(words[max(0, i - 5) : i]):
        if word.text[:1].isupper() and is_content(word.low) and word.low not in _SECTIONS:
            return word.text
    return None


def _numbers_agree(claim: Analysis, parts: list[tuple[int, Analysis]]) -> bool:
    there = [n for _, p in parts for n in p.numbers]
    for value, noun in claim.numbers:
        same = [counted for v, counted in there if v == value]
        if not same:
            return False
        if noun and all(counted and not counted & noun for counted in same):
            return False
    return True
