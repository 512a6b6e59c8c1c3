"""The checks every test relies on (grader/checks.py) and the one door every call goes through
(grader/calls.py): property tests with hypothesis, and each rule of ``call`` proven on a function
that breaks it, in-process and through the sandbox's proxy."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.calls import call, call_exercise
from grader.checks import TOL, CheckFailure, check_close
from grader.sections import Section

F64 = TOL[np.dtype(np.float64)]
F32 = TOL[np.dtype(np.float32)]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


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


def finite_arrays(dtype=np.float64):
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(dtype, shapes, elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=width))


@st.composite
def array_and_index(draw, dtype=np.float64):
    a = draw(finite_arrays(dtype))
    index = tuple(draw(st.integers(0, n - 1)) for n in a.shape)
    return a, index


def rejects(actual, expected, **kw) -> str:
    with pytest.raises(CheckFailure) as info:
        check_close(actual, expected, "f(x)", **{**F64, **kw})
    return str(info.value)


# --- check_close: infinities and NaN must match exactly --------------------------------------------


@SETTINGS
@given(array_and_index(), st.sampled_from([np.inf, -np.inf]))
def test_a_finite_value_never_matches_an_infinity(data, inf):
    """Oracle: the contract — ±inf matches only the same infinity, whatever the tolerance."""
    actual, where = data
    expected = actual.copy()
    expected[where] = inf
    message = rejects(actual, expected, rtol=1.0, atol=1e300)
    assert f"first at index {where}" in message


@SETTINGS
@given(array_and_index())
def test_plus_infinity_does_not_match_minus_infinity(data):
    expected, where = data
    expected[where] = -np.inf
    actual = expected.copy()
    actual[where] = np.inf
    rejects(actual, expected)
    rejects(expected, actual)


@SETTINGS
@given(array_and_index(), st.sampled_from([np.inf, -np.inf, np.nan]))
def test_an_infinity_or_nan_where_a_finite_value_is_expected_fails(data, bad):
    expected, where = data
    actual = expected.copy()
    actual[where] = bad
    rejects(actual, expected, rtol=1.0, atol=1e300)


@SETTINGS
@given(array_and_index(), st.sampled_from([-np.inf, np.inf, np.nan]))
def test_same_infinity_and_nan_against_nan_are_accepted(data, special):
    expected, where = data
    expected[where] = special
    check_close(expected.copy(), expected, "f(x)", **F64)


# --- check_close: tolerance, shape, dtype ---------------------------------------------------------


@SETTINGS
@given(array_and_index(), st.floats(1.5, 100.0))
def test_a_value_outside_the_tolerance_fails(data, factor):
    """Oracle: |a - e| > atol + rtol |e| by a factor ≥ 1.5 (rounding cannot bring it back inside)."""
    expected, where = data
    actual = expected.copy()
    actual[where] += factor * (F64["atol"] + F64["rtol"] * abs(expected[where]))
    rejects(actual, expected)


@SETTINGS
@given(finite_arrays(), st.floats(-0.5, 0.5))
def test_values_within_the_tolerance_pass(expected, fraction):
    """Oracle: every value moved by at most half its tolerance."""
    actual = expected + fraction * (F64["atol"] + F64["rtol"] * np.abs(expected))
    check_close(actual, expected, "f(x)", **F64)


@SETTINGS
@given(finite_arrays(np.float32), st.floats(-0.5, 0.5))
def test_float32_values_within_the_course_tolerance_pass(expected, fraction):
    actual = (expected.astype(np.float64) + fraction * (F32["atol"] + F32["rtol"] * np.abs(expected))).astype(
        np.float32
    )
    check_close(actual, expected, "f(x)", **F32, dtype="same")


@SETTINGS
@given(finite_arrays(), shapes)
def test_a_wrong_shape_fails(expected, other):
    if other == expected.shape:
        other = (*other, 1)
    message = rejects(np.zeros(other), expected)
    assert "shape" in message


@SETTINGS
@given(finite_arrays(), st.sampled_from([np.float32, np.int64, np.int32]))
def test_a_dtype_mismatch_fails_when_a_dtype_is_asked(expected, wrong):
    message = rejects(expected.astype(wrong), expected, dtype=np.float64)
    assert "dtype" in message
    rejects(expected.astype(wrong), expected, dtype="same")


@SETTINGS
@given(array_and_index(), st.floats(2.0, 10.0))
def test_messages_never_show_the_expected_values(data, factor):
    """Hidden tests stay hidden: without show_values the message has no value of either array."""
    expected, where = data
    expected[where] = 987654.25
    actual = expected.copy()
    actual[where] = 123456.75
    message = rejects(actual, expected, atol=1e-3, rtol=0)
    assert "987654" not in message and "123456" not in message


def test_torch_and_numpy_inputs_compare_alike():
    e = np.array([1.0, -np.inf, np.nan])
    check_close(torch.tensor(e), e, "f(x)", **F64)
    with pytest.raises(CheckFailure):
        check_close(torch.tensor([1.0, 5.0, np.nan], dtype=torch.float64), e, "f(x)", **F64)


# --- grader.calls.call: in-process ----------------------------------------------------------------

TOY = Section("sec99_toy")
TOY_SOURCE = """
import numpy as np
import torch


def good(x, mask=None, params=None):
    out = x * 2
    return out, np.random.default_rng(0).integers(0, 3, size=2)


def shift_array(x):
    x -= 1
    return x.copy()


def shift_tensor(t):
    t.add_(1)
    return t.clone()


def grow_list_in_dict(params):
    params["layers"].append(np.zeros(2))
    return 0.0


def touch_list_item(params):
    params["layers"][0][0] = 99.0
    return 0.0


def replace_dict_value(params):
    params["W"] = np.ones(1)
    return 0.0


def int_to_float_in_list(ids):
    ids[0] = float(ids[0])  # 1 -> 1.0: equal by ==, yet changed
    return 0.0


def int_to_bool_in_dict(options):
    options["k"] = bool(options["k"])  # 1 -> True: equal by ==, yet changed
    return 0.0


def flip_mask(x, mask=None):
    mask[..., 0] = ~mask[..., 0]
    return x.copy()


def widen(x):
    return x.astype(np.float64)


def int32_ids(x):
    return np.zeros(3, dtype=np.int32)


def legacy_random(x):
    return x + np.random.rand(*x.shape).astype(x.dtype)


def torch_random(x):
    return x + torch.rand(x.shape, dtype=x.dtype)


def reseed(x):
    np.random.seed(0)
    return x.copy()


def seeded(x, seed=0):
    g = torch.Generator().manual_seed(seed)
    return x + torch.rand(x.shape, generator=g, dtype=x.dtype)
"""


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    (root / TOY.name).mkdir()
    (root / TOY.name / "toy.py").write_text(textwrap.dedent(TOY_SOURCE), encoding="utf-8")
    return root


@pytest.fixture(scope="module", params=["in-process", "sandbox"])
def toy(request, toy_root):
    from grader.targets import load_target

    spec = str(toy_root) if request.param == "in-process" else f"sandbox:{toy_root}"
    target = load_target(spec, TOY)
    yield target
    if request.param == "sandbox":
        target.close()


def params_of():
    return {"W": np.arange(3.0), "layers": [np.arange(4.0), np.ones(2)]}


def test_a_well_behaved_function_passes_every_check(toy):
    x = np.arange(4.0, dtype=np.float32)
    out, ids = call(toy, "good", x, mask=np.ones(4, bool), params=params_of())
    assert out.dtype == np.float32 and ids.dtype == np.int64
    t = torch.zeros(3, dtype=torch.float64)
    assert call(toy, "seeded", t, seed=3).dtype == torch.float64


@pytest.mark.parametrize("name", ["shift_array", "grow_list_in_dict", "touch_list_item", "replace_dict_value"])
def test_modifying_an_argument_fails_and_the_argument_is_restored(toy, name):
    """Oracle: a snapshot taken by the test before the call."""
    arg = np.arange(4.0) if name == "shift_array" else params_of()
    before = params_of() if name != "shift_array" else np.arange(4.0)
    with pytest.raises(CheckFailure, match=r"modified its input \(argument 1\)"):
        call(toy, name, arg)
    if name == "shift_array":
        np.testing.assert_array_equal(arg, before)
    else:
        assert list(arg) == list(before) and len(arg["layers"]) == 2
        np.testing.assert_array_equal(arg["W"], before["W"])
        for got, want in zip(arg["layers"], before["layers"]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("name", "arg"), [("int_to_float_in_list", [1, 2]), ("int_to_bool_in_dict", {"k": 1})])
def test_changing_the_type_of_a_number_in_place_fails(toy, name, arg):
    """Oracle: the type of each number (1, 1.0 and True are equal by ==, not the same argument)."""
    with pytest.raises(CheckFailure, match=r"modified its input \(argument 1\)"):
        call(toy, name, arg)


def test_modifying_a_tensor_fails_and_it_is_restored(toy):
    t = torch.arange(3.0)
    with pytest.raises(CheckFailure, match="modified its input"):
        call(toy, "shift_tensor", t)
    assert t.tolist() == [0.0, 1.0, 2.0]


def test_modifying_a_mask_keyword_fails_and_it_is_restored(toy):
    mask = np.array([[True, False, True]])
    with pytest.raises(CheckFailure, match="`mask`"):
        call(toy, "flip_mask", np.zeros((1, 3)), mask=mask)
    np.testing.assert_array_equal(mask, [[True, False, True]])


def test_float32_in_float64_out_fails(toy):
    with pytest.raises(CheckFailure, match="float64 for float32 inputs"):
        call(toy, "widen", np.ones(3, dtype=np.float32))
    call(toy, "widen", np.ones(3))  # float64 in, float64 out is right


def test_an_int32_result_fails(toy):
    with pytest.raises(CheckFailure, match="integer results are int64"):
        call(toy, "int32_ids", np.ones(3))


@pytest.mark.parametrize("name", ["legacy_random", "torch_random", "reseed"])
def test_using_the_global_random_generators_fails(toy, name):
    x = np.ones(3) if name != "torch_random" else torch.ones(3)
    with pytest.raises(CheckFailure, match="global random generator"):
        call(toy, name, x)


def test_checks_can_be_switched_off_where_the_contract_does_not_apply(toy):
    call_exercise(toy, "widen", (np.ones(2, dtype=np.float32),), check_dtypes=False)
    call_exercise(toy, "reseed", (np.ones(2),), check_rng=False)
