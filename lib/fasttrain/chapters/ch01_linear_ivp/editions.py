"""Chapter 01: the previous edition's published results and the verdicts that moved (the book's
shared :func:`fasttrain.core.results.moved_verdicts`, re-exported under the chapter's names)."""

from __future__ import annotations

from ...core.results import PUBLISHED_DIR as PUBLISHED  # noqa: F401
from ...core.results import moved_verdicts  # noqa: F401
