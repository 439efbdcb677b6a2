"""Grounded generation on the blind questions: how many generated sentences carry a valid, supported
citation, how often the answer falls back to the Kurzantwort, and the extra time to the first token and
to the whole answer.

Run: .venv/bin/python bench/generation.py [--llm-url URL --llm-model NAME] [--questions 140]
                                          [--max-tokens 200] [--grammar] [--log FILE.jsonl]
                                          [--first-token-timeout 20] [--timeout 60]

Without --llm-url it starts the test server (tests/llama_server.py: llama.cpp from xllamacpp with
SmolLM2-135M-Instruct, one thread, loopback). The release is the shipped corpus with the offline default
model (built once into .cache/bench/default/, as bench/latency.py does). The questions are the blind set
(eval/blind/fragen.jsonl, written without seeing the corpus); questions the assistant finds no match for
make no call to the model and are counted apart. The model is asked exactly as the chat asks it (the
same messages and grammar as ``Assistant``, checked by ``Assistant.checked``); ``--grammar`` adds
llama.cpp's citation grammar (ASSISTANT_LLM_GRAMMAR). Prints Markdown tables, with the check before
evidence alignment (bench/grounding.py's ``old_check``) applied to the same texts for comparison;
``--log`` keeps every answer with its checked sentences, their evidence and the reasons. Raise the
time-outs when the machine is shared: a time-out counts as a failure, not as the model's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from grounding import old_check  # noqa: E402
from latency import free_port, release_for  # noqa: E402

from assistant.errors import GenerationFailed  # noqa: E402
from assistant.generation.client import ChatClient  # noqa: E402
from assistant.generation.grounding import (  # noqa: E402
    MAX_PASSAGES,
    NOT_ANSWERED,
    citation_grammar,
    grounded_messages,
    is_usable,
)
from assistant.generation.writer import NOT_VERIFIED, Writer  # noqa: E402
from assistant.service import open_assistant  # noqa: E402


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.llama_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the llama.cpp server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm-url", help="an OpenAI-compatible base URL (default: start the test server)")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--questions", type=int, default=140)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--grammar", action="store_true", help="send llama.cpp's citation grammar")
    parser.add_argument("--log", type=Path, help="write each answer as a JSON line to this file")
    parser.add_argument(
        "--first-token-timeout", type=float, default=20.0, help="seconds (ASSISTANT_LLM_FIRST_TOKEN_TIMEOUT)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (ASSISTANT_LLM_TIMEOUT)")
    parser.add_argument(
        "--recheck",
        type=Path,
        help="check the answers a --log of an earlier run holds again, without a model (after a change "
        "of the check; the times are the logged ones)",
    )
    args = parser.parse_args()

    replay: dict[str, dict] = {}  # type: ignore[type-arg]
    if args.recheck:
        for line in args.recheck.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            replay[record["question"]] = record
    server = None
    url = args.llm_url or "http://127.0.0.1:9/v1"
    if not args.llm_url and not args.recheck:
        server, url = start_server()
    try:
        settings = release_for(None)
        client = ChatClient(
            url,
            model=args.llm_model,
            max_tokens=args.max_tokens,
            temperature=0.0,
            grammar=args.grammar,
            first_token_timeout=args.first_token_timeout,
            total_timeout=args.timeout,
        )
        served = open_assistant(settings)
        assistant = replace(served, writer=Writer.of(client, served.searcher.analyzer))
        lines = (ROOT / "eval" / "blind" / "fragen.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]
        sentences = verified = marked = asked = no_match = fallbacks = failures = refused = 0
        old_verified = old_fallbacks = 0  # the bag-of-words check before evidence alignment, same texts
        first_token: list[float] = []
        whole: list[float] = []
        log = args.log.open("w", encoding="utf-8") if args.log else None
        for question in questions:
            answer = assistant.ask(question, generate=False)  # the extractive answer, as without a model
            if not assistant.generates_for(answer):
                no_match += 1
                continue
            asked += 1
            started = time.perf_counter()
            pieces: list[str] = []
            if args.recheck:
                record = replay.get(question)
                if record is None:  # the earlier run failed here
                    failures += 1
                    fallbacks += 1
                    continue
                pieces = [record["text"]]
                first_token.append(record["first_token_s"] or 0.0)
                whole.append(record["whole_s"])
            else:
                try:
                    messages = grounded_messages(question, (), answer.hits)
                    grammar = citation_grammar(min(len(answer.hits), MAX_PASSAGES)) if args.grammar else None
                    for piece in client.stream(messages, grammar=grammar):
                        if not pieces:
                            first_token.append(time.perf_counter() - started)
                        pieces.append(piece)
                except GenerationFailed as exc:
                    failures += 1
                    fallbacks += 1
                    print(f"[{asked}] failed: {exc}", file=sys.stderr, flush=True)
                    continue
                whole.append(time.perf_counter() - started)
            text = "".join(pieces)
            result = assistant.checked(answer, text)
            checked = result.generated
            sentences += len(checked)
            verified += sum(s.verified for s in checked)
            given = min(len(answer.hits), MAX_PASSAGES)
            marked += sum(bool(s.markers) and all(1 <= m <= given for m in s.markers) for s in checked)
            refused += NOT_ANSWERED in text
            fallbacks += result.notice == NOT_VERIFIED
            old = old_check(text, list(answer.hits[:MAX_PASSAGES]), assistant.searcher.analyzer)
            old_verified += sum(s.verified for s in old)
            old_fallbacks += not is_usable(old)
            if log is not None:
                record = {
                    "question": question,
                    "text": text,
                    "sentences": [
                        {
                            "text": s.text,
                            "markers": s.markers,
                            "support": s.support,
                            "verified": s.verified,
                            "reason": s.reason,
                            "evidence": [e.text for e in s.evidence],
                        }
                        for s in checked
                    ],
                    "fell_back": result.notice is not None,
                    "first_token_s": round(first_token[-1], 3) if pieces else None,
                    "whole_s": round(whole[-1], 3),
                }
                log.write(json.dumps(record, ensure_ascii=False) + "\n")
                log.flush()
            print(
                f"[{asked}] {len(checked)} sentences, {sum(s.verified for s in checked)} verified, "
                f"{whole[-1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    def ms(values: list[float], q: float) -> str:
        return f"{np.percentile(np.array(values) * 1000, q):.0f}" if values else "–"

    bundled = "SmolLM2-135M-Instruct Q4_1 (llama.cpp via xllamacpp, 1 thread)"
    model = args.llm_model or (bundled if server else url)
    if args.recheck:
        model = f"the answers logged in {args.recheck} (checked again, no model asked)"
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    grammar = "with the citation grammar" if args.grammar else "without grammar"
    print(f"Machine: {machine}; model: {model}; max_tokens {args.max_tokens}; {grammar}\n")
    print(
        "| questions | no match (no call) | asked | sentences | with a valid marker | verified | share "
        "verified | said the passages do not answer | fell back | failed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    share = f"{verified / sentences:.2f}" if sentences else "–"
    print(
        f"| {len(questions)} | {no_match} | {asked} | {sentences} | {marked} | {verified} | {share} | "
        f"{refused} | {fallbacks} ({fallbacks / max(asked, 1):.0%}) | {failures} |"
    )
    print(
        f"\nThe check before evidence alignment (bag of words, bench/grounding.py --old) on the same "
        f"texts: {old_verified} verified, {old_fallbacks} fell back."
    )
    print("\n| extra time | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    print(f"| to the first token | {ms(first_token, 50)} | {ms(first_token, 95)} |")
    print(f"| to the whole answer | {ms(whole, 50)} | {ms(whole, 95)} |")


if __name__ == "__main__":
    main()
