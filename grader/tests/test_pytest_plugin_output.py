"""What a student sees when a public test fails under plain ``pytest`` (grader/pytest_plugin.py):
the test's name, one line of message and the student's own line that raised — no frame of the
grader, no ``np.float64(...)`` — and ``--exercise NAME`` selects exactly one exercise's tests.

Each test runs pytest in a subprocess, as a student would, on a copy of the reference with one
function replaced (a wrong value, an exception in the student's code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sections import REPO, SOLUTIONS, Section

SECTION = Section("sec39_attention_math")
GRADER_MARKS = ("grader/checks.py", "grader/calls.py", "def check_close", "__tracebackhide__", "np.float64(")


def target_with(tmp_path: Path, code: str) -> Path:
    """A folder laid out like exercises/ whose sec39 module is the reference with ``code`` appended
    (a later ``def`` replaces the reference's function)."""
    root = tmp_path / "impl"
    (root / SECTION.name).mkdir(parents=True)
    src = SECTION.module_file(SOLUTIONS)
    shutil.copy(src, root / SECTION.name / src.name)
    with open(root / SECTION.name / src.name, "a", encoding="utf-8") as f:
        f.write("\n\n" + code)
    return root


def run_pytest(*args: str, lang: str = "ja") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COURSE_LANG": lang}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


WRONG_SOFTMAX = "def softmax(x, axis=-1, mask=None):\n    return np.ones_like(np.asarray(x, dtype=float)) * 0.5\n"
RAISING_PROJECTION = "def project_qkv(h, W_q, W_k, W_v):\n    rows = list(h)\n    return rows[99]  # a student's bug\n"
EXERCISES = ("softmax", "project_qkv")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """One run per language of the public tests of two exercises on a target with a wrong
    softmax (wrong values) and a project_qkv that raises in the student's own line."""
    target = target_with(tmp_path_factory.mktemp("quiet"), WRONG_SOFTMAX + "\n\n" + RAISING_PROJECTION)
    args = [f"--impl={target}", "-rA", *(a for ex in EXERCISES for a in ("--exercise", ex)), str(SECTION.public_tests)]
    return {lang: run_pytest(*args, lang=lang) for lang in ("ja", "en")}


def test_a_wrong_value_shows_the_message_and_nothing_of_the_grader(runs):
    """Oracle: the failure's text — the test's name, the check's one line with plain numbers."""
    out = runs["ja"].stdout
    assert runs["ja"].returncode == 1, out[-2000:] + runs["ja"].stderr[-2000:]
    assert "test_softmax_matches_hand_computed_values" in out and "値が期待値と違います (values differ" in out
    assert not [mark for mark in GRADER_MARKS if mark in out], out[-3000:]
    failures = out.split("= FAILURES =")[1].split("short test summary")[0]
    per_test = failures.count("\n___") + failures.startswith("___")
    assert len(failures.strip().splitlines()) <= 3 * max(per_test, 1), failures  # ~3 lines a test, not ~35


def test_an_exception_in_the_students_code_shows_the_students_line(runs):
    out = runs["ja"].stdout
    assert "raised IndexError" in out and "return rows[99]  # a student's bug" in out, out[-3000:]
    assert "あなたのコードの行 (your line): attention_math.py:" in out


def test_messages_in_english_with_an_english_locale(runs):
    out = runs["en"].stdout
    assert "your line: attention_math.py:" in out and "values differ from the expected ones" in out, out[-2000:]
    assert "あなた" not in out and "値が" not in out


def test_exercise_option_selects_exactly_those_exercises(runs):
    """Oracle: the markers of the public test file (``-k softmax`` would also pick softmax_attention)."""
    from grader.notebooks import collect_cases

    expected = {c.name for ex in EXERCISES for c in collect_cases(SECTION, ex, "public")}
    lines = runs["ja"].stdout.splitlines()
    ran = {line.split("::", 1)[1].split()[0] for line in lines if line.startswith(("PASSED ", "FAILED "))}
    assert ran == expected and not any("softmax_attention" in name for name in ran), ran
