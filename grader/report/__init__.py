"""Step 4 — report: views of one :class:`grader.results.GradeResult`, one module per format."""
