"""Retrieval: dense and lexical search over a release, fused, reranked and judged (match or no match)."""
