"""Sandboxed grading: the submission's code runs only in worker processes (see pool.py, worker.py).

Target spec ``sandbox:PATH`` (the default of ``python -m grader grade``): the section fixture
returns a :class:`grader.sandbox.pool.SandboxTarget` for the section folder under ``PATH``.
"""

from grader.sandbox.pool import SandboxTarget, close_all, get_target, prestart

__all__ = ["SandboxTarget", "close_all", "get_target", "prestart"]
