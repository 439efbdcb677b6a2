"""QM-Assistent: cited retrieval over the practitioner guide "Quartiersmanagement Soziale Stadt"."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
