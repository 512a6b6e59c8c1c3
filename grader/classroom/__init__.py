"""Grading a whole class on the instructor's side: ``python -m grader class plan|fetch|grade|merge|publish``.

Students' repositories hold no secret. The instructor's private repository runs the class workflow
(``.github/workflows/grade-class.yml``), which calls these commands:

* ``plan`` reads the roster, asks each student repository for its head commit, records what it saw
  and when in the grading log (:mod:`grader.classroom.ledger`), resolves the commit to grade (at a
  deadline: the last commit the log saw before it, never a commit date), skips commits already graded
  and cuts the rest into shards (:mod:`grader.classroom.plan`);
* ``fetch`` clones one shard's commits (the only step that holds the token that reads student
  repositories), ``grade`` grades them with :func:`grader.batch.batch` (:mod:`grader.classroom.shard`);
* ``merge`` joins the shards into ``grades.csv`` with the late policy, saying which students were
  not graded (:mod:`grader.classroom.merge`);
* ``publish`` gives each student what they may see: a commit status and the Markdown report
  (:mod:`grader.classroom.publish`); ``gh api`` performs the HTTP calls.

Only the standard library is imported here, so that the planning and publishing jobs need no
course dependencies; grading a shard imports the grader itself.
"""
