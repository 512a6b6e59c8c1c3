"""The sandbox proxy behaves like an in-process module for data in / data out, and no more:
codec round trips (JSON + raw array bytes, never pickle), exceptions, in-place changes written back, warning
filters, autograd through the worker, time limits and crashes, the protections it reports."""

from __future__ import annotations

import os
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch

from grader.sandbox import codec
from grader.sandbox.pool import SandboxConfig, SandboxTarget, SubmissionCrash, SubmissionExit
from grader.sections import Section

TOY = Section("sec99_toy")
SOURCE = """
import numpy as np
import torch

CONSTANT = 7

def double(x):
    return x * 2

def shift_in_place(x):
    x -= 1
    return None

def grow(items, table):
    items.append(4)
    table["new"] = 1

def bad(kind):
    if kind == "value":
        raise ValueError("kind must be good")
    if kind == "custom":
        class MyError(KeyError):
            pass
        raise MyError("custom")
    if kind == "exit":
        raise SystemExit(3)
    raise NotImplementedError("bad: your code here")

def warn():
    np.log(np.zeros(1))
    return 1.0

def warning_as_error():
    import warnings
    try:
        warnings.warn("careful", UserWarning)
    except UserWarning:
        return "raised"
    return "warned"

def square_sum(w, x):
    return (w ** 2 * x).sum(), w.detach() * 0

def subclass():
    class Mine(np.ndarray):
        pass
    return np.zeros(3).view(Mine)

def thing():
    return object()

def sleepy(s):
    import time
    time.sleep(s)
    return s

def die():
    import os
    os._exit(1)

class _SlowBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, s):
        ctx.s = s
        ctx.save_for_backward(w)
        return (w ** 2).sum()

    @staticmethod
    def backward(ctx, g):
        import time
        time.sleep(ctx.s)
        return g * 2 * ctx.saved_tensors[0], None

def slow_grad(w, s):
    return _SlowBackward.apply(w, s)

def pair(a, b):
    return a, b.T

def structure():
    return {"a": (1, 2.5, None, float("nan")), 3: [np.float32(1.5), "s", True], "t": torch.arange(3)}

CALLS = []

def tally(x, seed=0, scale=1.0):
    CALLS.append(seed)
    if seed == 13:
        raise ValueError("unlucky seed 13")
    if seed == 14:
        import warnings
        warnings.warn("seed 14 is odd", UserWarning)
    return float(np.sum(x)) * scale + seed

def tally_count():
    return len(CALLS)

def temp_folder():
    import os, tempfile
    return [tempfile.gettempdir(), os.environ.get("TMPDIR")]
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    (root / TOY.name).mkdir()
    (root / TOY.name / "toy.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    target = SandboxTarget(TOY, root, SandboxConfig(call_timeout=3))
    yield target
    target.close()


def test_codec_round_trip_keeps_types_dtypes_and_flags():
    value = {"a": (1, [2.0, float("inf")]), 5: np.arange(6, dtype=np.int16).reshape(2, 3), "s": np.float32(2.5),
             "t": torch.ones(2, dtype=torch.float64, requires_grad=True), "d": np.dtype("float32"), "n": None}  # fmt: skip
    ro = np.broadcast_to(np.zeros(3), (2, 3))
    tree, blobs = codec.encode([value, ro])
    back, ro_back = codec.decode(tree, blobs)
    assert back["a"] == (1, [2.0, float("inf")]) and type(back["a"]) is tuple
    assert back[5].dtype == np.int16 and back[5].shape == (2, 3)
    assert type(back["s"]) is np.float32 and back["d"] == np.dtype("float32") and back["n"] is None
    assert back["t"].dtype == torch.float64 and back["t"].requires_grad
    assert not ro_back.flags.writeable


def test_codec_never_unpickles():
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(codec.CodecError):
        codec.encode(Evil())  # the grader side refuses to send objects
    tree, blobs = codec.encode(Evil(), strict=False)
    assert isinstance(codec.decode(tree, blobs), codec.Opaque)
    payload = pickle.dumps(np.array([Evil()], dtype=object))
    with pytest.raises(Exception):  # noqa: B017 - any refusal is fine, running code is not
        codec.read_blob(payload)


def test_calls_constants_and_structures(toy):
    np.testing.assert_array_equal(toy.double(np.arange(3)), [0, 2, 4])
    assert toy.CONSTANT == 7
    out = toy.structure()
    assert out["a"][:3] == (1, 2.5, None) and np.isnan(out["a"][3])
    assert type(out[3][0]) is np.float32 and out[3][1:] == ["s", True]
    assert torch.equal(out["t"], torch.arange(3))
    with pytest.raises(AttributeError):
        toy.missing  # noqa: B018


def test_plain_arrays_cross_without_json_and_come_back_as_arrays(toy):
    a, b = np.arange(6, dtype=np.int16).reshape(2, 3), np.ones((2, 3), dtype=np.float32)
    x, y = toy.pair(a, b)  # a call and a reply of plain arrays only (codec.py: no JSON)
    assert type(x) is np.ndarray and x.dtype == np.int16 and np.array_equal(x, a) and x.flags.writeable
    assert y.dtype == np.float32 and y.shape == (3, 2) and y.flags.f_contiguous
    x[0, 0] = 5  # the caller's own array, not the argument
    assert a[0, 0] == 0
    ro = a.copy()
    ro.flags.writeable = False
    assert not toy.pair(ro, b)[0].flags.writeable  # not plain: the general way keeps the flag
    assert toy.double(x=a).tolist() == (a * 2).tolist()


def test_exceptions_keep_their_builtin_type_and_message(toy):
    with pytest.raises(ValueError, match="kind must be good"):
        toy.bad("value")
    with pytest.raises(KeyError):
        toy.bad("custom")
    with pytest.raises(SubmissionExit):
        toy.bad("exit")
    with pytest.raises(NotImplementedError) as info:
        toy.bad("todo")
    assert info.value.course_origin == ("bad", "toy.py")


def test_in_place_changes_are_written_back(toy):
    x = np.arange(4.0)
    toy.shift_in_place(x)
    np.testing.assert_array_equal(x, [-1.0, 0.0, 1.0, 2.0])
    t = torch.zeros(2)
    toy.shift_in_place(t)
    assert t.tolist() == [-1.0, -1.0]
    items, table = [1], {"old": 0}
    toy.grow(items, table)
    assert items == [1, 4] and table == {"old": 0, "new": 1}


def test_warning_filters_apply_in_the_worker(toy):
    with pytest.warns(RuntimeWarning):
        toy.warn()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):  # the second call's filters are the worker's copy of the first's
            with pytest.raises(RuntimeWarning):
                toy.warn()
            assert toy.warning_as_error() == "raised"  # the filter applied in the worker, not only here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert toy.warn() == 1.0
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        toy.warn()


def test_autograd_flows_through_the_worker(toy):
    w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([3.0, 4.0], dtype=torch.float64)
    loss, detached = toy.square_sum(w, x)
    assert loss.requires_grad and not detached.requires_grad
    loss.backward()
    assert torch.allclose(w.grad, 2 * w.detach() * x)
    with torch.no_grad():
        assert not toy.square_sum(w, x)[0].requires_grad


def test_exact_types_survive(toy):
    sub = toy.subclass()
    assert type(sub) is not np.ndarray and type(sub).__name__ == "Mine" and isinstance(sub, np.ndarray)
    assert isinstance(toy.thing(), codec.Opaque)


def test_timeout_and_crash_stop_the_function_and_the_worker_restarts(toy):
    start = time.monotonic()
    with pytest.raises(SubmissionCrash, match="did not return within"):
        toy.sleepy(60)
    assert time.monotonic() - start < 20
    with pytest.raises(SubmissionCrash, match="not called again"):
        toy.sleepy(0)
    with pytest.raises(SubmissionCrash, match="ended the submission's process"):
        toy.die()
    np.testing.assert_array_equal(toy.double(np.ones(2)), [2.0, 2.0])  # a fresh worker


def test_a_gradient_that_times_out_leaves_no_stale_reply_for_the_next_call(toy):
    # oracle: double's own definition; a worker still busy with the stopped gradient would answer
    # the next call late (or with the gradient's reply) unless it is replaced
    w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    start = time.monotonic()
    with pytest.raises(Exception, match="gradient computation failed"):
        toy.slow_grad(w, 60).backward()
    assert time.monotonic() - start < 20
    np.testing.assert_array_equal(toy.double(np.ones(2)), [2.0, 2.0])
    w.grad = None
    toy.slow_grad(w, 0).backward()
    assert torch.equal(w.grad, 2 * w.detach())


def test_protections_are_measured(toy):
    toy.double(1)
    p = toy.protections
    assert p["limits"]["core_bytes"] == 0 and p["limits"]["processes"] > 0
    if os.geteuid() == 0:
        assert p["separate_uid"] and not p["grader_files_readable"] and p["network"] == "none"


def test_call_with_grad_is_the_same_for_a_module_and_a_proxy(toy, tmp_path):
    from grader.calls import call_with_grad
    from grader.targets import load_module_file

    (tmp_path / "toy.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    local = load_module_file(tmp_path / "toy.py", "toy")
    for target in (local, toy):
        w = torch.tensor([1.0, -2.0], dtype=torch.float64)
        x = torch.tensor([3.0, 5.0], dtype=torch.float64)
        _, (g,) = call_with_grad(target, "square_sum", (w, x), wrt=[w], output=0)
        assert torch.allclose(g, 2 * w.detach() * x)


def test_without_namespaces_the_worker_still_answers_and_says_so(toy):
    plain = SandboxTarget(TOY, toy._root, SandboxConfig(call_timeout=3, namespaces=False))
    try:
        np.testing.assert_array_equal(plain.double(np.ones(2)), [2.0, 2.0])
        assert not plain.protections.get("pid_namespace") and plain.protections["limits"]["core_bytes"] == 0
    finally:
        plain.close()


# --- many calls in one round trip (grader.calls.call_many, SandboxTarget._call_many) -------------


def test_call_many_gives_what_a_loop_of_calls_gives(toy):
    """Oracle: the same calls one by one through the proxy."""
    from grader.calls import call_many

    x = np.arange(4.0)
    items = [((x,), {"seed": k, "scale": 0.5}) for k in range(20, 40)]
    assert call_many(toy, "tally", items) == [toy.tally(x, seed=k, scale=0.5) for k in range(20, 40)]


def test_call_many_counts_each_item_as_a_call(toy):
    from grader.calls import call_many

    before = toy.budget_facts["calls"]
    call_many(toy, "tally", [((np.ones(2),), {"seed": k}) for k in range(20, 50)])
    assert toy.budget_facts["calls"] - before == 30


def test_call_many_raises_the_first_error_and_runs_no_later_item(toy):
    from grader.calls import call_many

    start = toy.tally_count()
    with pytest.raises(ValueError, match="unlucky seed 13"):
        call_many(toy, "tally", [((np.ones(2),), {"seed": k}) for k in range(10, 20)])
    assert toy.tally_count() - start == 4, "items after the failing one (seed 13) were run"


def test_call_many_passes_each_calls_warnings_on(toy):
    from grader.calls import call_many

    with pytest.warns(UserWarning, match="seed 14 is odd"):
        call_many(toy, "tally", [((np.ones(2),), {"seed": 14})])


def test_call_many_in_process_is_the_loop():
    import types

    from grader.calls import call_many

    module = types.ModuleType("toy")
    exec(textwrap.dedent(SOURCE), module.__dict__)
    assert call_many(module, "tally", [((np.ones(3),), {"seed": 2})]) == [5.0]


@pytest.mark.parametrize(
    "reply",
    [
        {"replies": [], "counts": []},  # no reply at all
        {"replies": [{"plain": "array"}], "counts": [5]},  # counts more blobs than sent
        {"replies": [{"result": 1.0}] * 3, "counts": [0, 0, 0]},  # more replies than items
        {"replies": "x", "counts": [0]},
        {"replies": [{"result": 1.0}], "counts": [0]},  # fewer replies than items, and no error
    ],
    ids=["none", "blob-count", "too-many", "not-a-list", "missing"],
)
def test_call_many_refuses_a_malformed_reply(toy, monkeypatch, reply):
    """A worker is hostile: a reply that does not fit the request ends the calls with a crash
    report, never a grader error or a wrong result."""
    monkeypatch.setattr(toy, "_exchange", lambda *a: (reply, []))
    monkeypatch.setattr(toy, "_drop_worker", lambda why: toy.crashes.append(why))
    with pytest.raises(SubmissionCrash, match="invalid reply"):
        toy._call_many("tally", [((np.ones(2),), {"seed": 1}), ((np.ones(2),), {"seed": 2})])
    toy._broken.pop("tally", None)


def test_call_many_items_are_guarded_like_calls(tmp_path):
    """Oracle: grader/forbidden_rules/sec42_gpt.py bans scaled_dot_product_attention in
    causal_self_attention; the guard must see it in a call made through call_many."""
    from grader.calls import call_many

    section = Section("sec42_gpt")
    (tmp_path / section.name).mkdir()
    (tmp_path / section.name / f"{section.module}.py").write_text(
        "import torch\n"
        "def causal_self_attention(q):\n"
        "    return getattr(torch.nn.functional, 'scaled_dot_' + 'product_attention')(q, q, q, is_causal=True)\n",
        encoding="utf-8",
    )
    target = SandboxTarget(section, tmp_path, SandboxConfig(call_timeout=30))
    try:
        q = torch.zeros(1, 1, 3, 4)
        call_many(target, "causal_self_attention", [((q,), {})] * 3)
        assert target.forbidden == {"causal_self_attention": {"scaled_dot_product_attention"}}
    finally:
        target.close()


def test_worker_takes_its_temporary_folder_from_its_own_environment(toy):
    """The zygote's imports found a temporary folder in the zygote's environment; the worker must
    use the one its own environment names (its private home), as a fresh process would."""
    found, named = toy.temp_folder()
    assert named and found == named, (found, named)
