"""The pure parts of the mutation check (grader/mutation/): only the solution regions are mutated,
the mutated copy answers to the name the mutation tool gave it, and results and triage files are
counted as documented. The oracle of each test is named in its docstring."""

from __future__ import annotations

import sys
import textwrap

import pytest

from grader.mutation.regions import (
    RegionError,
    Tally,
    add_naming_header,
    equivalent_mutants,
    function_of,
    lines_outside_regions,
    read_triage,
    solution_regions,
)
from grader.sections import SOLUTIONS, all_sections
from grader.targets import load_module_file

SAMPLE = textwrap.dedent(
    '''\
    """Doc."""

    from __future__ import annotations

    import math


    def given(x):
        return x + 1


    def student(x, y=2):
        """Docstring stays."""
        x = given(x)
        ### BEGIN SOLUTION
        if x > 0:
            return math.sqrt(x) * y
        return -x
        ### END SOLUTION


    class Model:
        def forward(self, x):
            ### BEGIN SOLUTION
            return x * 3
            ### END SOLUTION
    '''
)


def numbered(source: str, text: str) -> int:
    """1-based number of the first line of ``source`` that contains ``text``."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def test_regions_are_the_lines_between_the_markers():
    """Oracle: the line numbers of SAMPLE's markers, found by text search."""
    first = (numbered(SAMPLE, "if x > 0"), numbered(SAMPLE, "return -x"))
    second = (numbered(SAMPLE, "return x * 3"),) * 2
    assert solution_regions(SAMPLE) == [first, second]


def test_outside_lines_are_every_other_line_markers_included():
    """Oracle: the complement of the region lines in 1..len(lines)."""
    outside = lines_outside_regions(SAMPLE)
    inside = {n for a, b in solution_regions(SAMPLE) for n in range(a, b + 1)}
    assert outside | inside == set(range(1, len(SAMPLE.splitlines()) + 1))
    assert not outside & inside
    for text in ("### BEGIN SOLUTION", "### END SOLUTION", "def student", "x = given(x)", "return x + 1"):
        assert numbered(SAMPLE, text) in outside, f"{text!r} must not be mutated"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1\n",
        "x = 1\n### END SOLUTION\n",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
    ],
    ids=["never-closed", "end-without-begin", "nested"],
)
def test_unpaired_markers_are_refused(source):
    """Oracle: the marker contract (BEGIN and END alternate, starting with BEGIN)."""
    with pytest.raises(RegionError):
        solution_regions(source)


@pytest.mark.parametrize("section", [s.name for s in all_sections()])
def test_every_section_module_has_regions(section):
    """Oracle: the release step's contract — each section module holds solution regions (the
    driver refuses a section without one, which would otherwise score 100 % with no mutant)."""
    path = next(s for s in all_sections() if s.name == section).module_file(SOLUTIONS)
    assert solution_regions(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "source",
    [SAMPLE, SAMPLE.replace('"""Doc."""\n\n', ""), "import os\n\n\ndef f():\n    return os.sep\n"],
    ids=["docstring-and-future", "future-only", "plain"],
)
def test_naming_header_renames_the_module_and_keeps_line_numbers(source, tmp_path):
    """Oracle: the course's own loader (grader.targets.load_module_file) — after loading, the
    functions' ``__module__`` is the tool's name, that name is in ``sys.modules``, and each
    function starts on the line it started on in the original."""
    name = "secXX_sample.sample"
    path = tmp_path / "sample.py"
    path.write_text(add_naming_header(source, name), encoding="utf-8")
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(source.splitlines())
    try:
        module = load_module_file(path, "sample")
        functions = [v for v in vars(module).values() if callable(v) and getattr(v, "__code__", None)]
        assert functions
        for function in functions:
            assert function.__module__ == name
            assert function.__code__.co_firstlineno == numbered(source, f"def {function.__name__}(")
        assert sys.modules[name] is module
    finally:
        for key in [k for k, v in sys.modules.items() if getattr(v, "__file__", None) == str(path)]:
            del sys.modules[key]


def test_naming_header_before_a_compound_statement_adds_one_line(tmp_path):
    """Oracle: Python's grammar (no ``;`` before ``def``) — the header gets a line of its own."""
    source = '"""Doc."""\n\n\ndef f():\n    return 1\n'
    changed = add_naming_header(source, "secXX_sample.other")
    assert len(changed.splitlines()) == len(source.splitlines()) + 1
    namespace = {"__name__": "loader_name", "__spec__": None}
    exec(compile(changed, "other.py", "exec"), namespace)
    assert namespace["f"].__module__ == "secXX_sample.other"


def test_kill_rates_count_timeouts_as_killed_and_leave_out_equivalents():
    """Oracle: hand count of the statuses below (3 killed of 5; 1 equivalent survivor)."""
    statuses = {
        "a.b.x_f__mutmut_1": "killed",
        "a.b.x_f__mutmut_2": "timeout",
        "a.b.x_f__mutmut_3": "survived",
        "a.b.x_g__mutmut_1": "no tests",
        "a.b.x_g__mutmut_2": "segfault",
    }
    tally = Tally(statuses, equivalent={"a.b.x_f__mutmut_3", "a.b.x_f__mutmut_1"})
    assert tally.kill_rate() == pytest.approx(3 / 5, rel=1e-12)
    # a killed mutant marked equivalent by mistake does not shrink the count
    assert tally.kill_rate_non_equivalent() == pytest.approx(3 / 4, rel=1e-12)
    assert tally.survivors == ["a.b.x_f__mutmut_3", "a.b.x_g__mutmut_1"]


def test_triage_rows_need_a_reason_to_count_as_equivalent():
    """Oracle: the triage format documented in grader/mutation/triage/README.md."""
    text = textwrap.dedent(
        """\
        | mutant | verdict | reason |
        | --- | --- | --- |
        | `s.m.x_f__mutmut_1` | equivalent | only the wording of an error message changes |
        | `s.m.x_f__mutmut_2` | equivalent |  |
        | `s.m.xǁModelǁforward__mutmut_3` | fixed by tests/test_s.py::test_f | |
        | `s.m.x_g__mutmut_4` | not killed yet | |
        """
    )
    rows = read_triage(text)
    assert set(rows) == {"s.m.x_f__mutmut_1", "s.m.x_f__mutmut_2", "s.m.xǁModelǁforward__mutmut_3", "s.m.x_g__mutmut_4"}
    assert equivalent_mutants(rows) == {"s.m.x_f__mutmut_1"}


def test_function_of_a_mutant_name():
    """Oracle: mutmut's naming (``x_<function>`` and ``xǁ<class>ǁ<method>``)."""
    assert function_of("sec39_attention_math.attention_math.x_softmax__mutmut_12") == "softmax"
    assert function_of("sec40_transformer.transformer.xǁBlockǁforward__mutmut_3") == "Block.forward"


# --- with the mutation tool installed (tox -e mutation) ------------------------------------------


def mutated_lines(module, mutations) -> list[set[int]]:
    """For each mutation, the lines of the source that its original node spans."""
    import libcst

    positions = libcst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(libcst.metadata.PositionProvider)
    return [
        set(range(positions[m.original_node].start.line, positions[m.original_node].end.line + 1)) for m in mutations
    ]


@pytest.fixture
def file_mutation(tmp_path, monkeypatch):
    """mutmut's mutation step, configured as the driver configures it (in a scratch folder)."""
    file_mutation = pytest.importorskip("mutmut.mutation.file_mutation")
    from mutmut.configuration import reset_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["src"]\n', encoding="utf-8")
    reset_config()
    yield file_mutation
    reset_config()


@pytest.mark.parametrize("source_name", ["SAMPLE", "sec39_attention_math"])
def test_the_tool_mutates_only_inside_regions(source_name, file_mutation, monkeypatch):
    """Oracle: the source positions (libcst) of each mutated node — every one lies inside a
    solution region, and every region line that holds code is mutated at least once."""
    from grader.mutation.engine import regions_only

    if source_name == "SAMPLE":
        source = SAMPLE
    else:
        source = (SOLUTIONS / source_name / "attention_math.py").read_text(encoding="utf-8")
    monkeypatch.setattr(file_mutation, "get_ignored_lines", regions_only(file_mutation.get_ignored_lines))
    module, mutations, _, _ = file_mutation.create_mutations("sample.py", source)
    inside = {n for a, b in solution_regions(source) for n in range(a, b + 1)}
    assert mutations
    touched = set()
    for lines in mutated_lines(module, mutations):
        assert lines <= inside, f"mutated outside the solution regions: lines {sorted(lines - inside)}"
        touched |= lines
    if source_name == "SAMPLE":
        assert touched == inside


def test_without_the_wrapper_the_tool_would_mutate_given_code(file_mutation):
    """Oracle: the same positions as above on mutmut's own line filter — it mutates outside the regions
    (the given ``return x + 1``), so the test above can fail."""
    module, mutations, _, _ = file_mutation.create_mutations("sample.py", SAMPLE)
    inside = {n for a, b in solution_regions(SAMPLE) for n in range(a, b + 1)}
    outside = set().union(*mutated_lines(module, mutations))
    assert numbered(SAMPLE, "return x + 1") in outside - inside


def one_line_diff(before: str, after: str) -> str:
    return f"--- a.py\n+++ a.py\n@@ -1,1 +1,1 @@\n-{before}\n+{after}\n"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ('    raise ValueError(f"x has shape {x.shape}")', '    raise ValueError(f"XXx has shape {x.shape}XX")', True),
        ('    raise ValueError("bad mask")', '    raise ValueError("XXbad maskXX")', True),
        # the message must name the argument: casing can lose the name
        ('    raise ValueError("bad mask")', '    raise ValueError("BAD MASK")', False),
        # a formatted value changes: building the message can fail differently (1-D h, h.shape[1])
        ('    raise ValueError(f"D = {h.shape[-1]}")', '    raise ValueError(f"D = {h.shape[+1]}")', False),
        ('    raise ValueError("bad mask")', "    raise ValueError(None)", False),
        ('    raise ValueError("bad mask")', '    raise TypeError("bad mask")', False),
        ("    return x * 2", "    return x * 3", False),
    ],
    ids=[
        "fstring-text",
        "plain-text",
        "upper-case",
        "formatted-value",
        "message-dropped",
        "other-exception",
        "not-a-raise",
    ],
)
def test_message_text_only_is_literal_text_of_a_raise(before, after, expected):
    """Oracle: the rule stated in message_text_only's docstring, applied by hand to each pair."""
    from grader.mutation.regions import message_text_only

    assert message_text_only(one_line_diff(before, after)) is expected


def test_listed_survivors_and_total_read_back_a_written_summary(tmp_path):
    """Oracle: the summary written by the driver itself — reading it back gives the same
    survivors and count (the --recheck and --triage runs rely on it)."""
    from grader.mutation.__main__ import listed_survivors, listed_total, summary
    from grader.sections import Section

    statuses = {"s.m.x_f__mutmut_1": "killed", "s.m.x_f__mutmut_2": "survived", "s.m.x_g__mutmut_1": "no tests"}
    results = {"tool": "mutmut", "mutants": {n: {"status": s} for n, s in statuses.items()}}
    path = tmp_path / "sec39_attention_math.txt"
    path.write_text(summary(Section("sec39_attention_math"), results, 10.0, Tally(statuses)), encoding="utf-8")
    assert listed_survivors(path) == ["s.m.x_f__mutmut_2", "s.m.x_g__mutmut_1"]
    assert listed_total(path) == 3


def test_killing_test_ids_are_repository_paths():
    """Oracle: the workspace layout (tests/public = tests/, tests/hidden = grader/hidden/)."""
    from grader.mutation.regions import killing_test_id

    assert killing_test_id("tests/hidden/test_s.py::test_a[x]", "s") == "grader/hidden/test_s.py::test_a[x]"
    assert killing_test_id("tests/public/test_s.py::test_b", "s") == "tests/test_s.py::test_b"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("    return out.astype(dt, copy=False), w", "    return out.astype(dt, copy=True), w", True),
        ("    return out.astype(dt, copy=False), w", "    return out.astype(dt, ), w", True),
        ("    return out.astype(dt, copy=False), w", "    return out.astype(None, copy=False), w", False),
        ("    return out.astype(dt, copy=False), w", "    return out.astype(dt, copy=False), None", False),
    ],
    ids=["copy-true", "copy-dropped", "dtype-changed", "other-change"],
)
def test_astype_copy_only(before, after, expected):
    """Oracle: the rule of astype_copy_only's docstring, applied by hand to each pair."""
    from grader.mutation.regions import astype_copy_only

    assert astype_copy_only(one_line_diff(before, after)) is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ('    s = np.einsum("bnd,bd->bn", k, q)', '    s = np.einsum("BND,BD->BN", k, q)', True),
        ('    s = np.einsum("bnd,bd->bn", k, q)', '    s = np.einsum("XXbnd,bd->bnXX", k, q)', False),
        ('    s = np.einsum("bnd,bd->bn", k, q)', '    s = np.einsum("bnd,bd->bn", q, k)', False),
        ('    s = f("ab", k)', '    s = f("AB", k)', False),
    ],
    ids=["upper", "xx", "operands-swapped", "not-einsum"],
)
def test_einsum_case_only(before, after, expected):
    """Oracle: einsum's documented rule that subscripts are letters (any case), applied by hand."""
    from grader.mutation.regions import einsum_case_only

    assert einsum_case_only(one_line_diff(before, after)) is expected


def test_function_sources_ignore_position_but_see_any_code_change():
    """Oracle: the recheck's rule — a function keeps its mutants exactly when its code is the same."""
    from grader.mutation.regions import function_sources

    moved = "\n\n" + SAMPLE.replace("import math\n", "import math\nK = 3\n")
    changed = SAMPLE.replace("return x + 1", "return x + 2")
    same, other = function_sources(SAMPLE), function_sources(moved)
    assert same == other, "moving a function (blank lines, a new constant above it) must not count as a change"
    diff = function_sources(changed)
    assert {f for f in same if same[f] != diff[f]} == {"given"}
    redoc = function_sources(SAMPLE.replace('"""Docstring stays."""', '"""Another docstring."""'))
    assert redoc == same, "a docstring is not code: the tool numbers no mutant in it"


def test_mutant_pattern_matches_only_its_functions_mutants():
    """Oracle: fnmatch, as the mutation tool applies the names it is given."""
    import fnmatch

    from grader.mutation.regions import function_of, mutant_pattern

    pattern = mutant_pattern("sec39_attention_math.attention_math", "softmax")
    names = [
        "sec39_attention_math.attention_math.x_softmax__mutmut_1",
        "sec39_attention_math.attention_math.x_softmax__mutmut_12",
        "sec39_attention_math.attention_math.x_softmax_attention__mutmut_1",
    ]
    assert [n for n in names if fnmatch.fnmatch(n, pattern)] == names[:2]
    method = mutant_pattern("sec42_gpt.gpt", "Router.forward")
    assert fnmatch.fnmatch("sec42_gpt.gpt.xǁRouterǁforward__mutmut_3", method)
    assert function_of("sec42_gpt.gpt.xǁRouterǁforward__mutmut_3") == "Router.forward"


def test_recheck_reads_the_summary_commit_and_function_counts(tmp_path):
    """Oracle: the summary format this driver writes (grader/mutation/<section>.txt)."""
    from grader.mutation.__main__ import listed_commit, listed_functions

    summary = tmp_path / "s.txt"
    summary.write_text(
        "section: x\nsuites as of: abc1234, 2026-12-02 00:49 UTC\nmutants: 5\n\nper function (killed / mutants):\n"
        "  f     3 / 4   \n  g     1 / 1   \n\nsurvivors (see …):\n  m.x_f__mutmut_2  survived\n",
        encoding="utf-8",
    )
    assert listed_commit(summary) == "abc1234"
    assert listed_functions(summary) == {"f": 4, "g": 1}
    summary.write_text("suites as of: abc1234 + uncommitted changes, 2026\n", encoding="utf-8")
    assert listed_commit(summary) is None
