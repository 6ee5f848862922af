"""A worker agent (triage, fixer): answers each job.requested on its topic, up to `concurrency` at
once, and commits a record once its answer is on the broker."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from confluent_kafka import Consumer, Message as Record, TopicPartition

from ops import bus
from ops.faults import Faults, JobCounter
from ops.format import BadMessage, Failure, Message, Usage, decode, group, topic
from ops.offsets import OffsetTracker

Log = Callable[[str], None]

MODELS = {"triage": "gpt-4o-mini", "fixer": "claude-3-5-sonnet"}
# Dollars per token, in and out
PRICES = {"gpt-4o-mini": (0.15e-6, 0.6e-6), "claude-3-5-sonnet": (3e-6, 15e-6)}
COMPONENTS = ("checkout", "search", "auth", "billing", "notifications")


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def work(agent: str, request: Message) -> tuple[dict[str, Any], int]:
    """What the agent's (pretend) model answers, and how many tokens it wrote"""
    ticket = str(request.body.get("ticket", ""))
    if agent == "triage":
        n = _digest(ticket)
        severity = ("low", "medium", "high")[n % 3]
        component = COMPONENTS[n % len(COMPONENTS)]
        return {"text": f"{severity} severity, {component}", "severity": severity,
                "component": component}, 40 + n % 40
    triage = request.body.get("triage")
    component = triage.get("component", "unknown") if isinstance(triage, dict) else "unknown"
    return {"text": f"patched {component}: guard the null case and add a regression test",
            "patch": f"--- a/{component}.py\n+++ b/{component}.py\n"}, 180 + _digest(ticket) % 120


def usage(agent: str, request: Message, tokens_out: int, ms: int) -> Usage:
    model = MODELS.get(agent, "gpt-4o-mini")
    tokens_in = 200 + len(str(request.body)) // 4
    price_in, price_out = PRICES[model]
    return Usage(model=model, tokens_in=tokens_in, tokens_out=tokens_out,
                 cost=round(tokens_in * price_in + tokens_out * price_out, 6), ms=ms)


class Worker:
    def __init__(self, agent: str, run: str, bootstrap: str, faults: Faults,
                 stop: threading.Event, log: Log, concurrency: int = 4) -> None:
        self.agent = agent
        self.run = run
        self.faults = faults
        self.stop = stop
        self.log = log
        self.concurrency = concurrency
        self.topic = topic(run, agent)
        self.consumer: Consumer = bus.consumer(bootstrap, agent, group(run, agent))
        self.sender = bus.Sender(bus.producer(bootstrap, agent), agent, stop, log)
        self.jobs = JobCounter()
        self.offsets = OffsetTracker()
        self.finished: queue.Queue[tuple[str, int, int]] = queue.Queue()

    def serve(self) -> None:
        def assigned(_c: Consumer, parts: list[TopicPartition]) -> None:
            self.log(f"{self.agent}: consuming {self.topic} "
                     f"{sorted(p.partition for p in parts)}")

        def revoked(_c: Consumer, parts: list[TopicPartition]) -> None:
            for p in parts:
                self.offsets.forget(p.topic, p.partition)

        self.consumer.subscribe([self.topic], on_assign=assigned, on_revoke=revoked,
                                on_lost=revoked)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.agent)
        try:
            while not self.stop.is_set():
                self._commit_finished()
                if self.offsets.running() >= self.concurrency:
                    self._wait_for_one()
                    continue
                record = self.consumer.poll(0.2)
                if record is None:
                    continue
                err = record.error()
                if err is not None:
                    self.log(f"{self.agent}: consumer error: {err.str()}")
                    continue
                self.offsets.started(*bus.where(record))
                pool.submit(self._handle, record)
        finally:
            self.log(f"{self.agent}: stopping")
            pool.shutdown(wait=True, cancel_futures=True)
            self._commit_finished()
            self.consumer.close()
            self.sender.close()

    def _wait_for_one(self) -> None:
        try:
            item = self.finished.get(timeout=0.2)
        except queue.Empty:
            return
        self.finished.put(item)

    def _commit_finished(self) -> None:
        while True:
            try:
                t, p, o = self.finished.get_nowait()
            except queue.Empty:
                return
            position = self.offsets.finished(t, p, o)
            if position is not None:
                bus.commit(self.consumer, t, p, position, self.log, self.agent)

    def _handle(self, record: Record) -> None:
        t, p, o = bus.where(record)
        where = f"{t}[{p}]@{o}"
        try:
            if self._answer(record, where):
                self.finished.put((t, p, o))
        except Exception as err:  # one bad job never stops the worker: say so, and move on
            self.log(f"{self.agent}: handling {where} failed: {err!r}")
            self.finished.put((t, p, o))

    def _answer(self, record: Record, where: str) -> bool:
        """Answers one record; False when stopping cut it short (it is then read again)"""
        try:
            request = decode(record.value())
        except BadMessage as err:
            self.log(f"{self.agent}: skipped {where}: not an ops-jobs v2 message ({err})")
            return True
        if request.event != "job.requested":
            self.log(f"{self.agent}: skipped {where}: {request.event} is not a request")
            return True
        n = self.jobs.next()
        self.log(f"{self.agent}: working on job {request.job} (try {request.attempt}, "
                 f"session {request.session}, from {request.sender})")
        started = time.monotonic()
        if self.faults.slow_ms > 0 and self.stop.wait(self.faults.slow_ms / 1000):
            return False
        if self.faults.input_required:
            answer = request.answer("job.progress", self.agent, body={
                "question": f"{self.agent} needs a human: which environment is job "
                            f"{request.job} about?"})
            answer.status = "needs_human"
        elif self.faults.fail429_every is not None and n % self.faults.fail429_every == 0:
            answer = request.answer("job.failed", self.agent)
            answer.failure = Failure(code="RATE_LIMITED",
                                     detail="429 Too Many Requests from model provider",
                                     retry=True)
        else:
            body, tokens_out = work(self.agent, request)
            answer = request.answer("job.completed", self.agent, body=body)
            answer.llm = usage(self.agent, request, tokens_out,
                               int((time.monotonic() - started) * 1000) + 850)
        return self.sender.send(topic(self.run, request.sender), answer)

