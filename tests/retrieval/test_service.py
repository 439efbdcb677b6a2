"""Opening the served state without a network: the offline default model, and the bundled fallback model
without torch."""

import json
import os
import subprocess
import sys

import pytest

from assistant.config import Settings

# Runs in a fresh interpreter, because this one has long imported torch. Every outgoing connection
# (the model hub probe included) is refused and counted.
_OPEN_AND_ASK = """
import json, socket, sys
attempts = []
def refuse(address, *args, **kwargs):
    attempts.append(address)
    raise OSError("no network in this test")
socket.create_connection = refuse
from assistant.config import Settings
from assistant.service import open_assistant
assistant = open_assistant(Settings())
answer = assistant.ask("Was ist ein Verfügungsfonds?")
print(json.dumps({
    "connections": len(attempts),
    "torch": "torch" in sys.modules,
    "sentence_transformers": "sentence_transformers" in sys.modules,
    "section": answer.hits[0].passage.citation.section,
    "backend_model": type(assistant.searcher.embedder.model).__name__,
}))
"""


def _open_and_ask(settings: Settings) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    env["ASSISTANT_INDEX_DIR"] = str(settings.index_dir)
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_AND_ASK], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_fallback_release_is_served_without_torch_and_without_probing_the_hub(
    static_release: Settings,
) -> None:
    result = _open_and_ask(static_release)
    assert result["connections"] == 0
    assert not result["torch"] and not result["sentence_transformers"]
    assert result["backend_model"] == "StaticEncoder"
    assert "Verfügungsfonds" in str(result["section"])


@pytest.mark.slow
def test_release_of_the_offline_default_model_is_served_with_the_network_refused(
    shipped_release: Settings,
) -> None:
    """A fresh machine without the hub: the release names the converted multilingual-e5-small, and the
    server loads it from the converted folder (ASSISTANT_MODELS_DIR) without looking for the hub."""
    result = _open_and_ask(shipped_release)
    assert result["connections"] == 0
    assert result["backend_model"] == "SentenceTransformer"
    assert "Verfügungsfonds" in str(result["section"])
