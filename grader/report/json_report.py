"""JSON report: the whole result model (``--json FILE``)."""

import json
from pathlib import Path

from grader.results import GradeResult


def write_json(result: GradeResult, path: Path) -> None:
    Path(path).write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
