"""Ingest: source files read into documents (one reader per format) and cut into passages."""
