from assistant.text import count_words, normalise, split_sentences


def test_normalise_nfc_soft_hyphens_ligatures_and_spaces() -> None:
    decomposed = "Bu\u0308ro"  # "Büro" with a combining diaeresis
    assert normalise(decomposed) == "Büro"
    assert normalise("Quartiers\u00admanagement") == "Quartiersmanagement"
    assert normalise("\ufb01nanzieren und \ufb02exibel") == "finanzieren und flexibel"
    assert normalise("  viel   Platz\t\u00a0hier \x00 ") == "viel Platz hier"


def test_sentences_respect_abbreviations_and_ordinals() -> None:
    text = (
        "Am 9. November 1996 wurde die Initiative beschlossen. Es gibt z. B. Fonds, d. h. kleine Budgets. "
        "Nach § 171e Abs. 2 BauGB gilt das. Das Programm startete 1999. Wer entscheidet? Die Jury."
    )
    assert split_sentences(text) == [
        "Am 9. November 1996 wurde die Initiative beschlossen.",
        "Es gibt z. B. Fonds, d. h. kleine Budgets.",
        "Nach § 171e Abs. 2 BauGB gilt das.",
        "Das Programm startete 1999.",
        "Wer entscheidet?",
        "Die Jury.",
    ]


def test_count_words_keeps_hyphenated_compounds_whole() -> None:
    assert count_words("Bund-Länder-Programm für das Vor-Ort-Büro") == 4


def test_normalise_joins_surrogate_halves_and_drops_lone_ones() -> None:
    # PDFium counts a character outside the BMP ("𝜀" in "LaTeX 2𝜀") as two UTF-16 halves; text holding
    # them cannot be encoded, so a build that hashes or stores it would fail.
    assert normalise("LaTeX 2\ud835\udf00 ist da") == "LaTeX 2\U0001d700 ist da"
    assert normalise("halb \ud835 und \udf00 weg") == "halb und weg"
    normalise("LaTeX 2\ud835\udf00").encode("utf-8")  # encodable
