"""Index: the release format on disk (manifest, passages, FAISS and BM25 indexes) and its atomic switch."""
