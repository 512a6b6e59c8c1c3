"""Terminal report: a table section → exercise → points, then what failed and why."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.report.escape import log_text
from grader.results import GradeResult


def _pts(x: float) -> str:
    return f"{x:g}"


def points_cell(ex, markup: bool = False) -> str:
    """An exercise's points as a report shows them: ``3.5/4``; a bonus exercise ``ボーナス (bonus, 0 点)``."""
    if ex.bonus:
        return "ボーナス (bonus, 0 点)"
    mark = "✅" if ex.score == ex.max_score else ("🟡" if ex.score else "❌")
    if markup:
        style = "green" if ex.score == ex.max_score else ("yellow" if ex.score else "red")
        return f"[{style}]{_pts(ex.score)}/{_pts(ex.max_score)}[/]"
    return f"{mark} {_pts(ex.score)}/{_pts(ex.max_score)}"


def points_line(result: GradeResult) -> str:
    """GitHub Classroom-style summary line."""
    return f"Points {_pts(result.score)}/{_pts(result.max_score)}"


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


def print_table(result: GradeResult, console: Console | None = None, details: bool = True) -> None:
    console = console or Console()
    console.print(f"Grade for {log_text(result.target, 200)}", markup=False, highlight=False, soft_wrap=True)
    table = Table(show_lines=False)
    table.add_column("section")
    table.add_column("exercise")
    table.add_column("points", justify="right")
    table.add_column("tests passed", justify="right")
    for section in result.sections:
        first = True
        for ex in section.exercises:
            table.add_row(
                section.name if first else "", ex.name, points_cell(ex, markup=True), f"{ex.passed}/{ex.total}"
            )
            first = False
        table.add_row(
            "",
            f"[bold]{section.name} total[/]",
            f"[bold]{_pts(section.score)}/{_pts(section.max_score)}[/]",
            "",
            end_section=True,
        )
    table.add_row("[bold]total[/]", "", f"[bold]{_pts(result.score)}/{_pts(result.max_score)}[/]", "")
    console.print(table)
    for section in result.sections:
        for problem in section.problems:
            console.print(
                f"! {section.name}: {log_text(problem)}", style="red", markup=False, highlight=False, soft_wrap=True
            )
    if details:
        for section in result.sections:
            for ex in section.exercises:
                failed = [t for t in ex.tests if t.status != "passed"]
                gated = [t for t in ex.tests if t.status == "passed" and t.gated]
                measured = [t for t in ex.tests if t.status == "passed" and t.message and not t.gated]
                if ex.score == 0 and failed and all("not implemented" in t.message for t in failed):
                    continue
                if not failed and not measured and not gated:
                    continue
                console.print(f"[bold]{section.name} · {ex.name}[/]")
                for t in measured:
                    console.print(f"  ✓ {t.name}: {log_text(t.message)}", markup=False, highlight=False, soft_wrap=True)
                for t in failed:
                    tag = " (hidden)" if t.hidden else ""
                    console.print(
                        f"  ✗ {t.name}{tag}: {log_text(t.message)}", markup=False, highlight=False, soft_wrap=True
                    )
                if gated:
                    console.print(
                        f"  … {len(gated)} 件の追加テストは基本テストがすべて通ってから加点 "
                        f"({len(gated)} edge-case tests passed; they count once the core tests of {ex.name} pass)",
                        markup=False, highlight=False, soft_wrap=True,
                    )  # fmt: skip
    if result.tampered:
        console.print("Protected files changed (ignored; graded with the course's own copies):")
        for t in result.tampered:
            console.print(f"  {log_text(t)}", markup=False, highlight=False, soft_wrap=True)
    if not result.hidden_included:
        console.print("Only the public tests were graded (the hidden tests are not in this checkout).")
    if result.sandboxed:
        console.print(sandbox_line(result), markup=False, highlight=False, soft_wrap=True)
    console.print(points_line(result), markup=False, highlight=False, soft_wrap=True)
