"""Releases as folders under ``index_dir``: FAISS and bm25s files, switched by ``CURRENT``."""
