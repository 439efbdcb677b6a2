# Two entry points for a fresh machine: `make run` (web chat) and `make test` (test suite).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test install

install: $(STAMP)

# torch is pinned (CPU build) and installed first so nothing pulls the CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/assistant serve

# The real-document tests need a PDF from Debian's archive; without apt lists they are skipped.
test: $(STAMP)
	-@bash tests/data/fetch-real-documents.sh
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/mypy assistant
	$(VENV)/bin/pytest
