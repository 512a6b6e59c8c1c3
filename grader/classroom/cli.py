"""``python -m grader class log|plan|fetch|grade|merge|publish``: the steps of the class workflow.

Tokens come from the environment of the step that needs them, never from arguments: ``GH_TOKEN``
(the course app's token: ``gh api`` and git reads of student repositories) in ``plan``, ``fetch`` and
``publish``; ``LOG_TOKEN`` (the workflow's own token) in ``log``. ``grade`` refuses to run while any
token is in its environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

CONFIG = Path(__file__).with_name("course.toml")
TOKEN_VARIABLES = ("GH_TOKEN", "GITHUB_TOKEN", "LOG_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


class InputError(Exception):
    """Bad input the instructor can fix (a file, a setting): shown as one line, without a traceback."""


def load_config(path: Path | None) -> dict:
    """``path``, else ``$COURSE_CLASS_CONFIG``, else ``grader/classroom/course.toml``."""
    path = path or os.environ.get("COURSE_CLASS_CONFIG") or CONFIG
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: {e}") from None


def _policy(config: dict):
    from grader.classroom.ledger import LatePolicy

    late = config.get("late", {})
    return LatePolicy(float(late.get("penalty_per_day", 0.1)), float(late.get("cap_days", 3)))


def _now(args) -> datetime:
    from grader.classroom.ledger import parse_time

    return parse_time(args.now) if getattr(args, "now", None) else datetime.now(UTC)


def _gh_output(**values) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for k, v in values.items():
                f.write(f"{k}={v}\n")


def _summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def read_roster(spec: str):
    """``roster.csv`` (a file), ``org:ORGANISATION/PREFIX`` or ``forks:OWNER/REPOSITORY``."""
    from grader.classroom import roster
    from grader.classroom.remote import gh_api

    if spec.startswith("org:"):
        org, _, prefix = spec[4:].partition("/")
        if not roster.NAME.match(org):
            raise roster.RosterError(f"organisation {org!r}: not a valid name")
        repos = roster.parse_json_stream(gh_api(f"orgs/{org}/repos?per_page=100", paginate=True))
        return roster.roster_from_org(repos, prefix)
    if spec.startswith("forks:"):
        repo = spec[6:]
        if not roster.REPOSITORY.match(repo):
            raise roster.RosterError(f"course repository {repo!r}: expected owner/name")
        return roster.roster_from_forks(roster.parse_json_stream(gh_api(f"repos/{repo}/forks?per_page=100",
                                                                        paginate=True)))  # fmt: skip
    return roster.read_roster_csv(Path(spec))


def _plan(args) -> int:
    from grader.classroom import ledger, plan, remote, roster

    config = load_config(args.config)
    cls = config.get("class", {})
    branch = cls.get("branch", "main")
    token = os.environ.get("GH_TOKEN") or None
    students = roster.select(read_roster(args.roster), args.students or "")
    deadline = plan.deadline_of(args.deadline)
    now = _now(args)

    def head(s):
        try:
            return s.student, remote.head_commit(args.git_base, s.repository, branch, token), None
        except remote.RemoteError as e:
            return s.student, None, str(e)

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(head, students))
    heads = {name: sha for name, sha, _ in found}
    errors = {name: err for name, _, err in found if err}
    log = Path(args.log)
    seen = ledger.read_jsonl(log / ledger.SEEN, ledger.SEEN_KEYS)
    graded = ledger.read_jsonl(log / ledger.GRADED, ledger.GRADED_KEYS)
    new = ledger.new_sightings(seen, {s.student: (s.repository, heads[s.student]) for s in students}, now, args.run)
    ledger.append_jsonl(log / ledger.SEEN, new)
    seen += new
    pushes = {}
    if deadline is not None and args.push_times:
        for s in students:
            try:
                pushes[s.student] = roster.parse_json_stream(remote.gh_api(
                    f"repos/{s.repository}/activity?ref=refs/heads/{branch}&activity_type=push&per_page=100",
                    paginate=True))  # fmt: skip
            except remote.RemoteError:
                errors.setdefault(s.student, "GitHub's push times were not available")
    seed = args.seed or cls.get("seed", "secret")
    result = plan.make_plan(
        students, heads, seen, graded, run=args.run, now=now, seed=seed,
        hidden=not args.public_only, deadline=deadline, pushes=pushes, policy=_policy(config),
        shard_size=args.shard_size or int(cls.get("shard_size", 15)), regrade=args.regrade, branch=branch,
        errors=errors, sections=list(cls.get("sections", [])) or None, owner=args.owner,
    )  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _gh_output(matrix=json.dumps(plan.matrix(result), separators=(",", ":")), count=result["shards"])
    line = (f"{len(students)} student(s), {len(new)} new commit(s) seen, {len(result['jobs'])} to grade in "
            f"{result['shards']} shard(s), {len(result['reused'])} graded earlier"
            + (f", deadline {result['deadline']}" if deadline else ""))  # fmt: skip
    print(line)
    _summary(f"### Class grading plan\n\n{line}\n")
    return 0


PLAN_KEYS = ("run", "created_at", "seed", "hidden", "policy", "students", "jobs", "reused", "shards")


def _load_json(path, keys: tuple[str, ...], what: str) -> dict:
    """A JSON file another class command wrote, with its top-level ``keys``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not set(keys) <= set(data):
        raise InputError(f"{path}: not a {what}")
    return data


def _load_plan(path) -> dict:
    return _load_json(path, PLAN_KEYS, "plan written by `class plan`")


def _fetch(args) -> int:
    from grader.classroom.shard import fetch_shard

    errors = fetch_shard(_load_plan(args.plan), args.shard, Path(args.dest), args.git_base,
                         os.environ.get("GH_TOKEN") or None)  # fmt: skip
    for job_id, err in sorted(errors.items()):
        print(f"{job_id}: {err}", file=sys.stderr)
    print(f"shard {args.shard}: cloned, {len(errors)} could not be cloned")
    return 0


def _grade(args) -> int:
    from grader.classroom.shard import grade_shard

    held = [k for k in TOKEN_VARIABLES if os.environ.get(k)]
    if held:
        print(f"class grade: refusing to grade with a token in the environment ({', '.join(held)})", file=sys.stderr)
        return 2
    rows = grade_shard(_load_plan(args.plan), args.shard, Path(args.submissions), Path(args.out),
                       sandbox=not args.no_sandbox, only=args.section, jobs=args.jobs, timeout=args.timeout)  # fmt: skip
    print(f"shard {args.shard}: graded {len(rows)} commit(s)")
    return 0


def _merge(args) -> int:
    from grader.classroom import ledger
    from grader.classroom.merge import NOT_GRADED, merge

    plan = _load_plan(args.plan)
    table = merge(plan, Path(args.shards), Path(args.out), now=_now(args))
    if args.log:
        records = ledger.read_jsonl(Path(args.out) / "graded.jsonl")
        ledger.append_jsonl(Path(args.log) / ledger.GRADED, records)
    from grader.classroom.plan import installed, repository_names

    owner = plan.get("owner", "")
    items = json.loads((Path(args.out) / "publish.json").read_text(encoding="utf-8"))["items"]
    _gh_output(repositories=repository_names((i["repository"] for i in items), owner))
    missing = [r["student"] for r in table if NOT_GRADED in r["status"]]
    elsewhere = sum(not installed(i["repository"], owner) for i in items)
    line = f"{len(table)} student(s) in grades.csv; not graded in this run: {len(missing)}"
    if elsewhere:
        line += f"; {elsewhere} grade(s) of repositories outside {owner} are in grades.csv only"
    print(line + ("" if not missing else " (" + ", ".join(missing) + ")"))
    _summary(f"### Class grades\n\n{line}\n")
    return 0


def _publish(args) -> int:
    from grader.classroom.publish import publish

    _load_json(args.file, ("policy", "items"), "publish.json written by `class merge`")
    failures = publish(Path(args.file), Path(args.workdir))
    return 1 if failures else 0


def _log(args) -> int:
    from grader.classroom.ledger import pull_log, push_log

    token = os.environ.get("LOG_TOKEN") or None
    if args.action == "pull":
        pull_log(args.remote, Path(args.dir), token, args.remote)
    else:
        push_log(args.remote, Path(args.dir), token, args.remote, args.message)
    return 0


def _error_line(e: Exception) -> str:
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split())


def _guarded(command):
    """``command`` with the errors of bad input (a file, a roster line, a log record, a remote) as one
    line on stderr and exit code 2: the instructor reads what to fix, not a traceback."""
    from grader.classroom.remote import RemoteError
    from grader.classroom.roster import RosterError

    def run(args) -> int:
        try:
            return command(args)
        except (InputError, RosterError, RemoteError, ValueError, OSError) as e:
            print(f"class {args.class_command}: {_error_line(e)}", file=sys.stderr)
            return 2

    return run


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(sub) -> None:
    """Add ``class`` and its sub-commands to the grader's command line."""
    c = sub.add_parser("class", help="grade a whole class on the instructor's side (the class workflow's steps)")
    cs = c.add_subparsers(dest="class_command", required=True)
    base = os.environ.get("GITHUB_SERVER_URL", "https://github.com") + "/"

    lg = cs.add_parser("log", help="pull or push the grading-log branch (token: $LOG_TOKEN)")
    lg.add_argument(
        "action", choices=["pull", "push"], help="pull: copy the branch's files into --dir; push: add --dir's records"
    )
    lg.add_argument("--remote", required=True, help="URL of the instructor repository")
    lg.add_argument("--dir", required=True, type=Path, help="folder holding seen.jsonl and graded.jsonl")
    lg.add_argument("--message", default="grading log", help="commit message of a push")
    lg.set_defaults(func=_guarded(_log))

    p = cs.add_parser("plan", help="read the roster, record the heads seen, resolve the commits, plan shards")
    p.add_argument("--roster", required=True, help="roster.csv, org:ORGANISATION/PREFIX or forks:OWNER/REPOSITORY")
    p.add_argument("--log", required=True, type=Path, help="the grading log folder (seen.jsonl is appended to)")
    p.add_argument("--out", required=True, type=Path, help="folder for plan.json")
    p.add_argument("--deadline", default="", help="ISO time: grade what the log saw before it (late policy after)")
    p.add_argument("--students", default="", help="only these students (comma-separated)")
    p.add_argument("--seed", choices=["secret", "public"], default=None, help="seed mode (default: course.toml)")
    p.add_argument("--public-only", action="store_true", help="grade with the public tests only")
    p.add_argument("--regrade", nargs="?", const="true", default="false", type=lambda v: v.lower() == "true",
                   help="grade again commits graded earlier (also --regrade true|false)")  # fmt: skip
    p.add_argument("--shard-size", type=_positive, default=None, help="students per shard (default: course.toml)")
    p.add_argument("--git-base", default=base, help="where the repositories live (default: $GITHUB_SERVER_URL/)")
    p.add_argument("--owner", default="",
                   help="the account the course app is installed on (its token reads and posts there only); "
                        "empty: every repository of the roster")  # fmt: skip
    p.add_argument("--no-push-times", dest="push_times", action="store_false",
                   help="at a deadline, do not ask GitHub for push times")  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="course settings (default: grader/classroom/course.toml)")
    p.add_argument("--run", default=os.environ.get("GITHUB_RUN_ID", "local"), help="name of this run in the log")
    p.add_argument("--now", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_guarded(_plan))

    f = cs.add_parser("fetch", help="clone the commits of one shard (token: $GH_TOKEN)")
    f.add_argument("plan", type=Path, help="plan.json written by `class plan`")
    f.add_argument("--shard", type=int, required=True, help="which shard (0, 1, …: the matrix entry)")
    f.add_argument("--dest", type=Path, required=True, help="folder for the clones (one folder per job)")
    f.add_argument("--git-base", default=base, help="where the repositories live (default: $GITHUB_SERVER_URL/)")
    f.set_defaults(func=_guarded(_fetch))

    g = cs.add_parser("grade", help="grade one shard's clones with the batch grader (no token allowed)")
    g.add_argument("plan", type=Path, help="plan.json written by `class plan`")
    g.add_argument("--shard", type=int, required=True, help="which shard (0, 1, …: the matrix entry)")
    g.add_argument("--submissions", type=Path, required=True, help="the clones written by `class fetch`")
    g.add_argument("--out", type=Path, required=True, help="folder for rows.json and the reports")
    g.add_argument("--section", action="append", help="grade only this section (repeatable)")
    g.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    g.add_argument("--timeout", type=float, default=900, help="seconds per section of a submission")
    g.add_argument("--no-sandbox", action="store_true", help="trusted code only")
    g.set_defaults(func=_guarded(_grade))

    m = cs.add_parser("merge", help="merge the shards into grades.csv, lms.csv and publish.json")
    m.add_argument("plan", type=Path, help="plan.json written by `class plan`")
    m.add_argument("--shards", type=Path, required=True, help="folder holding shard-K/ folders")
    m.add_argument("--out", type=Path, required=True, help="folder for grades.csv, lms.csv, publish.json, reports")
    m.add_argument("--log", type=Path, default=None, help="grading log folder: graded.jsonl is appended to")
    m.add_argument("--now", default=None, help=argparse.SUPPRESS)
    m.set_defaults(func=_guarded(_merge))

    pb = cs.add_parser("publish", help="post each student's commit status and report (token: $GH_TOKEN)")
    pb.add_argument("file", type=Path, help="publish.json written by merge")
    pb.add_argument("--workdir", type=Path, default=Path("publish-tmp"), help="folder for the payload files")
    pb.set_defaults(func=_guarded(_publish))
