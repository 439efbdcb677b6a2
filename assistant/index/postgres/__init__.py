"""Releases in PostgreSQL with pgvector: a schema per release, shared by several app servers."""
