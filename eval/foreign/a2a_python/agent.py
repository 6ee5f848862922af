"""One agent of the A2A Python system, as its own process: `python agent.py AGENT`.

- `planner` (the entry agent) answers each request of the client by asking `search`, then
  `summarizer` with search's text, then answering the client. It reads new requests and its
  workers' answers on the same inbox, in one consumer thread, keeping the requests in flight in a
  dict keyed by the correlation id of its own question; a request's state lives only in memory, so
  a planner that is killed forgets the requests it was working on.
- `search` and `summarizer` answer each task they are sent, one at a time, with an A2A Task.

Each reads its inbox (`a2a.<A2A_RUN>.inbox.<agent>`) in consumer group `a2a-<A2A_RUN>-<agent>`,
from the earliest offset when the group has none, and commits each record once it is handled
(at least once: a record handled but not committed when the process dies is handled again).
FOREIGN_FAULTS (see faults.py) makes an agent fail, slow down or ask for input. One line per
task on stdout; warnings on stderr. SIGTERM or SIGINT: finish the record at hand, close, exit 0.
Exit 2 on a usage error (unknown agent, A2A_RUN unset, bad FOREIGN_FAULTS).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from a2a.helpers import (
    get_artifact_text,
    get_message_text,
    new_text_artifact,
    new_text_message,
    new_text_status_update_event,
)
from a2a.types import Message, Role, Task, TaskState, TaskStatus, TaskStatusUpdateEvent
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from a2a_kafka import (
    MESSAGE_SEND,
    BadRecord,
    Received,
    Sender,
    Stopping,
    bootstrap_servers,
    child_traceparent,
    decode,
    encode,
    group_id,
    inbox_topic,
    log,
    subscribe_when_present,
    wait_or_stop,
    warn,
)
from faults import Faults, FaultSpecError, parse_faults

AGENTS = ("planner", "search", "summarizer")
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

RATE_LIMITED = "upstream LLM returned 429 Too Many Requests: rate limit exceeded"
NEEDS_CONFIRMATION = "need the user to confirm the search scope before going on"

TERMINAL_FAILURES = (
    TaskState.TASK_STATE_FAILED,
    TaskState.TASK_STATE_REJECTED,
    TaskState.TASK_STATE_CANCELED,
)


def state_name(state: int) -> str:
    return TaskState.Name(state).removeprefix("TASK_STATE_").lower()


def answer_task(request: Message, task_id: str, context_id: str, state: int, text: str) -> Task:
    """The A2A Task answering `request`: its status message carries `text`"""
    task = Task(
        id=task_id,
        context_id=context_id,
        status=TaskStatus(
            state=state,
            message=new_text_message(text, context_id=context_id, task_id=task_id),
        ),
        history=[request],
    )
    task.status.timestamp.GetCurrentTime()
    if state == TaskState.TASK_STATE_COMPLETED:
        task.artifacts.append(new_text_artifact(name="result", text=text))
    return task


def input_required(task_id: str, context_id: str, text: str) -> TaskStatusUpdateEvent:
    update = new_text_status_update_event(
        task_id, context_id, TaskState.TASK_STATE_INPUT_REQUIRED, text
    )
    update.status.timestamp.GetCurrentTime()
    return update


def text_of(task: Task) -> str:
    """A task's result: its artifacts' text, else its status message's"""
    texts = [get_artifact_text(artifact) for artifact in task.artifacts]
    joined = "\n".join(text for text in texts if text)
    return joined or get_message_text(task.status.message)


def search(query: str) -> str:
    topic = " ".join(query.split())
    return (
        f'3 sources on "{topic}": [1] an overview of {topic}; '
        f"[2] a survey of recent work on {topic}; [3] a practitioner's notes on {topic}."
    )


def summarize(text: str) -> str:
    words = text.split()
    return "Summary: " + " ".join(words[:24]) + (" ..." if len(words) > 24 else "")


WORK: dict[str, Callable[[str], str]] = {"search": search, "summarizer": summarize}


class Worker:
    """search or summarizer: answers each task with a Task (or asks for input)"""

    def __init__(self, agent: str, faults: Faults, sender: Sender, stopping: threading.Event):
        self.agent = agent
        self.faults = faults
        self.sender = sender
        self.stopping = stopping
        self.tasks = 0

    def handle(self, received: Received) -> None:
        request = received.body
        if received.event_type != MESSAGE_SEND or not isinstance(request, Message):
            warn(f"{self.agent}: ignored a {received.event_type} from {received.source}")
            return
        if received.reply_topic is None:
            warn(f"{self.agent}: ignored message {request.message_id}: no reply_topic header")
            return
        task_id = request.task_id or str(uuid.uuid4())
        context_id = request.context_id or str(uuid.uuid4())
        self.tasks += 1
        log(f"{self.agent}: working on task {task_id} (context {context_id})")
        wait_or_stop(self.stopping, self.faults.slow_ms)
        answer: Task | TaskStatusUpdateEvent
        if self.faults.input_required:
            answer = input_required(task_id, context_id, NEEDS_CONFIRMATION)
        elif self.faults.fails(self.tasks):
            answer = answer_task(request, task_id, context_id, TaskState.TASK_STATE_FAILED, RATE_LIMITED)
        else:
            try:
                result = WORK[self.agent](get_message_text(request))
                state = TaskState.TASK_STATE_COMPLETED
            except Exception as err:  # a bug in the work is this task's failure, not the agent's
                result, state = f"{type(err).__name__}: {err}", TaskState.TASK_STATE_FAILED
            answer = answer_task(request, task_id, context_id, state, result)
        self.sender.send(
            received.reply_topic,
            encode(
                answer,
                source=self.agent,
                traceparent=child_traceparent(received.traceparent),
                correlation_id=received.correlation_id or request.message_id,
            ),
        )
        log(f"{self.agent}: answered task {task_id} ({state_name(answer.status.state)})")


@dataclass
class Step:
    """A client's request in flight: which worker the planner waits for"""

    request: Message
    reply_topic: str
    correlation_id: str
    traceparent: str
    worker: str


class Planner:
    """The entry agent: search, then summarizer, then the answer to the client"""

    def __init__(self, run: str, faults: Faults, sender: Sender, stopping: threading.Event):
        self.run = run
        self.faults = faults
        self.sender = sender
        self.stopping = stopping
        self.tasks = 0
        self.pending: dict[str, Step] = {}

    def handle(self, received: Received) -> None:
        if received.event_type == MESSAGE_SEND:
            self.start(received)
            return
        step = self.pending.get(received.correlation_id or "")
        if step is None:
            warn(
                f"planner: dropped a {received.event_type} from {received.source} for unknown "
                f'correlation id "{received.correlation_id}" (a duplicate, or a request a restart forgot)'
            )
            return
        body = received.body
        if isinstance(body, TaskStatusUpdateEvent):
            if body.status.state != TaskState.TASK_STATE_INPUT_REQUIRED:
                return  # progress (working...): the task's answer is still to come
            text = f"{step.worker} needs input: {get_message_text(body.status.message)}"
            self.answer(step, input_required(step.request.task_id, step.request.context_id, text))
        elif isinstance(body, Task):
            if body.status.state in TERMINAL_FAILURES:
                text = f"{step.worker} failed: {text_of(body)}"
                self.answer(step, self.task(step, TaskState.TASK_STATE_FAILED, text))
            elif body.status.state != TaskState.TASK_STATE_COMPLETED:
                return
            elif step.worker == "search":
                self.ask(step, "summarizer", text_of(body))
            else:
                self.answer(step, self.task(step, TaskState.TASK_STATE_COMPLETED, text_of(body)))
        else:
            warn(f"planner: ignored a message from {received.source} sent as an answer")
            return
        self.pending.pop(received.correlation_id or "", None)

    def start(self, received: Received) -> None:
        request = received.body
        assert isinstance(request, Message)
        if received.reply_topic is None:
            warn(f"planner: ignored request {request.message_id}: no reply_topic header")
            return
        if not request.task_id:
            request.task_id = str(uuid.uuid4())
        if not request.context_id:
            request.context_id = str(uuid.uuid4())
        step = Step(
            request=request,
            reply_topic=received.reply_topic,
            correlation_id=received.correlation_id or request.message_id,
            traceparent=child_traceparent(received.traceparent),
            worker="",
        )
        self.tasks += 1
        log(f"planner: working on task {request.task_id} (context {request.context_id})")
        wait_or_stop(self.stopping, self.faults.slow_ms)
        if self.faults.input_required:
            self.answer(step, input_required(request.task_id, request.context_id, NEEDS_CONFIRMATION))
        elif self.faults.fails(self.tasks):
            self.answer(step, self.task(step, TaskState.TASK_STATE_FAILED, RATE_LIMITED))
        else:
            self.ask(step, "search", get_message_text(request))

    def ask(self, step: Step, worker: str, text: str) -> None:
        question = new_text_message(
            text,
            role=Role.ROLE_USER,
            context_id=step.request.context_id,
            task_id=str(uuid.uuid4()),
        )
        self.sender.send(
            inbox_topic(self.run, worker),
            encode(
                question,
                source="planner",
                traceparent=step.traceparent,
                correlation_id=question.message_id,
                reply_topic=inbox_topic(self.run, "planner"),
            ),
        )
        step.worker = worker
        self.pending[question.message_id] = step
        log(f"planner: asked {worker} for task {step.request.task_id} (its task {question.task_id})")

    def task(self, step: Step, state: int, text: str) -> Task:
        return answer_task(step.request, step.request.task_id, step.request.context_id, state, text)

    def answer(self, step: Step, answer: Task | TaskStatusUpdateEvent) -> None:
        self.sender.send(
            step.reply_topic,
            encode(
                answer,
                source="planner",
                traceparent=step.traceparent,
                correlation_id=step.correlation_id,
            ),
        )
        log(f"planner: answered task {step.request.task_id} ({state_name(answer.status.state)})")


class AssignmentLog(ConsumerRebalanceListener):
    def __init__(self, agent: str, group: str):
        self.agent = agent
        self.group = group

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            log(f"{self.agent}: gave up partitions {sorted(tp.partition for tp in revoked)}")

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        log(f"{self.agent}: reading partitions {partitions} in group {self.group}")


def connect(agent: str, run: str, stopping: threading.Event) -> KafkaConsumer | None:
    """A consumer of the agent's inbox, retrying while no broker answers; None if asked to stop"""
    attempt = 0
    while not stopping.is_set():
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=bootstrap_servers(),
                client_id=agent,
                group_id=group_id(run, agent),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                allow_auto_create_topics=False,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=3_000,
                max_poll_records=50,
            )
        except KafkaError as err:
            attempt += 1
            delay = min(0.5 * 2**attempt, 10.0)
            warn(f"{agent}: cannot reach Kafka ({type(err).__name__}: {err}); retrying in {delay:.1f}s")
            stopping.wait(delay)
            continue
        listener = AssignmentLog(agent, group_id(run, agent))
        if subscribe_when_present(consumer, inbox_topic(run, agent), stopping, agent, listener):
            return consumer
        consumer.close(autocommit=False)
    return None


def commit(consumer: KafkaConsumer, agent: str, tp: TopicPartition, offset: int) -> None:
    try:
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    except KafkaError as err:  # a rebalance took the partition: its new owner reads it again
        warn(f"{agent}: commit of {tp.topic}/{tp.partition}@{offset} failed ({type(err).__name__}: {err})")


def consume(consumer: KafkaConsumer, agent: str, handle: Callable[[Received], None],
            stopping: threading.Event) -> None:
    attempt = 0
    while not stopping.is_set():
        try:
            batches = consumer.poll(timeout_ms=500)
            attempt = 0
        except KafkaError as err:
            attempt += 1
            delay = min(0.5 * 2**attempt, 10.0)
            warn(f"{agent}: poll failed ({type(err).__name__}: {err}); retrying in {delay:.1f}s")
            stopping.wait(delay)
            continue
        for tp, records in batches.items():
            for record in records:
                if stopping.is_set():
                    return
                where = f"{tp.topic}/{tp.partition}@{record.offset}"
                try:
                    handle(decode(record.key, record.value, record.headers))
                except BadRecord as err:
                    warn(f"{agent}: skipped record {where}: {err}")
                except Stopping:
                    return
                except Exception:  # one record must not stop the agent: say so and go on
                    warn(f"{agent}: failed to handle record {where}:\n{traceback.format_exc()}")
                commit(consumer, agent, tp, record.offset + 1)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in AGENTS:
        warn(f"error: usage: agent.py {'|'.join(AGENTS)}")
        return 2
    agent = argv[1]
    run = os.environ.get("A2A_RUN", "")
    if RUN_ID.match(run) is None:
        warn(f'error: A2A_RUN must be a run id of letters, digits, "_" or "-", got "{run}"')
        return 2
    try:
        faults = parse_faults(os.environ.get("FOREIGN_FAULTS"), agent)
    except FaultSpecError as err:
        warn(f"error: {err}")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(name)s %(levelname)s %(message)s")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    consumer = connect(agent, run, stopping)
    if consumer is None:
        return 0
    try:
        sender = Sender(agent, stopping)
    except Stopping:
        consumer.close(autocommit=False)
        return 0
    handler = Planner(run, faults, sender, stopping) if agent == "planner" else Worker(
        agent, faults, sender, stopping
    )
    faults_note = f" with faults {', '.join(faults.names)}" if faults.names else ""
    log(f"{agent}: started on {inbox_topic(run, agent)}{faults_note}")
    try:
        consume(consumer, agent, handler.handle, stopping)
    finally:
        consumer.close(autocommit=False)
        sender.close()
    log(f"{agent}: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
