"""A2A over Kafka, as the open A2A Kafka transport proposals sketch it.

- Payloads are A2A v1.0 objects (a2a-sdk's protobuf types: Message, Task, TaskStatusUpdateEvent)
  in their ProtoJSON mapping (google.protobuf.json_format: camelCase names, enum value names
  such as ROLE_USER and TASK_STATE_COMPLETED).
- Each record is a CloudEvent in the Kafka binding's binary content mode
  (cloudevents.core.bindings.kafka.to_binary / from_binary): the attributes are `ce_` headers
  (ce_specversion, ce_type, ce_source, ce_id, ce_time), datacontenttype is `content-type`, the
  value is the payload alone, and the key is the `partitionkey` extension (the contextId, so a
  conversation keeps its order). The distributed-tracing extension's `traceparent` attribute
  rides as `ce_traceparent`.
- Request/reply is the transport's own: a request carries `reply_topic` (where to answer) and
  `correlation_id` (its messageId); the answer goes to `reply_topic` with the same
  `correlation_id`.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from dataclasses import dataclass
from typing import Union

from a2a.types import Message, Task, TaskStatusUpdateEvent
from a2a.utils.proto_utils import parse_lenient
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from google.protobuf.json_format import MessageToDict
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

# CloudEvent `type` of each kind of record
MESSAGE_SEND = "a2a.message.send"
TASK = "a2a.task"
TASK_STATUS_UPDATE = "a2a.task.status-update"

REPLY_TOPIC = "reply_topic"
CORRELATION_ID = "correlation_id"

A2aObject = Union[Message, Task, TaskStatusUpdateEvent]

_FORMAT = JSONFormat()
_HEX = set("0123456789abcdef")


def inbox_topic(run: str, agent: str) -> str:
    """The topic `agent` (or the client) reads in run `run`"""
    return f"a2a.{run}.inbox.{agent}"


def group_id(run: str, agent: str) -> str:
    """The consumer group `agent` reads its inbox in"""
    return f"a2a-{run}-{agent}"


def bootstrap_servers() -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS (comma separated), default the local broker"""
    raw = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "") or "127.0.0.1:9092"
    return [server.strip() for server in raw.split(",") if server.strip() != ""]


def log(line: str) -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- W3C trace context (https://www.w3.org/TR/trace-context/) ---


def new_traceparent() -> str:
    """The root span of a new trace"""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in `parent`'s trace, or a new trace when `parent` is absent or malformed"""
    fields = (parent or "").strip().split("-")
    if len(fields) != 4 or fields[0] != "00":
        return new_traceparent()
    sizes_ok = [len(value) for value in fields[1:]] == [32, 16, 2]
    if not sizes_ok or not all(set(value) <= _HEX for value in fields[1:]):
        return new_traceparent()
    return f"00-{fields[1]}-{secrets.token_hex(8)}-{fields[3]}"


# --- records ---


class BadRecord(ValueError):
    """A record that is not an A2A CloudEvent this system understands"""


@dataclass(frozen=True)
class Received:
    event_type: str
    source: str
    event_id: str
    traceparent: str | None
    reply_topic: str | None
    correlation_id: str | None
    body: A2aObject


_BODY_TYPES: dict[str, type[Message] | type[Task] | type[TaskStatusUpdateEvent]] = {
    MESSAGE_SEND: Message,
    TASK: Task,
    TASK_STATUS_UPDATE: TaskStatusUpdateEvent,
}


def _event_type_of(body: A2aObject) -> str:
    if isinstance(body, Message):
        return MESSAGE_SEND
    if isinstance(body, Task):
        return TASK
    return TASK_STATUS_UPDATE


def encode(
    body: A2aObject,
    *,
    source: str,
    traceparent: str,
    correlation_id: str,
    reply_topic: str | None = None,
) -> KafkaMessage:
    """`body` as a binary-mode CloudEvent, with the transport's headers"""
    attributes: dict[str, object] = {
        "type": _event_type_of(body),
        "source": source,
        "datacontenttype": "application/json",
        "traceparent": traceparent,
        "partitionkey": body.context_id,
    }
    event = CloudEvent(attributes=attributes, data=MessageToDict(body))
    message = to_binary(event, _FORMAT)
    headers = dict(message.headers)
    headers[CORRELATION_ID] = correlation_id.encode()
    if reply_topic is not None:
        headers[REPLY_TOPIC] = reply_topic.encode()
    return KafkaMessage(headers=headers, key=message.key, value=message.value)


def decode(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Received:
    """A consumed record as a CloudEvent and its A2A object; raises BadRecord"""
    header_map = {name: raw or b"" for name, raw in headers}
    if "ce_specversion" not in {name.lower() for name in header_map}:
        raise BadRecord("no ce_specversion header: not a binary-mode CloudEvent")
    try:
        event = from_binary(KafkaMessage(header_map, key, value or b""), _FORMAT)
    except Exception as err:  # the SDK raises its own validation errors and ValueError
        raise BadRecord(f"not a valid CloudEvent: {err}") from err
    event_type = event.get_type()
    body_type = _BODY_TYPES.get(event_type)
    if body_type is None:
        raise BadRecord(f'unknown CloudEvent type "{event_type}"')
    data = event.get_data()
    if not isinstance(data, dict):
        raise BadRecord(f'the data of a "{event_type}" event is not a JSON object')
    try:
        body = parse_lenient(data, body_type())
    except Exception as err:  # json_format.ParseError
        raise BadRecord(f'the data is not an A2A {body_type.__name__}: {err}') from err
    text = lambda name: header_map[name].decode(errors="replace") if name in header_map else None  # noqa: E731
    traceparent = event.get_extension("traceparent")
    return Received(
        event_type=event_type,
        source=event.get_source(),
        event_id=event.get_id(),
        traceparent=traceparent if isinstance(traceparent, str) else None,
        reply_topic=text(REPLY_TOPIC),
        correlation_id=text(CORRELATION_ID),
        body=body,
    )


class Stopping(Exception):
    """The process was asked to stop before it could finish what it was doing"""


class Sender:
    """A KafkaProducer that waits until each record is acknowledged, retrying until it is"""

    def __init__(self, client_id: str, stopping: threading.Event) -> None:
        """Connects, retrying while no broker answers; raises Stopping if asked to stop first"""
        self._stopping = stopping
        attempt = 0
        while True:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=bootstrap_servers(),
                    client_id=client_id,
                    acks="all",
                    linger_ms=0,
                    allow_auto_create_topics=False,
                )
                return
            except KafkaError as err:
                attempt += 1
                delay = min(0.5 * 2**attempt, 10.0)
                warn(f"{client_id}: cannot reach Kafka ({type(err).__name__}: {err}); retrying in {delay:.1f}s")
                if stopping.wait(delay):
                    raise Stopping() from err

    def send(self, topic: str, message: KafkaMessage) -> None:
        """Sends `message` and waits for the broker's ack; raises Stopping if asked to stop first"""
        attempt = 0
        while True:
            try:
                future = self._producer.send(
                    topic,
                    key=message.key.encode() if isinstance(message.key, str) else message.key,
                    value=message.value,
                    headers=list(message.headers.items()),
                )
                future.get(timeout=30)
                return
            except KafkaError as err:
                attempt += 1
                delay = min(0.2 * 2**attempt, 5.0)
                warn(f"send to {topic} failed ({type(err).__name__}: {err}); retrying in {delay:.1f}s")
                if self._stopping.wait(delay):
                    raise Stopping() from err

    def close(self) -> None:
        try:
            self._producer.flush(timeout=5)
        finally:
            self._producer.close(timeout=5)


def subscribe_when_present(
    consumer: KafkaConsumer,
    topic: str,
    stopping: threading.Event,
    who: str,
    listener: ConsumerRebalanceListener | None = None,
) -> bool:
    """Subscribes to `topic` once its partitions are known; False if asked to stop first.

    kafka-python 3.0.12 may join a group before it has the subscribed topic's metadata: the
    assignor then gives nobody a partition ("No partition metadata for topic"), and now and then
    (about one join in sixty here) the update that arrives later does not bring on the rebalance
    that would fix it. Fetching the partitions before subscribing means the first join has them.
    The topic is never created here: the eval creates it (the broker does not either).
    """
    attempt = 0
    while not stopping.is_set():
        try:
            if consumer.partitions_for_topic(topic):
                consumer.subscribe([topic], listener=listener)
                return True
            reason = "it does not exist yet"
        except KafkaError as err:
            reason = f"{type(err).__name__}: {err}"
        attempt += 1
        delay = min(0.2 * 2**attempt, 5.0)
        warn(f"{who}: waiting for topic {topic} ({reason}); retrying in {delay:.1f}s")
        stopping.wait(delay)
    return False


def wait_or_stop(stopping: threading.Event, ms: int) -> None:
    """Sleeps `ms` milliseconds; raises Stopping if asked to stop meanwhile"""
    if ms > 0 and stopping.wait(ms / 1000):
        raise Stopping()
