"""A hidden test's message names the property and what was expected, never a value the
submission chose: a submission that encodes its hidden inputs into what it returns (its shape,
dtype, class name, where it differs, by how much) finds none of it in the report."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import CheckFailure, check_close, check_dtype, check_equal, check_finite, check_ndarray, check_shape
from grader.pytest_plugin import describe_failure

SECRET = 7351  # a number the submission wants to get out (e.g. derived from a hidden input)


@pytest.fixture(autouse=True, scope="module")
def _english():
    """These tests read the English messages (grader/tests/test_messages.py checks both languages)."""
    import os

    before = os.environ.get("COURSE_LANG")
    os.environ["COURSE_LANG"] = "en"
    yield
    if before is None:
        os.environ.pop("COURSE_LANG", None)
    else:
        os.environ["COURSE_LANG"] = before


def failure(fn, *args, **kwargs) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kwargs)
    return info


def messages(info) -> tuple[str, str]:
    return describe_failure(info, hidden=False), describe_failure(info, hidden=True)


def test_shape_chosen_by_the_submission_is_not_shown_for_hidden_tests():
    public, hidden = messages(failure(check_shape, np.zeros((SECRET,)), (3, 4), "out"))
    assert str(SECRET) in public  # the public message helps the student
    assert str(SECRET) not in hidden and "(3, 4)" in hidden


def test_class_name_chosen_by_the_submission_is_never_shown():
    evil = type(f"Leak{SECRET}", (np.ndarray,), {})
    public, hidden = messages(failure(check_ndarray, np.zeros(3).view(evil), "out"))
    assert str(SECRET) not in public and str(SECRET) not in hidden


def test_dtype_outside_the_numeric_ones_is_not_named():
    value = np.zeros(3, dtype=[(f"leak{SECRET}", "f8")])
    public, hidden = messages(failure(check_dtype, value, np.float64, "out"))
    assert str(SECRET) not in public and str(SECRET) not in hidden


def test_error_size_is_an_order_of_magnitude_for_hidden_tests():
    expected = np.zeros(5)
    got = expected.copy()
    got[3] = SECRET / 1e7  # the submission adds a chosen amount where it likes
    public, hidden = messages(failure(check_close, got, expected, "out", rtol=1e-7, atol=1e-12))
    assert "0.000735" in public and "index (3,)" in public
    assert "735" not in hidden and "(3,)" not in hidden and "1e-04" in hidden


def test_mismatch_position_and_count_are_not_shown_for_hidden_tests():
    got = np.arange(10)
    got[[2, 5]] = -1
    public, hidden = messages(failure(check_equal, got, np.arange(10), "ids"))
    assert "index (2,)" in public and "2 of 10" in public
    assert "(2,)" not in hidden and "2 of 10" not in hidden


def test_non_finite_position_is_not_shown_for_hidden_tests():
    got = np.zeros(SECRET)
    got[SECRET - 1] = np.nan
    public, hidden = messages(failure(check_finite, got, "out"))
    assert str(SECRET - 1) in public and str(SECRET - 1) not in hidden


def _assert_raised_in(filename: str):
    namespace: dict = {}
    exec(compile("def check():\n    assert False, 'accuracy 0.25 < 0.8'\n", filename, "exec"), namespace)
    with pytest.raises(AssertionError) as info:
        namespace["check"]()
    return info


def test_plain_assert_in_a_course_test_file_keeps_its_message():
    from grader.sections import HIDDEN_TESTS

    info = _assert_raised_in(str(HIDDEN_TESTS / "test_sec39_attention_math.py"))
    assert describe_failure(info, hidden=True) == "accuracy 0.25 < 0.8"


def test_the_same_assert_in_the_submissions_file_is_submission_text(tmp_path):
    info = _assert_raised_in(str(tmp_path / "attention_math.py"))
    assert describe_failure(info, hidden=True) == "raised AssertionError"
