"""Builds a transformer of multilingual-e5-small's shape (12 layers, hidden size 384) with random
weights, for timing only: nothing is downloaded, and its vectors carry no meaning.

Run: .venv/bin/python bench/e5_shaped_model.py [OUT]   (default .cache/models/e5-shaped)
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path) -> Path:
    if (out / "modules.json").is_file():
        return out
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from assistant.build import collect_passages
    from assistant.config import bundled_dir
    from assistant.testing import save_random_bert

    texts = [p.text for p in collect_passages([bundled_dir("corpus")], warn=lambda _: None).passages]
    hf_dir = save_random_bert(texts, out / "transformer", layers=12, hidden=384, heads=12)
    transformer = Transformer(str(hf_dir), max_seq_length=512)
    model = SentenceTransformer(
        modules=[transformer, Pooling(384, pooling_mode="mean"), Normalize()], device="cpu"
    )
    model.save(str(out))
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / ".cache" / "models" / "e5-shaped")
    print(build(parser.parse_args().out))
