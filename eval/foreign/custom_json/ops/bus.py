"""Kafka for the ops-jobs agents (confluent-kafka / librdkafka): settings, sending, committing.

Topics are created by whoever deploys the agents: no client here creates one. Consumers commit by
hand, after a record is handled, so a record whose handling did not finish is read again.
"""

from __future__ import annotations

import threading
from typing import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message as Record, Producer
from confluent_kafka import TopicPartition

from ops.format import SENDER_HEADER, Message

Log = Callable[[str], None]


def producer(bootstrap: str, client_id: str) -> Producer:
    return Producer({
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "allow.auto.create.topics": False,
    })


def consumer(bootstrap: str, client_id: str, group_id: str) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "allow.auto.create.topics": False,
        # A restarted agent gets its partitions back within seconds of its old process dying.
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 3000,
    })


class Sender:
    """Sends messages and waits until the broker has them; thread-safe"""

    def __init__(self, producer_: Producer, agent: str, stop: threading.Event, log: Log) -> None:
        self._producer = producer_
        self._agent = agent
        self._stop = stop
        self._log = log

    def send(self, topic: str, message: Message) -> bool:
        """True once the broker acknowledged it; False when it cannot be (stopping, no topic)"""
        while not self._stop.is_set():
            outcome: list[KafkaError | None] = []
            done = threading.Event()

            def report(err: KafkaError | None, _record: Record) -> None:
                outcome.append(err)
                done.set()

            # librdkafka's producer is thread-safe; whichever thread polls serves the reports.
            self._producer.produce(topic, key=message.job.encode(), value=message.encode(),
                                   headers=[(SENDER_HEADER, self._agent.encode())],
                                   on_delivery=report)
            while not done.is_set() and not self._stop.is_set():
                self._producer.poll(0.05)
            if not done.is_set():
                return False
            err = outcome[0]
            if err is None:
                return True
            if not err.retriable() and err.code() != KafkaError._MSG_TIMED_OUT:
                self._log(f"{self._agent}: cannot send {message.event} of job {message.job} "
                          f"to {topic}: {err.str()}")
                return False
            self._log(f"{self._agent}: sending to {topic} failed ({err.str()}), retrying")
        return False

    def close(self) -> None:
        self._producer.flush(5)


def where(record: Record) -> tuple[str, int, int]:
    """A consumed record's topic, partition and offset (always set on a record, not an error)"""
    topic, partition, offset = record.topic(), record.partition(), record.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed record without topic, partition or offset")
    return topic, partition, offset


def commit(consumer_: Consumer, topic: str, partition: int, next_offset: int, log: Log,
           agent: str) -> None:
    """Commits a partition's position; a failed commit (a member the group dropped) is logged:
    the records after the last good commit are read again, and answered again"""
    try:
        consumer_.commit(offsets=[TopicPartition(topic, partition, next_offset)],
                         asynchronous=False)
    except KafkaException as err:
        log(f"{agent}: commit of {topic}[{partition}]@{next_offset} failed: {err}")
