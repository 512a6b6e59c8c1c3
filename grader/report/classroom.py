"""GitHub Classroom's autograding reporter format (``python -m grader classroom-result GRADE.json``).

Classroom's current autograding runs test-runner actions (``autograding-command-grader`` …), each of
which sets a step output ``result``: base64 of a JSON object ``{"version": 1, "status": "pass" | "fail"
| "error", "max_score", "tests": [{"name", "status", "score", "message", "test_code", "filename",
"line_no", "duration"}]}``. The ``autograding-grading-reporter`` action reads the output of every step
listed in its ``runners`` input from the environment variable ``<STEP ID>_RESULTS`` (upper case), adds
up ``max_score`` and every test's ``score``, and reports ``Points X/Y`` to Classroom.

Here the grade report (``--json``) becomes that object: one test per exercise (its points as graded),
``max_score`` the report's maximum, so the reporter shows the same ``Points X/Y`` as the grade.
"""

from __future__ import annotations

import base64
import json

from grader.report.escape import one_line


def render_classroom(report: dict) -> dict:
    """The reporter's object from a grade report (the dict of ``--json``)."""
    tests = []
    for s in report["sections"]:
        for e in s["exercises"]:
            failed = [t for t in e["tests"] if t["status"] != "passed"]
            done = e["score"] >= e["max_score"] and (e["max_score"] > 0 or not failed)
            message = f"{e['score']:g}/{e['max_score']:g}"
            if failed:
                message += " — " + "; ".join(one_line(f"{t['name']}: {t['message']}", 200) for t in failed[:3])
                message += f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
            tests.append({
                "name": f"{s['name']} · {e['name']}", "status": "pass" if done else "fail", "score": e["score"],
                "message": one_line(message, 1000), "test_code": "", "filename": "", "line_no": 0, "duration": 0,
            })  # fmt: skip
        for p in s.get("problems", []):
            tests.append({"name": f"{s['name']} · problem", "status": "error", "score": 0,
                          "message": one_line(p, 500), "test_code": "", "filename": "", "line_no": 0, "duration": 0})  # fmt: skip
    status = "error" if any(t["status"] == "error" for t in tests) else (
        "pass" if all(t["status"] == "pass" for t in tests) else "fail")  # fmt: skip
    return {"version": 1, "status": status, "max_score": report["max_score"], "tests": tests}


def encode(report: dict) -> str:
    """The step output's value: base64 of the compact JSON."""
    text = json.dumps(render_classroom(report), ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
