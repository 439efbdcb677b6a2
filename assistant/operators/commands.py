"""``assistant admin``: operator accounts and tokens for the operator area, from the server's shell.

``add-user NAME`` asks for the password twice on a terminal, or reads its first line from stdin when
piped (``printf '%s\\n' "$PW" | assistant admin add-user anna``); ``token NAME`` prints a new API token
once; ``remove-user``, ``users`` and ``audit`` do what they say.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from ..config import Settings
from ..errors import InvalidInput
from . import open_operator_store
from .store import OperatorStore, check_operator_name

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="operator accounts and tokens for the operator area (/verwaltung)")
    actions = admin.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add-user", help="create an operator (password from the terminal or stdin)")
    add.add_argument("name")
    add.add_argument("--replace", action="store_true", help="set a new password for an existing operator")
    token = actions.add_parser("token", help="print a new API token for an operator (shown once)")
    token.add_argument("name")
    remove = actions.add_parser("remove-user", help="remove an operator with their sessions and tokens")
    remove.add_argument("name")
    actions.add_parser("users", help="list the operators")
    audit = actions.add_parser("audit", help="show the audit log of operator actions")
    audit.add_argument("--limit", type=int, default=50, help="newest N entries (default 50)")


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Passwort: ")
    if getpass.getpass("Passwort wiederholen: ") != first:
        raise InvalidInput("Die beiden Passwörter stimmen nicht überein.")
    return first


def run(settings: Settings, args: argparse.Namespace) -> int:
    store = open_operator_store(settings)
    try:
        return _run(store, args)
    except InvalidInput as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _run(store: OperatorStore, args: argparse.Namespace) -> int:
    if args.action == "add-user":
        name = check_operator_name(args.name)
        if not store.add_operator(name, _password(), replace=args.replace):
            print(f"Fehler: „{name}“ gibt es schon (neues Passwort: --replace).", file=sys.stderr)
            return 1
        store.audit(name, "Passwort gesetzt" if args.replace else "Zugang angelegt", "Kommandozeile")
        print(f"Zugang „{name}“ gespeichert ({store.where}).")
        return 0
    if args.action == "token":
        try:
            token = store.new_token(args.name)
        except KeyError:
            print(f"Fehler: Einen Zugang „{args.name}“ gibt es nicht.", file=sys.stderr)
            return 1
        store.audit(args.name, "Token erstellt", "Kommandozeile")
        print(token)
        print("Das Token wird nur jetzt angezeigt; gespeichert ist nur sein Hashwert.", file=sys.stderr)
        return 0
    if args.action == "remove-user":
        if not store.remove_operator(args.name):
            print(f"Fehler: Einen Zugang „{args.name}“ gibt es nicht.", file=sys.stderr)
            return 1
        store.audit(args.name, "Zugang entfernt", "Kommandozeile")
        print(f"Zugang „{args.name}“ entfernt.")
        return 0
    if args.action == "users":
        for name in store.operators():
            print(name)
        return 0
    for entry in store.audit_log(limit=max(1, args.limit)):
        at = datetime.fromtimestamp(entry.at, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        print(f"{at}  {entry.actor}  {entry.action}  {entry.target}")
    return 0
