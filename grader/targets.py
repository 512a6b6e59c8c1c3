"""Targets: what a test suite runs against.

Tests never import a section module themselves; they receive it through a fixture named after the
module (``attention_math``), which asks :func:`load_target` for it. A target spec is one of

* ``exercises`` — the student's copy in ``exercises/`` (the default of a plain ``pytest``),
* ``solutions`` — the reference solutions,
* a path to any folder laid out like ``exercises/`` (a submission being graded),
* ``mutant:<section>/<name>`` — the reference with one function replaced by a known-wrong one
  from ``grader/mutants/<section>/<name>.py`` (used to prove that the hidden suites can fail),
* ``sandbox:<spec>`` — any of the above, but run in a worker process (``grader/sandbox/``): the
  test process never imports the code, it gets a proxy whose functions are remote calls. This is
  how ``python -m grader grade`` runs a submission.

All of them give back an object whose attributes are the section's functions, so every target
behaves the same to a test that only passes data in and inspects what comes out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path

from grader.errors import SandboxError, TargetError
from grader.sandbox.pool import get_target
from grader.sections import EXERCISES, MUTANTS, SOLUTIONS, Section

__all__ = ["TargetError", "load_module_file", "load_target", "resolve_root", "sandbox_root"]


def resolve_root(spec: str) -> Path:
    """Folder that holds the section folders for a target spec that names one."""
    if spec == "exercises":
        return EXERCISES
    if spec == "solutions":
        return SOLUTIONS
    return Path(spec).expanduser().resolve()


def load_module_file(path: Path, name_hint: str) -> types.ModuleType:
    """Import one Python file under a name unique to its path, so that several copies of the
    same section (exercise, solution, mutant) can live in one process side by side."""
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"{path}: file not found")
    tag = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    unique = f"_target_{tag}_{name_hint}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    module = importlib.util.module_from_spec(spec)
    try:
        source = path.read_text(encoding="utf-8")
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise TargetError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except (UnicodeDecodeError, OSError) as e:
        raise TargetError(f"{path}: cannot read: {e}") from None
    sys.modules[unique] = module
    try:
        exec(code, module.__dict__)
    except BaseException as e:  # an exception at import must not end the test session
        del sys.modules[unique]
        raise TargetError(f"{path}: error while importing: {type(e).__name__}: {e}") from None
    return module


def load_mutant(section: Section, name: str) -> types.ModuleType:
    """The reference module with the functions of ``grader/mutants/<section>/<name>.py`` put on
    top. The reference's own functions keep calling the reference, so a mutant breaks only the
    exercise it replaces."""
    reference = load_module_file(section.module_file(SOLUTIONS), section.module)
    path = MUTANTS / section.name / f"{name}.py"
    if not path.is_file():
        raise TargetError(f"{path}: no such mutant")
    mutant = types.ModuleType(f"{section.module}__mutant_{name}")
    mutant.__dict__.update({k: v for k, v in vars(reference).items() if not k.startswith("__")})
    mutant.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), mutant.__dict__)
    return mutant


def load_target(spec: str, section: Section):
    """The section's module (or its sandbox proxy) for a target spec (see the module docstring)."""
    if spec.startswith("sandbox:"):
        return load_sandboxed(spec.removeprefix("sandbox:"), section)
    if spec.startswith("mutant:"):
        mutant_section, _, name = spec.removeprefix("mutant:").partition("/")
        if mutant_section != section.name:
            # a mutant replaces one section; every other section is the reference
            return load_module_file(section.module_file(SOLUTIONS), section.module)
        return load_mutant(section, name)
    root = resolve_root(spec)
    if not root.is_dir():
        raise TargetError(f"{root}: folder not found")
    folder = root / section.name
    if not folder.is_dir():
        raise TargetError(f"{folder}: section folder missing")
    return load_module_file(section.module_file(root), section.module)


def sandbox_root(spec: str, section: Section) -> Path:
    """The folder whose copy a worker imports for ``sandbox:<spec>`` (a mutant is materialised
    as a module file in a temporary folder, so that it too runs only in the worker)."""
    if spec.startswith("mutant:"):
        mutant_section, _, name = spec.removeprefix("mutant:").partition("/")
        if mutant_section != section.name:
            return SOLUTIONS
        return materialise_mutant(section, name)
    return resolve_root(spec)


_MATERIALISED: dict[tuple[str, str], Path] = {}


def materialise_mutant(section: Section, name: str) -> Path:
    """A folder holding ``<section>/<module>.py`` = the reference followed by the mutant's
    functions (the same namespace semantics as :func:`load_mutant`)."""
    import atexit
    import shutil
    import tempfile

    key = (section.name, name)
    if key not in _MATERIALISED:
        path = MUTANTS / section.name / f"{name}.py"
        if not path.is_file():
            raise TargetError(f"{path}: no such mutant")
        root = Path(tempfile.mkdtemp(prefix="grade-mutant-"))
        atexit.register(shutil.rmtree, root, True)
        (root / section.name).mkdir()
        reference = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
        mutant = path.read_text(encoding="utf-8")
        # the reference runs in a namespace of its own (its functions keep calling the reference),
        # copied into this module, then the mutant's functions replace theirs — as in load_mutant
        header = (
            "import types as _course_types\n"
            f"_course_reference = _course_types.ModuleType({section.module + '_reference'!r})\n"
            "_course_reference.__file__ = __file__\n"
            f"exec(compile({reference!r}, __file__, 'exec'), _course_reference.__dict__)\n"
            "globals().update({k: v for k, v in vars(_course_reference).items() if not k.startswith('__')})\n"
            f"# --- mutant {name} ---\n"
        )
        section.module_file(root).write_text(header + mutant, encoding="utf-8")
        _MATERIALISED[key] = root
    return _MATERIALISED[key]


def load_sandboxed(spec: str, section: Section):
    root = sandbox_root(spec, section)
    if not root.is_dir():
        raise TargetError(f"{root}: folder not found")
    if not (root / section.name).is_dir():
        raise TargetError(f"{root / section.name}: section folder missing")
    target = get_target(root, section)
    try:
        target._ready()
    except SandboxError as e:
        raise TargetError(str(e)) from None
    return target
