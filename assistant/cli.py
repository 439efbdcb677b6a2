"""Command line: ``assistant build``, ``serve`` (the default), ``ask``, ``eval``, ``feedback``,
``privacy``, ``inspect`` and ``admin``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings

if TYPE_CHECKING:
    from .userdata import UserStore

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "model", None):
        overrides["model"] = args.model
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "workers", None):
        overrides["workers"] = args.workers
    if getattr(args, "threads", None):
        overrides["threads"] = args.threads
    if getattr(args, "database", None):
        overrides["database"] = Path(args.database)
        overrides["database_url"] = None  # the file named on the command line, not ASSISTANT_DATABASE_URL
    base = Settings()
    extra = [Path(p) for p in getattr(args, "sources", None) or []]
    if extra:
        overrides["extra_sources"] = [*base.extra_sources, *extra]
    return base.model_copy(update=overrides)


def _warn(message: str) -> None:
    print(f"Warnung: {message}", file=sys.stderr)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_build(settings: Settings, *, full: bool = False, progress_json: bool = False) -> int:
    """Build and publish a release. On a terminal each phase shows a progress bar; with
    ``progress_json`` (how the operator area runs a build) every step, warning and the outcome is one
    JSON line on stdout instead."""
    from .build import build_index
    from .errors import BuildError
    from .progress import TerminalProgress, no_progress

    if progress_json:
        return _build_reporting_json(settings, full=full)
    bar = TerminalProgress() if sys.stderr.isatty() else None
    try:
        report = build_index(settings, warn=_warn, say=_say, progress=bar or no_progress, full=full)
    except BuildError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    note = " (Ersatzmodell)" if report.fallback else ""
    print(
        f"Index {report.build_id}: {report.passages} Passagen aus {report.documents} Dokumenten "
        f"({report.embedded} neu eingebettet), Modell {report.model}{note}, "
        f"{report.seconds:.1f} s → {report.where}"
    )
    return 0


def _build_reporting_json(settings: Settings, *, full: bool) -> int:
    from .build import build_index
    from .errors import AssistantError, BuildError
    from .progress import JsonProgress

    out = JsonProgress()
    try:
        report = build_index(
            settings,
            warn=lambda message: out.emit({"warning": message}),
            say=lambda message: out.emit({"note": message}),
            progress=out,
            full=full,
        )
    except (BuildError, AssistantError) as exc:
        out.emit({"error": str(exc)})
        return 1
    out.emit(
        {
            "result": {
                "build_id": report.build_id,
                "passages": report.passages,
                "documents": report.documents,
                "embedded": report.embedded,
                "model": report.model,
                "skipped": list(report.skipped),
                "seconds": round(report.seconds, 1),
            }
        }
    )
    return 0


def cmd_serve(settings: Settings) -> int:
    import uvicorn

    from .errors import AssistantError
    from .index.releases import releases_for
    from .web.app import create_app, log_serving

    log_serving()

    try:
        current = releases_for(settings).current_build_id()
    except AssistantError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    if current is None:
        print("Noch kein Index vorhanden – er wird jetzt gebaut …", file=sys.stderr)
        if cmd_build(settings) != 0:
            return 1
    try:
        app = create_app(settings)
    except Exception as exc:  # startup problems are reported in one line, not as a traceback
        print(f"Fehler beim Laden des Index: {exc}", file=sys.stderr)
        return 1
    print(
        f"QM-Assistent läuft auf http://{settings.host}:{settings.port}/ "
        f"({settings.workers} Prozess(e) × {settings.threads} Threads)",
        file=sys.stderr,
    )
    from .web.logs import log_config
    from .web.server import NoDelayHTTPProtocol

    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": log_config(settings.log_clients),  # no client addresses or conversation ids
        "access_log": settings.access_log,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections,
        # The app reads X-Forwarded-For itself, from the configured trusted proxies only (create_app).
        "proxy_headers": False,
        "http": NoDelayHTTPProtocol,
    }
    if settings.workers == 1:
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return 0
    # Several processes: each builds the app itself from the environment, so the command-line choices
    # travel there as ASSISTANT_* variables. The release was checked above, in this process.
    del app
    for name, value in (
        ("INDEX_DIR", settings.index_dir),
        ("SEARCH_BACKEND", settings.search_backend),
        ("CORPUS_DIR", settings.corpus_dir),
        ("DATABASE", settings.database),
        ("MODEL", settings.model),
        ("THREADS", settings.threads),
    ):
        if value is not None:
            os.environ[f"ASSISTANT_{name}"] = str(value)
    uvicorn.run(
        "assistant.web.app:create_app_from_env",
        factory=True,
        workers=settings.workers,
        **options,  # type: ignore[arg-type]
    )
    return 0


def cmd_ask(settings: Settings, question: str, k: int | None, as_json: bool) -> int:
    from .errors import InvalidInput, ReleaseError
    from .service import open_assistant
    from .validation import validate_question

    try:
        assistant = open_assistant(settings)
    except ReleaseError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    try:
        question, _, k = validate_question(settings, question, [], k)
    except InvalidInput as exc:  # the same limits as the API and the chat
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    answer = assistant.ask(question, k=k)
    elapsed = time.perf_counter() - started
    if as_json:
        from .web.api import AskResponse

        print(json.dumps(AskResponse.of(answer).model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    if answer.no_match:
        print(answer.message)
        if answer.related:
            print("\nVerwandte Themen im Leitfaden (sie beantworten die Frage nicht):")
            for passage in answer.related:
                print(f"  - {passage.citation.label} ({passage.citation.document})")
        return 0
    if answer.searched != answer.question:
        print(f"Gesucht wurde: {answer.searched}\n")
    if answer.shown_generated and not answer.notice:
        shown = answer.shown_generated
        written = " ".join(f"{s.text} " + "".join(f"[{m}]" for m in s.markers) for s in shown)
        print(f"Antwort des Sprachmodells (geprüft an den Fundstellen): {written}")
        for number, sentence in enumerate(shown, start=1):  # the evidence for each sentence
            quotes = " … ".join(f"„{q.text}“ [{q.marker}]" for q in sentence.evidence)
            print(f"  Beleg {number}: {quotes}")
        print()
    elif answer.notice:
        print(f"({answer.notice})\n")
    if answer.sentences:
        short = " ".join(f"{s.text} [{s.marker}]" for s in answer.sentences)
        print(f"Kurzantwort: {short}\n")
    for rank, hit in enumerate(answer.hits, start=1):
        citation = hit.passage.citation
        print(f"[{rank}] {citation.label}  ({citation.document}; Relevanz {hit.score:.2f})")
        print(hit.passage.text)
        print()
    print(
        f"({len(answer.hits)} Fundstellen in {elapsed * 1000:.0f} ms, Modell {answer.model})", file=sys.stderr
    )
    return 0


def cmd_eval(settings: Settings, xquad: str | None, sets: str | None, *, fit: bool = False) -> int:
    """Every set for the configured model (the offline default included), then for the static model
    built from each corpus, the last fallback."""
    import tempfile

    from .evaluation import evaluate

    xquad_path = Path(xquad) if xquad else settings.xquad
    sets_path = Path(sets) if sets else settings.eval_dir
    for static in (False, True):
        print(f"## {'Static fallback model' if static else 'Configured model'}\n")
        with tempfile.TemporaryDirectory() as workdir:
            evaluate(
                settings,
                xquad=xquad_path,
                sets=sets_path if sets_path.is_dir() else None,
                workdir=Path(workdir),
                static=static,
                fit=fit,
            )
    return 0


#: A cell starting with one of these is read as a formula by spreadsheet programs (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell that a spreadsheet shows as text: one that would start a formula ("=HYPERLINK(…)",
    "+49 …", "@SUM(…)") gets a leading apostrophe, as OWASP advises; visitors write the comments."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def cmd_feedback(settings: Settings, *, as_csv: bool, limit: int | None) -> int:
    import csv

    from .errors import UserStoreError

    store = _open_store(settings)
    if store is None:
        return 1
    try:
        entries = store.feedback(limit=limit)
    except UserStoreError as exc:
        print(f"Fehler: {store.where} ist nicht lesbar ({exc})", file=sys.stderr)
        return 1
    finally:
        store.close()
    header = ["Zeit (UTC)", "Bewertung", "Frage", "Kommentar", "Fundstellen", "Gespräch", "Index"]
    rows = [
        [
            f.created,
            "hilfreich" if f.helpful else "nicht hilfreich",
            f.question,
            f.comment,
            " ".join(f.passages),
            f"{f.conversation}#frage{f.turn}" if f.conversation else "",
            f.build_id,
        ]
        for f in entries
    ]
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        # Only the visitor's words (question, comment) can carry a formula; the other cells are the
        # app's own values (a conversation id may start with "-") and must stay usable as written.
        writer.writerows(
            [[*row[:2], spreadsheet_safe(row[2]), spreadsheet_safe(row[3]), *row[4:]] for row in rows]
        )
        return 0
    if not rows:
        print(f"Noch keine Rückmeldungen in {store.where}.", file=sys.stderr)
        return 0
    shown = [[r[0], r[1], _clip(r[2], 50), _clip(r[3], 50)] for r in rows]
    widths = [max(len(row[i]) for row in [header[:4], *shown]) for i in range(4)]
    for row in [header[:4], ["-" * w for w in widths], *shown]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    helpful = sum(f.helpful for f in entries)
    print(f"\n{len(entries)} Rückmeldungen, davon {helpful} hilfreich.", file=sys.stderr)
    return 0


def cmd_privacy(
    settings: Settings, action: str, *, older_than: int | None = None, conversation: str | None = None
) -> int:
    """The operator's data-protection commands: purge by age, export or delete one conversation.
    Each says what it did; the export is JSON on stdout (for an access request)."""
    import json

    from .errors import UserStoreError
    from .userdata import Deleted, is_conversation_id, purge_expired

    if conversation is not None and not is_conversation_id(conversation.rsplit("/", 1)[-1]):
        print(
            f"Fehler: „{conversation}“ ist keine Gesprächskennung (22 Zeichen, wie in /gespraech/…).",
            file=sys.stderr,
        )
        return 2
    if conversation is not None:
        conversation = conversation.rsplit("/", 1)[-1]  # the address works as well as the id
    store = _open_store(settings)
    if store is None:
        return 1
    try:
        if action == "purge":
            days = settings.retention_days if older_than is None else older_than
            deleted = purge_expired(store, days)
            print(f"Gelöscht (älter als {days} Tage) in {store.where}: {deleted}.")
        elif action == "delete":
            assert conversation is not None
            deleted = store.delete_conversation(conversation)
            if deleted.conversations == 0:
                print(f"Kein Gespräch {conversation} in {store.where}; nichts gelöscht.")
            else:
                print(f"Gelöscht in {store.where}: {deleted}.")
        else:
            assert conversation is not None
            exported = store.export(conversation)
            if exported is None:
                print(f"Kein Gespräch {conversation} in {store.where}.", file=sys.stderr)
                return 1
            print(json.dumps(exported, ensure_ascii=False, indent=2))
            shown = Deleted(1, len(exported["turns"]), len(exported["feedback"]))  # the same counting
            print(f"Ausgegeben: {shown}.", file=sys.stderr)
    except UserStoreError as exc:
        print(f"Fehler: {store.where} ist gerade nicht erreichbar ({exc})", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _open_store(settings: Settings) -> UserStore | None:
    """The configured store for a command, or None after saying why it cannot be opened."""
    from .errors import UserStoreError
    from .userdata import open_user_store

    try:
        return open_user_store(settings)
    except UserStoreError as exc:  # PostgreSQL configured without psycopg installed
        print(f"Fehler: {exc}", file=sys.stderr)
        return None


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_inspect(file: str, pages: str | None, full: bool) -> int:
    """Print how a file is read: per PDF page its blocks by kind, then the passages with citations."""
    from .errors import DocumentError
    from .ingest.inspect import inspect_lines, parse_pages

    path = Path(file)
    try:
        wanted = parse_pages(pages)
        if not path.is_file():
            raise DocumentError(f"{file}: Datei nicht gefunden")
        for line in inspect_lines(path, pages=wanted, full=full):
            print(line)
    except (DocumentError, ValueError) as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `assistant inspect x.pdf | head`
        sys.stderr.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="QM-Assistent: Fundstellen mit Quellenangabe."
    )
    parser.add_argument("--index-dir", help="Index folder (default: ./index or ASSISTANT_INDEX_DIR)")
    parser.add_argument("--model", help="sentence-transformers model name or local path (ASSISTANT_MODEL)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command")

    build = sub.add_parser("build", help="build the index from the corpus (and further files or folders)")
    build.add_argument("sources", nargs="*", help="further files or folders to index next to the corpus")
    build.add_argument("--corpus", help="corpus folder instead of the shipped one (ASSISTANT_CORPUS_DIR)")
    build.add_argument(
        "--full", action="store_true", help="ignore the embedding cache and re-embed everything"
    )
    build.add_argument(
        "--progress-json",
        action="store_true",
        help="report progress, warnings and the outcome as JSON lines on stdout (for the operator area)",
    )

    serve = sub.add_parser("serve", help="serve the web chat and the API (builds the index first if needed)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--corpus", help="corpus folder for a first build (ASSISTANT_CORPUS_DIR)")
    serve.add_argument("--workers", type=int, help="server processes (default 1, ASSISTANT_WORKERS)")
    serve.add_argument(
        "--threads", type=int, help="answering threads per process (default 8, ASSISTANT_THREADS)"
    )

    ask = sub.add_parser("ask", help="ask one question on the command line")
    ask.add_argument("question", help="the question, in German")
    ask.add_argument("-k", type=int, help="how many passages (default 5)")
    ask.add_argument("--json", action="store_true", help="print the API's JSON")
    _add_eval_parser(sub)
    _add_data_parsers(sub)
    from .operators.commands import add_parser as add_admin_parser

    add_admin_parser(sub)
    inspect = sub.add_parser(
        "inspect", help="show how a file is read: blocks per page (PDF) and the passages with citations"
    )
    inspect.add_argument("file", help="a PDF, DOCX, HTML, Markdown or text file")
    inspect.add_argument("--pages", help="only these pages, e.g. 3 or 2-5 or 1,4-6")
    inspect.add_argument("--full", action="store_true", help="whole texts instead of shortened ones")
    return parser


def _add_eval_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`eval`: retrieval quality on the shipped or given question sets."""
    evaluation = sub.add_parser(
        "eval", help="measure retrieval quality (Recall@k, MRR@10) and no-match rates"
    )
    evaluation.add_argument(
        "--xquad", help="XQuAD German JSON (default: ASSISTANT_XQUAD, else ../shared/eval/xquad.de.json)"
    )
    evaluation.add_argument(
        "--sets",
        help="folder with praxisfragen/folgefragen/fremdfragen.jsonl "
        "(default: ASSISTANT_EVAL_DIR, the shipped sets)",
    )
    evaluation.add_argument(
        "--corpus", help="corpus folder for the practitioner sets (default: the shipped one)"
    )
    evaluation.add_argument(
        "--fit-no-match",
        action="store_true",
        help="also fit the no-match rule on the team's sets and show its error rates",
    )


def _add_data_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`feedback` and `privacy`: what visitors left in the database."""
    feedback = sub.add_parser("feedback", help="show the feedback given in the chat and over the API")
    feedback.add_argument("--csv", action="store_true", help="all fields as CSV on stdout")
    feedback.add_argument("--limit", type=int, help="only the newest N entries")
    feedback.add_argument(
        "--database",
        help="SQLite file (default: var/assistant.sqlite3, ASSISTANT_DATABASE; "
        "without it ASSISTANT_DATABASE_URL, if set, names a PostgreSQL database)",
    )
    privacy = sub.add_parser(
        "privacy", help="data protection: delete by age, export or delete one conversation"
    )
    privacy.add_argument(
        "--database",
        help="SQLite file (default: var/assistant.sqlite3, ASSISTANT_DATABASE; "
        "without it ASSISTANT_DATABASE_URL, if set, names a PostgreSQL database)",
    )
    actions = privacy.add_subparsers(dest="action", required=True)
    purge = actions.add_parser(
        "purge", help="delete conversations and feedback older than the retention period"
    )
    purge.add_argument(
        "--older-than", type=int, metavar="DAYS", help="days to keep (default: ASSISTANT_RETENTION_DAYS, 30)"
    )
    for name, text in (
        ("export", "print everything stored about one conversation as JSON (for an access request)"),
        ("delete", "delete one conversation with its questions, answers and feedback"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--conversation",
            required=True,
            metavar="ID",
            help="the conversation's id or address (/gespraech/ID)",
        )


#: Options whose value may start with "-": a conversation id is URL-safe base64 ("-UBE2…"), which
#: argparse would otherwise take for an option of its own.
_DASHED_VALUES = ("--conversation",)


def _join_dashed_values(argv: list[str]) -> list[str]:
    """``--conversation -UBE2…`` as ``--conversation=-UBE2…``, so that argparse reads the id as the value."""
    joined: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _DASHED_VALUES and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            joined.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        joined.append(argv[i])
        i += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_join_dashed_values(sys.argv[1:] if argv is None else list(argv)))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        settings = _settings(args)
    except Exception as exc:  # pydantic validation of environment variables
        print(f"Fehler in der Konfiguration: {exc}", file=sys.stderr)
        return 2
    from .errors import AssistantError

    try:
        return _dispatch(args, settings)
    except AssistantError as exc:  # whatever a command did not answer itself, in one German line
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "build":
        return cmd_build(settings, full=args.full, progress_json=args.progress_json)
    if args.command == "eval":
        return cmd_eval(settings, args.xquad, args.sets, fit=args.fit_no_match)
    if args.command == "feedback":
        return cmd_feedback(settings, as_csv=args.csv, limit=args.limit)
    if args.command == "inspect":
        return cmd_inspect(args.file, args.pages, args.full)
    if args.command == "privacy":
        if args.action == "purge" and args.older_than is not None and args.older_than < 0:
            print("Fehler: --older-than braucht eine Zahl von Tagen ab 0.", file=sys.stderr)
            return 2
        return cmd_privacy(
            settings,
            args.action,
            older_than=getattr(args, "older_than", None),
            conversation=getattr(args, "conversation", None),
        )
    if args.command == "ask":
        return cmd_ask(settings, args.question, args.k, args.json)
    if args.command == "admin":
        from .operators.commands import run as cmd_admin

        return cmd_admin(settings, args)
    return cmd_serve(settings)


if __name__ == "__main__":
    sys.exit(main())
