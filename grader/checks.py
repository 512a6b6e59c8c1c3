"""Checks shared by the public tests, the hidden tests and the notebooks' test cells.

Each check raises ``AssertionError`` with a message written for a student: which function, which
property, and a small diff (where the first mismatch is and how large the error is). Messages
never print the test's inputs or the expected arrays, so hidden tests stay hidden.

Tolerances are explicit at each call; the course defaults are ``TOL[dtype]``.

Every check raises :class:`CheckFailure` (an ``AssertionError``): its text is the grader's own and
may be shown to a student. Any other exception a test meets (e.g. the student's own error) is
untrusted text, which reports never show for hidden tests.
"""

from __future__ import annotations

import numpy as np

from grader.messages import t as _msg

# float64: rtol 1e-7; float32: atol 1e-5, rtol 1e-4
TOL = {
    np.dtype(np.float64): dict(rtol=1e-7, atol=1e-12),
    np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
}


class CheckFailure(AssertionError):
    """A check failed; the message was written by the grader (safe to show).

    ``hidden_message`` is the version for hidden tests: it names the property and what was
    expected, but no value that the submission chose (the shape or dtype it returned, where the
    first mismatch is, how many values differ, its own class names), so that a submission cannot
    smuggle its hidden inputs out through the grader's message. Errors are given as an order of
    magnitude only."""

    def __init__(self, message: str, hidden_message: str | None = None):
        super().__init__(message)
        self.hidden_message = message if hidden_message is None else hidden_message


_KNOWN_TYPES = {
    "builtins": {"int", "float", "bool", "str", "list", "tuple", "dict", "NoneType", "complex", "bytes", "set"},
    "numpy": {"ndarray", "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"},
    "torch": {"Tensor", "Parameter"},
}
_KNOWN_DTYPES = {
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "bool", "complex64", "complex128", "object",
}  # fmt: skip


def _type_label(value) -> str:
    """The type of a returned value as a message may show it: a known type by name, anything
    else (a class the submission made, whose name it chose) as "another type"."""
    t = type(value)
    module = t.__module__.split(".")[0]
    if t.__name__ in _KNOWN_TYPES.get(module, ()):
        return f"{module}.{t.__name__}" if module != "builtins" else t.__name__
    return _msg("check.other_type")


def _dtype_label(value) -> str:
    name = str(getattr(value, "dtype", "?")).removeprefix("torch.")
    return name if name in _KNOWN_DTYPES else _msg("check.other_dtype")


def _magnitude(x: float) -> str:
    """An error as an order of magnitude (``about 1e-03``): a size, not a value."""
    if not np.isfinite(x) or x <= 0:
        return _msg("check.not_finite") if not np.isfinite(x) else "0"
    return _msg("check.magnitude", exp=f"{int(np.floor(np.log10(x))):+03d}")


def _to_numpy(x):
    """Plain ndarray view of a NumPy array or a torch tensor (for comparison only)."""
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    return x


def check_ndarray(value, what: str):
    """A real ``numpy.ndarray`` — not a subclass, not a list, not a tensor."""
    __tracebackhide__ = True
    if type(value) is not np.ndarray:
        raise CheckFailure(_msg("check.ndarray", what=what, got=_type_label(value)))


def check_tensor(value, what: str):
    """A real ``torch.Tensor`` (not a subclass, not an ndarray)."""
    __tracebackhide__ = True
    import torch

    if type(value) is not torch.Tensor:
        raise CheckFailure(_msg("check.tensor", what=what, got=_type_label(value)))


def check_shape(value, shape, what: str):
    __tracebackhide__ = True
    if not hasattr(value, "shape"):
        raise CheckFailure(_msg("check.array_with_shape", what=what, shape=tuple(shape), got=_type_label(value)))
    got = tuple(value.shape)
    if got != tuple(shape):
        raise CheckFailure(
            _msg("check.shape", what=what, got=got, shape=tuple(shape)),
            _msg("check.shape_hidden", what=what, shape=tuple(shape)),
        )


def check_dtype(value, dtype, what: str):
    __tracebackhide__ = True
    if not hasattr(value, "dtype"):
        raise CheckFailure(_msg("check.array", what=what, got=_type_label(value)))
    got = str(value.dtype).removeprefix("torch.")
    want = str(np.dtype(dtype)) if not str(dtype).startswith("torch.") else str(dtype).removeprefix("torch.")
    if got != want:
        raise CheckFailure(_msg("check.dtype", what=what, got=_dtype_label(value), want=want))


def check_finite(value, what: str):
    __tracebackhide__ = True
    arr = np.asarray(_to_numpy(value))
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[where]) else "inf"
        raise CheckFailure(
            _msg("check.finite", what=what, n=int(bad.sum()), kind=kind, where=where),
            _msg("check.finite_hidden", what=what),
        )


def check_close(actual, expected, what: str, *, rtol: float, atol: float, dtype=None, show_values: bool = False):
    """``actual`` has the same shape as ``expected`` and matches it within ``atol + rtol*|expected|``.

    Non-finite values must match exactly: ``+inf`` only ``+inf``, ``-inf`` only ``-inf``, NaN only
    NaN; a finite value never matches an infinity (the tolerance is computed from finite expected
    values only). ``dtype`` (a NumPy dtype, ``"same"`` for the expected value's dtype, or None) is
    checked first. ``show_values`` prints the first mismatching pair (public tests only)."""
    __tracebackhide__ = True
    if dtype is not None:
        check_dtype(actual, expected.dtype if isinstance(dtype, str) and dtype == "same" else dtype, what)
    a = np.asarray(_to_numpy(actual))
    e = np.asarray(_to_numpy(expected))
    check_shape(a, e.shape, what)
    if a.dtype == bool or e.dtype == bool:
        a, e = a.astype(np.int64), e.astype(np.int64)
    if a.dtype == object or e.dtype == object:
        raise CheckFailure(_msg("check.objects", what=what))
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    finite_e = np.isfinite(e64)
    both_nan = np.isnan(a64) & np.isnan(e64)
    same_inf = np.isinf(e64) & (a64 == e64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a64 - e64)
        close = finite_e & np.isfinite(a64) & (err <= atol + rtol * np.abs(np.where(finite_e, e64, 0.0)))
    bad = ~(close | both_nan | same_inf)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        n, size = int(bad.sum()), a.size
        msg = _msg("check.close", what=what, n=n, size=size, where=where)
        if show_values:
            msg += _msg("check.close_values", got=_plain(a64[where]), want=_plain(e64[where]))
        elif not finite_e[where] or not np.isfinite(a64[where]):
            msg += _msg("check.close_nonfinite")
        finite = err[np.isfinite(err) & finite_e]
        worst = float(finite.max()) if finite.size else float("nan")
        msg += _msg("check.close_tail", worst=f"{worst:.3g}", atol=f"{atol:g}", rtol=f"{rtol:g}")
        hidden_msg = _msg("check.close_hidden", what=what, worst=_magnitude(worst), atol=f"{atol:g}", rtol=f"{rtol:g}")
        raise CheckFailure(msg, hidden_msg)


def _plain(x) -> str:
    """A number as a student writes it (``0.731``, not ``np.float64(0.731)``)."""
    return repr(float(x)) if not float(x).is_integer() or abs(float(x)) > 2**53 else str(int(x))


def check_equal(actual, expected, what: str):
    """Exact equality of arrays, tensors or plain Python values (ints, lists)."""
    __tracebackhide__ = True
    if isinstance(expected, (list, tuple, int, str, bool)) or expected is None:
        if isinstance(expected, int) and not isinstance(expected, bool):
            if not isinstance(actual, (int, np.integer)) or isinstance(actual, bool):
                raise CheckFailure(_msg("check.int", what=what, got=_type_label(actual)))
        elif type(actual) is not type(expected):
            raise CheckFailure(_msg("check.type", what=what, want=type(expected).__name__, got=_type_label(actual)))
        if actual != expected:
            raise CheckFailure(_msg("check.value", what=what))
        return
    a, e = np.asarray(_to_numpy(actual)), np.asarray(_to_numpy(expected))
    check_shape(a, e.shape, what)
    diff = a != e
    if diff.any():
        where = tuple(int(i) for i in np.argwhere(diff)[0])
        raise CheckFailure(
            _msg("check.entries", what=what, n=int(diff.sum()), size=a.size, where=where),
            _msg("check.entries_hidden", what=what),
        )


def check_unchanged(before, after, what: str):
    """An input array was not modified in place."""
    __tracebackhide__ = True
    if not np.array_equal(np.asarray(_to_numpy(before)), np.asarray(_to_numpy(after)), equal_nan=True):
        raise CheckFailure(_msg("check.unchanged", what=what))
