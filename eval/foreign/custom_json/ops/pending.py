"""The dispatcher's open jobs, kept in SQLite so that a restarted dispatcher finishes them.

A job is one request the dispatcher received; it goes through the stages `triage`, `fixer`,
`closed`. Each job.requested the dispatcher sends for a stage is a step, keyed by its message id:
an answer finds its job by `reply_to`. An answer to a step of a stage the job has left (a late
answer to a first try, a duplicate) is stale.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
create table if not exists jobs (
  request_id text primary key,  -- the id of the job.requested the dispatcher received
  job text not null, session text not null, requester text not null, attempt integer not null,
  ticket text not null,
  stage text not null,          -- triage | fixer | closed
  waiting integer not null default 0,  -- 1 while a worker waits on a human
  triage text                   -- the triage answer's body, JSON
);
create table if not exists steps (
  message_id text primary key,  -- the id of the job.requested the dispatcher sent
  request_id text not null references jobs(request_id),
  stage text not null, agent text not null, job text not null, attempt integer not null,
  due integer                   -- epoch ms; null once retried, answered or waiting on a human
);
create index if not exists steps_due on steps(due) where due is not null;
"""


@dataclass
class Job:
    request_id: str
    job: str
    session: str
    requester: str
    attempt: int
    ticket: str
    stage: str
    waiting: bool
    triage: dict[str, Any] | None


@dataclass
class Step:
    message_id: str
    request_id: str
    stage: str
    agent: str
    job: str
    attempt: int
    due: int | None


class PendingJobs:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def job(self, request_id: str) -> Job | None:
        row = self._db.execute(
            "select request_id, job, session, requester, attempt, ticket, stage, waiting, triage "
            "from jobs where request_id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        return Job(request_id=row[0], job=row[1], session=row[2], requester=row[3],
                   attempt=row[4], ticket=row[5], stage=row[6], waiting=bool(row[7]),
                   triage=json.loads(row[8]) if row[8] is not None else None)

    def step(self, message_id: str) -> Step | None:
        row = self._db.execute(
            "select message_id, request_id, stage, agent, job, attempt, due from steps "
            "where message_id = ?", (message_id,)).fetchone()
        return Step(*row) if row is not None else None

    def open(self, job: Job, step: Step) -> None:
        with self._db:
            self._db.execute("begin")
            self._db.execute(
                "insert or ignore into jobs values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.request_id, job.job, job.session, job.requester, job.attempt, job.ticket,
                 job.stage, int(job.waiting), None))
            self._insert_step(step)

    def advance(self, request_id: str, triage: dict[str, Any], step: Step) -> None:
        """Triage answered: the job goes on to the fixer"""
        with self._db:
            self._db.execute("begin")
            self._db.execute(
                "update jobs set stage = ?, waiting = 0, triage = ? where request_id = ?",
                (step.stage, json.dumps(triage), request_id))
            self._db.execute("update steps set due = null where request_id = ?", (request_id,))
            self._insert_step(step)

    def retried(self, old: Step, new: Step) -> None:
        with self._db:
            self._db.execute("begin")
            self._db.execute("update steps set due = null where message_id = ?",
                             (old.message_id,))
            self._insert_step(new)

    def waiting(self, request_id: str) -> None:
        """A worker waits on a human: the stage has no deadline any more"""
        with self._db:
            self._db.execute("begin")
            self._db.execute("update jobs set waiting = 1 where request_id = ?", (request_id,))
            self._db.execute("update steps set due = null where request_id = ?", (request_id,))

    def closed(self, request_id: str) -> None:
        with self._db:
            self._db.execute("begin")
            self._db.execute("update jobs set stage = 'closed' where request_id = ?",
                             (request_id,))
            self._db.execute("update steps set due = null where request_id = ?", (request_id,))

    def extend_due(self, due: int) -> None:
        """Every step still timed gets at least until `due`"""
        self._db.execute("update steps set due = ? where due is not null and due < ?", (due, due))

    def overdue(self, now_ms: int) -> list[Step]:
        rows = self._db.execute(
            "select message_id, request_id, stage, agent, job, attempt, due from steps "
            "where due is not null and due <= ? order by due", (now_ms,)).fetchall()
        return [Step(*row) for row in rows]

    def open_count(self) -> int:
        row = self._db.execute("select count(*) from jobs where stage != 'closed'").fetchone()
        return int(row[0])

    def _insert_step(self, step: Step) -> None:
        self._db.execute("insert or ignore into steps values (?, ?, ?, ?, ?, ?, ?)",
                         (step.message_id, step.request_id, step.stage, step.agent, step.job,
                          step.attempt, step.due))
