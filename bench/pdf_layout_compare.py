"""The project's PDF layout reader against pdfminer.six's layout analysis, on the real-PDF collection.

    .venv/bin/pip install pdfminer.six      # for this comparison only; not a dependency
    .venv/bin/python bench/pdf_layout_compare.py [COLLECTION_DIR]

pdfminer.six (MIT) groups characters into text lines and boxes (``LAParams``) and orders the boxes
(``boxes_flow``). Each of its text boxes becomes a paragraph here, its lines joined with the project's
own line-break rule (``join_lines``, so hyphenation is judged alike), and the same counts as
``bench/pdf_faithfulness.py`` are taken. pdfminer has no notion of running heads, footers or contents
pages, so those counts show what is left without the project's handling of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pdf_faithfulness as faithfulness  # noqa: E402

from assistant.ingest.documents import Block, Document  # noqa: E402
from assistant.ingest.readers import pdf as project_reader  # noqa: E402
from assistant.text import normalise  # noqa: E402


def read_with_pdfminer(file: Path, source: str, boxes_flow: float | None = 0.5) -> Document:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextBox

    blocks: list[Block] = []
    for number, page in enumerate(extract_pages(file, laparams=LAParams(boxes_flow=boxes_flow)), start=1):
        for element in page:
            if isinstance(element, LTTextBox):
                lines = [normalise(line.get_text()) for line in element]
                text = project_reader.join_lines(lines)
                if text:
                    blocks.append(Block(text, page=number))
    return Document(title=file.stem, source=source, blocks=tuple(blocks))


def main(argv: list[str]) -> int:
    collection = Path(argv[0]) if argv else faithfulness.COLLECTION
    header = ("document", "reader", "p/s", "furn", "toc", "sent", "notes", "hyph")
    print("{:30} {:12} {:>5} {:>5} {:>4} {:>9} {:>7} {:>8}".format(*header))
    totals: dict[str, list[float]] = {}
    for entry in faithfulness.entries():
        if not (collection / entry["file"]).is_file():
            continue
        for name, reader in (
            ("project", project_reader),
            ("pdfminer", SimpleNamespace(read_pdf=read_with_pdfminer, join_lines=project_reader.join_lines)),
        ):
            faithfulness.pdf_reader = reader  # type: ignore[assignment]
            r = faithfulness.measure(entry, collection)
            row = [
                r.pages / r.seconds,
                len(r.furniture),
                len(r.contents),
                len(r.sentences),
                len(r.notes),
                len(r.hyphens),
            ]
            print(
                f"{r.name:30} {name:12} {row[0]:5.0f} {row[1]:5} {row[2]:4} ",
                f"{row[3]:4}/{r.sentences_total:<4} {row[4]:3}/{r.notes_total:<3} ",
                f"{row[5]:3}/{r.hyphens_total:<4}",
                sep="",
            )
            total = totals.setdefault(name, [0.0] * 7)
            total[0] += r.pages
            total[1] += r.seconds
            for i, value in enumerate(row[1:], start=2):
                total[i] += value
    for name, t in totals.items():
        rate = t[0] / t[1]
        print(
            f"{'total':30} {name:12} {rate:5.0f} {t[2]:5.0f} {t[3]:4.0f} {t[4]:9.0f} {t[5]:7.0f} {t[6]:8.0f}"
        )
    faithfulness.pdf_reader = project_reader
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
