"""The requester of the A2A Python system, as its users run it:

    python client.py --run RUN --timeout SECONDS --prompt TEXT [--prompt TEXT ...]

Joins a consumer group of its own (`a2a-<run>-client-<random>`) on its inbox
(`a2a.<run>.inbox.client`), waits for its partitions and their end offsets, then sends each prompt
to the planner as an A2A Message (role ROLE_USER, a fresh messageId, contextId and taskId) with
`reply_topic` = its inbox and `correlation_id` = the messageId. It reads answers until each
request has one (a Task COMPLETED or FAILED, or an INPUT_REQUIRED status update) or the timeout,
counted from the first send, runs out.

stdout: one JSON object per prompt, in prompt order:
`{"request": messageId, "outcome": "completed"|"failed"|"input_required"|"timeout", "text": ...}`.
stderr: progress and warnings. Exit 0 when it ran (whatever the outcomes), 1 when its inbox is
missing, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import threading
import time
import uuid

from a2a.helpers import get_artifact_text, get_message_text, new_text_message
from a2a.types import Role, Task, TaskState, TaskStatusUpdateEvent
from kafka import KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from a2a_kafka import (
    BadRecord,
    Sender,
    decode,
    encode,
    group_id,
    bootstrap_servers,
    inbox_topic,
    new_traceparent,
    subscribe_when_present,
    warn,
)

OUTCOMES = {
    TaskState.TASK_STATE_COMPLETED: "completed",
    TaskState.TASK_STATE_FAILED: "failed",
    TaskState.TASK_STATE_REJECTED: "failed",
    TaskState.TASK_STATE_CANCELED: "failed",
    TaskState.TASK_STATE_INPUT_REQUIRED: "input_required",
}


class Usage(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Usage(
        prog="client.py",
        description="Sends prompts to the planner and prints one JSON line per answer.",
        epilog="example: client.py --run r1 --timeout 60 --prompt 'kafka consumer lag'",
    )
    parser.add_argument("--run", required=True, help="the run id (topics a2a.<run>.inbox.*)")
    parser.add_argument("--prompt", action="append", required=True, help="a request (repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for answers")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f'--timeout must be above 0, got "{args.timeout}"')
    return args


def outcome_of(body: object) -> tuple[str, str] | None:
    """(outcome, text) of an answer, or None for a status update that is not one"""
    if not isinstance(body, (Task, TaskStatusUpdateEvent)):
        return None
    outcome = OUTCOMES.get(body.status.state)
    if outcome is None:
        return None
    text = get_message_text(body.status.message)
    if isinstance(body, Task) and outcome == "completed":
        text = "\n".join(get_artifact_text(artifact) for artifact in body.artifacts) or text
    return outcome, text


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(name)s %(levelname)s %(message)s")
    run: str = args.run
    inbox = inbox_topic(run, "client")
    group = f"{group_id(run, 'client')}-{secrets.token_hex(4)}"
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(),
        client_id="client",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        allow_auto_create_topics=False,
    )
    join_wait = max(args.timeout, 30.0)
    gave_up = threading.Event()
    timer = threading.Timer(join_wait, gave_up.set)
    timer.daemon = True
    timer.start()
    if not subscribe_when_present(consumer, inbox, gave_up, "client"):
        warn(f"error: topic {inbox} is not there after {join_wait:.0f} s")
        consumer.close(autocommit=False)
        return 1
    timer.cancel()
    join_deadline = time.monotonic() + join_wait
    while not consumer.assignment():
        if time.monotonic() > join_deadline:
            warn(f"client: no partition of {inbox} assigned to group {group}")
            break
        consumer.poll(timeout_ms=200)
    for tp in consumer.assignment():
        consumer.position(tp)  # fixes the start at the end offset, before anything is sent
    warn(f"client: reading {inbox} in group {group}")

    sender = Sender("client", threading.Event())
    requests: list[str] = []
    answers: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + args.timeout
    for prompt in args.prompt:
        message = new_text_message(
            prompt,
            role=Role.ROLE_USER,
            context_id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
        )
        sender.send(
            inbox_topic(run, "planner"),
            encode(
                message,
                source="client",
                traceparent=new_traceparent(),
                correlation_id=message.message_id,
                reply_topic=inbox,
            ),
        )
        requests.append(message.message_id)
        warn(f"client: sent request {message.message_id} (task {message.task_id})")

    wanted = set(requests)
    while len(answers) < len(wanted):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            batches = consumer.poll(timeout_ms=int(min(left, 0.5) * 1000) + 1)
        except KafkaError as err:
            warn(f"client: poll failed ({type(err).__name__}: {err})")
            time.sleep(0.5)
            continue
        for tp, records in batches.items():
            for record in records:
                try:
                    received = decode(record.key, record.value, record.headers)
                except BadRecord as err:
                    warn(f"client: skipped record {tp.topic}/{tp.partition}@{record.offset}: {err}")
                    continue
                correlation = received.correlation_id or ""
                result = outcome_of(received.body)
                if correlation in wanted and correlation not in answers and result is not None:
                    answers[correlation] = result
            if records:
                try:
                    consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)})
                except KafkaError as err:
                    warn(f"client: commit failed ({type(err).__name__}: {err})")

    for request in requests:
        outcome, text = answers.get(request, ("timeout", ""))
        print(json.dumps({"request": request, "outcome": outcome, "text": text}), flush=True)
    consumer.close(autocommit=False)
    sender.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
