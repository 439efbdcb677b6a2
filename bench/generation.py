"""Grounded generation on the blind questions: how many generated sentences carry a valid, supported
citation, how often the answer falls back to the Kurzantwort, and the extra time to the first token and
to the whole answer.

Run: .venv/bin/python bench/generation.py [--llm-url URL --llm-model NAME] [--questions 135]
                                          [--max-tokens 200]

Without --llm-url it starts the test server (tests/llama_server.py: llama.cpp from xllamacpp with
SmolLM2-135M-Instruct, one thread, loopback). The release is the shipped corpus with the offline default
model (built once into .cache/bench/default/, as bench/latency.py does). The questions are the blind set
(eval/blind/fragen.jsonl, written without seeing the corpus); questions the assistant finds no match
for make no call to the model and are counted apart. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import free_port, release_for  # noqa: E402

from assistant.generation.client import ChatClient, GenerationFailed  # noqa: E402
from assistant.generation.grounding import check_sentences, grounded_messages, is_usable  # noqa: E402
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
    parser.add_argument("--questions", type=int, default=135)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()

    server = None
    url = args.llm_url
    if not url:
        server, url = start_server()
    try:
        settings = release_for(None)
        assistant = open_assistant(settings)
        client = ChatClient(url, model=args.llm_model, max_tokens=args.max_tokens, temperature=0.0)
        lines = (ROOT / "eval" / "blind" / "fragen.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]
        sentences = verified = asked = no_match = fallbacks = failures = 0
        first_token: list[float] = []
        whole: list[float] = []
        for question in questions:
            answer = assistant.ask(question)  # the extractive answer, as without a model
            if answer.no_match:
                no_match += 1
                continue
            asked += 1
            messages = grounded_messages(answer.question, (), answer.hits)
            started = time.perf_counter()
            pieces: list[str] = []
            try:
                for piece in client.stream(messages):
                    if not pieces:
                        first_token.append(time.perf_counter() - started)
                    pieces.append(piece)
            except GenerationFailed:
                failures += 1
                fallbacks += 1
                continue
            whole.append(time.perf_counter() - started)
            checked = check_sentences("".join(pieces), answer.hits, assistant.searcher.analyzer)
            sentences += len(checked)
            verified += sum(s.verified for s in checked)
            fallbacks += not is_usable(checked)
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
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"Machine: {machine}; model: {model}; max_tokens {args.max_tokens}\n")
    print("| questions | no match (no call) | asked | sentences | verified | share | fell back | failed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    share = f"{verified / sentences:.2f}" if sentences else "–"
    print(
        f"| {len(questions)} | {no_match} | {asked} | {sentences} | {verified} | {share} | "
        f"{fallbacks} ({fallbacks / max(asked, 1):.0%}) | {failures} |"
    )
    print("\n| extra time | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    print(f"| to the first token | {ms(first_token, 50)} | {ms(first_token, 95)} |")
    print(f"| to the whole answer | {ms(whole, 50)} | {ms(whole, 95)} |")


if __name__ == "__main__":
    main()
