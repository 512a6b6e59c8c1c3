"""Where things are: the sections of the chapter and the paths of their files.

A section is a folder ``secNN_<name>/`` holding the module ``<name>.py`` (``sec39_attention_math``
holds ``attention_math.py``). Its public tests are ``tests/test_secNN_<name>.py``, its hidden tests
``grader/hidden/test_secNN_<name>.py`` (plus optional ``test_secNN_<name>_<topic>.py``). The list of sections is the list of public test files, so a
new section needs no registration beyond its files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
PUBLIC_TESTS = REPO / "tests"
HIDDEN_TESTS = REPO / "grader" / "hidden"
SEED_ENV = "COURSE_GRADING_SEED"  # the official seed of the hidden inputs: secret, never in a report
MUTANTS = REPO / "grader" / "mutants"

# one thread per numeric library in every process of a grade (the test processes, the warm runner,
# the zygote and so its workers, a notebook's kernel)
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def one_thread_env() -> dict[str, str]:
    """The environment variables of :data:`THREAD_VARS`, each set to one."""
    return {k: "1" for k in THREAD_VARS}


_SECTION_RE = re.compile(r"^sec(\d\d)_([a-z][a-z0-9_]*)$")


@dataclass(frozen=True)
class Section:
    name: str  # folder name, e.g. "sec39_attention_math"

    @property
    def number(self) -> int:
        return int(_SECTION_RE.match(self.name).group(1))

    @property
    def module(self) -> str:
        """Module (and fixture) name: the folder name without ``secNN_``."""
        return _SECTION_RE.match(self.name).group(2)

    def module_file(self, root: Path) -> Path:
        return Path(root) / self.name / f"{self.module}.py"

    @property
    def public_tests(self) -> Path:
        return PUBLIC_TESTS / f"test_{self.name}.py"

    @property
    def hidden_tests(self) -> Path:
        return HIDDEN_TESTS / f"test_{self.name}.py"

    def hidden_test_files(self) -> list[Path]:
        """``test_<section>.py`` and any ``test_<section>_<topic>.py`` (e.g. ``_training``)."""
        return sorted({*HIDDEN_TESTS.glob(f"test_{self.name}.py"), *HIDDEN_TESTS.glob(f"test_{self.name}_*.py")})


def is_section_name(name: str) -> bool:
    return bool(_SECTION_RE.match(name))


def all_sections() -> list[Section]:
    """Every section that has a public test file, in chapter order."""
    names = [p.stem.removeprefix("test_") for p in PUBLIC_TESTS.glob("test_sec*.py")]
    return [Section(n) for n in sorted(names) if is_section_name(n)]


def section_by_module(module: str) -> Section:
    for s in all_sections():
        if s.module == module:
            return s
    raise KeyError(module)
