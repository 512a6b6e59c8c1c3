"""Submissions that attack what only run time can see: library shortcuts reached by another name
(the static scan of grader/forbidden.py reads names, so it misses them), and time (sleeping or
spinning in every function, children that keep running, code that runs at exit).

Each attack is built on a copy of one section of ``solutions/`` and keeps its answers right, so
that only the check under attack can cost it points.

* ``SHORTCUTS``: §40 ``scaled_dot_product_attention`` also calls PyTorch's attention through a
  disguise; ``SHORTCUT_EXPECT[name]`` is what the worker's guard must record for that exercise.
* ``TIME``: every function of §38 (numpy-only and quick) wastes time in some way.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from grader.sections import SOLUTIONS, Section

SHORTCUT_SECTION = Section("sec40_transformer")
SHORTCUT_EXERCISE = "scaled_dot_product_attention"
TIME_SECTION = Section("sec38_attention")
SDPA = "scaled_dot_product_attention"
TAMPERED = "a way around the grader's shortcut check"


def copy_section(section: Section, dst: Path) -> Path:
    """``dst/<section>/`` = the reference's folder (module and given files, no notebooks)."""
    shutil.copytree(
        SOLUTIONS / section.name,
        dst / section.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", ".ipynb_checkpoints"),
    )
    return dst


def insert_in_solution(root: Path, section: Section, func: str, code: str) -> None:
    """Put ``code`` (written at indentation 0) at the start of ``func``'s solution region."""
    path = section.module_file(root)
    src = path.read_text(encoding="utf-8")
    begin = src.index("### BEGIN SOLUTION", src.index(f"def {func}("))
    line_start = src.rindex("\n", 0, begin) + 1
    indent = src[line_start:begin]
    after = src.index("\n", begin) + 1
    path.write_text(src[:after] + textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent) + src[after:])


def append_to_module(root: Path, section: Section, code: str) -> None:
    path = section.module_file(root)
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + textwrap.dedent(code), encoding="utf-8")


# --- library shortcuts by another name (§40 scaled_dot_product_attention) ------------------------

SHORTCUTS: dict = {}
SHORTCUT_EXPECT: dict[str, list[str]] = {}


def shortcut(*expect: str):
    def register(fn):
        SHORTCUTS[fn.__name__] = fn
        SHORTCUT_EXPECT[fn.__name__] = list(expect)
        return fn

    return register


def _use(root: Path, code: str) -> None:
    insert_in_solution(root, SHORTCUT_SECTION, SHORTCUT_EXERCISE, code)


@shortcut(SDPA)
def computed_getattr(root):
    _use(root, '_ = getattr(torch.nn.functional, "scaled_dot_" + "product_attention")(q, k, v)')


@shortcut(SDPA)
def importlib_and_module_dict(root):
    _use(
        root,
        """
        _f = __import__("importlib").import_module("torch.nn." + "functional")
        _ = _f.__dict__["scaled_dot_product_" + "attention"](q, k, v)
        """,
    )


@shortcut(SDPA)
def exec_of_a_hidden_string(root):
    hidden = b"_r = torch.nn.functional.scaled_dot_product_attention(q, k, v)".hex()
    _use(root, f'exec(bytes.fromhex("{hidden}").decode(), {{"torch": torch, "q": q, "k": k, "v": v}})')


@shortcut(SDPA)
def helper_module_file(root):
    folder = root / SHORTCUT_SECTION.name
    (folder / "fast_ops.py").write_text(
        "from torch.nn.functional import scaled_dot_product_attention as attend\n", encoding="utf-8"
    )
    _use(
        root,
        """
        import importlib.util as _u, os as _o
        _spec = _u.spec_from_file_location("fast_ops", _o.path.join(_o.path.dirname(__file__), "fast_ops.py"))
        _m = _u.module_from_spec(_spec)
        _spec.loader.exec_module(_m)
        _ = _m.attend(q, k, v)
        """,
    )


@shortcut(SDPA)
def alias_taken_at_import(root):
    append_to_module(
        root, SHORTCUT_SECTION, '_ATTEND = getattr(torch.nn.functional, "scaled_dot_" + "product_attention")\n'
    )
    _use(root, "_ = _ATTEND(q, k, v)")


@shortcut("_scaled_dot_product_attention_math", SDPA)  # §40 bans the kernel by name too
def aten_op_by_name(root):
    _use(root, '_ = getattr(torch.ops.aten, "_scaled_dot_product_" + "attention_math")(q, k, v)')


@shortcut(SDPA)
def c_binding_module(root):
    _use(root, '_ = getattr(getattr(torch._C, "_" + "nn"), "scaled_dot_product_" + "attention")(q, k, v)')


@shortcut(SDPA)
def original_unwrapped_from_the_wrapper(root):
    _use(
        root,
        """
        _f = getattr(torch.nn.functional, "scaled_dot_product_" + "attention")
        _f = getattr(_f, "__wrapped__", _f)
        for _cell in getattr(_f, "__closure__", None) or ():
            if callable(_cell.cell_contents) and getattr(_cell.cell_contents, "__name__", "") == _f.__name__:
                _f = _cell.cell_contents
        _ = _f(q, k, v)
        """,
    )


@shortcut(SDPA)
def function_mode_switched_off(root):
    # the original, outside __torch_function__ (float32: the fused CPU kernel runs at the dispatcher)
    _use(
        root,
        """
        with torch._C.DisableTorchFunction():
            _ = getattr(torch.ops.aten, "_scaled_dot_product_flash_" + "attention_for_cpu")(q.float(), k.float(), v.float())
        """,
    )


@shortcut(SDPA)
def in_another_thread(root):
    _use(
        root,
        """
        import threading as _t
        _box = []
        _th = _t.Thread(target=lambda: _box.append(getattr(torch.nn.functional, "scaled_dot_" + "product_attention")(q, k, v)))
        _th.start()
        _th.join()
        """,
    )


@shortcut(TAMPERED)
def in_a_forked_child(root):
    _use(
        root,
        """
        import os as _o
        _pid = _o.fork()
        if _pid == 0:
            try:
                getattr(torch.nn.functional, "scaled_dot_" + "product_attention")(q, k, v)
            finally:
                _o._exit(0)
        _o.waitpid(_pid, 0)
        """,
    )


@shortcut(TAMPERED, SDPA)
def wrapper_replaced_by_the_original(root):
    # the original put back, then called outside __torch_function__ (float64: no fused kernel either)
    _use(
        root,
        """
        import torch.nn.functional as _F
        _name = "scaled_dot_product_" + "attention"
        _f = getattr(_F, _name)
        for _cell in _f.__closure__ or ():
            if getattr(_cell.cell_contents, "__name__", "") == _name:
                _f = _cell.cell_contents
        setattr(_F, _name, _f)
        with torch._C.DisableTorchFunction():
            _ = getattr(_F, _name)(q.double(), k.double(), v.double())
        """,
    )


# known gap (see guard.py): both modes popped, the original from the wrapper's closure, modes restored
def everything_switched_off(root):
    _use(
        root,
        """
        from torch.utils._python_dispatch import _disable_current_modes
        _f = getattr(torch.nn.functional, "scaled_dot_product_" + "attention")
        for _cell in _f.__closure__ or ():
            if getattr(_cell.cell_contents, "__name__", "") == _f.__name__:
                _f = _cell.cell_contents
        with torch._C.DisableTorchFunction(), _disable_current_modes():
            _ = _f(q, k, v)
        """,
    )


def build_shortcut(name: str, dst: Path) -> Path:
    copy_section(SHORTCUT_SECTION, dst)
    (SHORTCUTS.get(name) or globals()[name])(dst)
    return dst


# --- time (§38: every public function) -----------------------------------------------------------

TIME: dict = {}


def time_attack(fn):
    TIME[fn.__name__] = fn
    return fn


def _every_function(root: Path, before: str, setup: str = "") -> None:
    """Each public function of the module first runs ``before`` (code at indentation 0)."""
    body = textwrap.indent(textwrap.dedent(before).strip("\n"), " " * 8)
    append_to_module(
        root,
        TIME_SECTION,
        textwrap.dedent(setup)
        + f"""
import functools as _rt_functools


def _rt_wrap(fn):
    @_rt_functools.wraps(fn)
    def wasteful(*args, **kwargs):
{body}
        return fn(*args, **kwargs)

    return wasteful


for _rt_name, _rt_value in list(globals().items()):
    if type(_rt_value) is type(_rt_wrap) and _rt_value.__module__ == __name__ and not _rt_name.startswith("_"):
        globals()[_rt_name] = _rt_wrap(_rt_value)
""",
    )


@time_attack
def sleep_just_under_the_call_limit(root, call_limit):
    _every_function(root, f"import time\ntime.sleep({call_limit * 0.9})")


@time_attack
def busy_loop_just_under_the_call_limit(root, call_limit):
    _every_function(
        root, f"import time\nend = time.monotonic() + {call_limit * 0.9}\nwhile time.monotonic() < end:\n    pass"
    )


@time_attack
def sleep_forever_on_the_first_call_only(root, call_limit):
    _every_function(
        root,
        "if fn.__name__ not in _RT_SEEN:\n    _RT_SEEN.add(fn.__name__)\n    import time\n    time.sleep(3600)",
        "_RT_SEEN = set()\n",
    )


@time_attack
def block_reading_an_empty_pipe(root, call_limit):
    _every_function(root, "import os\nr, w = os.pipe()\nos.read(r, 1)")


@time_attack
def slow_import_and_endless_calls(root, call_limit):
    # every restart after a stopped call imports the module again: that time is charged too
    _every_function(root, "while True:\n    pass", f"import time as _rt_time\n_rt_time.sleep({call_limit * 1.5})\n")


@time_attack
def child_process_keeps_spinning(root, call_limit):
    # a child that outlives every call, named so that the test can look for it afterwards
    _every_function(
        root,
        """
        import ctypes, os
        if not _RT_FORKED:
            _RT_FORKED.append(1)
            if os.fork() == 0:
                ctypes.CDLL(None).prctl(15, b"rt-spinner", 0, 0, 0)
                while True:
                    pass
        """,
        "_RT_FORKED = []\n",
    )


@time_attack
def spin_at_exit_and_in_del(root, call_limit):
    # right answers; the worker's end must not hang the grader
    append_to_module(
        root,
        TIME_SECTION,
        """
        import atexit as _rt_atexit


        def _rt_spin(*_):
            while True:
                pass


        _rt_atexit.register(_rt_spin)


        class _RtSpinner:
            def __del__(self):
                _rt_spin()


        _RT_KEEP = _RtSpinner()
        """,
    )


SPINNER_NAME = "rt-spinner"


def build_time(name: str, dst: Path, call_limit: float) -> Path:
    copy_section(TIME_SECTION, dst)
    TIME[name](dst, call_limit)
    return dst
