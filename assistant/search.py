"""Dense search over a release, and the judgement whether the best hits really answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .embedding import Embedder
from .records import Hit, Passage
from .text import words

__all__ = ["OFF_TOPIC_PROBES", "Searcher", "calibrate_threshold", "content_terms"]

# Questions far from the guide's subject. Their best scores against a corpus show how high an
# unrelated question can score with a given model, which sets that model's no-match threshold.
OFF_TOPIC_PROBES = (
    "Wie wird das Wetter morgen?",
    "Rezept für Apfelkuchen",
    "Wer hat das Fußballspiel gestern gewonnen?",
    "Wie installiere ich einen Drucker unter Linux?",
    "Was kostet ein Flug nach Mallorca?",
    "Welche Symptome hat eine Grippe?",
    "Wie lange muss ein Ei kochen?",
    "Wann beginnt die nächste Sonnenfinsternis?",
    "Wie pflege ich eine Orchidee richtig?",
    "Was ist die Hauptstadt von Australien?",
    "Wie wechsle ich einen Fahrradreifen?",
    "Welcher Film läuft heute im Kino?",
    "Wie funktioniert ein Verbrennungsmotor?",
    "Welche Aktien soll ich kaufen?",
    "Wie viele Kalorien hat eine Banane?",
    "Wie lerne ich schnell Gitarre spielen?",
    "Was frisst ein Hamster?",
    "Wie hoch ist der Mount Everest?",
    "Wie backe ich Brot ohne Hefe?",
    "Welche Farbe passt zu einem blauen Sofa?",
)

# Frequent German function words: they say nothing about what a question is about.
_STOPWORDS = frozenset(
    """aber alle allem allen aller alles als also am an ander andere anderen auch auf aus bei beim bin bis
    bist da damit dann das dass dein deine dem den denn der des dessen die dies diese diesem diesen dieser
    dieses doch dort du durch ein eine einem einen einer eines er es etwas euch euer für gab gegen gibt
    habe haben hat hatte hier hin hinter ich ihm ihn ihnen ihr ihre im in ist ja jede jedem jeden jeder
    jedes jetzt kann kein keine können könnte man manche mehr mein meine mit muss müssen nach nicht nichts
    noch nun nur ob oder ohne sehr sein seine sich sie sind so soll sollen sollte sondern sowie über um
    und uns unser unter viel vom von vor war waren warum was weil welche welchem welchen welcher welches
    wenn wer werden wie wieder will wir wird wo wobei woher wohin zu zum zur zwischen gut geht gehen
    heute morgen gestern bitte eigentlich genau immer""".split()
)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_SUFFIX = re.compile(r"(?:ern|em|en|er|es|e|n|s)$")


def _stem(word: str) -> str:
    """A deliberately crude German stem (folded, common endings cut), enough to compare word forms."""
    folded = word.lower().translate(_FOLD)
    return _SUFFIX.sub("", folded) if len(folded) > 4 else folded


def content_terms(text: str) -> set[str]:
    """Stems of the words that carry meaning (no function words, no one- or two-letter words)."""
    return {_stem(w) for w in words(text) if len(w) > 2 and w.lower() not in _STOPWORDS}


def calibrate_threshold(
    embedder: Embedder, passage_vectors: np.ndarray, probes: Iterable[str] = OFF_TOPIC_PROBES
) -> float:
    """The highest score any off-topic probe reaches against these passages: scores at or below it
    prove nothing about a question."""
    probe_vectors = embedder.encode_queries(list(probes))
    return float(np.max(probe_vectors @ passage_vectors.T))


@dataclass
class Searcher:
    """Answers questions against one release with one embedder; safe to share across requests."""

    embedder: Embedder
    index: object  # faiss.Index
    passages: tuple[Passage, ...]
    threshold: float

    def search(self, query: str, k: int) -> list[Hit]:
        vector = self.embedder.encode_queries([query])
        k = min(k, len(self.passages))
        scores, ids = self.index.search(vector, k)  # type: ignore[attr-defined]
        return [Hit(self.passages[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def is_match(self, query: str, hits: list[Hit]) -> bool:
        """A question is answered when the best score beats every off-topic probe, or a top passage
        shares one of its meaningful words."""
        if not hits:
            return False
        if hits[0].score > self.threshold:
            return True
        terms = content_terms(query)
        if not terms:
            return False
        return any(
            terms & content_terms(hit.passage.text + " " + hit.passage.citation.section) for hit in hits[:3]
        )
