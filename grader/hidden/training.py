"""Shared by the hidden training suites: see ``grader/trained.py`` (one run per target, shared with
the public check when both run in one process; limits in CPU-seconds)."""

from __future__ import annotations

from grader.trained import CPU_LIMITS, Trained, trained_once

__all__ = ["CPU_LIMITS", "Trained", "trained_once"]
