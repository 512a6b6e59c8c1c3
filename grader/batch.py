"""Batch grading: every sub-folder of SUBMISSIONS_DIR is one student's submission.

``python -m grader batch SUBMISSIONS_DIR --jobs N --csv grades.csv``: N submissions at a time (each
graded section by section, sandboxed, with one zygote shared by the whole batch), a progress bar,
one CSV row per student (total, per section, status) and the per-student JSON report kept in
``--reports DIR`` (default: ``<csv stem>_reports/`` next to the CSV). A section that takes longer
than ``--timeout`` seconds is stopped (its unfinished tests score 0, the row says why); a
submission that cannot be graded at all gets a row with its error; the batch goes on.
"""

from __future__ import annotations

import csv
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader.report.escape import csv_cell
from grader.sections import all_sections


def submissions(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def batch(folder: Path, csv_path: Path, *, jobs: int = 2, seed: int = 0, secret_seed: bool = False,
          reports: Path | None = None, only=None, sandbox: bool = True, call_timeout: float | None = None,
          timeout: float = 900, hidden: bool = True, progress=None) -> list[dict]:  # fmt: skip
    from grader.grade import grade
    from grader.report.json_report import write_json

    folder, csv_path = Path(folder), Path(csv_path)
    reports = Path(reports) if reports else csv_path.with_name(csv_path.stem + "_reports")
    reports.mkdir(parents=True, exist_ok=True)
    subs = submissions(folder)
    zygote = None
    if sandbox:
        from grader.sandbox.pool import Zygote

        zygote = Zygote()
    sections = [s.name for s in all_sections() if not only or s.name in only or s.module in only]

    def one(sub: Path) -> dict:
        start = time.monotonic()
        row = {"student": sub.name, "status": "ok"}
        try:
            result = grade(
                sub, jobs=1, seed=seed, only=only, sandbox=sandbox, call_timeout=call_timeout, zygote=zygote,
                hidden=hidden, section_timeout=timeout,
            )  # fmt: skip
            if secret_seed:  # the official seed: graded with it, never written into a report
                result.seed = None
            write_json(result, reports / f"{sub.name}.json")
            row.update(score=result.score, max_score=result.max_score)
            row.update({s.name: s.score for s in result.sections})
            if result.tampered:
                row["status"] = "ok (protected files changed)"
            if any(s.problems for s in result.sections):
                row["status"] = "ok (problems: " + "; ".join(p for s in result.sections for p in s.problems)[:200] + ")"
        except Exception as e:  # noqa: BLE001 - one broken submission never stops the batch
            row.update(score=0, max_score="", status=f"error: {type(e).__name__}: {e}"[:300])
        row["seconds"] = round(time.monotonic() - start, 1)
        return row

    rows = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, sub): sub for sub in subs}
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as e:  # noqa: BLE001
                    row = {"student": futures[future].name, "score": 0, "status": f"error: {e}"[:300]}
                rows.append(row)
                if progress:
                    progress(row)
    finally:
        if zygote is not None:
            zygote.close()
    rows.sort(key=lambda r: r["student"])
    fields = ["student", "score", "max_score", *sections, "status", "seconds"]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: csv_cell(v) for k, v in row.items()} for row in rows])
    (reports / "_batch.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows
