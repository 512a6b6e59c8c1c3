"""Gradescope's autograder: ``python -m grader gradescope-zip --out autograder.zip``.

The zip holds what Gradescope unpacks into ``/autograder/source``: ``setup.sh`` (run once when the
image is built: Python 3.11, the CPU build of torch and the pinned ``requirements.txt`` in a venv),
``run_autograder`` (run for every submission), ``gradescope.json`` (the sections graded, the seed,
whether to grade without the sandbox's filesystem view) and the course itself — the grader with its
**hidden tests**, the reference solutions, the public tests. Students never see the source folder;
their code runs in the grader's sandbox (its own uid and filesystem view, so it cannot read it either).

``run_autograder`` grades ``/autograder/submission`` with the public and hidden tests and writes
``/autograder/results/results.json`` in Gradescope's format (:mod:`grader.report.gradescope`: one
entry per test, hidden tests ``after_published``, public ones ``visible``). A submission may be a
student repository, a folder laid out like ``exercises/``, or the module files alone (uploaded one
by one: each ``<module>.py`` found is graded in its section; a module not handed in scores 0).
``$AUTOGRADER_ROOT`` (default ``/autograder``) and ``$AUTOGRADER_PYTHON`` move the paths for a local run.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.sections import REPO, all_sections

CONFIG = "gradescope.json"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
INCLUDED = ["grader", "solutions", "tests", "exercises", "conftest.py", "pyproject.toml", "requirements.txt"]
GRADER_LEFT_OUT = {"tests", "mutants", "mutation", "student_template"}
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
if ! command -v python3.11 >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi
python3.11 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
# the CPU build of torch (no CUDA download), at the pin of requirements.txt
/autograder/venv/bin/python -m pip install --quiet "$(grep -E '^torch==' requirements.txt)" --index-url {cpu_index}
/autograder/venv/bin/python -m pip install --quiet -r requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into /autograder/results.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" OMP_NUM_THREADS=1 MPLBACKEND=Agg \\
    exec "${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}" -m grader.gradescope_zip run
"""


def _files(sections: list[str] | None) -> list[tuple[Path, str]]:
    """(file, name in the zip) of the course part of the zip."""
    out = []
    for name in INCLUDED:
        src = REPO / name
        if src.is_file():
            out.append((src, name))
            continue
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(REPO)
            if not path.is_file() or SKIPPED & set(rel.parts) or path.suffix == ".pyc":
                continue
            if rel.parts[0] == "grader" and len(rel.parts) > 2 and rel.parts[1] in GRADER_LEFT_OUT:
                continue
            out.append((path, rel.as_posix()))
    return out


def build_zip(out: Path, *, sections: list[str] | None = None, seed: int = 0, trusted: bool = False) -> int:
    """Write the autograder zip; returns the number of files in it."""
    known = {s.name for s in all_sections()} | {s.module for s in all_sections()}
    unknown = sorted(set(sections or []) - known)
    if unknown:
        raise ValueError(f"unknown section(s): {', '.join(unknown)}")
    config = {"sections": sections or [], "seed": seed, "trusted": trusted}
    scripts = {"setup.sh": SETUP_SH.replace("{cpu_index}", CPU_INDEX), "run_autograder": RUN_AUTOGRADER}
    files = _files(sections)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
        z.writestr(CONFIG, json.dumps(config, indent=1) + "\n")
        for path, name in files:
            z.write(path, name)
    return len(files) + len(scripts) + 1


# ---------------------------------------------------------------- inside Gradescope


def submission_folder(submission: Path, work: Path) -> Path:
    """What to grade: the submission itself when it holds a repository or the section folders,
    else a copy of the released stubs with every ``<module>.py`` found in the submission put in its section."""
    submission = Path(submission)
    sections = all_sections()
    for candidate in (submission, submission / "exercises"):
        if any((candidate / s.name).is_dir() for s in sections):
            return submission
    inner = [p for p in submission.iterdir() if p.is_dir()] if submission.is_dir() else []
    if len(inner) == 1 and any((inner[0] / "exercises" / s.name).is_dir() for s in sections):
        return inner[0]  # a repository uploaded as one folder
    layout = work / "exercises"
    for s in sections:
        stub = s.module_file(REPO / "exercises")
        target = s.module_file(layout)
        target.parent.mkdir(parents=True, exist_ok=True)
        found = sorted(submission.rglob(stub.name)) if submission.is_dir() else []
        shutil.copy(found[0] if found else stub, target)
    return layout


def _failure(message: str) -> dict:
    return {"score": 0.0, "output": message, "output_format": "text", "visibility": "visible", "tests": []}


def run() -> int:
    from grader.collect import GradingError
    from grader.grade import UnsafeGrading, grade
    from grader.report.gradescope import render_gradescope

    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads((REPO / CONFIG).read_text(encoding="utf-8")) if (REPO / CONFIG).is_file() else {}
    seed_env = os.environ.get("COURSE_GRADING_SEED", "")
    seed, secret = (int(seed_env), True) if seed_env else (int(config.get("seed", 0)), False)
    with tempfile.TemporaryDirectory() as work:
        try:
            target = submission_folder(root / "submission", Path(work))
            result = grade(target, jobs=2, seed=seed, hidden=True, only=config.get("sections") or None,
                           trusted=bool(config.get("trusted")))  # fmt: skip
            if secret:
                result.seed = None
            data = render_gradescope(result)
        except UnsafeGrading as e:
            data = _failure(f"The autograder refused to run the hidden tests here: {e} "
                            "(the instructor can rebuild the zip with --trusted).")  # fmt: skip
        except (GradingError, OSError) as e:
            data = _failure(f"The submission could not be graded: {e}")
        except Exception as e:  # noqa: BLE001 - Gradescope shows nothing useful without a results.json
            data = _failure(f"The autograder failed ({type(e).__name__}); please tell the course staff.")
    results.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {results}: {data['score']:g} points")
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["run"]:
    sys.exit(run())
