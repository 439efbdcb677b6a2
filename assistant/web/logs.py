"""Logs without personal data: what the access log and the app's own log lines may say about a request.

A conversation's address is the key to everything asked in it, so ``/gespraech/<id>`` and
``/api/conversations/<id>`` are logged as ``/gespraech/…``; query strings are left out. The client's
address is left out by default (``ASSISTANT_LOG_CLIENTS=none``), shortened to its network
(``truncated``: IPv4 /24, IPv6 /48) or kept (``full``) where an operator has a reason and a legal
basis for it. Question text is never logged.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
from typing import Any

from ..config import LogClients
from .urls import API_CONVERSATIONS, CONVERSATION

__all__ = ["PrivateAccessLog", "log_config", "private_client", "private_path"]

_CONVERSATION = re.compile(f"({re.escape(CONVERSATION)}/|{re.escape(API_CONVERSATIONS)}/)" + r"[^/?#\s]+")


def private_path(path: str) -> str:
    """``path`` as it may be logged: no query string, no conversation id."""
    return _CONVERSATION.sub(r"\1…", path.split("?", 1)[0])


def private_client(address: str, clients: LogClients) -> str:
    """A client as it may be logged. ``address`` is what uvicorn logs: "host:port" (IPv6 too, without
    brackets), or "" when the client is not known."""
    if clients == "full":
        return address
    if clients == "none" or not address:
        return "-"
    host = address.rsplit(":", 1)[0] if ":" in address else address
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "-"  # a Unix socket or an unknown form: nothing to shorten, so nothing is shown
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


class PrivateAccessLog(logging.Filter):
    """Rewrites uvicorn's access log records (client, method, path, HTTP version, status)."""

    def __init__(self, clients: LogClients = "none") -> None:
        super().__init__()
        self.clients = clients

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (
                private_client(str(client), self.clients),
                method,
                private_path(str(path)),
                version,
                status,
            )
        return True


def log_config(clients: LogClients) -> dict[str, Any]:
    """uvicorn's logging configuration with the access log filtered; each worker process applies it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["private"] = {"()": f"{__name__}.PrivateAccessLog", "clients": clients}
    config["handlers"]["access"]["filters"] = ["private"]
    return config
