"""Trivial submissions score 0 on every exercise of every section.

For each section four submissions are generated from the reference module's syntax tree (so a new
exercise is covered without editing this file): every exercise function (a top-level function with
a ``### BEGIN SOLUTION`` region) gets one of these bodies, the given code (training loops, data
helpers, other modules of the folder) stays as the reference has it:

* ``raise``  — ``raise ValueError("x")`` (passes every "bad argument raises ValueError" test);
* ``zeros``  — calls the reference and returns its answer with every array, tensor and number
  zeroed: right types, shapes and dtypes, and the reference's own ValueErrors on bad arguments
  (the hardest trivial stub);
* ``echo``   — returns its first argument unchanged;
* ``none``   — ``return None``.

Each is graded by the real pipeline (``run_section`` + ``judge_section``, in-process target: the
code is the course's own; the runs forked by one warm runner, as ``grade`` forks its sections),
public and hidden suites, every test judged. A stub that still scores
means a test it can pass is not marked ``needs_core=True`` (or a core test compares against
something a stub can produce).
"""

from __future__ import annotations

import ast
import shutil
import time
from pathlib import Path

import pytest

from grader.collect import SectionJob
from grader.judge import judge_section
from grader.run import run_section
from grader.sections import SOLUTIONS, Section, all_sections
from grader.warm import WarmRunner

SOLUTION_BEGIN = "### BEGIN SOLUTION"
KINDS = ("raise", "zeros", "echo", "none")

ZERO_HELPERS = '''

def _course_reference():
    """The reference module, imported once from its path."""
    import importlib.util
    import sys

    name = "_course_trivial_reference_" + {module!r}
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, {path!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _course_zero(value):
    """``value`` with every array, tensor and number replaced by zeros of the same type and shape."""
    import numpy as _np

    if isinstance(value, _np.ndarray):
        return _np.zeros_like(value)
    if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
        import torch as _torch

        return _torch.zeros_like(value.detach())
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, complex, _np.generic)):
        return type(value)(0)
    if isinstance(value, (list, tuple)):
        return type(value)(_course_zero(v) for v in value)
    if isinstance(value, dict):
        return {{k: _course_zero(v) for k, v in value.items()}}
    return value
'''


def exercise_functions(source: str) -> list[str]:
    """Top-level functions of a module that hold a solution region (the student's parts)."""
    lines = source.splitlines()
    return [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
        and any(SOLUTION_BEGIN in line for line in lines[node.lineno - 1 : node.end_lineno])
    ]


def _forward_call(name: str, args: ast.arguments) -> str:
    """``name(a, b, *rest, c=c, **kw)``: the call that passes a function's own parameters on."""
    parts = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg:
        parts.append(f"*{args.vararg.arg}")
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg:
        parts.append(f"**{args.kwarg.arg}")
    return f"{name}({', '.join(parts)})"


def stub_body(kind: str, node: ast.FunctionDef) -> list[ast.stmt]:
    params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    code = {
        "raise": 'raise ValueError("x")',
        "zeros": f"return _course_zero({_forward_call('_course_reference().' + node.name, node.args)})",
        "echo": f"return {params[0]}" if params else "return None",
        "none": "return None",
    }[kind]
    return ast.parse(code).body


def stub_module(source: str, kind: str, reference: Path, module: str) -> str:
    """The reference module with every exercise function's body replaced by the ``kind`` stub."""
    names = set(exercise_functions(source))
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            node.body = stub_body(kind, node)
    text = ast.unparse(tree) + "\n"
    if kind == "zeros":
        text += ZERO_HELPERS.format(module=module, path=str(reference))
    return text


def write_submission(root: Path, section: Section, kind: str) -> Path:
    folder = root / section.name
    shutil.copytree(
        SOLUTIONS / section.name, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", "figures")
    )
    reference = section.module_file(SOLUTIONS)
    source = reference.read_text(encoding="utf-8")
    section.module_file(root).write_text(stub_module(source, kind, reference, section.module), encoding="utf-8")
    return section.module_file(root)


def test_stubs_replace_every_exercise_and_keep_the_given_code():
    """The generator itself: every solution region's function is stubbed, nothing else changes."""
    section = Section("sec39_attention_math")
    source = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
    names = exercise_functions(source)
    assert "softmax" in names and "train_reversal_attention" not in names
    stubbed = ast.parse(stub_module(source, "echo", Path("/ref.py"), section.module))
    bodies = {n.name: ast.unparse(n.body[0]) for n in stubbed.body if isinstance(n, ast.FunctionDef)}
    assert bodies["softmax"] == "return x" and bodies["attention_scores"] == "return Q"
    original = {n.name: ast.unparse(n) for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    given = {n.name: ast.unparse(n) for n in stubbed.body if isinstance(n, ast.FunctionDef) and n.name not in names}
    assert given == {k: v for k, v in original.items() if k not in names}


def test_the_zeros_stub_has_the_references_shapes_and_types(tmp_path):
    import numpy as np

    from grader.targets import load_module_file

    section = Section("sec39_attention_math")
    path = write_submission(tmp_path, section, "zeros")
    stub = load_module_file(path, section.module)
    ref = load_module_file(section.module_file(SOLUTIONS), section.module)
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    got, want = stub.softmax(x), ref.softmax(x)
    assert got.shape == want.shape and got.dtype == want.dtype and not got.any() and want.any()
    with pytest.raises(ValueError):  # the reference's own argument checks come along
        stub.attention_scores(np.ones((2, 3)), np.ones((2, 4)))


CASES = [(kind, s) for s in all_sections() for kind in KINDS]
PARALLEL_RUNS = 2  # the machine's cores: the runs are independent child processes


def run_stub(section: Section, root: Path, runner: WarmRunner):
    """One pytest run (public + hidden suites) of a stub already written under ``root``, forked
    by ``runner`` as ``grade`` runs a section (pytest, NumPy and torch imported once for all stubs).

    Only this part runs in a thread: it waits on a child process. Writing the stub and judging
    it parse Python source, and CPython 3.11's parser is not safe to use from two threads at once
    (``SystemError: AST constructor recursion depth mismatch``), so both stay on the main thread.
    """
    start = time.monotonic()
    return run_section(section, str(root), hidden=True, seed=0, runner=runner), time.monotonic() - start


@pytest.fixture(scope="module")
def stub_grades(request, tmp_path_factory):
    """Every selected (kind, section) stub written, then run two at a time in the background;
    each case waits for its own run and judges it."""
    from concurrent.futures import ThreadPoolExecutor

    wanted = [
        (item.callspec.params["kind"], item.callspec.params["section"])
        for item in request.session.items
        if item.originalname == "test_trivial_submission_scores_zero"
    ]
    roots = {(kind, section.name): tmp_path_factory.mktemp(f"{kind}-{section.name}") for kind, section in wanted}
    written = {
        key: write_submission(roots[key], section, key[0]) for key, section in zip(roots, (s for _, s in wanted))
    }
    runner = WarmRunner()
    pool = ThreadPoolExecutor(max_workers=PARALLEL_RUNS)
    runs = {
        (kind, section.name): pool.submit(run_stub, section, roots[(kind, section.name)], runner)
        for kind, section in wanted
    }

    def grade(kind: str, section: Section):
        outcome, seconds = runs[(kind, section.name)].result()
        return outcome, judge_section(SectionJob(section, written[(kind, section.name)]), outcome), seconds

    yield grade
    pool.shutdown(cancel_futures=True)
    runner.close()


@pytest.mark.parametrize("kind,section", CASES, ids=[f"{k}-{s.name}" for k, s in CASES])
def test_trivial_submission_scores_zero(kind, section, stub_grades):
    """Oracle: the rule itself — a stub that ignores its input earns nothing, on any exercise."""
    outcome, result, seconds = stub_grades(kind, section)
    assert not outcome.problems, outcome.problems
    scored = {
        e.name: sorted(f"{t.name} ({t.score:.3g})" for t in e.tests if t.score > 0)
        for e in result.exercises
        if e.score > 0
    }
    assert not scored, (
        f"the {kind!r} stub scores {result.score:.3g}/{result.max_score:g} in {section.name} ({seconds:.0f} s); "
        "tests it passes that should be needs_core=True (or compare against a real answer): "
        + "; ".join(f"{name}: {', '.join(tests)}" for name, tests in scored.items())
    )
