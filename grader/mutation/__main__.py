"""Mutation testing of the reference solutions against the public + hidden suites.

    python -m grader.mutation                                  # every section
    python -m grader.mutation --section sec39_attention_math   # one (repeatable)
    tox -e mutation -- --section sec39_attention_math

For each section a workspace is laid out in a temporary folder::

    src/<section>/*.py          copy of solutions/<section>/ (only <module>.py is mutated)
    tests/public/test_<section>.py, tests/hidden/test_<section>*.py   copies of the suites
    pyproject.toml              mutmut's and pytest's settings

mutmut (see requirements-mutation.txt) mutates the ``### BEGIN/END SOLUTION`` regions of the
module, runs the suites once to learn which tests reach which function, then runs, in a process
forked from that warm one, only those tests against each mutant (``-x``: the first failure kills
it). The suites get the mutated copy through ``--impl <workspace>/mutants/src``; the reference
fixtures (``<module>_ref``) keep loading the untouched ``solutions/``.

Written per section: ``<summary-dir>/<section>.txt`` (counts, kill rate, per function, the
survivors) and ``<survivors-dir>/<section>.md`` (the diff of every surviving mutant). Mutants that
``grader/mutation/triage/<section>.md`` marks as equivalent are left out of the second kill rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.mutation.regions import (
    KILLED,
    Tally,
    astype_copy_only,
    einsum_case_only,
    equivalent_mutants,
    function_of,
    function_sources,
    killing_test_id,
    message_text_only,
    mutant_pattern,
    read_triage,
    solution_regions,
)
from grader.sections import REPO, SOLUTIONS, Section, all_sections

HERE = Path(__file__).resolve().parent
TRIAGE = HERE / "triage"


def pyproject(section: Section, workspace: Path) -> str:
    """mutmut's settings (and pytest's: the course plugin, no cache, importlib imports)."""
    impl = workspace / "mutants" / "src"
    # wall-clock limits of training (test_*training_time) are left out: the tool's call recording
    # and a shared CPU slow every training down, so they would fail on the reference itself
    args = ["-p", "grader.pytest_plugin", f"--impl={impl}", "-p", "no:cacheprovider", "--assert=plain"]
    args += ["-k", "not training_time"]
    return (
        "[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/{section.name}/{section.module}.py"]\n'
        f"pytest_add_cli_args = {json.dumps(args)}\n"
        'pytest_add_cli_args_test_selection = ["tests"]\n'
        "use_git_change_detection = false\n"
        "use_setproctitle = false\n"
        # a mutant's CPU-time limit is (its tests' time + 1 s) x 2 x this: 8 x is ample on CPU time
        "timeout_multiplier = 4.0\n"
        "\n"
        "[tool.pytest.ini_options]\n"
        'addopts = "--import-mode=importlib"\n'
        'python_files = ["test_*.py"]\n'
        'filterwarnings = ["error::RuntimeWarning"]\n'
    )


def suites(section: Section) -> list[Path]:
    return [section.public_tests, *section.hidden_test_files()]


def lay_out(section: Section, workspace: Path) -> None:
    """The workspace of one section (see the module docstring)."""
    src = workspace / "src" / section.name
    src.mkdir(parents=True)
    for path in sorted((SOLUTIONS / section.name).glob("*.py")):
        shutil.copy2(path, src / path.name)
    module = src / f"{section.module}.py"
    if not solution_regions(module.read_text(encoding="utf-8")):
        raise SystemExit(f"{section.name}: no ### BEGIN/END SOLUTION region to mutate")
    (workspace / "tests" / "public").mkdir(parents=True)
    (workspace / "tests" / "hidden").mkdir()
    shutil.copy2(section.public_tests, workspace / "tests" / "public" / section.public_tests.name)
    for path in section.hidden_test_files():
        shutil.copy2(path, workspace / "tests" / "hidden" / path.name)
    (workspace / "pyproject.toml").write_text(pyproject(section, workspace), encoding="utf-8")


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_tool(workspace: Path, max_children: int, log, only: list[str] | None = None) -> dict:
    env = tool_env()
    engine = [sys.executable, "-m", "grader.mutation.engine"]
    extra = []
    if only:
        (workspace / "only.txt").write_text("\n".join(only), encoding="utf-8")
        extra = ["--only", "only.txt"]
    subprocess.run(
        [*engine, "run", "--max-children", str(max_children), *extra],
        cwd=workspace,
        env=env,
        check=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out = workspace / "results.json"
    subprocess.run(
        [*engine, "report", str(out)], cwd=workspace, env=env, check=True, stdout=log, stderr=subprocess.STDOUT
    )
    return json.loads(out.read_text(encoding="utf-8"))


def explain(workspace: Path, names: list[str], log) -> dict[str, str | None]:
    """The first test that fails on each named mutant (in the kept workspace of a run)."""
    if not names:
        return {}
    (workspace / "explain.txt").write_text("\n".join(names), encoding="utf-8")
    out = workspace / "explained.json"
    subprocess.run(
        [sys.executable, "-m", "grader.mutation.engine", "explain", "explain.txt", str(out)],
        cwd=workspace,
        env=tool_env(),
        check=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def listed_total(summary_file: Path) -> int | None:
    """The number of mutants a summary written by this driver counts."""
    if summary_file.is_file():
        for line in summary_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("mutants: "):
                return int(line.split()[1])
    return None


def listed_functions(summary_file: Path) -> dict[str, int]:
    """Function → number of mutants, from the "per function" table of a summary."""
    counts: dict[str, int] = {}
    if not summary_file.is_file():
        return counts
    inside = False
    for line in summary_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("per function"):
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            name, _, rest = line.strip().partition(" ")
            counts[name] = int(rest.split("/")[1])
    return counts


def listed_commit(summary_file: Path) -> str | None:
    """The commit a summary's suites and solution were taken at; None when they had uncommitted
    changes (then nothing can be compared with it)."""
    for line in summary_file.read_text(encoding="utf-8").splitlines() if summary_file.is_file() else []:
        if line.startswith("suites as of: "):
            value = line.removeprefix("suites as of: ").split(",")[0]
            return None if "uncommitted" in value else value.strip()
    return None


def recheck_plan(section: Section, summary_file: Path) -> tuple[list[str], set[str]] | None:
    """What a recheck against ``summary_file`` must test: ``(names, unchanged)``.

    A function whose code is the same as at the summary's commit has the same mutants, so its
    kills carry over and only its listed survivors are tested again; every mutant of a function
    that changed or is new is tested. None (test everything) when the summary's commit or its
    version of the module cannot be read."""
    commit = listed_commit(summary_file)
    if commit is None:
        return None
    path = section.module_file(SOLUTIONS).relative_to(REPO)
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        return None
    old = function_sources(done.stdout)
    new = function_sources(section.module_file(SOLUTIONS).read_text(encoding="utf-8"))
    unchanged = {f for f in new if old.get(f) == new[f]}
    module = f"{section.name}.{section.module}"
    names = [n for n in listed_survivors(summary_file) if function_of(n) in unchanged]
    names += [mutant_pattern(module, f) for f in sorted(set(new) - unchanged)]
    return names or [f"{module}.nothing-to-test"], unchanged


def listed_survivors(summary_file: Path) -> list[str]:
    """The survivors a summary written by this driver lists."""
    if not summary_file.is_file():
        return []
    lines = summary_file.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("survivors")), len(lines))
    return [line.split()[0] for line in lines[start + 1 :] if "__mutmut_" in line]


ASTYPE_COPY = (
    "only the copy= flag of astype changes: the same values, dtype and shape; only whether a new array "
    "is allocated (copy=None means False, no flag means True), which the contract does not fix"
)
EINSUM_CASE = "einsum's subscripts upper-cased: the same letters in the same places, the same contraction"
MESSAGE_ONLY = (
    "only 'XX' is added to the text of an error message; the exception, the argument it names and "
    "the values formatted into it stay"
)


def triage_markdown(section: Section, results: dict, tally: Tally, before: list[str], fixed_by: dict) -> str:
    """The triage of every survivor (kept from the existing file where it was written by hand,
    unless the survivor's function changed since the rechecked summary: its mutants' numbers then
    name other mutations) and of every survivor of the before run that the suites kill now."""
    existing = (
        read_triage((TRIAGE / f"{section.name}.md").read_text(encoding="utf-8"))
        if (TRIAGE / f"{section.name}.md").is_file()
        else {}
    )
    changed = set(results.get("carried_over", {}).get("changed", []))
    existing = {n: v for n, v in existing.items() if function_of(n) not in changed}
    mutants = results["mutants"]
    rows = []
    for name in tally.survivors:
        verdict, reason = existing.get(name, ("", ""))
        if not verdict or verdict.startswith("fixed by"):
            diff = mutants[name].get("diff", "")
            if message_text_only(diff):
                verdict, reason = "equivalent", MESSAGE_ONLY
            elif astype_copy_only(diff):
                verdict, reason = "equivalent", ASTYPE_COPY
            elif einsum_case_only(diff):
                verdict, reason = "equivalent", EINSUM_CASE
            else:
                verdict, reason = "not killed yet", reason if verdict == "not killed yet" else ""
        rows.append((name, verdict, reason))
    killed = set(tally.killed)
    for name in before:
        if name in killed:
            test = fixed_by.get(name)
            rows.append((name, f"fixed by {killing_test_id(test, section.name)}" if test else "fixed", ""))
    out = [
        f"# Triage of the surviving mutants of {section.name}",
        "",
        f"Every mutant that survived the before run (before/{section.name}.txt) or survives the current one "
        f"({section.name}.txt), one row each; diffs in survivors/{section.name}.md. Verdicts: *equivalent* (the reason says why "
        "no test can tell it from the reference), *fixed by TEST* (the first test that fails on it now), "
        "*not killed yet*.",
        "",
        "| mutant | verdict | reason |",
        "| --- | --- | --- |",
    ]
    out += [f"| `{n}` | {v} | {r} |" for n, v, r in rows]
    return "\n".join(out) + "\n"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f} %"


def snapshot(section: Section) -> str:
    """The commit the suites were copied at (and whether their files had uncommitted changes), and when."""

    def git(*args):
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "?"

    paths = [str(p.relative_to(REPO)) for p in suites(section)] + [f"solutions/{section.name}"]
    dirty = git("status", "--porcelain", "--", *paths)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{git('rev-parse', '--short', 'HEAD')}{' + uncommitted changes' if dirty else ''}, {when}"


def summary(section: Section, results: dict, seconds: float, tally: Tally) -> str:
    mutants = results["mutants"]
    tested = tally.total - results.get("carried_over", {}).get("count", 0)
    by_status: dict[str, int] = {}
    for entry in mutants.values():
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + 1
    lines = [
        f"section: {section.name}",
        f"tool: {results['tool']}",
        f"mutated: the ### BEGIN/END SOLUTION regions of solutions/{section.name}/{section.module}.py",
        "suites: " + " ".join(str(p.relative_to(REPO)) for p in suites(section)),
        f"suites as of: {results.get('snapshot', '?')}",
        f"mutants: {tally.total}",
        *(f"  {status}: {count}" for status, count in sorted(by_status.items())),
        f"killed: {len(tally.killed)}",
        f"survived: {len(tally.survivors)}",
        f"kill rate: {percent(tally.kill_rate())}",
        f"equivalent (triage/{section.name}.md): {len(tally.equivalent & set(tally.survivors))}",
        f"kill rate of non-equivalent mutants: {percent(tally.kill_rate_non_equivalent())}",
        *(
            [
                f"rechecked: the {tally.total - results['carried_over']['count']} survivors of "
                f"{results['carried_over']['from']} and every mutant of the functions changed since "
                f"({', '.join(results['carried_over'].get('changed', [])) or 'none'}); the kills of its other "
                f"{results['carried_over']['count']} mutants (functions with the same code) are carried over"
            ]
            if "carried_over" in results
            else []
        ),
        f"seconds: {seconds:.0f} ({tested / seconds:.2f} mutants tested/s)",
        "",
        "per function (killed / mutants):",
    ]
    functions: dict[str, list[int]] = {}
    for name in mutants:
        counts = functions.setdefault(function_of(name), [0, 0])
        counts[0] += name in set(tally.killed)
        counts[1] += 1
    width = max((len(f) for f in functions), default=0)
    lines += [f"  {f:<{width}}  {k:>4} / {n:<4}" for f, (k, n) in sorted(functions.items())]
    lines += ["", f"survivors (see survivors/{section.name}.md for the diffs):"]
    lines += [f"  {name}  {mutants[name]['status']}" for name in tally.survivors] or ["  none"]
    return "\n".join(lines) + "\n"


def survivors_markdown(section: Section, results: dict, tally: Tally) -> str:
    mutants = results["mutants"]
    out = [
        f"# Surviving mutants of {section.name}",
        "",
        f"{len(tally.survivors)} of {tally.total} mutants of `solutions/{section.name}/{section.module}.py` "
        f"survive the public and hidden suites ({results['tool']}). Each diff is one mutant; a test that "
        "fails on it (and passes on the reference) kills it.",
        "",
    ]
    current = None
    for name in tally.survivors:
        function = function_of(name)
        if function != current:
            out += [f"## {function}", ""]
            current = function
        out += [
            f"### `{name}` ({mutants[name]['status']})",
            "",
            "```diff",
            mutants[name].get("diff", "").strip(),
            "```",
            "",
        ]
    return "\n".join(out)


def retally(summary_file: Path, triage_file: Path) -> None:
    """Rewrite a summary's two triage lines after the triage file was edited by hand."""
    lines = summary_file.read_text(encoding="utf-8").splitlines()
    total = listed_total(summary_file)
    survivors = set(listed_survivors(summary_file))
    killed = total - len(survivors)
    equivalent = equivalent_mutants(read_triage(triage_file.read_text(encoding="utf-8"))) & survivors
    counted = total - len(equivalent)
    for i, line in enumerate(lines):
        if line.startswith("equivalent (triage/"):
            lines[i] = f"{line.split(':')[0]}: {len(equivalent)}"
        elif line.startswith("kill rate of non-equivalent mutants:"):
            lines[i] = f"kill rate of non-equivalent mutants: {percent(killed / counted if counted else None)}"
    summary_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", action="append", help="a section folder name (repeatable; default: all)")
    parser.add_argument(
        "--summary-dir", type=Path, default=HERE, help="where <section>.txt goes (default: %(default)s)"
    )
    parser.add_argument("--survivors-dir", type=Path, default=HERE / "survivors", help="where <section>.md goes")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--nice", type=int, default=10, help="lower this process's priority by N (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the workspaces (their path is printed)")
    parser.add_argument(
        "--triage",
        action="store_true",
        help="rewrite triage/<section>.md: every survivor (hand-written verdicts kept) and every survivor of "
        "before/<section>.txt killed now, with the first test that fails on it",
    )
    parser.add_argument(
        "--recheck",
        type=Path,
        metavar="DIR",
        help="test only the survivors that DIR/<section>.txt lists and every mutant of the functions whose "
        "code changed since the commit it names; the kills of the unchanged functions carry over (a summary "
        "taken with uncommitted changes, or mutants that do not match it: every mutant is tested)",
    )
    parser.add_argument(
        "--retally",
        action="store_true",
        help="only rewrite the triage lines of the existing summaries (after editing a triage file by hand)",
    )
    args = parser.parse_args(argv)

    sections = {s.name: s for s in all_sections()}
    chosen = args.section or list(sections)
    unknown = [n for n in chosen if n not in sections]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(sections)}")
    if args.retally:
        for name in chosen:
            if (args.summary_dir / f"{name}.txt").is_file() and (TRIAGE / f"{name}.md").is_file():
                retally(args.summary_dir / f"{name}.txt", TRIAGE / f"{name}.md")
        return 0
    if args.nice:
        os.nice(args.nice)
    args.summary_dir.mkdir(parents=True, exist_ok=True)
    args.survivors_dir.mkdir(parents=True, exist_ok=True)

    failed: list[str] = []
    for name in chosen:
        section = sections[name]
        workspace = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
        log_path = workspace / "mutmut.log"
        print(f"{name}: mutating in {workspace} (log: {log_path})", flush=True)
        start = time.monotonic()
        plan = recheck_plan(section, args.recheck / f"{name}.txt") if args.recheck else None
        if args.recheck and plan is None:
            print(f"{name}: {args.recheck / (name + '.txt')} names no commit to compare with; testing every mutant")
        only, unchanged = plan if plan else (None, set())
        taken = snapshot(section)
        try:
            lay_out(section, workspace)
            with log_path.open("w") as log:
                results = run_tool(workspace, args.max_children, log, only)
            results["snapshot"] = taken
        except subprocess.CalledProcessError:
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            print(f"{name}: mutmut failed (workspace kept: {workspace})", file=sys.stderr)
            failed.append(name)
            continue
        seconds = time.monotonic() - start
        statuses = {n: e["status"] for n, e in results["mutants"].items()}
        if only:
            unchecked = [n for n, s in statuses.items() if s == "not checked"]
            before_counts = listed_functions(args.recheck / f"{name}.txt")
            now_counts: dict[str, int] = {}
            for n in statuses:
                now_counts[function_of(n)] = now_counts.get(function_of(n), 0) + 1
            same = all(now_counts.get(f, 0) == before_counts.get(f, -1) for f in unchanged if f in now_counts)
            if not same or any(function_of(n) not in unchanged for n in unchecked):
                print(f"{name}: the mutants differ from {args.recheck}; testing every mutant", flush=True)
                shutil.rmtree(workspace, ignore_errors=True)
                workspace.mkdir()
                lay_out(section, workspace)
                with log_path.open("w") as log:
                    results = run_tool(workspace, args.max_children, log)
                seconds = time.monotonic() - start
                statuses = {n: e["status"] for n, e in results["mutants"].items()}
            else:
                for n in unchecked:
                    statuses[n] = results["mutants"][n]["status"] = "killed"
                results["carried_over"] = {
                    "from": str(args.recheck / f"{name}.txt"),
                    "count": len(unchecked),
                    "changed": sorted({function_of(n) for n in statuses} - unchanged),
                }
        triage_file = TRIAGE / f"{name}.md"
        if args.triage:
            before = listed_survivors(HERE / "before" / f"{name}.txt")
            now_killed = [n for n in before if statuses.get(n) in KILLED]
            with log_path.open("a") as log:
                fixed_by = explain(workspace, now_killed, log)
            TRIAGE.mkdir(exist_ok=True)
            draft = triage_markdown(section, results, Tally(statuses), before, fixed_by)
            triage_file.write_text(draft, encoding="utf-8")
        equivalent = (
            equivalent_mutants(read_triage(triage_file.read_text(encoding="utf-8"))) if triage_file.is_file() else set()
        )
        tally = Tally(statuses, equivalent)
        (args.summary_dir / f"{name}.txt").write_text(summary(section, results, seconds, tally), encoding="utf-8")
        (args.survivors_dir / f"{name}.md").write_text(survivors_markdown(section, results, tally), encoding="utf-8")
        print(
            f"{name}: {tally.total} mutants, {len(tally.killed)} killed, {len(tally.survivors)} survived, "
            f"kill rate {percent(tally.kill_rate())}, non-equivalent {percent(tally.kill_rate_non_equivalent())}, "
            f"{seconds:.0f} s ({tally.total / seconds:.2f} mutants/s)",
            flush=True,
        )
        if args.keep:
            print(f"{name}: workspace kept: {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)
    if failed:
        print(f"mutation run failed for: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
