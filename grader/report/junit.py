"""JUnit XML report (``--junit FILE``): one testsuite per section, one testcase per test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.report.escape import one_line, xml_text
from grader.results import GradeResult


def _clean(text: str) -> str:
    """One line of text XML 1.0 can hold (a student's message may contain any character)."""
    return xml_text(one_line(text, 2000))


def render_junit(result: GradeResult) -> str:
    suites = ET.Element("testsuites", name="grade", tests="0", failures="0", errors="0", skipped="0")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in result.sections:
        tests = [(e, t) for e in s.exercises for t in e.tests]
        counts = {
            "tests": len(tests),
            "failures": sum(t.status == "failed" for _, t in tests),
            "errors": sum(t.status in ("error", "not run") for _, t in tests),
            "skipped": sum(t.status == "skipped" for _, t in tests),
        }
        suite = ET.SubElement(
            suites, "testsuite", name=s.name, time=f"{s.seconds:.2f}", **{k: str(v) for k, v in counts.items()}
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{s.score:g}")
        ET.SubElement(props, "property", name="max_score", value=f"{s.max_score:g}")
        for e, t in tests:
            case = ET.SubElement(suite, "testcase", classname=_clean(f"{s.name}.{e.name}"), name=_clean(t.name))
            ET.SubElement(case, "properties")
            case[0].append(ET.Element("property", name="points", value=f"{t.score:g}/{t.max_score:g}"))
            if t.status == "failed":
                ET.SubElement(case, "failure", message=_clean(t.message)).text = _clean(t.message)
            elif t.status in ("error", "not run"):
                ET.SubElement(case, "error", message=_clean(t.message)).text = _clean(t.message)
            elif t.status == "skipped":
                ET.SubElement(case, "skipped", message=_clean(t.message))
        for problem in s.problems:
            suite.append(ET.Element("system-err"))
            suite[-1].text = _clean(problem)
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        suites.set(k, str(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(result: GradeResult, path: Path) -> None:
    Path(path).write_text(render_junit(result), encoding="utf-8")
