"""The framework's English error messages in the caller's language: pydantic's validation messages
("Input should be …") and Starlette's form-parsing refusals ("Too many fields …")."""

from __future__ import annotations

from typing import Any

__all__ = ["form_error", "validation_problem"]

# pydantic error type → German, with the error's context values ({max_length}, {ge}, …) filled in.
_VALIDATION = {
    "missing": "fehlt",
    "string_type": "muss Text sein",
    "string_too_short": "ist zu kurz (mindestens {min_length} Zeichen)",
    "string_too_long": "ist zu lang (höchstens {max_length} Zeichen)",
    "string_pattern_mismatch": "hat nicht die erwartete Form",
    "string_unicode": "ist kein gültiger Text (UTF-8)",
    "bool_type": "muss wahr oder falsch sein (true/false)",
    "bool_parsing": "muss wahr oder falsch sein (true/false)",
    "int_type": "muss eine ganze Zahl sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "int_from_float": "muss eine ganze Zahl sein",
    "float_type": "muss eine Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "greater_than": "muss größer als {gt} sein",
    "greater_than_equal": "muss mindestens {ge} sein",
    "less_than": "muss kleiner als {lt} sein",
    "less_than_equal": "darf höchstens {le} sein",
    "list_type": "muss eine Liste sein",
    "too_short": "hat zu wenige Einträge (mindestens {min_length})",
    "too_long": "hat zu viele Einträge (höchstens {max_length})",
    "dict_type": "muss ein Objekt sein",
    "model_type": "muss ein Objekt sein",
    "model_attributes_type": "muss ein Objekt sein",
    "extra_forbidden": "ist hier nicht vorgesehen",
    "json_invalid": "ist kein gültiges JSON",
    "json_type": "ist kein gültiges JSON",
    "literal_error": "muss einer der erlaubten Werte sein ({expected})",
    "enum": "muss einer der erlaubten Werte sein ({expected})",
    "uuid_parsing": "ist keine gültige Kennung",
    "url_parsing": "ist keine gültige Adresse",
}
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        # Our own validators' messages are German already; pydantic only puts its English prefix on.
        text = str(error.get("msg", ""))
        for prefix in _VALUE_ERROR_PREFIXES:
            text = text.removeprefix(prefix)
        return text or "ist ungültig"
    template = _VALIDATION.get(kind, "ist ungültig")
    try:
        return template.format(**{k: v for k, v in (error.get("ctx") or {}).items()})
    except (KeyError, IndexError, ValueError):
        return template.split(" (")[0]


def validation_problem(errors: list[dict[str, Any]]) -> str:
    """One German sentence naming each invalid field and what is wrong with it."""
    problems = []
    for error in errors[:10]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "Anfrage"
        problems.append(f"{where}: {_message(error)}")
    return "Ungültige Anfrage – " + "; ".join(problems)


# Starlette's refusals while parsing a form (multipart or urlencoded), by their start.
_FORM = (
    ("Too many fields", "Zu viele Formularfelder."),
    ("Too many files", "Zu viele Dateien in einem Formular."),
    ("Part exceeded maximum size", "Ein Teil des Formulars ist zu groß."),
    ("Missing boundary", "Das Formular ist unvollständig übertragen worden."),
    ("Invalid boundary", "Das Formular ist unvollständig übertragen worden."),
)


def form_error(detail: str) -> str | None:
    """The German message for a Starlette form-parsing refusal, or None when ``detail`` is not one."""
    for start, german in _FORM:
        if detail.startswith(start):
            return german
    return None
