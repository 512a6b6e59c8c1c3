"""What a student may see, published to their own repository: a commit status ``course/grade``
(``Points X/Y``, linking nowhere) on the graded commit, and the Markdown report — the same table and
grader-written messages as ``grade --markdown``, never a hidden input, an expected value or a test —
as one comment on the Classroom feedback pull request, or else in one issue "Course grade", both
updated in place on later runs.

:func:`status_payload` and :func:`comment_body` build the payloads; :func:`publish` sends them
through ``gh api`` (:func:`grader.classroom.remote.gh_api`). A comment or issue is only updated when
the course's app wrote it (``user.type == "Bot"`` and the marker), never one a student wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.classroom.plan import installed
from grader.classroom.remote import SHA, RemoteError, gh_api
from grader.classroom.roster import REPOSITORY

CONTEXT = "course/grade"
MARKER = "<!-- course-grade -->"
ISSUE_TITLE = "Course grade"
MAX_BODY = 60000  # GitHub refuses bodies over 65536 characters


def _pts(x) -> str:
    x = float(x)
    return f"{x:g}" if x != int(x) else str(int(x))


def status_payload(item: dict, penalty_per_day: float, cap_days: float) -> dict:
    if item["days_late"]:
        days = item["days_late"]
        factor = 0.0 if days > cap_days else max(0.0, 1.0 - penalty_per_day * days)
        note = f" (late {days} day{'s' if days != 1 else ''}: counts x{factor:g})"
    else:
        note = ""
    ok = not str(item.get("status", "")).startswith(("error", "not graded"))
    return {
        "state": "success" if ok else "error",
        "context": CONTEXT,
        "description": (f"Points {_pts(item['score'])}/{_pts(item['max_score'])}{note}")[:140],
    }


def comment_body(item: dict, report: str | None, payload: dict) -> str:
    head = f"{MARKER}\n### Course grade for commit `{item['sha'][:12]}`\n\n**{payload['description']}**\n\n"
    text = report or "_The detailed report is not available for this commit._\n"
    if len(head) + len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(head)].rsplit("\n", 1)[0] + "\n\n_… the report was shortened._\n"
    return head + text


def _ours(thing: dict) -> bool:
    return (thing.get("user") or {}).get("type") == "Bot" and str(thing.get("body") or "").startswith(MARKER)


def _list(path: str) -> list[dict]:
    from grader.classroom.roster import parse_json_stream

    return parse_json_stream(gh_api(path, paginate=True))


def publish_one(item: dict, report: str | None, policy: dict, workdir: Path) -> list[str]:
    repo, sha = item["repository"], item["sha"]
    if not REPOSITORY.match(repo) or not SHA.match(sha):
        raise RemoteError(f"refusing to publish to {repo!r} at {sha!r}")
    done = []
    payload = status_payload(item, policy["penalty_per_day"], policy["cap_days"])
    gh_api(f"repos/{repo}/statuses/{sha}", method="POST", payload=payload, workdir=workdir)
    done.append("status")
    body = comment_body(item, report, payload)
    pr = item.get("feedback_pr")
    if pr:
        mine = [c for c in _list(f"repos/{repo}/issues/{int(pr)}/comments?per_page=100") if _ours(c)]
        if mine:
            gh_api(f"repos/{repo}/issues/comments/{int(mine[-1]['id'])}", method="PATCH", payload={"body": body},
                   workdir=workdir)  # fmt: skip
        else:
            gh_api(f"repos/{repo}/issues/{int(pr)}/comments", method="POST", payload={"body": body}, workdir=workdir)
        done.append(f"comment on pull request {int(pr)}")
    else:
        issues = [i for i in _list(f"repos/{repo}/issues?state=all&per_page=100")
                  if "pull_request" not in i and i.get("title") == ISSUE_TITLE and _ours(i)]  # fmt: skip
        if issues:
            gh_api(f"repos/{repo}/issues/{int(issues[0]['number'])}", method="PATCH", payload={"body": body},
                   workdir=workdir)  # fmt: skip
        else:
            gh_api(f"repos/{repo}/issues", method="POST", payload={"title": ISSUE_TITLE, "body": body}, workdir=workdir)
        done.append("issue")
    return done


def publish(publish_file: Path, workdir: Path, log=print) -> int:
    """Publish every item of ``publish.json``; one failure never stops the others. Returns the failures."""
    publish_file = Path(publish_file)
    data = json.loads(publish_file.read_text(encoding="utf-8"))
    failures = 0
    owner = data.get("owner", "")
    for item in data["items"]:
        if not installed(item["repository"], owner):
            log(f"{item['student']}: not published: {item['repository']} is outside {owner}, where the course app "
                "is installed (the grade is in grades.csv)")  # fmt: skip
            continue
        report = None
        if item.get("report"):
            path = publish_file.parent / item["report"]
            report = path.read_text(encoding="utf-8") if path.is_file() else None
        try:
            done = publish_one(item, report, data["policy"], Path(workdir))
            log(f"{item['student']}: {', '.join(done)}")
        except (RemoteError, ValueError, KeyError) as e:
            failures += 1
            log(f"{item['student']}: not published: {e}")
    return failures
