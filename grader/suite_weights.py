"""How an exercise's budget is shared between its public and its hidden tests, known without the
hidden tests: ``grader/suite_weights.json`` holds, per section and exercise, the summed weights of
the public and of the hidden tests (the markers' ``points``, one per parametrised case).

A student's repository has no hidden tests, so without this table the public tests would share the
whole budget and a local grade would look like the official one. With it, a public-only grade
gives each public test the share it has in the official grade: the student sees *public a / b of
the exercise's budget c*. ``python -m grader release`` rewrites the table with the exercises (alone:
``python -m grader.suite_weights``), ``release --check`` (``tox -e lint``) and
``grader/tests/test_judge.py`` fail when it does not match the suites.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

WEIGHTS_FILE = Path(__file__).resolve().parent / "suite_weights.json"


@functools.cache
def table() -> dict[str, dict[str, dict[str, float]]]:
    """Section → exercise → {"public": weight, "hidden": weight} (empty when the file is missing)."""
    try:
        return json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def hidden_weight(section: str, exercise: str) -> float:
    """The summed weight of the exercise's hidden tests (0 when the table does not know it)."""
    return float(table().get(section, {}).get(exercise, {}).get("hidden", 0.0))


def collect_records() -> list[dict]:
    """One record per test of every public and hidden suite, from a real pytest collection."""
    from grader.run import child_env, suite_files
    from grader.sections import REPO, all_sections

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "records.json"
        files = [str(f) for section in all_sections() for f in suite_files(section, hidden=True)]
        cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(REPO),
               "--collect-only", "-q", "--impl=solutions", f"--results-json={out}", *files]  # fmt: skip
        proc = subprocess.run(cmd, cwd=tmp, env=child_env(), capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        return json.loads(out.read_text(encoding="utf-8"))


def render(weights: dict) -> str:
    """One line per exercise, sections and exercises sorted (a small diff when a test is added)."""
    lines = []
    for s in sorted(weights):
        rows = [f'  "{e}": {json.dumps(weights[s][e], sort_keys=True)}' for e in sorted(weights[s])]
        lines.append(f' "{s}": {{\n' + ",\n".join(rows) + "\n }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def current() -> dict[str, dict[str, dict[str, float]]]:
    """The weights as the suites give them now (rounded to 1e-9: sums of thirds and tenths)."""
    from grader import points

    weights = points.suite_weights(collect_records())
    return {s: {e: {k: round(v, 9) + 0.0 for k, v in w.items()} for e, w in ex.items()} for s, ex in weights.items()}


def sync(check: bool = False) -> bool:
    """Rewrite the table from the suites (or, with ``check``, only compare). True when the file
    differed from what the suites give."""
    text = render(current())
    stale = not WEIGHTS_FILE.is_file() or WEIGHTS_FILE.read_text(encoding="utf-8") != text
    if stale and not check:
        WEIGHTS_FILE.write_text(text, encoding="utf-8")
        table.cache_clear()
    return stale


def main() -> int:
    sync()
    print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
