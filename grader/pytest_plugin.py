"""The pytest side of the course: target fixtures, the ``exercise`` marker, readable failures,
and a machine-readable record of every test outcome.

Loaded by ``tests/conftest.py`` (students' plain ``pytest``) and by the grader's own pytest runs
(``-p grader.pytest_plugin``).

Every test is tagged with the exercise it checks and the points it is worth::

    @pytest.mark.exercise("softmax", points=2)
    def test_softmax_rows_sum_to_one(attention_math):
        ...

and receives the section under test through a fixture named after the section's module
(``attention_math``); hidden tests may also ask for the reference (``attention_math_ref``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from grader.messages import t
from grader.run import progress_file
from grader.sections import HIDDEN_TESTS, SEED_ENV, SOLUTIONS, all_sections
from grader.targets import TargetError, load_module_file, load_target

NOT_IMPLEMENTED = "not implemented yet"


def pytest_addoption(parser):
    group = parser.getgroup("course")
    group.addoption(
        "--impl",
        default="exercises",
        help="what the tests run against: 'exercises' (default), 'solutions', a folder laid out "
        "like exercises/, or 'mutant:<section>/<name>'; prefix 'sandbox:' to run it in worker processes",
    )
    group.addoption("--sandbox-report", default=None, help="write the sandbox's facts (protections, crashes) here")
    group.addoption("--call-timeout", type=float, default=None, help="seconds per sandboxed call (default 60)")
    group.addoption("--results-json", default=None, help="write every test outcome to this file")
    group.addoption(
        "--exercise",
        action="append",
        default=None,
        metavar="NAME",
        help="run only the tests of this exercise (exactly: --exercise softmax leaves out softmax_attention); repeatable",
    )
    group.addoption(
        "--seed",
        type=int,
        default=None,
        help=f"seed of the random test inputs (default: ${SEED_ENV} or 0); same seed, same grade",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "exercise(name, points=1, needs_core=False): the exercise a test checks and its weight; needs_core: "
        "counts only once every core test of the exercise passes",
    )
    path = config.getoption("--results-json", default=None)
    if path:
        config.pluginmanager.register(ResultsRecorder(Path(path)), "course-results")
    timeout = config.getoption("--call-timeout", default=None)
    if timeout is not None:
        os.environ["COURSE_CALL_TIMEOUT"] = str(timeout)


def pytest_collection_modifyitems(config, items):
    """``--exercise NAME``: keep the tests whose marker names exactly that exercise."""
    wanted = config.getoption("--exercise", default=None)
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        (keep if exercise_of(item)[0] in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionstart(session):
    """Sandboxed runs: start each tested section's worker now, so that it imports the submission
    while pytest collects the tests."""
    spec = session.config.getoption("--impl", default="exercises")
    if not spec.startswith("sandbox:"):
        return
    from grader.sandbox.pool import prestart, zygote
    from grader.targets import TargetError, sandbox_root

    zygote()  # imports numpy and torch once, while pytest collects

    names = {Path(str(a)).name.split("::")[0] for a in session.config.args}
    for section in all_sections():
        if any(n == f"test_{section.name}.py" or n.startswith(f"test_{section.name}_") for n in names):
            try:
                root = sandbox_root(spec.removeprefix("sandbox:"), section)
                if (root / section.name).is_dir():
                    prestart(root, section)
            except (TargetError, OSError):
                pass  # reported by the fixture


def pytest_unconfigure(config):
    import sys

    if "grader.sandbox.pool" not in sys.modules:
        return
    from grader.sandbox.pool import close_all, close_zygote

    facts = close_all()
    close_zygote()
    path = config.getoption("--sandbox-report", default=None)
    if path:
        Path(path).write_text(json.dumps(facts, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def seed(request) -> int:
    """Base seed of every random input: ``--seed``, else ``$COURSE_GRADING_SEED``, else 0."""
    value = request.config.getoption("--seed")
    if value is None:
        value = int(os.environ.get(SEED_ENV, "0") or 0)
    return value


# --- fixtures: one target and one reference per section ------------------------------------


def _target_fixture(section):
    @pytest.fixture(scope="session", name=section.module)
    def target(request):
        try:
            return load_target(request.config.getoption("--impl"), section)
        except TargetError as e:
            pytest.fail(f"cannot load {section.name}: {e}", pytrace=False)

    return target


def _reference_fixture(section):
    @pytest.fixture(scope="session", name=f"{section.module}_ref")
    def reference():
        path = section.module_file(SOLUTIONS)
        if not path.is_file():
            pytest.skip("the reference solutions are not in this checkout")
        return load_module_file(path, section.module)

    return reference


for _section in all_sections():
    globals()[f"_fixture_{_section.module}"] = _target_fixture(_section)
    globals()[f"_fixture_{_section.module}_ref"] = _reference_fixture(_section)


# --- readable failures --------------------------------------------------------------------


def exercise_of(item) -> tuple[str | None, float]:
    mark = item.get_closest_marker("exercise")
    if mark is None:
        return None, 0.0
    return mark.args[0], float(mark.kwargs.get("points", 1))


def needs_core_of(item) -> bool:
    """``needs_core=True``: the test counts only once every core test of its exercise passes."""
    mark = item.get_closest_marker("exercise")
    return bool(mark is not None and mark.kwargs.get("needs_core", False))


def is_hidden_test(item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(HIDDEN_TESTS)


# What a report may show of text that came from the submission (exception messages, reprs).
PUBLIC_TEXT_LIMIT = 200
TYPE_NAME_LIMIT = 60
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.]")
IMPORT_ERROR = "error while importing: "


def clean_line(text: str, limit: int = PUBLIC_TEXT_LIMIT) -> str:
    """The first non-empty line of ``text`` with ANSI escapes and control characters removed,
    at most ``limit`` characters (``…`` when cut)."""
    text = _ANSI.sub("", str(text))
    lines = [line for line in re.split(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", text) if line.strip()]
    line = _CONTROL.sub("", lines[0]).strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def clean_type_name(name: str) -> str:
    """An exception's type name as reports show it: ``[A-Za-z0-9_.]`` only, at most 60 characters."""
    name = _NOT_NAME.sub("", str(name))[:TYPE_NAME_LIMIT]
    return name or "Exception"


def submission_error(type_name: str, message: str, hidden: bool) -> str:
    """Text of an exception raised by the submission: hidden tests show its type only, public
    tests its type and one cleaned line of its message."""
    kind = clean_type_name(type_name)
    if hidden:
        return f"raised {kind}"
    text = clean_line(message)
    return f"raised {kind}" + (f": {text}" if text else "")


def _not_implemented_message(excinfo) -> str:
    origin = getattr(excinfo.value, "course_origin", None)  # raised in a sandbox worker
    if origin:
        name, file = origin
    else:
        entry = excinfo.traceback[-1]
        name, file = entry.name, Path(entry.path).name
    name, file = clean_type_name(name), clean_line(file, 100)
    return t("not_implemented", name=name, file=file)


def _quiet_public_test(item) -> bool:
    """A public test (what a student runs) reports the message and the student's line; a hidden
    test keeps pytest's report for the course's own runs (graded runs show only course_message)."""
    return (
        not is_hidden_test(item)
        and item.config.getoption("tbstyle", "auto") == "auto"
        and item.get_closest_marker("exercise") is not None
    )


def _replaces_pytests_report(item, excinfo) -> bool:
    if excinfo is None or excinfo.errisinstance(pytest.skip.Exception):
        return False
    return excinfo.errisinstance(NotImplementedError) or _quiet_public_test(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    excinfo = call.excinfo
    # a report this hook replaces is not formatted first: pytest's long traceback re-parses the
    # source file of every frame (about a quarter of a second per failed test of the skeleton)
    skip_format = _replaces_pytests_report(item, excinfo)
    if skip_format:
        item.repr_failure = item._repr_failure_py = lambda *args, **kwargs: ""
    try:
        outcome = yield
    finally:
        if skip_format:
            del item.repr_failure, item._repr_failure_py
    report = outcome.get_result()
    if report.failed and excinfo is not None:
        hidden = is_hidden_test(item)
        report.course_message = describe_failure(excinfo, hidden=hidden)
        if excinfo.errisinstance(NotImplementedError):
            report.longrepr = _not_implemented_message(excinfo)
        elif _quiet_public_test(item):
            report.longrepr = quiet_failure(report.course_message, excinfo)


# --- quiet output: the message and the student's line, nothing of the grader ---------------------


def _is_course_or_library(path: Path) -> bool:
    """A file of the grader, the course's tests, Python or an installed library (not a submission's)."""
    import sysconfig

    from grader.sections import PUBLIC_TESTS, REPO

    grader = REPO / "grader"
    if path.is_relative_to(grader) and not path.is_relative_to(grader / "mutants"):
        return True
    if path.is_relative_to(PUBLIC_TESTS):
        return True
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(path.is_relative_to(Path(r).resolve()) for r in roots if r)


def student_line(excinfo) -> str:
    """``file:line: code`` of the innermost frame in the submission's own files ('' when the
    exception did not pass through them, e.g. a check failed on what a function returned)."""
    for entry in reversed(list(excinfo.traceback)):
        try:
            path = Path(str(entry.path)).resolve()
        except (OSError, TypeError):
            continue
        if path.suffix != ".py" or _is_course_or_library(path):
            continue
        try:
            code = str(entry.statement).strip().splitlines()[0]
        except (IndexError, Exception):  # noqa: BLE001 - no source for the line
            code = ""
        return f"{path.name}:{entry.lineno + 1}: {clean_line(code, 160)}"
    return ""


def quiet_failure(message: str, excinfo) -> str:
    """What pytest prints for a failed public test: the one-line message and the student's line
    that raised (if any)."""
    line = student_line(excinfo)
    return message + (f"\n  {t('quiet.student_line')}: {line}" if line else "")


def load_failure_message(text: str, hidden: bool) -> str:
    """A target that could not be loaded (``cannot load …: <file>: error while importing: <Type>:
    <message>``): the message part came from the submission."""
    text = str(text)
    if IMPORT_ERROR not in text:
        return clean_line(text, 400)
    grader_part, _, rest = text.partition(IMPORT_ERROR)
    kind, sep, message = rest.partition(": ")
    grader_part = clean_line(grader_part, 300)
    if not sep:  # no "<Type>: " prefix: all of it is the submission's
        kind, message = "Exception", rest
    return f"{grader_part} {IMPORT_ERROR}{submission_error(kind, message, hidden).removeprefix('raised ')}"


def _grader_written(value) -> bool:
    """Exceptions whose text the grader composed (its checks, the sandbox's crash reports, the
    codec refusing to send an argument of a test)."""
    from grader.checks import CheckFailure

    if isinstance(value, CheckFailure):
        return True
    crash = sys.modules.get("grader.sandbox.pool")
    if crash is not None and isinstance(value, crash.SubmissionCrash):
        return True
    codec = sys.modules.get("grader.sandbox.codec")  # the grader could not send a test's argument
    return codec is not None and isinstance(value, codec.CodecError) and not hasattr(value, "course_origin")


def describe_failure(excinfo, hidden: bool = True) -> str:
    """One short message for a failed test, written from the exception only (never the test's
    source, which for hidden tests is secret). Text the grader wrote (its checks, ``pytest.fail``,
    "not implemented yet", the sandbox's crash and time-limit reports) is kept; anything else came
    from the submission: a hidden test shows only the exception's type, a public one its type and
    one cleaned line of the message."""
    value = excinfo.value
    if isinstance(value, NotImplementedError):
        return _not_implemented_message(excinfo)
    if isinstance(value, pytest.fail.Exception):
        return load_failure_message(str(value.msg), hidden)
    if _grader_written(value):
        # a check's hidden-test version names no value the submission chose (grader/checks.py)
        text = getattr(value, "hidden_message", None) if hidden else None
        text = (text if isinstance(text, str) else str(value)).split("\nassert ")[0].strip()
        return _ANSI.sub("", text) or "a check failed"
    text = _safe_str(value)
    if type(value) is AssertionError and not text.strip():
        return "a check failed"  # a plain `assert` in a test body (--assert=plain)
    if type(value) is AssertionError and _raised_by_the_tests(excinfo):
        return clean_line(text)  # a plain `assert cond, "message"` in a test file: the grader's words
    if type(value) is AssertionError and _raised_by_pytest(excinfo):
        # pytest.raises(..., match=...): its first line is pytest's; the next ones quote the submission
        return clean_line(text)
    return submission_error(type(value).__name__, text, hidden)


def _raised_by_the_tests(excinfo) -> bool:
    """Raised by a line of the course's own test files (public or hidden), not by the submission:
    the proxy marks what a worker raised (``course_origin``), and in-process the submission's
    frames are in its own files."""
    from grader.sections import HIDDEN_TESTS, PUBLIC_TESTS

    if getattr(excinfo.value, "course_origin", None) is not None:
        return False
    try:
        path = Path(str(excinfo.traceback[-1].path)).resolve()
    except (IndexError, AttributeError, OSError):
        return False
    return any(path.is_relative_to(root) for root in (PUBLIC_TESTS, HIDDEN_TESTS))


def _raised_by_pytest(excinfo) -> bool:
    """Raised by pytest's own code (e.g. ``pytest.raises(match=...)``), not by the submission."""
    if getattr(excinfo.value, "course_origin", None) is not None:
        return False
    try:
        path = Path(str(excinfo.traceback[-1].path)).resolve()
    except (IndexError, AttributeError, OSError):
        return False
    return path.is_relative_to(Path(pytest.__file__).resolve().parent.parent / "_pytest")


def _safe_str(value) -> str:
    """``str(exception)``; an exception whose ``__str__`` fails or returns a non-string says nothing."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - the submission's __str__
        return ""
    return text if type(text) is str else ""


class ResultsRecorder:
    """Collects one record per test (the raw material of grader/judge.py): ``path`` holds them all
    (a JSON list) once collected and again at the end of the session; in between, each finished
    test's record is appended to ``path.progress`` as one JSON line (read back by
    ``grader.run.read_records``), so that a run that is killed still reports what it finished
    without rewriting the whole file after every test."""

    def __init__(self, path: Path):
        self.path = path
        self.progress = progress_file(path)
        self.records: dict[str, dict] = {}
        self._journal = None

    def pytest_collection_modifyitems(self, items):
        for item in items:
            exercise, points = exercise_of(item)
            path = Path(str(item.path)).resolve()
            self.records[item.nodeid] = {
                "nodeid": item.nodeid,
                "name": item.name,
                "section_file": path.name,
                "hidden": path.is_relative_to(HIDDEN_TESTS),
                "exercise": exercise,
                "points": points,
                "needs_core": needs_core_of(item),
                "status": "not run",
                "message": "",
            }
        self._write()

    def pytest_runtest_logreport(self, report):
        record = self.records.get(report.nodeid)
        if record is None:
            return
        if report.when == "call" and report.passed and record["status"] == "not run":
            record["status"] = "passed"
            # what a passing test measured (e.g. accuracy, seconds): record_property("info", "...")
            record["message"] = "; ".join(str(v) for k, v in report.user_properties if k == "info")
        elif report.failed:
            if record["status"] in ("not run", "passed"):
                record["status"] = "failed" if report.when == "call" else "error"
                record["message"] = getattr(report, "course_message", "") or _short(report, record["hidden"])
        elif report.skipped and record["status"] == "not run":
            record["status"] = "skipped"
            record["message"] = _short(report, record["hidden"])
        if report.when == "teardown":
            if self._journal is None:
                self._journal = open(self.progress, "a", encoding="utf-8")  # noqa: SIM115 - closed at the end
            self._journal.write(json.dumps(record) + "\n")
            self._journal.flush()

    def pytest_sessionfinish(self):
        self._write()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.progress.unlink(missing_ok=True)

    def _write(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(self.records.values()), indent=1), encoding="utf-8")
        tmp.replace(self.path)


def _short(report, hidden: bool = True) -> str:
    """A report without a message of ours: a skip's reason (written by the tests), or the last
    line of what pytest printed (which may quote the submission: only its first cleaned line for a
    public test, nothing for a hidden one)."""
    if isinstance(report.longrepr, tuple):  # skip: (file, line, reason)
        return clean_line(str(report.longrepr[2]).removeprefix("Skipped: "))
    if not report.longrepr:
        return ""
    if hidden:
        return "an error occurred outside the checks (details are not shown for hidden tests)"
    lines = str(report.longrepr).strip().splitlines()
    return clean_line(lines[-1]) if lines else ""
