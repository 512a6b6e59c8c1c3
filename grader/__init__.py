"""The course grader: release the student version, run the test suites, judge, report.

Pipeline (each step a module of its own, each testable alone):

    collect  (grader/collect.py)  find the sections of a submission, check their files
    run      (grader/run.py)      run a section's public + hidden suites against a target
    judge    (grader/judge.py)    turn raw test outcomes into the result model with points
    report   (grader/report/)     print or write the result model in one of several formats

The result model lives in grader/results.py; the section registry in grader/sections.py.
"""
