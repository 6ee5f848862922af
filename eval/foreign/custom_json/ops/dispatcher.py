"""The dispatcher: takes a job, has triage look at it, then the fixer, and answers the requester.

Many jobs are open at once: each is a row of PendingJobs, found again by the `reply_to` of an
answer. A step not answered by its `due` is sent again (`try` 2, ...) up to `max_tries`, then the
job fails with TIMEOUT. Due times are judged only while the dispatcher holds its partitions and
has nothing left to read, and a dispatcher that was not running (restarted, frozen) times its open
steps afresh: an answer waiting unread in its topic is not late. A worker's failure is passed on as it is (the requester decides whether to
retry); a worker waiting on a human is passed on as a job.progress and the job stays open.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from confluent_kafka import Consumer, TopicPartition

from ops import bus
from ops.format import BadMessage, Failure, Message, decode, derived_id, group, now_ms, topic
from ops.pending import Job, PendingJobs, Step

Log = Callable[[str], None]

NAME = "dispatcher"
STAGES = ("triage", "fixer")
# A turn of the loop longer than this means the process was not running meanwhile
FROZEN_S = 2.0


class Dispatcher:
    def __init__(self, run: str, bootstrap: str, pending: PendingJobs, stop: threading.Event,
                 log: Log, step_timeout_ms: int, max_tries: int) -> None:
        self.run = run
        self.pending = pending
        self.stop = stop
        self.log = log
        self.step_timeout_ms = step_timeout_ms
        self.max_tries = max_tries
        self.topic = topic(run, NAME)
        self.consumer: Consumer = bus.consumer(bootstrap, NAME, group(run, NAME))
        self.sender = bus.Sender(bus.producer(bootstrap, NAME), NAME, stop, log)

    def serve(self) -> None:
        owned: set[int] = set()

        def assigned(_c: Consumer, parts: list[TopicPartition]) -> None:
            owned.update(p.partition for p in parts)
            # Answers may have come while no dispatcher read them: time them from now.
            self.pending.extend_due(now_ms() + self.step_timeout_ms)
            self.log(f"{NAME}: consuming {self.topic} {sorted(p.partition for p in parts)}, "
                     f"{self.pending.open_count()} job(s) open")

        def revoked(_c: Consumer, parts: list[TopicPartition]) -> None:
            owned.difference_update(p.partition for p in parts)

        self.consumer.subscribe([self.topic], on_assign=assigned, on_revoke=revoked,
                                on_lost=revoked)
        next_check = 0.0
        last_turn = time.monotonic()
        try:
            while not self.stop.is_set():
                if time.monotonic() - last_turn > FROZEN_S:
                    # The process did not run (SIGSTOP, a paused VM): time open steps from now.
                    self.pending.extend_due(now_ms() + self.step_timeout_ms)
                record = self.consumer.poll(0.2)
                last_turn = time.monotonic()
                if record is None:
                    # A step is late only if its answer is not waiting unread in the topic: due
                    # times are judged while the dispatcher holds its partitions and is idle.
                    if owned and time.monotonic() >= next_check:
                        self._send_overdue()
                        next_check = time.monotonic() + 0.25
                    continue
                err = record.error()
                if err is not None:
                    self.log(f"{NAME}: consumer error: {err.str()}")
                    continue
                t, p, o = bus.where(record)
                where = f"{t}[{p}]@{o}"
                try:
                    handled = self._handle(record.value(), where)
                except Exception as e:  # one bad record never stops the dispatcher
                    self.log(f"{NAME}: handling {where} failed: {e!r}")
                    handled = True
                if handled:
                    bus.commit(self.consumer, t, p, o + 1, self.log, NAME)
        finally:
            self.log(f"{NAME}: stopping, {self.pending.open_count()} job(s) open")
            self.consumer.close()
            self.sender.close()

    def _handle(self, value: bytes | None, where: str) -> bool:
        """Handles one record; False when stopping cut it short (it is then read again)"""
        try:
            msg = decode(value)
        except BadMessage as err:
            self.log(f"{NAME}: skipped {where}: not an ops-jobs v2 message ({err})")
            return True
        if msg.event == "job.requested":
            return self._start(msg)
        assert msg.reply_to is not None
        step = self.pending.step(msg.reply_to)
        job = self.pending.job(step.request_id) if step is not None else None
        if step is None or job is None:
            self.log(f"{NAME}: skipped {where}: {msg.event} answers {msg.reply_to}, "
                     "which is no request of mine")
            return True
        if job.stage != step.stage:
            self.log(f"{NAME}: skipped {where}: stale {msg.event} from {msg.sender} for job "
                     f"{job.job} (now {job.stage})")
            return True
        if msg.event == "job.completed":
            return self._completed(job, step, msg)
        if msg.event == "job.failed":
            return self._failed(job, step, msg)
        return self._progress(job, msg)

    def _start(self, request: Message) -> bool:
        if self.pending.job(request.id) is not None:
            self.log(f"{NAME}: skipped a second copy of request {request.id}")
            return True
        ticket = request.body.get("ticket", request.body.get("prompt", ""))
        job = Job(request_id=request.id, job=request.job, session=request.session,
                  requester=request.sender, attempt=request.attempt, ticket=str(ticket),
                  stage="triage", waiting=False, triage=None)
        self.log(f"{NAME}: working on job {request.job} (session {request.session}, "
                 f"from {request.sender})")
        step = self._step(job, "triage", 1)
        if not self._send_step(job, step):
            return False
        self.pending.open(job, step)
        return True

    def _completed(self, job: Job, step: Step, answer: Message) -> bool:
        if step.stage == "triage":
            nxt = self._step(job, "fixer", 1)
            job.triage = answer.body
            if not self._send_step(job, nxt):
                return False
            self.pending.advance(job.request_id, answer.body, nxt)
            return True
        triage = job.triage or {}
        text = f"triage: {triage.get('text', '')}; fix: {answer.body.get('text', '')}"
        reply = self._reply(job, "job.completed",
                            {"text": text, "triage": triage, "fix": answer.body})
        if not self.sender.send(topic(self.run, job.requester), reply):
            return False
        self.pending.closed(job.request_id)
        self.log(f"{NAME}: job {job.job} completed")
        return True

    def _failed(self, job: Job, step: Step, answer: Message) -> bool:
        failure = answer.failure or Failure("TOOL_CRASH", "no failure given", False)
        return self._fail(job, Failure(failure.code, f"{step.agent}: {failure.detail}",
                                       failure.retry))

    def _progress(self, job: Job, answer: Message) -> bool:
        if answer.status != "needs_human":
            return True
        reply = self._reply(job, "job.progress", dict(answer.body),
                            message_id=derived_id(answer.id, "forward"))
        reply.status = "needs_human"
        if not self.sender.send(topic(self.run, job.requester), reply):
            return False
        self.pending.waiting(job.request_id)
        self.log(f"{NAME}: job {job.job} waits on a human ({answer.sender} asked)")
        return True

    def _fail(self, job: Job, failure: Failure) -> bool:
        reply = self._reply(job, "job.failed", {})
        reply.failure = failure
        if not self.sender.send(topic(self.run, job.requester), reply):
            return False
        self.pending.closed(job.request_id)
        self.log(f"{NAME}: job {job.job} failed: {failure.code} {failure.detail}")
        return True

    def _send_overdue(self) -> None:
        for step in self.pending.overdue(now_ms()):
            job = self.pending.job(step.request_id)
            if job is None or job.stage != step.stage or job.waiting:
                continue
            if step.attempt >= self.max_tries:
                if not self._fail(job, Failure(
                        "TIMEOUT", f"{step.agent} did not answer job {step.job} in "
                                   f"{self.step_timeout_ms} ms ({step.attempt} tries)", True)):
                    return
                continue
            retry = self._step(job, step.stage, step.attempt + 1)
            self.log(f"{NAME}: no answer from {step.agent} for job {step.job} by its due "
                     f"time, try {retry.attempt}")
            if not self._send_step(job, retry):
                return
            self.pending.retried(step, retry)

    def _step(self, job: Job, stage: str, attempt: int) -> Step:
        return Step(message_id=derived_id(job.request_id, stage, str(attempt)),
                    request_id=job.request_id, stage=stage, agent=stage,
                    job="job-" + derived_id(job.request_id, stage).replace("-", "")[:16],
                    attempt=attempt, due=now_ms() + self.step_timeout_ms)

    def _send_step(self, job: Job, step: Step) -> bool:
        body: dict[str, object] = {"ticket": job.ticket}
        if step.stage == "fixer":
            body["triage"] = job.triage or {}
        request = Message(event="job.requested", id=step.message_id, job=step.job,
                          session=job.session, sender=NAME, to=step.agent, at=now_ms(),
                          due=step.due, attempt=step.attempt, body=body)
        return self.sender.send(topic(self.run, step.agent), request)

    def _reply(self, job: Job, event: str, body: dict[str, object],
               message_id: str | None = None) -> Message:
        return Message(event=event, id=message_id or derived_id(job.request_id, "answer"),
                       job=job.job, session=job.session, sender=NAME, to=job.requester,
                       at=now_ms(), attempt=job.attempt, reply_to=job.request_id, body=body)
