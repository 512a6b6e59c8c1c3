"""Calling an exercise the same way for every target: the one door every test goes through.

:func:`call` is how a test calls a student's function::

    out, weights = call(attention_math, "softmax_attention", Q, K, V, mask=mask)

It checks what the contract promises of *every* call, so that no test can forget it:

* **no argument is modified**: every argument (arrays, tensors, lists, dicts, tuples, nested) is
  snapshotted before the call and compared after it; a change fails the test with a message
  naming the argument, and the caller's objects are restored from the snapshot. After ``call``
  returns, the test's own arguments are therefore pristine and safe to build the oracle from
  (a submission that zeroes its inputs cannot make the oracle agree with it);
* **dtype convention**: when the floating arrays/tensors among the arguments share one dtype,
  every floating array/tensor in the result has that dtype ("float32 in, float32 out"); every
  integer array/tensor in the result is int64;
* **no global randomness**: the global NumPy and torch generators are neither used nor changed
  (in-process their states are compared; through the sandbox the worker reports it).

``call_exercise(target, name, args, kwargs, check_dtypes=..., check_rng=...)`` is the same with
the checks switchable, for the few calls the conventions do not cover (training entry points).

:func:`call_with_grad` calls with gradients: through the sandbox's proxy a returned tensor is
connected to the caller's tensors by a ``torch.autograd.Function`` whose backward asks the worker
for the vector-Jacobian product (see ``grader/sandbox/pool.py``)::

    (weights, indices), (g_W,) = call_with_grad(gpt, "moe_gate", (x, W, 2), wrt=[W], output=0, cotangent=c)

``wrt`` are tensors among the arguments (they are switched to ``requires_grad``); ``output``
selects the differentiated output when the function returns a tuple/list (default: the whole
result if it is a tensor); ``cotangent`` defaults to ones. Gradients that do not reach an input
are ``None`` (the test decides whether that is a failure).
"""

from __future__ import annotations

import sys

import numpy as np

from grader.checks import CheckFailure

# --- snapshots ---------------------------------------------------------------------------------


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def snapshot(value):
    """A deep, independent copy of a call argument (arrays, tensors, containers, scalars)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if _is_tensor(value):
        return value.detach().clone()
    if type(value) is list:
        return [snapshot(v) for v in value]
    if type(value) is tuple:
        return tuple(snapshot(v) for v in value)
    if type(value) is dict:
        return {k: snapshot(v) for k, v in value.items()}
    return value


def _same(a, b) -> bool:
    """Exactly equal: type, shape, dtype and every value (NaN equals NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if _is_tensor(a) or _is_tensor(b):
        if not (_is_tensor(a) and _is_tensor(b)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        x, y = a.detach(), b.detach()
        if x.is_floating_point() or x.is_complex():
            return bool(((x == y) | (x.isnan() & y.isnan())).all())
        return bool((x == y).all())
    if type(a) in (list, tuple) and type(b) is type(a):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict and type(b) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _restore(original, saved):
    """Put the saved values back into the caller's (mutable) objects."""
    if isinstance(original, np.ndarray) and original.shape == saved.shape and original.flags.writeable:
        np.copyto(original, saved, casting="unsafe")
    elif _is_tensor(original) and original.shape == saved.shape:
        import torch

        with torch.no_grad():
            original.copy_(saved)
    elif type(original) is list:
        original[:] = [snapshot(v) for v in saved]
    elif type(original) is dict:
        original.clear()
        original.update({k: snapshot(v) for k, v in saved.items()})
    elif type(original) is tuple:
        for o, s in zip(original, saved):
            _restore(o, s)


def _modified(args, kwargs, saved_args, saved_kwargs) -> list[str]:
    """Names of the arguments whose contents changed (``argument 1``, ``mask``)."""
    names = []
    for i, (a, s) in enumerate(zip(args, saved_args)):
        if not _same(a, s):
            names.append(f"argument {i + 1}")
            _restore(a, s)
    for k in kwargs:
        if not _same(kwargs[k], saved_kwargs[k]):
            names.append(f"`{k}`")
            _restore(kwargs[k], saved_kwargs[k])
    return names


# --- conventions on the result -----------------------------------------------------------------


def leaves(value, out=None) -> list:
    """Arrays and tensors of a nested value, in order."""
    out = [] if out is None else out
    if type(value) in (list, tuple):
        for v in value:
            leaves(v, out)
    elif type(value) is dict:
        for v in value.values():
            leaves(v, out)
    elif isinstance(value, np.ndarray) or _is_tensor(value):
        out.append(value)
    return out


def _dtype_name(x) -> str:
    return str(x.dtype).removeprefix("torch.")


def _is_float(x) -> bool:
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.floating)
    return bool(x.is_floating_point())


def _is_int(x) -> bool:
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.integer)
    return not x.is_floating_point() and not x.is_complex() and _dtype_name(x) != "bool"


def input_float_dtype(args, kwargs) -> str | None:
    """The one floating dtype of the array/tensor arguments, or None (none, or mixed)."""
    kinds = {_dtype_name(x) for x in leaves((args, kwargs)) if _is_float(x)}
    return kinds.pop() if len(kinds) == 1 else None


def check_result_dtypes(name: str, result, float_dtype: str | None) -> None:
    __tracebackhide__ = True
    outs = leaves(result)
    for i, x in enumerate(outs):
        where = name + "'s result" + (f" (array {i + 1} of {len(outs)})" if len(outs) > 1 else "")
        if _is_float(x) and float_dtype is not None and _dtype_name(x) != float_dtype:
            raise CheckFailure(
                f"{where} has dtype {_dtype_name(x)} for {float_dtype} inputs; "
                f"keep the input's dtype ({float_dtype} in, {float_dtype} out)"
            )
        if _is_int(x) and _dtype_name(x) != "int64":
            raise CheckFailure(f"{where} has dtype {_dtype_name(x)}; integer results are int64")


# --- global random state -----------------------------------------------------------------------


def global_rng_state(with_torch: bool | None = None) -> bytes:
    """The global generators' state (NumPy legacy, torch CPU, Python's ``random``) as bytes.
    ``with_torch`` (default: whether torch is imported now) keeps a before/after pair comparable
    when the call itself imports torch."""
    import random

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = [keys.tobytes(), repr((kind, pos, has_gauss, cached)).encode(), repr(random.getstate()).encode()]
    torch = sys.modules.get("torch")
    if torch is not None and with_torch is not False:
        state.append(bytes(torch.random.get_rng_state().numpy()))
    return b"|".join(state)


def _used_global_rng(target, before: bytes, with_torch: bool) -> bool:
    facts = getattr(target, "_last_call_facts", None)
    if isinstance(facts, dict) and "global_rng" in facts:  # sandbox proxy: measured in the worker
        return bool(facts["global_rng"])
    return global_rng_state(with_torch) != before


# --- the door ----------------------------------------------------------------------------------


def call_exercise(target, name: str, args=(), kwargs=None, *, check_dtypes: bool = True, check_rng: bool = True):
    """``getattr(target, name)(*args, **kwargs)`` with the contract's checks (module docstring)."""
    __tracebackhide__ = True
    args, kwargs = tuple(args), dict(kwargs or {})
    saved_args, saved_kwargs = snapshot(args), snapshot(kwargs)
    float_dtype = input_float_dtype(args, kwargs)
    fn = getattr(target, name)
    with_torch = "torch" in sys.modules
    before = global_rng_state(with_torch) if check_rng and not hasattr(target, "_last_call_facts") else None
    try:
        result = fn(*args, **kwargs)
    finally:
        changed = _modified(args, kwargs, saved_args, saved_kwargs)
    if changed:
        raise CheckFailure(
            f"{name} modified its input ({', '.join(changed)}) in place; inputs must stay unchanged "
            "(work on a copy, e.g. x = x - m, not x -= m)"
        )
    if check_rng and _used_global_rng(target, before, with_torch):
        raise CheckFailure(
            f"{name} used or changed the global random generator (np.random.* / torch.manual_seed); "
            "draw only from a generator made from the `seed` argument"
        )
    if check_dtypes:
        check_result_dtypes(name, result, float_dtype)
    return result


def call(target, name: str, /, *args, **kwargs):
    """``call_exercise`` with every check on: ``call(attention_math, "softmax", x, axis=0)``."""
    __tracebackhide__ = True
    return call_exercise(target, name, args, kwargs)


def call_many(target, name: str, items) -> list:
    """``[getattr(target, name)(*args, **kwargs) for args, kwargs in items]``; through the sandbox in
    one round trip (each item still a call of its own in the worker). None of :func:`call`'s checks:
    for many calls whose results only add up (thousands of draws of a sampler), after a few made
    with :func:`call`."""
    from grader.sandbox.pool import SandboxTarget

    if isinstance(target, SandboxTarget):
        return target._call_many(name, list(items))
    fn = getattr(target, name)
    return [fn(*args, **kwargs) for args, kwargs in items]


def call_each(target, name: str, items, *, checked: int = 5) -> list:
    """``[call(target, name, *args, **kwargs) for args, kwargs in items]`` at the price of a few
    round trips: the first ``checked`` items go through :func:`call` (every check of the contract),
    the rest through :func:`call_many` (one round trip through the sandbox, no checks). For many
    calls of one function whose results only add up (the draws of a sampler, per-position
    predictions), whose conventions are checked on the first calls and whose other results only
    add to what the test judges."""
    __tracebackhide__ = True
    items = [(tuple(args), dict(kwargs)) for args, kwargs in items]
    first = [call_exercise(target, name, args, kwargs) for args, kwargs in items[:checked]]
    return first + call_many(target, name, items[checked:])


def call_with_grad(target, name: str, args=(), kwargs=None, *, wrt=(), output=None, cotangent=None):
    __tracebackhide__ = True  # a failure shows the test's line, not this helper's
    import torch

    for t in wrt:
        if not t.requires_grad:
            t.requires_grad_(True)
    with torch.enable_grad():
        result = getattr(target, name)(*args, **(kwargs or {}))
        out = result if output is None else result[output]
        if not isinstance(out, torch.Tensor):
            raise CheckFailure(f"{name} should return a torch.Tensor here, got {type(out).__name__}")
        if not out.requires_grad:
            return result, tuple(None for _ in wrt)
        cot = torch.ones_like(out) if cotangent is None else cotangent.to(out.dtype)
        grads = torch.autograd.grad(out, list(wrt), cot, allow_unused=True)
    return result, tuple(grads)
