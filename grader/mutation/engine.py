"""The mutation tool (mutmut) run inside one section's workspace; started by the driver
(``python -m grader.mutation``) with the workspace as the current directory.

    python -m grader.mutation.engine run --max-children 1 [--only NAMES.txt]
    python -m grader.mutation.engine report OUT.json
    python -m grader.mutation.engine explain NAMES.txt OUT.json   # the first test failing on each

mutmut is used as it is, with two additions made before it starts:

* it may mutate only the lines inside the ``### BEGIN/END SOLUTION`` regions (every other line is
  added to the lines it was told not to mutate);
* the mutated copy of the section module renames itself to the name mutmut gave it (the course's
  loader imports a file under a name unique to its path, and mutmut's switch between the
  original and a mutant compares a function's module name with its own).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grader.mutation.regions import add_naming_header, lines_outside_regions


def regions_only(get_ignored_lines):
    """mutmut's ``get_ignored_lines`` that also ignores every line outside the solution regions."""

    def ignored_lines(filename, source, metadata_wrapper, coverage_excluded_lines=None):
        ignored = get_ignored_lines(filename, source, metadata_wrapper, coverage_excluded_lines)
        ignored.no_mutate_lines = set(ignored.no_mutate_lines) | lines_outside_regions(source)
        return ignored

    return ignored_lines


def _patch_mutmut() -> None:
    import mutmut.__main__ as mutmut_main
    import mutmut.mutation.file_mutation as file_mutation

    file_mutation.get_ignored_lines = regions_only(file_mutation.get_ignored_lines)

    original_create = mutmut_main.create_mutants

    def create_mutants(max_children):
        stats = original_create(max_children)
        for path in sorted(Path("mutants", "src").glob("*/*.py")):
            name = ".".join(path.relative_to(Path("mutants", "src")).with_suffix("").parts)
            text = path.read_text(encoding="utf-8")
            if "_course_mutation_sys" not in text:
                path.write_text(add_naming_header(text, name), encoding="utf-8")
        return stats

    mutmut_main.create_mutants = create_mutants

    # a mutant is killed at its first failing test: run the quick tests first, training last
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state

    original_args = PytestRunner._pytest_args_regular_run

    def quick_first(self, tests):
        durations = state().duration_by_test
        return original_args(self, sorted(tests, key=lambda t: ("_training" in t, durations.get(t, 0.0), t)))

    PytestRunner._pytest_args_regular_run = quick_first


def run(max_children: int, only: list[str]) -> None:
    """Every mutant, or only the named ones (the others keep the status "not checked")."""
    _patch_mutmut()
    import mutmut.__main__ as mutmut_main

    mutmut_main._run(only, max_children)


def report(out: Path) -> None:
    """Every mutant's status, the seconds its tests took, and the diff of every survivor."""
    import mutmut
    from mutmut.__main__ import SourceFileMutationData, walk_mutatable_files
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    mutants = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            status = status_by_exit_code[code]
            entry = {"status": status, "exit_code": code, "seconds": data.durations_by_key.get(name)}
            if status != "killed":
                try:
                    entry["diff"] = get_diff_for_mutant(name, path=path)
                except Exception as e:  # a diff that cannot be made must not lose the counts
                    entry["diff"] = f"(no diff: {type(e).__name__}: {e})"
            mutants[name] = entry
    out.write_text(json.dumps({"tool": f"mutmut {mutmut.__version__}", "mutants": mutants}, indent=1))


def explain(names_file: Path, out: Path) -> None:
    """For each mutant named in ``names_file`` (one a line): the first test that fails on it, or
    None. One pytest session per mutant in this process, quick tests first, training last."""
    import os

    import pytest
    from mutmut.configuration import config

    class FirstFailure:
        def __init__(self):
            self.nodeid = None

        def pytest_runtest_logreport(self, report):
            if report.failed and self.nodeid is None:
                self.nodeid = report.nodeid

    tests = sorted(str(p) for p in Path("tests").rglob("test_*.py"))
    tests.sort(key=lambda t: "_training" in t)
    found = {}
    names = names_file.read_text(encoding="utf-8").split()
    out = out.resolve()
    os.chdir("mutants")
    for name in names:
        os.environ["MUTANT_UNDER_TEST"] = name
        recorder = FirstFailure()
        pytest.main(
            ["--rootdir=.", "-x", "-q", "--no-header", "-p", "no:randomly", *tests, *config().pytest_add_cli_args],
            plugins=[recorder],
        )
        found[name] = recorder.nodeid
    os.environ.pop("MUTANT_UNDER_TEST", None)
    os.chdir("..")
    out.write_text(json.dumps(found, indent=1), encoding="utf-8")


def main(argv: list[str]) -> None:
    if argv[:1] == ["run"]:
        max_children = int(argv[argv.index("--max-children") + 1]) if "--max-children" in argv else 1
        only = Path(argv[argv.index("--only") + 1]).read_text(encoding="utf-8").split() if "--only" in argv else []
        run(max_children, only)
    elif argv[:1] == ["report"] and len(argv) == 2:
        report(Path(argv[1]))
    elif argv[:1] == ["explain"] and len(argv) == 3:
        explain(Path(argv[1]), Path(argv[2]))
    else:
        sys.exit(
            "usage: python -m grader.mutation.engine run [--max-children N] | report OUT.json | explain NAMES OUT.json"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
