"""Mutation testing as a standing check of the suites: ``python -m grader.mutation`` (see
``__main__``), the per-section summaries beside this file, the survivors' diffs in ``survivors/``
and their triage in ``triage/``."""
