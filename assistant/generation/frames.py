"""Who does what in a German clause, read from word order, articles and prepositions: a light frame
(agent, verbs, object) per clause, enough to tell "Die Lenkungsgruppe stimmt die Ziele ab" from "Das
Quartiersmanagement stimmt die Ziele ab", or "vom Senat beauftragt" from "vom Bezirk beauftragt".

No German dependency parser installs with its model from the package registries (spaCy's and Stanza's
models come from their own hosts), so this reads what German marks on the surface:

- nouns are capitalised (the first word of a sentence only when it is not a known function word);
- a clause's **agent** is its first noun in the nominative position: not governed by a preposition,
  not a genitive after another noun ("Räume *der Bibliothek*"), not after an accusative or dative
  article ("den", "dem", "einen", "einem"); in the passive ("wird … beauftragt") the agent is the noun
  after "von"/"durch", and that first noun is the object;
- the **object** is the next such noun after the agent;
- the **verbs** are the clause's lowercase content words that are not adjectives (a lowercase word
  after an article or before a noun is an adjective).

Clauses end at punctuation and at subordinating words (dass, weil, wenn, während, …). The frames are
heuristics: they decide only where a sentence and its evidence share a verb and name different agents
or objects for it, and the blind set measures what they catch and what they cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..text import FRAME_WORD

__all__ = ["CLAUSE_BREAK", "Frame", "frames"]

CLAUSE_BREAK = re.compile(
    r"[,;:–—\[\]]|\b(?:dass|weil|wenn|während|wobei|sodass|obwohl|sondern|aber|jedoch|bevor|nachdem|"
    r"indem|falls|sofern|solange)\b",
    re.IGNORECASE,
)
_NON_NOMINATIVE = frozenset("den dem einen einem des eines ihren ihrem seinen seinem diesen diesem".split())
_ARTICLES = frozenset(
    "der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner "
    "ihr ihre ihren ihrem ihrer sein seine seinen seinem seiner dieser diese diesen diesem dieses "
    "jede jeder jeden jedem alle beide beiden".split()
)
_PREPOSITIONS = frozenset(
    "an am ans auf aus bei beim bis durch für gegen hinter in im ins mit nach neben ohne seit über "
    "um unter von vom vor während wegen zu zum zur zwischen innerhalb außerhalb gemäß laut statt "
    "trotz samt sowie per pro je ab als wie".split()
)
_AGENT_PREPOSITIONS = frozenset({"von", "vom", "durch"})
_PRONOUNS = frozenset("ich du er sie es wir ihr man jemand niemand wer".split())
_ABBREVIATIONS = frozenset("abs nr art bzw vgl ggf ca gem lt ziff kap".split())
# A zu-infinitive ("anzuhören", "zu suchen") has no subject of its own: its first noun is an object.
_ZU_INFINITIVE = re.compile(
    r"^(?:ab|an|auf|aus|bei|ein|fest|her|hin|mit|nach|vor|weg|weiter|zu|zurück|zusammen)zu\w+en$"
)
_GENITIVE_ARTICLES = frozenset({"des", "der", "eines", "einer"})
_PASSIVE = frozenset({"wird", "werden", "wurde", "wurden", "worden"})


@dataclass(frozen=True, slots=True)
class Frame:
    """One clause: the match keys of its agent, its verbs and its object (empty where not found)."""

    agent: frozenset[str]
    verbs: frozenset[str]
    object: frozenset[str]


def frames(
    text: str,
    keys: Callable[[str], frozenset[str]],
    is_function_word: Callable[[str], bool],
    lemma: Callable[[str], str],
) -> tuple[Frame, ...]:
    """The frames of ``text``'s clauses. ``keys`` gives a word's match keys, ``is_function_word``
    tells articles, pronouns, auxiliaries and the like, ``lemma`` a word's lemma (a participle's
    differs from it: "beauftragt" -> "beauftragen")."""
    out = []
    start = 0
    for match in [*CLAUSE_BREAK.finditer(text), None]:
        end = match.start() if match is not None else len(text)
        frame = _frame(text[start:end], keys, is_function_word, lemma)
        if frame is not None:
            out.append(frame)
        if match is not None:
            start = match.end()
    return tuple(out)


def _frame(
    clause: str,
    keys: Callable[[str], frozenset[str]],
    is_function_word: Callable[[str], bool],
    lemma: Callable[[str], str],
) -> Frame | None:
    words = FRAME_WORD.findall(clause)
    if not words:
        return None
    lows = [w.lower() for w in words]
    passive = any(low in _PASSIVE for low in lows)
    bare: list[tuple[str, bool]] = []  # nouns in subject or object position, in order: (noun, may be agent)
    agents_by_preposition: list[str] = []
    verbs: set[str] = set()
    participle = False
    previous_noun = False
    no_agent = False  # a pronoun is the subject, or a zu-infinitive has none
    for i, (word, low) in enumerate(zip(words, lows, strict=True)):
        if low in _PRONOUNS and not bare:
            no_agent = True
        following = words[i + 1] if i + 1 < len(words) else ""
        zu_verb = low == "zu" and following[:1].islower() and following.endswith("en")
        if _ZU_INFINITIVE.match(low) or (zu_verb and following.lower() not in _ARTICLES):
            no_agent = True
        if not word[:1].isalpha() or low in _ABBREVIATIONS or len(low) < 2:
            previous_noun = False
            continue
        if word[:1].isupper() and not (i == 0 and is_function_word(low)) and low not in _PREPOSITIONS:
            if low in _ARTICLES:
                continue
            # The nearest preposition or article before the noun, within its noun phrase.
            phrase = _phrase_start(lows, i)
            genitive = previous_noun and i > 0 and lows[i - 1] in _GENITIVE_ARTICLES
            if phrase in _AGENT_PREPOSITIONS:
                agents_by_preposition.append(word)
            elif phrase not in _PREPOSITIONS and not genitive:
                # After "den", "dem" …: an accusative or dative noun, an object, never the agent.
                bare.append((word, phrase not in _NON_NOMINATIVE))
            previous_noun = True
            continue
        previous_noun = previous_noun and low in _GENITIVE_ARTICLES
        if (
            word[:1].islower()
            and not is_function_word(low)
            and low not in _PREPOSITIONS
            and low not in _ARTICLES
            and not _is_adjective(lows, words, i)
        ):
            base = lemma(word)
            if len(low) < 3 or not base.endswith(("en", "ern", "eln", "n")):
                continue  # an adverb or a number word ("direkt", "neu", "zwei"), not a verb
            verbs.update(keys(word))
            if passive and base != word:
                participle = True
    if not verbs:
        return None
    nominative = [w for w, may_act in bare if may_act]
    others = [w for w, _ in bare]
    if passive and participle:
        agent_word = agents_by_preposition[0] if agents_by_preposition else None
        object_word = nominative[0] if nominative else None
    elif no_agent:
        agent_word = None
        object_word = others[0] if others else None
    else:
        agent_word = nominative[0] if nominative else None
        rest = [w for w in others if w != agent_word]
        object_word = rest[0] if rest else None
    return Frame(
        agent=keys(agent_word) if agent_word else frozenset(),
        verbs=frozenset(verbs),
        object=keys(object_word) if object_word else frozenset(),
    )


def _phrase_start(lows: list[str], i: int) -> str:
    """The preposition or article that opens the noun phrase ending at word ``i`` (looking back over
    articles and lowercase adjectives, at most six words, so that the whole clause is read in linear
    time), or ''."""
    j = i - 1
    while j >= max(0, i - 6):
        low = lows[j]
        if low in _PREPOSITIONS:
            return low
        if low in _ARTICLES:
            if j >= 1 and lows[j - 1] in _PREPOSITIONS:
                return lows[j - 1]
            return low
        if not low[:1].isalpha() or not _adjective_ending(low):
            return ""
        j -= 1
    return ""


def _adjective_ending(low: str) -> bool:
    return low.endswith(("e", "en", "er", "es", "em"))


def _is_adjective(lows: list[str], words: list[str], i: int) -> bool:
    """A lowercase word after an article or preposition, or right before a noun, with an adjective's
    ending ("die *zuständigen* Fachbereiche", "*integrierte* Konzept")."""
    if not _adjective_ending(lows[i]):
        return False
    before = lows[i - 1] if i else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return before in _ARTICLES or before in _PREPOSITIONS or after[:1].isupper()
