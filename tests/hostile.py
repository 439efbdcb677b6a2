"""A corpus of hostile Markdown (script tags, attribute breakers, template syntax, javascript: links)
and a release of it, shared by tests/web/test_web_security.py and tests/browser/test_hostile_content.py.

Everything lies under one folder with a distinctive name, the model included (a local path, as with
``ASSISTANT_MODEL=/path/to/model``), so a test can check that none of it reaches a response.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import SecretStr

from assistant.build import build_index
from assistant.config import Settings

SCRIPT = "<script>alert(1)</script>"
DOUBLE_QUOTE = '" onmouseover="alert(1)'
SINGLE_QUOTE = "'><img src=x onerror=alert(1)>"
TEMPLATE = "{{ 7*7 }}"
RAW = "{% raw %}"
JS_LINK = "[Link](javascript:alert(1))"

#: The hostile Markdown file: every heading and paragraph carries the payloads next to German text
#: the questions below find.
HOSTILE_MARKDOWN = f"""# Beirat {SCRIPT} im Quartier

## Sitzungen {DOUBLE_QUOTE} und {SINGLE_QUOTE}

Der Quartiersbeirat berät jeden Monat über die Projekte im Stadtteil {SCRIPT} und stimmt über die
Anträge ab. Attribut: {DOUBLE_QUOTE} und {SINGLE_QUOTE}. Vorlage: {TEMPLATE} und {RAW} sowie
ein {JS_LINK} am Ende.

## Mitglieder {TEMPLATE} {RAW}

Im Quartiersbeirat sitzen Bewohnerinnen und Bewohner, Gewerbetreibende und Vertreter der Träger.
Ein Bild: <img src=x onerror=alert(1)> und ein Rahmen <iframe src="javascript:alert(1)"></iframe>.
"""

#: A question whose answer is the hostile passage.
QUESTION = "Wer berät im Quartiersbeirat über die Anträge?"

#: A hostile question: it breaks out of text, double- and single-quoted attributes and a <title>.
HOSTILE_QUESTION = (
    f'Quartiersbeirat </title>"><script>alert(1)</script> {DOUBLE_QUOTE} {SINGLE_QUOTE} {TEMPLATE}'
)

#: The admin token of the release's settings: it must never appear in a response.
ADMIN_TOKEN = "streng-geheimes-token-4711"

#: Escaped forms the pages must show. Jinja writes " and ' as &#34; and &#39;, markdown-it " as &quot;.
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"


def build_hostile_release(root: Path, corpus: Path, tiny_model: Path) -> Settings:
    """Settings for a release of the hostile corpus (next to a copy of ``corpus``) built under ``root``
    with a copy of the tiny model at ``root/modelle/e5-klein``; database and admin token set."""
    folder = root / "korpus"
    shutil.copytree(corpus, folder)
    (folder / "beirat.md").write_text(HOSTILE_MARKDOWN, encoding="utf-8")
    model = root / "modelle" / "e5-klein"
    shutil.copytree(tiny_model, model)
    settings = Settings(
        corpus_dir=folder,
        index_dir=root / "index",
        model=str(model),
        database=root / "var" / "assistant.sqlite3",
        admin_token=SecretStr(ADMIN_TOKEN),
    )
    build_index(settings, warn=lambda _: None)
    return settings
