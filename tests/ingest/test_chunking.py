from assistant.ingest.chunking import MAX_WORDS, MIN_WORDS, chunk_document, pack
from assistant.ingest.documents import Block, Document
from assistant.text import count_words


def sentence(i: int) -> str:
    return f"Satz Nummer {i} beschreibt die Arbeit des Quartiersmanagements im Stadtteil genau."


def test_long_sections_are_cut_at_sentence_boundaries_within_bounds() -> None:
    paragraph = " ".join(sentence(i) for i in range(120))  # about 1,100 words in one paragraph
    pieces = pack([paragraph])
    assert len(pieces) > 1
    assert all(MIN_WORDS <= count_words(p) <= MAX_WORDS for p in pieces)
    assert all(p.endswith(".") for p in pieces)  # never cut inside a sentence, let alone a word
    assert " ".join(pieces) == paragraph


def test_short_tail_is_merged_or_rebalanced() -> None:
    paragraphs = [" ".join(sentence(i) for i in range(20)), "Ein kurzer Nachsatz."]
    pieces = pack(paragraphs)
    assert all(count_words(p) >= MIN_WORDS for p in pieces)


def test_run_on_text_is_cut_between_words() -> None:
    words = [f"Wort{i}" for i in range(600)]
    pieces = pack([" ".join(words)])
    assert all(count_words(p) <= MAX_WORDS for p in pieces)
    assert " ".join(pieces).split() == words


def test_passages_keep_their_place_and_get_stable_ids() -> None:
    doc = Document(
        title="Dokument",
        source="dok.md",
        blocks=(
            Block("Text im ersten Abschnitt.", chapter="Kapitel", section="Eins"),
            Block("Text im zweiten Abschnitt.", chapter="Kapitel", section="Zwei"),
            Block("Seite drei.", page=3, page_label="iii"),
        ),
    )
    passages = chunk_document(doc)
    assert [p.citation.label for p in passages] == ["Kapitel › Eins", "Kapitel › Zwei", "Dokument, S. iii"]
    assert [p.id for p in chunk_document(doc)] == [p.id for p in passages]
    changed = Document(
        title="Dokument", source="dok.md", blocks=(Block("Anderer Text.", chapter="Kapitel", section="Eins"),)
    )
    assert chunk_document(changed)[0].id != passages[0].id
    moved = Document(title="Dokument", source="anders.md", blocks=doc.blocks[:1])
    assert chunk_document(moved)[0].id != passages[0].id


def test_identical_text_twice_gets_distinct_ids() -> None:
    block = Block(" ".join(sentence(i) for i in range(18)), chapter="K", section="S")  # ~160 words
    passages = chunk_document(Document(title="D", source="d.md", blocks=(block, block)))
    assert len(passages) == 2 and passages[0].text == passages[1].text
    assert passages[0].id != passages[1].id
