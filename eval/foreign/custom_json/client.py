"""The desk's command line: sends one job per prompt to the dispatcher and waits for the answers.

    python client.py ask [--timeout-ms 60000] PROMPT...

Prints one JSON line per prompt, in order, once every job is answered or the time is up:
{"request": "<message id>", "job": "...", "outcome": "completed" | "failed" | "input_required" |
"timeout", "text": "..."}. Environment: KAFKA_BOOTSTRAP_SERVERS, A2A_RUN.
Exit codes: 0 done (whatever the outcomes), 1 Kafka error, 2 usage error.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from ops.format import SENDER_HEADER, Message, BadMessage, decode, now_ms, topic

DESK = "desk"


def fail(code: int, text: str) -> int:
    print(f"error: {text}", file=sys.stderr, flush=True)
    return code


def parse_args(argv: list[str]) -> tuple[int, list[str]]:
    if not argv or argv[0] != "ask":
        raise ValueError("usage: client.py ask [--timeout-ms N] PROMPT...")
    timeout_ms, prompts, rest = 60000, [], argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--timeout-ms":
            value = rest.pop(0) if rest else ""
            if not value.isdigit():
                raise ValueError(f'--timeout-ms needs a number of milliseconds, got "{value}"')
            timeout_ms = int(value)
        elif arg == "--":
            prompts.extend(rest)
            rest = []
        elif arg.startswith("--"):
            raise ValueError(f'unknown flag "{arg}"')
        else:
            prompts.append(arg)
    if not prompts:
        raise ValueError("no prompt given")
    return timeout_ms, prompts


def outcome_of(answer: Message) -> tuple[str, str] | None:
    if answer.event == "job.completed":
        return "completed", str(answer.body.get("text", ""))
    if answer.event == "job.failed":
        return "failed", answer.failure.detail if answer.failure else ""
    if answer.event == "job.progress" and answer.status == "needs_human":
        return "input_required", str(answer.body.get("question", ""))
    return None


def ask(bootstrap: str, run: str, timeout_ms: int, prompts: list[str]) -> list[dict[str, str]]:
    inbox = topic(run, DESK)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ops-{run}-desk",
                         "enable.auto.commit": False, "allow.auto.create.topics": False})
    producer = Producer({"bootstrap.servers": bootstrap, "client.id": DESK, "acks": "all",
                         "allow.auto.create.topics": False})
    try:
        # Only answers written from now on are ours: read the inbox from its current end.
        meta = consumer.list_topics(inbox, timeout=10).topics[inbox]
        if meta.error is not None:
            raise KafkaException(meta.error)
        start = []
        for p in sorted(meta.partitions):
            _low, high = consumer.get_watermark_offsets(TopicPartition(inbox, p), timeout=10)
            start.append(TopicPartition(inbox, p, high))
        consumer.assign(start)

        sent: list[Message] = []
        deadline = now_ms() + timeout_ms
        for prompt in prompts:
            job = "job-" + uuid.uuid4().hex[:16]
            msg = Message(event="job.requested", id=str(uuid.uuid4()), job=job,
                          session="s-" + uuid.uuid4().hex[:12], sender=DESK, to="dispatcher",
                          at=now_ms(), due=deadline, body={"ticket": prompt})
            producer.produce(topic(run, "dispatcher"), key=job.encode(), value=msg.encode(),
                             headers=[(SENDER_HEADER, DESK.encode())])
            sent.append(msg)
        if producer.flush(10) > 0:
            raise KafkaException("the requests were not all delivered within 10 s")

        results: dict[str, tuple[str, str]] = {}
        wanted = {m.id for m in sent}
        while len(results) < len(sent) and now_ms() < deadline:
            record = consumer.poll(0.2)
            if record is None or record.error() is not None:
                continue
            try:
                answer = decode(record.value())
            except BadMessage:
                continue
            if answer.reply_to in wanted and answer.reply_to not in results:
                got = outcome_of(answer)
                if got is not None:
                    results[answer.reply_to] = got
        return [{"request": m.id, "job": m.job, "outcome": results.get(m.id, ("timeout", ""))[0],
                 "text": results.get(m.id, ("timeout", ""))[1]} for m in sent]
    finally:
        consumer.close()


def main(argv: list[str]) -> int:
    try:
        timeout_ms, prompts = parse_args(argv)
    except ValueError as err:
        return fail(2, str(err))
    run = os.environ.get("A2A_RUN", "")
    if run == "":
        return fail(2, "A2A_RUN is not set: it names the run every topic belongs to")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    try:
        lines = ask(bootstrap, run, timeout_ms, prompts)
    except KafkaException as err:
        return fail(1, f"Kafka: {err}")
    for line in lines:
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
