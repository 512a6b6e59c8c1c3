"""Benchmark: the per-section time budget of sandboxed grading.

    python benchmarks/bench_time_budget.py --update      # measure the reference, write grader/time_budget.json
    python benchmarks/bench_time_budget.py               # grade a submission that sleeps in every function
    python benchmarks/bench_time_budget.py --busy --section sec38_attention

``--update`` grades ``solutions/`` sandboxed, section by section, with the public tests and with
public + hidden tests, without a budget, and records the worker time of all calls divided by the
load factor seen (see ``grader.sandbox.pool.load_factor``; median of ``--repeat`` runs) in
``grader/time_budget.json``; the budget is ``factor`` × that, at least
``minimum_seconds`` (see ``grader.sandbox.pool.time_budget``).

Without ``--update`` it builds a copy of the solutions in which every function first sleeps (or
with ``--busy`` spins) just under the per-call limit, grades it section by section with the hidden
tests and prints, per section, the wall time of the grading run next to the section's budget and
what the same submission would cost without a budget (its number of calls × the per-call limit).
Not a test: timings depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.run import run_section, split_suites  # noqa: E402
from grader.sandbox.pool import SPLIT_PARTS, TIME_BUDGET_FILE, time_budget  # noqa: E402
from grader.sections import HIDDEN_TESTS, PUBLIC_TESTS, SOLUTIONS, Section, all_sections  # noqa: E402

SLOW_TAIL = """

# --- every function of the module first waits (benchmark of the time budget) ---
import functools as _bench_functools
import time as _bench_time


def _bench_slow(fn):
    @_bench_functools.wraps(fn)
    def slow(*args, **kwargs):
        end = _bench_time.monotonic() + {seconds}
        while {busy} and _bench_time.monotonic() < end:
            pass
        if not {busy}:
            _bench_time.sleep({seconds})
        return fn(*args, **kwargs)

    return slow


for _bench_name, _bench_value in list(globals().items()):
    if type(_bench_value) is type(_bench_slow) and _bench_value.__module__ == __name__ and _bench_name[0] != "_":
        globals()[_bench_name] = _bench_slow(_bench_value)
"""


def slow_submission(dst: Path, seconds: float, busy: bool) -> Path:
    """A copy of the solutions whose every public function sleeps (or spins) ``seconds`` first."""
    shutil.copytree(SOLUTIONS, dst, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", ".ipynb_checkpoints"))
    for section in all_sections():
        path = section.module_file(dst)
        if path.is_file():
            path.write_text(
                path.read_text(encoding="utf-8") + SLOW_TAIL.format(seconds=seconds, busy=busy), encoding="utf-8"
            )
    return dst


def fingerprint() -> str:
    """What the measurement depends on: the tests and the reference solutions."""
    digest = hashlib.sha256()
    files = [*PUBLIC_TESTS.glob("test_sec*.py"), *HIDDEN_TESTS.glob("*.py"), *SOLUTIONS.glob("sec*/*.py")]
    for path in sorted(files):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def measure(section: Section, hidden: bool, files=None) -> tuple[float, float]:
    """(worker seconds of all calls / the load factor seen, wall seconds of the run) of the
    reference, without a budget (``files``: only these suites)."""
    outcome = run_section(section, "sandbox:solutions", hidden=hidden, env={"COURSE_TIME_BUDGET": "1e9"}, files=files)
    failed = [r["name"] for r in outcome.records if r["status"] not in ("passed", "skipped")]
    if failed or outcome.problems:
        sys.exit(f"{section.name}: the reference does not pass its tests: {failed[:3]} {outcome.problems[:2]}")
    facts = outcome.sandbox["time_budget"]
    # on a busy machine, the time an idle one would have taken (the grader multiplies it back)
    return float(facts["used"]) / float(facts.get("load_factor") or 1.0), outcome.seconds


def merge_larger(old: dict, new: dict) -> dict:
    """Per section and suites, the larger of two measurements (``--keep-larger``: a busy machine's
    normalised time can underestimate an idle one's, and a budget too small fails right answers)."""
    merged = {**new, "sections": {}}
    for name in sorted(set(old.get("sections", {})) | set(new.get("sections", {}))):
        a, b = old.get("sections", {}).get(name, {}), new.get("sections", {}).get(name, {})
        merged["sections"][name] = {k: max(v for v in (a.get(k), b.get(k)) if v is not None) for k in sorted({*a, *b})}
    return merged


def update(sections: list[Section], repeat: int, keep_larger: bool = False) -> None:
    old = json.loads(TIME_BUDGET_FILE.read_text(encoding="utf-8")) if TIME_BUDGET_FILE.is_file() else {}
    data = {
        "about": "worker seconds of all sandboxed calls of the reference solutions per section and suites "
        "(public, all = public + hidden; main and training: the hidden training suites and the rest, for a section "
        "that has them): the time budget is factor x this, at least minimum_seconds (a part: its share of it). "
        "Written by benchmarks/bench_time_budget.py --update.",
        "factor": old.get("factor", 3.0),
        "minimum_seconds": old.get("minimum_seconds", 10.0),
        "fingerprint": fingerprint(),
        "load_average": round(os.getloadavg()[0], 2),
        "sections": dict(old.get("sections", {})),
    }
    for section in sections:
        row = {}
        rest, training = split_suites(section)
        runs_of = [("public", False, None), ("all", True, None)]
        if training:  # the two parts a section may be graded in (grader.grade.section_parts)
            runs_of += [(name, True, files) for name, files in zip(SPLIT_PARTS, (rest, training))]
        for suites, hidden, files in runs_of:
            runs = [measure(section, hidden, files) for _ in range(repeat)]
            row[suites] = round(statistics.median(r[0] for r in runs), 3)
            print(f"{section.name:24} {suites:6} calls {row[suites]:7.2f} s  (wall {runs[0][1]:.1f} s)", flush=True)
        data["sections"][section.name] = row
    data["sections"] = dict(sorted(data["sections"].items()))
    if keep_larger:
        data = merge_larger(old, data)
    TIME_BUDGET_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TIME_BUDGET_FILE.relative_to(REPO)}")


def hostile(sections: list[Section], call_timeout: float, busy: bool) -> None:
    seconds = round(call_timeout * 0.95, 2)
    kind = "spins" if busy else "sleeps"
    print(f"every function {kind} {seconds:g} s; per-call limit {call_timeout:g} s; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        root = slow_submission(Path(tmp) / "sub", seconds, busy)
        total = 0.0
        for section in sections:
            outcome = run_section(
                section, f"sandbox:{root}", hidden=True, env={"COURSE_CALL_TIMEOUT": str(call_timeout)}
            )
            total += outcome.seconds
            facts = outcome.sandbox.get("time_budget", {})
            points = sum(float(r["points"]) for r in outcome.records if r["status"] == "passed")
            tests = len(outcome.records)
            print(
                f"{section.name:24} graded in {outcome.seconds:6.1f} s; budget {facts.get('seconds') or math.inf:6.1f} s "
                f"(idle machine: {time_budget(section, 'all')[0]:.1f} s; load factor {facts.get('load_factor', 1):.1f}; "
                f"calls used {facts.get('used', math.nan):.1f} s, used up: {facts.get('used_up')}); {tests} tests, "
                f"points of passed tests {points:g}; without a budget up to ~{tests * call_timeout:.0f} s",
                flush=True,
            )
        print(f"total {total:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="measure the reference and write the budget file")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (the median is kept)")
    parser.add_argument("--keep-larger", action="store_true", help="with --update: keep the larger of old and new")
    parser.add_argument("--section", action="append", default=[], help="only these sections (repeatable)")
    parser.add_argument("--call-timeout", type=float, default=60.0, help="per-call limit of the hostile run")
    parser.add_argument("--busy", action="store_true", help="spin instead of sleeping")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sections = [Section(s) for s in args.section] if args.section else all_sections()
    if args.update:
        update(sections, args.repeat, args.keep_larger)
    else:
        hostile(sections, args.call_timeout, args.busy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
