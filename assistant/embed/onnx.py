"""Faster CPU inference for transformer embedders: the transformer exported once to ONNX, run by ONNX
Runtime (fp32 or dynamically quantised int8) or OpenVINO.

Only the transformer itself is swapped: tokenizer, prompts, pooling and normalisation stay
sentence-transformers' own, so ``encode_query`` / ``encode_document`` work as before. The export runs
through ``torch.onnx`` and ONNX Runtime's quantiser rather than sentence-transformers' ``backend="onnx"``,
because that one needs ``optimum-onnx``, whose releases require transformers < 4.58 while
sentence-transformers 6 requires transformers 5.

Exports are written once into ``export_dir/<hash of the model fingerprint>-v<EXPORT_VERSION>/`` (never
into the model's own folder or the Hugging Face cache), checked against torch before they are used,
and reused on the next load. Anything that keeps a backend from working (a static model without a
transformer, a missing package, a failed export) leaves the model on torch with one log line why.

Vectors: fp32 ONNX and OpenVINO (run at f32 precision) give torch's vectors within ``FP32_TOLERANCE`` and
keep the torch fingerprint; int8 gives other vectors and gets a fingerprint of its own, so the
embedding cache never mixes them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import platform
import re
import shutil
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from ..config import Backend

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

from ..errors import ExportFailed

__all__ = [
    "BACKENDS",
    "EXPORT_VERSION",
    "FP32_TOLERANCE",
    "Backend",
    "int8_scheme",
    "switch_backend",
]

log = logging.getLogger(__name__)

#: Runs an exported model: the tokenizer's arrays by input name in, the last hidden state out.
Runner = Callable[[dict[str, np.ndarray]], np.ndarray]
BACKENDS: tuple[str, ...] = get_args(Backend)

#: Raised whenever the export or quantisation recipe changes, so older exports are made anew.
EXPORT_VERSION = 1

#: Largest difference of one component of a normalised vector from torch's that fp32 backends may show.
#: Measured: below 1e-7, the size of the float noise torch itself shows between batch compositions;
#: 1e-4 leaves room for other CPUs and kernels and still cannot change a ranking that is not a tie to
#: about four decimals.
FP32_TOLERANCE = 1e-4

#: Smallest cosine between an int8 hidden state and torch's for the same token that a fresh export
#: must reach to be used (see ``_check``).
INT8_MIN_TOKEN_COSINE = 0.9

# What each backend imports: torch.onnx needs onnx to write the export.
_PACKAGES = {
    "onnx": ("onnx", "onnxruntime"),
    "onnx-int8": ("onnx", "onnxruntime"),
    "openvino": ("onnx", "openvino"),
}

_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

# Texts of different lengths, so the traced graph takes the padded path through the attention mask
# (transformers may skip the mask for a batch without padding, and the tracer fixes such choices).
_EXAMPLE_TEXTS = [
    "query: Wer entscheidet über den Verfügungsfonds?",
    "passage: Der Verfügungsfonds des Quartiersmanagements finanziert kleine Projekte, über die ein "
    "Vergabebeirat aus Bewohnerinnen und Bewohnern entscheidet.",
]
_CHECK_TEXTS = [
    "Wie wird das Quartiersbüro finanziert?",
    "Bürgerbeteiligung",
    "Die Lenkungsgruppe tagt viermal im Jahr und berät über Handlungskonzept, Projekte und Mittel.",
]


def switch_backend(
    model: SentenceTransformer, backend: str, *, fingerprint: str, export_dir: Path, name: str
) -> tuple[str, str]:
    """Run ``model``'s transformer on ``backend`` (exporting it into ``export_dir`` on first use).

    Returns the backend now in use and the fingerprint of the vectors it gives: torch's own for
    fp32 backends, a derived one for int8. Where the backend cannot be used the model stays on torch
    and the torch fingerprint comes back, with one warning saying why.
    """
    if backend == "auto":  # ONNX Runtime where it is installed and there is a transformer to run
        installed = importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx")
        backend = "onnx" if installed and _transformer_holder(model) is not None else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"unknown inference backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return "torch", fingerprint
    holder = _transformer_holder(model)
    if holder is None:
        log.warning("backend %s does not apply to %s (no transformer module); using torch", backend, name)
        return "torch", fingerprint
    module, attribute = holder
    folder = export_dir / f"{hashlib.sha256(fingerprint.encode()).hexdigest()[:20]}-v{EXPORT_VERSION}"
    try:
        for package in _PACKAGES[backend]:
            importlib.import_module(package)
        exported = _exported_model(module, attribute, backend, folder)
    except ImportError as exc:
        extra = "openvino" if backend == "openvino" else "onnx"
        log.warning(
            "backend %s needs %s (pip install 'qm-assistent[%s]'); using torch", backend, exc.name, extra
        )
        return "torch", fingerprint
    except (ExportFailed, OSError) as exc:
        log.warning("backend %s is not available for %s (%s); using torch", backend, name, exc)
        return "torch", fingerprint
    setattr(module, attribute, exported)
    log.info("%s runs on %s (%s)", name, backend, exported.path)
    if backend == "onnx-int8":
        return backend, f"{fingerprint}+onnx-int8.v{EXPORT_VERSION}.{int8_scheme()}"
    return backend, fingerprint


def int8_scheme() -> str:
    """How int8 weights are stored: ``u8s8`` (signed weights, the "avx512_vnni" and "arm64" schemes)
    where the CPU multiplies unsigned by signed bytes exactly (VNNI, ARM64); ``u8u8`` (the "avx2"
    scheme) elsewhere, because AVX2's VPMADDUBSW can saturate on signed weights."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "u8s8"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "u8u8"
    return "u8s8" if re.search(r"\b(avx512_vnni|avx_vnni)\b", flags) else "u8u8"


def _transformer_holder(model: SentenceTransformer) -> tuple[Any, str] | None:
    """The first module and the attribute holding its Hugging Face model, when it has one."""
    from transformers import PreTrainedModel

    first = model[0]
    # sentence-transformers 6 keeps the model in ``model``; 5.x in ``auto_model``.
    for attribute in ("model", "auto_model"):
        if isinstance(first._modules.get(attribute), PreTrainedModel):
            if getattr(first, "tokenizer", None) is not None:
                return first, attribute
    return None


def _exported_model(module: Any, attribute: str, backend: str, folder: Path) -> ExportedTransformer:
    """The exported model for ``backend``, made into ``folder`` unless it is there already; an
    export left unusable (a crash while writing, another library version) is made once more."""
    hf_model, tokenizer = getattr(module, attribute), module.tokenizer
    fp32 = folder / "model.onnx"
    path = folder / f"model-int8-{int8_scheme()}.onnx" if backend == "onnx-int8" else fp32
    opener = _openvino_runner if backend == "openvino" else _onnxruntime_runner
    for attempt in range(2):
        folder.mkdir(parents=True, exist_ok=True)
        made = not path.is_file()
        if not fp32.is_file():
            _export(hf_model, tokenizer, fp32, opener)
        if not path.is_file():
            _quantize(fp32, path)
        try:
            exported = ExportedTransformer(opener(path), hf_model.config, path)
            _check(hf_model, exported, tokenizer, int8=backend == "onnx-int8")
            return exported
        except ImportError:
            raise
        except Exception as exc:  # ONNX Runtime and OpenVINO raise their own types for unreadable files
            if made or attempt:
                raise ExportFailed(f"{path.name}: {exc}") from exc
            log.warning("exported model %s is unusable (%s); exporting it again", path, exc)
            shutil.rmtree(folder, ignore_errors=True)
    raise AssertionError("unreachable")


def _export(hf_model: Any, tokenizer: Any, target: Path, opener: Callable[[Path], Runner]) -> None:
    """Trace the model to ONNX in a temporary file beside ``target``, check it, then move it in place
    (several server processes may export at once; each move is atomic)."""
    example = tokenizer(_EXAMPLE_TEXTS, padding=True, return_tensors="pt")
    names = [name for name in _INPUT_NAMES if name in example]
    wrapper = _LastHiddenState(hf_model, names).eval()  # export restores this mode on all submodules
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    log.info("exporting the transformer to ONNX: %s", target)
    try:
        with warnings.catch_warnings(), _eager_attention(hf_model):
            # The TorchScript exporter's deprecation notice and tracer notes about Python conditions;
            # those conditions are fixed by the padded example and the check below catches the rest.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(example[name] for name in names),
                str(temporary),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,  # the dynamo exporter would need onnxscript as well
            )
        _check(
            hf_model,
            ExportedTransformer(opener(temporary), hf_model.config, temporary),
            tokenizer,
            int8=False,
        )
        os.replace(temporary, target)
    except (ExportFailed, ImportError):
        raise
    except Exception as exc:  # tracing fails in many ways (unsupported operators, shapes)
        raise ExportFailed(f"ONNX-Export fehlgeschlagen: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def _eager_attention(hf_model: Any) -> Iterator[None]:
    """Trace the plain attention code instead of torch's fused kernel (sdpa): the graph comes out
    smaller (no mask-building operators), and ONNX Runtime ran it about 1.3 times faster on passages
    (bench/inference.py; same vectors within FP32_TOLERANCE)."""
    previous = getattr(hf_model.config, "_attn_implementation", None)
    switch = getattr(hf_model, "set_attn_implementation", None)
    if switch is None or previous in (None, "eager"):
        yield
        return
    try:
        switch("eager")
    except Exception:  # a model without eager attention is traced as it is
        yield
        return
    try:
        yield
    finally:
        switch(previous)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations are quantised per call), per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = QuantType.QInt8 if int8_scheme() == "u8s8" else QuantType.QUInt8
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    log.info("quantising the ONNX model to int8 (%s): %s", int8_scheme(), target)
    # The quantiser logs a line per tensor on the root logger; a filter there drops only its own records
    # (records of named loggers reach the root handlers without passing the root logger's filters).
    quiet = _BelowError()
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(source, temporary, weight_type=weights, per_channel=True, reduce_range=False)
        os.replace(temporary, target)
    except Exception as exc:
        raise ExportFailed(f"int8-Quantisierung fehlgeschlagen: {exc}") from exc
    finally:
        logging.getLogger().removeFilter(quiet)
        temporary.unlink(missing_ok=True)


class _BelowError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def _check(hf_model: Any, exported: ExportedTransformer, tokenizer: Any, *, int8: bool) -> None:
    """The exported model agrees with torch on a padded batch of another shape than the example it
    was traced with, and on a single text: fp32 gives torch's hidden states, int8 close ones."""
    for texts in (_CHECK_TEXTS, _CHECK_TEXTS[:1]):
        features = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.inference_mode():
            expected = hf_model(**features, return_dict=True).last_hidden_state.numpy()
        got = exported(**features).last_hidden_state.numpy()
        mask = features["attention_mask"].numpy().astype(bool)
        if int8:
            # A guard against a broken quantisation (saturating kernels, a bad file), not a promise of
            # quality: each token's hidden state points where torch's does.
            cosine = float(np.min(_cosines(got[mask], expected[mask])))
            if not cosine >= INT8_MIN_TOKEN_COSINE:
                raise ExportFailed(f"int8-Ausgaben weichen von torch ab (Kosinus {cosine:.3f})")
            continue
        difference = float(np.abs(got - expected)[mask].max())
        # Relative to the hidden states' scale: the normalised vectors then differ by far less.
        if not difference <= 1e-3 * max(1.0, float(np.abs(expected[mask]).max())):
            raise ExportFailed(f"exportiertes Modell weicht um {difference:.2g} von torch ab")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)


def _onnxruntime_runner(path: Path) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; the graph optimiser's notes are not for users
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        # session.run is thread-safe: the server's request threads share one session.
        return np.asarray(session.run(None, {name: inputs[name] for name in wanted})[0])

    return run


def _openvino_runner(path: Path) -> Runner:
    import openvino as ov

    core = ov.Core()
    # f32 on purpose: on CPUs with bf16 units OpenVINO computes in bf16 by default, which moves
    # vectors by about 1e-2, far outside FP32_TOLERANCE.
    compiled = core.compile_model(
        core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    )
    wanted = [port.get_any_name() for port in compiled.inputs]
    local = threading.local()  # an infer request serves one call at a time: one per thread

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        request.infer({name: inputs[name] for name in wanted})
        return np.array(request.get_output_tensor(0).data, copy=True)

    return run


class ExportedTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' Transformer module: takes
    the tokenizer's tensors and returns the last hidden state, computed by the exported model."""

    def __init__(self, run: Runner, config: Any, path: Path) -> None:
        super().__init__()
        self.run = run
        self.config = config  # sentence-transformers reads the sequence length and sizes from it
        self.path = path

    def forward(self, **features: Any) -> BaseModelOutput:
        inputs = {
            name: features[name].numpy().astype(np.int64)
            for name in _INPUT_NAMES
            if name in features and features[name] is not None
        }
        return BaseModelOutput(last_hidden_state=torch.from_numpy(self.run(inputs)))


class _LastHiddenState(torch.nn.Module):
    """The Hugging Face model with positional inputs and one output, as the tracer wants it."""

    def __init__(self, model: Any, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *inputs: Any) -> Any:
        return self.model(**dict(zip(self.names, inputs, strict=True)), return_dict=True).last_hidden_state
