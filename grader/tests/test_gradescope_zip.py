"""Gradescope's autograder zip (``python -m grader gradescope-zip``): built, unpacked into a folder laid
out like Gradescope's ``/autograder`` (``source/``, ``submission/``, ``results/``), and its
``run_autograder`` run on the reference and on the untouched release of §38."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import run_cli

from grader.points import budgets
from grader.sections import EXERCISES, REPO, SOLUTIONS, all_sections

SEC = "sec38_attention"
SECTION = next(s for s in all_sections() if s.name == SEC)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    proc = run_cli("gradescope-zip", "--out", str(out), "--section", SEC)
    assert proc.returncode == 0, proc.stderr
    return out


def run_autograder(zip_path: Path, root: Path, submit) -> dict:
    """Unpack into ``root/source``, let ``submit(root/submission)`` hand in, run ``run_autograder``."""
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):  # zipfile drops the mode bits; Gradescope keeps them
        mode = zipfile.ZipFile(zip_path).getinfo(name).external_attr >> 16
        (root / "source" / name).chmod(mode & 0o777)
    submit(root / "submission")
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable}  # fmt: skip
    proc = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900, cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(autograder_zip, tmp_path_factory):
    """results.json of the reference (the module file alone, as uploaded) and of the untouched
    release (a student repository's ``exercises/``)."""

    def reference(sub: Path):
        shutil.copy(SECTION.module_file(SOLUTIONS), sub / SECTION.module_file(SOLUTIONS).name)

    def untouched(sub: Path):
        shutil.copytree(EXERCISES / SEC, sub / "exercises" / SEC)

    tmp = tmp_path_factory.mktemp("gradescope")
    return {
        "reference": run_autograder(autograder_zip, tmp / "ref" / "autograder", reference),
        "untouched": run_autograder(autograder_zip, tmp / "stub" / "autograder", untouched),
    }


def test_zip_holds_scripts_hidden_tests_and_no_grader_self_tests(autograder_zip):
    """Oracle: the zip's listing — the two scripts (executable), the hidden suite of §38, the solutions."""
    with zipfile.ZipFile(autograder_zip) as z:
        names = set(z.namelist())
        modes = {n: z.getinfo(n).external_attr >> 16 for n in ("setup.sh", "run_autograder")}
        config = json.loads(z.read("gradescope.json"))
    assert all(m & 0o111 for m in modes.values()), "setup.sh and run_autograder must be executable"
    assert f"grader/hidden/test_{SEC}.py" in names and f"solutions/{SEC}/{SECTION.module}.py" in names
    assert not [n for n in names if n.startswith(("grader/tests/", "grader/mutants/", "grader/mutation/"))]
    assert config["sections"] == [SEC]


def test_setup_installs_the_cpu_build_at_the_pinned_version(autograder_zip):
    """Oracle: requirements.txt (the pin is read from it) and the PyTorch CPU index."""
    setup = zipfile.ZipFile(autograder_zip).read("setup.sh").decode()
    assert "grep -E '^torch==' requirements.txt" in setup
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup
    assert setup.index("download.pytorch.org") < setup.index("-r requirements.txt")
    assert "torch==" in (REPO / "requirements.txt").read_text()


@pytest.mark.parametrize("which", ["reference", "untouched"])
def test_results_json_has_gradescopes_schema(graded, which):
    """Oracle: Gradescope's results.json format — score, and per test name, score, max_score, visibility, output."""
    data = graded[which]
    assert isinstance(data["score"], (int, float)) and data["tests"]
    for t in data["tests"]:
        assert {"name", "score", "max_score", "visibility", "output"} <= set(t), t
        assert t["visibility"] in ("visible", "after_published") and 0 <= t["score"] <= t["max_score"] + 1e-9


def test_reference_gets_full_marks_and_untouched_release_zero(graded):
    """Oracle: grader/points.toml — §38's budget, all of it for the reference, none for the stubs."""
    budget = sum(budgets()[SEC].values())
    assert graded["reference"]["score"] == pytest.approx(budget, rel=1e-9)
    assert graded["reference"]["max_score"] == pytest.approx(budget, rel=1e-9)
    assert graded["untouched"]["score"] == 0
    failing = [t for t in graded["untouched"]["tests"] if t["score"] == 0 and t["max_score"] > 0]
    assert failing and all(t["output"] for t in failing), "a failed test must tell the student why"


def test_hidden_tests_show_after_publishing_and_public_ones_at_once(graded):
    """Oracle: the suites — a test named in tests/test_<section>.py is visible, every other one after_published."""
    public = (REPO / "tests" / f"test_{SEC}.py").read_text(encoding="utf-8")
    tests = graded["reference"]["tests"]
    visible = {t["name"].split(" · ")[-1].split("[")[0] for t in tests if t["visibility"] == "visible"}
    hidden = [t for t in tests if t["visibility"] == "after_published"]
    assert visible and hidden, "expected both public and hidden tests"
    assert all(f"def {name}(" in public for name in visible), "a visible test is not a public test"
