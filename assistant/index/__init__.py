"""Index: releases behind one store interface (folders or PostgreSQL), the vector and BM25 indexes."""
