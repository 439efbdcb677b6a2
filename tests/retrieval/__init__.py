"""Retrieval tests, and what several of them use."""

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` (or ``x`` itself) scaled to length 1."""
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
