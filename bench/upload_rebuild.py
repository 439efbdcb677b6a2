"""Time to upload a 100-page PDF in the operator area and rebuild with it, against a real server.

Run: .venv/bin/python bench/upload_rebuild.py [--pdf FILE] [--pages 100] [--model NAME_OR_PATH]

Takes the first ``--pages`` pages of a real PDF (default: developers-reference.de.pdf from the PDF
collection, ``tests/data/fetch-pdf-collection.sh``), builds the shipped corpus once in a temporary
folder (not timed), starts ``assistant serve`` on a loopback port, makes an operator and a token, then
times the upload (checks and the sandboxed read included), the rebuild (each phase, from the progress
the API reports) and a question that finds the new document. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PDF = ROOT / ".cache" / "pdf-collection" / "developers-reference.de.pdf"
PASSWORD = "bench-passwort-1234"


def first_pages(source: Path, pages: int, target: Path) -> Path:
    reader = PdfReader(source)
    writer = PdfWriter()
    for page in reader.pages[:pages]:
        writer.add_page(page)
    with target.open("wb") as out:
        writer.write(out)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(command: list[str], env: dict[str, str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, text=True, capture_output=True, check=True, **options)  # type: ignore[call-overload, no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--model", help="model name or path (default: the default model, offline copy)")
    args = parser.parse_args()
    if not args.pdf.is_file():
        sys.exit(f"{args.pdf} fehlt: bash tests/data/fetch-pdf-collection.sh")
    assistant = str(Path(sys.executable).with_name("assistant"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pdf = first_pages(args.pdf, args.pages, folder / f"{args.pdf.stem}-{args.pages}.pdf")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(
            {
                "ASSISTANT_INDEX_DIR": str(folder / "index"),
                "ASSISTANT_DATABASE": str(folder / "var" / "store.sqlite3"),
                "ASSISTANT_UPLOAD_DIR": str(folder / "uploads"),
                "ASSISTANT_PORT": str(port),
                "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
                "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        if os.environ.get("ASSISTANT_MODELS_DIR"):
            env["ASSISTANT_MODELS_DIR"] = os.environ["ASSISTANT_MODELS_DIR"]
        if args.model:
            env["ASSISTANT_MODEL"] = args.model
        started = time.perf_counter()
        run([assistant, "build"], env)
        first_build = time.perf_counter() - started
        run([assistant, "admin", "add-user", "bench"], env, input=PASSWORD + "\n")
        token = run([assistant, "admin", "token", "bench"], env).stdout.strip()
        server = subprocess.Popen(
            [assistant, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                for _ in range(600):
                    try:
                        http.get("/api/health")
                        break
                    except httpx.TransportError:
                        time.sleep(0.2)
                t0 = time.perf_counter()
                with pdf.open("rb") as handle:
                    upload = http.post(
                        "/api/admin/documents", headers=headers, files={"files": (pdf.name, handle)}
                    )
                upload_seconds = time.perf_counter() - t0
                upload.raise_for_status()
                t0 = time.perf_counter()
                status_url = http.post("/api/admin/builds", headers=headers).headers["location"]
                phases: dict[str, float] = {}
                while True:
                    state = http.get(status_url, headers=headers).json()
                    phases.setdefault(state["phase"], time.perf_counter() - t0)
                    if state["state"] != "running":
                        break
                    time.sleep(0.2)
                rebuild_seconds = time.perf_counter() - t0
                documents = http.get("/api/admin/documents", headers=headers).json()["documents"]
                row = next(d for d in documents if d["name"] == pdf.name)
        finally:
            server.terminate()
            server.wait(timeout=30)
    order = list(phases)
    spans = [
        f"{name} {(phases[order[i + 1]] if i + 1 < len(order) else rebuild_seconds) - phases[name]:.1f} s"
        for i, name in enumerate(order)
    ]
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"PDF: first {args.pages} pages of {args.pdf.name}; {row['passages']} passages; "
        f"state {state['state']}\n"
    )
    print("| Step | Seconds |")
    print("| --- | ---: |")
    print(f"| First build of the shipped corpus (not part of the figure) | {first_build:.1f} |")
    print(f"| Upload (checks and sandboxed read included) | {upload_seconds:.1f} |")
    print(f"| Rebuild until the new release is served | {rebuild_seconds:.1f} |")
    print(f"| **Upload and rebuild** | **{upload_seconds + rebuild_seconds:.1f}** |")
    print(f"\nPhases of the rebuild: {'; '.join(spans)}")


if __name__ == "__main__":
    main()
