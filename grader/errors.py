"""Exceptions shared by the target loaders (``grader.targets``) and the sandbox (``grader.sandbox.pool``).

They live here, in a module that imports nothing of the grader, so that neither of the two has to
import the other for them.
"""

from __future__ import annotations


class TargetError(Exception):
    """A target could not be loaded (missing folder or file, syntax error, error at import)."""


class SandboxError(Exception):
    """The worker could not be started or answered nonsense (not the student's exception)."""


class SubmissionCrash(RuntimeError):
    """The worker died, timed out or broke the protocol during a call (or the time budget is used up)."""


class SubmissionExit(RuntimeError):
    """The submission called ``sys.exit`` (or raised ``SystemExit``/``KeyboardInterrupt``) in a call."""
