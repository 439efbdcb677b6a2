"""What a word is: the word patterns of German text, and the words and word count of a text."""

from __future__ import annotations

import re

__all__ = [
    "COUNTED_WORD",
    "FRAME_WORD",
    "LETTERS",
    "SINGLE_WORD",
    "WORD",
    "WORD_PART",
    "count_words",
    "words",
]

# "[^\W_]" is a letter or a digit (\w without the underscore), "[^\W\d_]" a letter. One word is WORD;
# the others are narrower or wider on purpose, each for the reader named at it.

#: A word as written: letters and digits, joined by inner hyphens or apostrophes ("Bund-Länder-Programm",
#: "geht’s", "171e"). The answer highlights the words of a passage by it.
WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

#: The parts of a WORD between its hyphens and apostrophes ("Bund-Länder-Programm": "Bund", "Länder",
#: "Programm"): the units the German analyser folds, stems and splits into compound parts.
WORD_PART = re.compile(r"[^\W_]+", re.UNICODE)

#: What ``words`` and ``count_words`` count: a WORD, except that "_" counts as a letter too (a file name
#: "Antrag_2024" is one word, a fill-in line "_____" is one). Chunk sizes, and so every release's
#: passages, depend on this count, so it keeps its own definition.
COUNTED_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)

#: Runs of letters only: digits and hyphens end them ("B2" gives "B", "Vor-Ort" gives "Vor" and "Ort").
#: Follow-up questions read their words by it, so a number is never borrowed as a topic and a hyphenated
#: word is borrowed by its parts.
LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)

#: The words of a clause for its frame (agent, verbs, object; generation/frames.py): words of letters
#: only, joined by hyphens, apostrophes or a colon, and numbers whole with their separators ("15.000" is
#: one word there, two for WORD); digits never join letters ("171e" gives "171" and "e"). Clauses are cut
#: at ":" and "," before their words are read, so there the colon and the decimal comma join nothing.
FRAME_WORD = re.compile(r"[^\W\d_]+(?:[-'’:][^\W\d_]+)*|\d+(?:[.,]\d+)*", re.UNICODE)

#: A whole string that is one word of letters, hyphens inside ("Vor-Ort-Büro"), no digits, spaces or
#: apostrophes: what query expansion keeps of a thesaurus's entries (phrases are skipped).
SINGLE_WORD = re.compile(r"^[^\W\d_]+(?:-[^\W\d_]+)*$", re.UNICODE)


def words(text: str) -> list[str]:
    """The words of a text (letters, digits and "_", joined by inner hyphens or apostrophes)."""
    return COUNTED_WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))
