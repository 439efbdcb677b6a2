"""German text analysis: normalising, sentences, what a word is, and the analyser behind BM25 and the checks.

``normalise`` tidies extracted text, ``sentences`` splits prose, ``tokens`` defines the words (one place
for every word pattern), ``analyzer`` turns text into BM25 terms (folded, stemmed, compound parts).
"""

from __future__ import annotations

from .analyzer import MAX_COMPOUND_CHARS, PRONOMINAL_ADVERBS, GermanAnalyzer
from .normalise import normalise
from .sentences import split_sentences
from .tokens import COUNTED_WORD, FRAME_WORD, LETTERS, SINGLE_WORD, WORD, WORD_PART, count_words, words

__all__ = [
    "COUNTED_WORD",
    "FRAME_WORD",
    "LETTERS",
    "MAX_COMPOUND_CHARS",
    "PRONOMINAL_ADVERBS",
    "SINGLE_WORD",
    "WORD",
    "WORD_PART",
    "GermanAnalyzer",
    "count_words",
    "normalise",
    "split_sentences",
    "words",
]
