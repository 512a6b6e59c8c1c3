"""The student's install: the CPU build of torch (no CUDA download on Linux) at the exact pin of
``requirements.txt``, in the student README and in the ``grade`` workflow, which caches pip."""

from __future__ import annotations

import re

import pytest
import yaml

from grader.sections import REPO

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"
STUDENT_README = REPO / "grader" / "student_template" / "README.md"


def torch_pin() -> str:
    (pin,) = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines() if ln.startswith("torch")]
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", pin), f"requirements.txt must pin torch exactly, found {pin!r}"
    return pin


def torch_installs(text: str) -> list[str]:
    """Every `pip install` command line of ``text`` that names torch."""
    return [ln.strip() for ln in text.splitlines() if "pip install" in ln and re.search(r"\btorch\b", ln)]


def cpu_torch_install(line: str, pin: str) -> bool:
    """``line`` installs exactly ``pin`` from the CPU index only (``--index-url``, not an extra index)."""
    words = line.split()
    return pin in words and "--index-url" in words and words[words.index("--index-url") + 1] == CPU_INDEX


def grade_steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["grade"]["steps"]


def test_workflow_installs_the_cpu_build_at_the_exact_pin():
    """Oracle: requirements.txt's torch line; the install step must name it and the CPU index."""
    pin = torch_pin()
    runs = "\n".join(s.get("run", "") for s in grade_steps())
    lines = torch_installs(runs)
    assert lines, "grade.yml installs torch in no step"
    assert all(cpu_torch_install(ln, pin) for ln in lines), f"grade.yml must install {pin} from {CPU_INDEX}: {lines}"
    # torch comes before the requirements, so that `-r requirements.txt` finds the CPU build installed
    assert runs.index(lines[0]) < runs.index("-r requirements.txt")


def test_workflow_caches_pip_keyed_on_the_requirements():
    """Oracle: actions/setup-python's inputs `cache: pip` and `cache-dependency-path`."""
    (setup,) = [s for s in grade_steps() if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"].get("cache") == "pip", "setup-python must cache pip"
    assert setup["with"].get("cache-dependency-path") == "requirements.txt"


def test_student_readme_installs_the_cpu_build_first():
    """Oracle: requirements.txt's torch line; the README's quick start installs it from the CPU index
    before the requirements."""
    pin = torch_pin()
    text = STUDENT_README.read_text(encoding="utf-8")
    lines = torch_installs(text)
    assert lines and all(cpu_torch_install(ln, pin) for ln in lines), f"README must install {pin} from {CPU_INDEX}"
    assert text.index(lines[0]) < text.index("-r requirements.txt")


def test_student_tox_installs_the_cpu_build():
    """Oracle: tox's documented way to add an index (set_env PIP_EXTRA_INDEX_URL); the CPU build's local
    version (2.13.0+cpu) ranks above PyPI's 2.13.0, so pip takes it for the pin ``torch==2.13.0``."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "grader" / "student_template" / "tox.ini", encoding="utf-8")
    env = dict(ln.split("=", 1) for ln in ini["testenv"]["set_env"].strip().splitlines() if "=" in ln)
    env = {k.strip(): v.strip() for k, v in env.items()}
    assert env.get("PIP_EXTRA_INDEX_URL", "").rstrip("}").endswith(CPU_INDEX), "student tox.ini: no CPU index"
    # PEP 440 (packaging, as pip uses it): the pin admits the CPU build's local version, which sorts higher
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    public = torch_pin().removeprefix("torch==")
    assert SpecifierSet(f"=={public}").contains(Version(f"{public}+cpu")), "the pin must admit the +cpu build"
    assert Version(f"{public}+cpu") > Version(public), "pip would prefer PyPI's build over the +cpu one"


@pytest.mark.parametrize(
    "line",
    [
        "python -m pip install torch --index-url https://download.pytorch.org/whl/cpu",  # no pin
        "python -m pip install torch==2.13.0",  # PyPI's CUDA build
        "python -m pip install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu",
        "python -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu121",
    ],
)
def test_the_install_check_rejects_other_installs(line):
    """The check above fails on an unpinned, a CUDA or an extra-index install."""
    assert not cpu_torch_install(line, "torch==2.13.0")
