"""Logs without personal data: the access log's client and path, and a real `assistant serve` whose
whole log, after a conversation, a follow-up, feedback, a deletion and API calls, holds no client
address, no conversation id and no question."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.web.logs import PrivateAccessLog, private_client, private_path

from ..serving import free_port
from ..system.test_cli import running_server


@pytest.mark.parametrize(
    ("address", "clients", "logged"),
    [
        ("192.0.2.77:51234", "none", "-"),
        ("192.0.2.77:51234", "truncated", "192.0.2.0"),
        ("2001:db8:aaaa:bbbb::1:51234", "truncated", "2001:db8:aaaa::"),
        ("::1:51234", "truncated", "::"),
        ("192.0.2.77:51234", "full", "192.0.2.77:51234"),
        ("", "truncated", "-"),
        ("/run/app.sock", "truncated", "-"),
    ],
)
def test_the_client_is_left_out_or_shortened(address: str, clients: str, logged: str) -> None:
    assert private_client(address, clients) == logged  # type: ignore[arg-type]


def test_conversation_ids_and_query_strings_are_left_out_of_paths() -> None:
    assert private_path("/gespraech/AbCdEfGhIjKlMnOpQrStUv/2/rueckmeldung") == "/gespraech/…/2/rueckmeldung"
    assert private_path("/api/conversations/AbCdEfGhIjKlMnOpQrStUv") == "/api/conversations/…"
    assert private_path("/ansicht/quartier.md?stelle=0123") == "/ansicht/quartier.md"
    assert private_path("/api/ask") == "/api/ask"


def test_the_filter_rewrites_uvicorns_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("198.51.100.9:4000", "GET", "/gespraech/AbCdEfGhIjKlMnOpQrStUv?x=1", "1.1", 200),
        None,
    )
    assert PrivateAccessLog("truncated").filter(record)
    assert record.getMessage() == '198.51.100.0 - "GET /gespraech/… HTTP/1.1" 200'


@pytest.mark.slow
@pytest.mark.parametrize("clients", ["none", "truncated"])
def test_a_served_conversation_leaves_no_address_id_or_question_in_the_log(
    fixture_release: Settings, tmp_path: Path, clients: str
) -> None:
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(fixture_release.index_dir),
        "ASSISTANT_MODEL": str(fixture_release.model),
        "ASSISTANT_DATABASE": str(tmp_path / "assistant.sqlite3"),
        "ASSISTANT_LOG_CLIENTS": clients,
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
    }
    question = "Wer entscheidet über den Quartiersfonds im Hinterhaus?"
    logged: list[str] = []
    with running_server(env, free_port(), log=logged) as http:
        conversation = http.post("/gespraech", data={"question": question}).headers["location"].split("#")[0]
        http.get(conversation)
        http.post(conversation, data={"question": "Und wer noch?"})
        http.post(f"{conversation}/1/rueckmeldung", data={"helpful": "ja", "comment": "Frau K. meint ja"})
        http.get(f"{conversation}/loeschen")
        http.get("/ansicht/quartier.md?stelle=0000000000000000")
        http.post("/api/ask", json={"question": question})
        http.post(f"{conversation}/loeschen")
        http.get(conversation)  # 404 now
    log = logged[0]
    identifier = conversation.rsplit("/", 1)[1]
    assert '"POST /gespraech/… HTTP/1.1" 303' in log and '"GET /gespraech/… HTTP/1.1" 404' in log
    assert identifier not in log and "Hinterhaus" not in log and "Frau K." not in log
    requests = [line for line in log.splitlines() if " HTTP/1.1" in line]
    assert len(requests) >= 9 and not any("127.0.0.1" in line for line in requests)
    if clients == "truncated":
        assert all(re.match(r"INFO: +127\.0\.0\.0 - ", line) for line in requests)
    else:
        assert all(re.match(r"INFO: +- - ", line) for line in requests)
