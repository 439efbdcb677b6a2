"""docs/settings.md is written from the settings themselves and kept in step with them."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.settings_doc import settings_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_the_settings_page_is_in_step_with_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is out of step: python -m assistant.settings_doc > docs/settings.md"
    )


def test_every_setting_is_on_the_page_with_its_description() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`ASSISTANT_{name.upper()}`" in text, name
        assert field.description, f"{name} has no description"
