"""``docs/settings.md``: every setting with its environment variable, type, default and description,
written from ``Settings`` itself (``python -m assistant.settings_doc > docs/settings.md``); a test keeps
the file in step with the code."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from .config import Settings, bundled_dir

__all__ = ["settings_markdown"]


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):
        if value == bundled_dir("corpus"):
            return "the shipped `corpus/`"
        if value == bundled_dir("eval"):
            return "the shipped `eval/`"
        return f"`{value}`"
    if isinstance(value, list):
        return f"`{json.dumps([str(v) for v in value])}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " / ".join(f"`{choice}`" for choice in get_args(annotation))
    if origin in (Union, types.UnionType):
        kinds = [_type(a) for a in get_args(annotation) if a is not type(None)]
        return " or ".join(kinds) + (" (optional)" if type(None) in get_args(annotation) else "")
    if origin is list:
        return f"list of {_type(get_args(annotation)[0])}"
    return {"SecretStr": "secret", "Path": "path"}.get(annotation.__name__, annotation.__name__)


def settings_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable with the prefix `ASSISTANT_` (or a keyword of",
        "`assistant.config.Settings`). This file is written from the code:",
        "`python -m assistant.settings_doc > docs/settings.md`; `tests/system/test_settings_doc.py` fails",
        "when it is out of step.",
        "",
        "| variable | type | default | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        kind = _type(field.annotation)
        lines.append(f"| `ASSISTANT_{name.upper()}` | {kind} | {_default(name)} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_markdown())
