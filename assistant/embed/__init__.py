"""Embed: loading and choosing the sentence-transformers model, its faster backends and the vector cache."""
