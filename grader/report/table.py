"""Terminal report: a table section → exercise → points, then what failed and why."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.messages import t
from grader.report.escape import log_text
from grader.results import GradeResult


def _pts(x: float) -> str:
    return f"{x:g}"


def _share(x: float) -> str:
    """A public share of a budget (a fraction of it): two decimals are enough to read."""
    return f"{round(x, 2):g}"


def score_text(score: float, max_score: float, official: float) -> str:
    """``3.5/4``, or ``1/2 (配点 6)`` when the tests here carry only part of the official maximum
    (a public-only grade)."""
    if official > max_score:
        return t("cell.public_of", score=_share(score), max=_share(max_score), budget=_pts(official))
    return f"{_pts(score)}/{_pts(max_score)}"


def points_cell(ex, markup: bool = False) -> str:
    """An exercise's points as a report shows them: ``3.5/4`` (public-only: ``1/2 (配点 6)``);
    a bonus exercise ``ボーナス (bonus, 0 点)``."""
    if ex.bonus:
        return t("cell.bonus")
    text = score_text(ex.score, ex.max_score, ex.official_max)
    if markup:
        style = "green" if ex.score == ex.max_score else ("yellow" if ex.score else "red")
        return f"[{style}]{text}[/]"
    mark = "✅" if ex.score == ex.max_score else ("🟡" if ex.score else "❌")
    return f"{mark} {text}"


def points_line(result: GradeResult) -> str:
    """GitHub Classroom-style summary line; a public-only grade says so and names the official maximum."""
    if result.public_only:
        return t(
            "points_line.public",
            score=_share(result.score),
            max=_share(result.max_score),
            budget=_pts(result.official_max),
        )
    return f"Points {_pts(result.score)}/{_pts(result.max_score)}"


def public_only_line(result: GradeResult) -> str:
    """One line: the points are the public tests' share; the hidden tests grade the rest."""
    rest = result.official_max - result.max_score
    return t(
        "summary.public_only", score=_share(result.score), max=_share(result.max_score),
        budget=_pts(result.official_max), rest=_share(rest),
    )  # fmt: skip


def sandbox_line(result: GradeResult) -> str:
    from grader.results import protection_summary

    p = protection_summary(result)
    if not p:
        return "Sandboxed (no worker was started)."
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    return (
        f"Sandboxed: separate uid {yes(p['separate_uid'])}, grader files readable {yes(p['grader_files_readable'])}, "
        f"network {p['network']}, PID namespace {yes(p['pid_namespace'])}, limits "
        + ", ".join(f"{k}={v}" for k, v in p["limits"].items())
    )


def print_table(
    result: GradeResult, console: Console | None = None, details: bool = True, verbose: bool = False
) -> None:
    """The table, the problems, what failed and why, and the ``Points`` line; ``verbose`` adds
    the sandbox's limits (always in the JSON report)."""
    console = console or Console()
    console.print(t("table.title", target=log_text(result.target, 200)), markup=False, highlight=False, soft_wrap=True)
    table = Table(show_lines=False)
    table.add_column(t("col.section"))
    table.add_column(t("col.exercise"))
    table.add_column(t("col.public_points") if result.public_only else t("col.points"), justify="right")
    table.add_column(t("col.passed"), justify="right")
    for section in result.sections:
        first = True
        for ex in section.exercises:
            table.add_row(
                section.name if first else "", ex.name, points_cell(ex, markup=True), f"{ex.passed}/{ex.total}"
            )
            first = False
        table.add_row(
            "",
            f"[bold]{t('row.section_total', section=section.name)}[/]",
            f"[bold]{score_text(section.score, section.max_score, section.official_max)}[/]",
            "",
            end_section=True,
        )
    total = score_text(result.score, result.max_score, result.official_max)
    table.add_row(f"[bold]{t('row.total')}[/]", "", f"[bold]{total}[/]", "")
    console.print(table)
    for section in result.sections:
        for problem in section.problems:
            console.print(
                f"! {section.name}: {log_text(problem)}", style="red", markup=False, highlight=False, soft_wrap=True
            )
    if details:
        for section in result.sections:
            for ex in section.exercises:
                failed = [x for x in ex.tests if x.status != "passed"]
                gated = [x for x in ex.tests if x.status == "passed" and x.gated]
                measured = [x for x in ex.tests if x.status == "passed" and x.message and not x.gated]
                if ex.score == 0 and failed and all("not implemented" in test.message for test in failed):
                    continue
                if not failed and not measured and not gated:
                    continue
                console.print(f"[bold]{section.name} · {ex.name}[/]")
                for test in measured:
                    line = f"  ✓ {test.name}: {log_text(test.message)}"
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
                for test in failed:
                    tag = t("tag.hidden") if test.hidden else ""
                    line = f"  ✗ {test.name}{tag}: {log_text(test.message)}"
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
                if gated:
                    line = t("summary.gated", n=len(gated), exercise=ex.name)
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.tampered:
        console.print(t("summary.tampered"), markup=False, highlight=False, soft_wrap=True)
        for name in result.tampered:
            console.print(f"  {log_text(name)}", markup=False, highlight=False, soft_wrap=True)
    if result.public_only:
        console.print(public_only_line(result), markup=False, highlight=False, soft_wrap=True)
    if result.sandboxed and verbose:
        console.print(sandbox_line(result), markup=False, highlight=False, soft_wrap=True)
    console.print(points_line(result), markup=False, highlight=False, soft_wrap=True)
